#include <algorithm>
#include <nlohmann/json.hpp>

#include "hubcache/hub/hub.hpp"
#include "hubcache/util/text.hpp"
#include "hubcache/util/hash.hpp"

namespace hubcache::hub {
namespace {

constexpr int k_max_relative_redirects = 10;

bool has_host(std::string_view location) {
  return location.find("://") != std::string_view::npos || location.rfind("//", 0) == 0;
}

std::optional<std::uint64_t> parse_u64(const std::optional<std::string>& v) {
  return v ? hubcache::parse_u64(*v) : std::nullopt;
}

Error metadata_error(const std::string& message, const http::Response& r, const std::string& url) {
  Error e{ErrorCode::Http, message, {}, HttpErrorContext{}, {}};
  e.http->status = r.status;
  e.http->url = http::redact(url);
  e.http->error_code = "FileMetadataError";
  return e;
}

}  // namespace

HubApi::HubApi(HubOptions options, std::shared_ptr<http::Client> client)
    : m_options(std::move(options)), m_client(std::move(client)) {
  while (!m_options.endpoint.empty() && m_options.endpoint.back() == '/') m_options.endpoint.pop_back();
  if (!m_client) m_client = std::make_shared<http::Client>();
}

http::Headers HubApi::headers_for(std::string_view url) const {
  http::Headers h;
  h.set("user-agent", m_options.user_agent);
  if (m_options.token && http::origin_of(url) == http::origin_of(m_options.endpoint))
    h.set("authorization", "Bearer " + *m_options.token);
  return h;
}

Result<FileMetadata> HubApi::file_metadata(const RepoRef& repo, std::string_view revision, std::string_view path,
                                           Attempt attempt) {
  std::string url = resolve_url(m_options.endpoint, repo, revision, path);
  http::Request req;
  req.method = http::Method::Head;
  req.headers = headers_for(url);
  req.headers.set("Accept-Encoding", "identity");
  req.connect_timeout = m_options.connect_timeout;
  const auto timeout = attempt == Attempt::First ? std::chrono::milliseconds(m_options.etag_timeout)
                                                 : std::chrono::milliseconds(std::chrono::seconds(60));
  req.idle_timeout = timeout;
  req.total_timeout = timeout;
  const int max_retries = attempt == Attempt::First ? 0 : m_options.retry.max_retries;

  http::Response resp;
  for (int hop = 0;; ++hop) {
    req.url = url;
    HUBCACHE_TRY_ASSIGN(resp, perform_with_retries(req, max_retries));
    const auto location = resp.headers.get("Location");
    if (resp.status >= 300 && resp.status < 400 && location && !has_host(*location)) {
      if (hop >= k_max_relative_redirects)
        return fail(ErrorCode::Http, "too many redirects resolving " + http::redact(url));
      url = http::resolve_location(url, *location);  // renamed repo / case fix: same host, auth kept
      continue;
    }
    break;
  }
  if (resp.status >= 400) return fail(map_http_error(resp, url, repo, m_options.endpoint));

  FileMetadata meta;
  const bool redirected = resp.status >= 300 && resp.status < 400;
  const std::string host_hint = "Is '" + m_options.endpoint + "' a Hugging Face Hub? Check HF_ENDPOINT, your firewall, proxy and SSL settings.";
  auto commit = resp.headers.get("X-Repo-Commit");
  if (!commit)
    return fail(metadata_error("Distant resource does not seem to be on " + m_options.endpoint +
                                   " (no X-Repo-Commit header). " + host_hint, resp, url));
  if (!is_commit_hash(*commit))
    return fail(metadata_error("Refusing server value X-Repo-Commit '" + commit->substr(0, 80) +
                                   "': not a 40-character lower-case hex commit", resp, url));
  meta.commit = *commit;
  auto etag_raw = resp.headers.get("X-Linked-Etag");
  if (!etag_raw) etag_raw = resp.headers.get("ETag");
  if (!etag_raw) return fail(metadata_error("No ETag found for " + std::string(path) + ": cannot name its blob. " + host_hint, resp, url));
  meta.etag = normalize_etag(*etag_raw);
  if (auto v = validate_etag(meta.etag); !v)
    return fail(metadata_error("Refusing server ETag '" + meta.etag.substr(0, 80) + "' as a blob name", resp, url));
  std::optional<std::uint64_t> size = parse_u64(resp.headers.get("X-Linked-Size"));
  if (!size && !redirected) size = parse_u64(resp.headers.get("Content-Length"));
  if (!size) return fail(metadata_error("No Content-Length found for " + std::string(path) + ". " + host_hint, resp, url));
  meta.size = *size;
  meta.location = redirected && resp.headers.get("Location") ? http::resolve_location(url, *resp.headers.get("Location")) : url;
  meta.xet_hash = resp.headers.get("X-Xet-Hash");
  return meta;
}

Result<http::Response> HubApi::get_api(const RepoRef& repo, const std::string& url, Attempt attempt, const std::string& body) {
  http::Request req;
  req.method = body.empty() ? http::Method::Get : http::Method::Post;
  req.url = url;
  req.body = body;
  req.headers = headers_for(url);
  if (!body.empty()) req.headers.set("Content-Type", "application/json");
  req.connect_timeout = m_options.connect_timeout;
  req.idle_timeout = attempt == Attempt::First ? std::chrono::milliseconds(m_options.download_timeout)
                                               : std::chrono::milliseconds(std::chrono::seconds(60));
  req.max_body = 512u << 20;
  HUBCACHE_TRY_ASSIGN(auto r, perform_with_retries(req, attempt == Attempt::First ? 0 : m_options.retry.max_retries));
  if (r.status >= 400 || r.status < 200) return fail(map_http_error(r, url, repo, m_options.endpoint));
  return r;
}

Result<http::Response> HubApi::perform_with_retries(const http::Request& req, int max_retries) {
  for (int retry = 0;; ++retry) {
    auto r = m_client->perform(req, m_options.cancel);
    const bool retryable = r ? http::is_retryable_status(r->status) : (r.error().is_transient() && !http::is_proxy_error(r.error()));
    if (!retryable || retry >= max_retries) return r;
    const auto delay = m_options.retry.effective(http::backoff_delay(m_options.retry, retry, r ? &*r : nullptr));
    if (!http::sleep_for(delay, m_options.cancel)) return fail(ErrorCode::Cancelled, "cancelled while waiting to retry " + http::redact(req.url));
  }
}

Result<RepoInfo> HubApi::repo_info(const RepoRef& repo, std::string_view revision, Attempt attempt) {
  HUBCACHE_TRY_ASSIGN(auto resp, get_api(repo, repo_info_url(m_options.endpoint, repo, revision), attempt));
  return parse_repo_info(resp.body);
}

Result<std::vector<TreeEntry>> HubApi::list_tree(const RepoRef& repo, std::string_view revision, std::string_view path,
                                                 bool recursive) {
  std::vector<TreeEntry> all;
  std::string url = tree_url(m_options.endpoint, repo, revision, path, recursive, false);
  for (int page = 0; page < 100000; ++page) {
    // Later pages use the backoff (spec 7.8); the first fails fast so callers can fall back.
    HUBCACHE_TRY_ASSIGN(auto resp, get_api(repo, url, page == 0 ? Attempt::First : Attempt::Second));
    HUBCACHE_TRY_ASSIGN(auto entries, parse_tree_entries(resp.body));
    for (auto& e : entries) all.push_back(std::move(e));
    const auto link = resp.headers.get("Link");
    const auto next = link ? parse_link_next(*link) : std::nullopt;
    if (!next) return all;
    url = http::resolve_location(url, *next);
  }
  return fail(ErrorCode::Http, "tree listing of " + repo.label() + " does not end (more than 100000 pages)");
}

Result<std::vector<TreeEntry>> HubApi::paths_info(const RepoRef& repo, std::string_view revision,
                                                  const std::vector<std::string>& paths) {
  const std::string body = nlohmann::json{{"paths", paths}, {"expand", false}}.dump();
  HUBCACHE_TRY_ASSIGN(auto resp, get_api(repo, paths_info_url(m_options.endpoint, repo, revision), Attempt::Second, body));
  return parse_tree_entries(resp.body);
}

}  // namespace hubcache::hub

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "hubcache/hub/hub.hpp"
#include "hubcache/util/text.hpp"
#include "hubcache/util/hash.hpp"

namespace hubcache::hub {
namespace {

bool has_host(std::string_view location) {
  return location.find("://") != std::string_view::npos || location.rfind("//", 0) == 0;
}

std::optional<std::uint64_t> parse_u64(const std::optional<std::string>& v) { return v ? hubcache::parse_u64(*v) : std::nullopt; }

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
  std::set<std::string> seen{url};
  bool keep_auth = true;  // dropped for good once a hop leaves the endpoint's origin
  for (int hop = 0;; ++hop) {
    req.url = url;
    HUBCACHE_TRY_ASSIGN(resp, perform_with_retries(req, max_retries));
    const auto location = resp.headers.get("Location");
    if (resp.status < 300 || resp.status >= 400 || !location) break;
    // An absolute redirect with Hub metadata is the LFS redirect to the CDN: it is the answer.
    if (has_host(*location) && (resp.headers.has("X-Repo-Commit") || resp.headers.has("X-Linked-Etag"))) break;
    const std::string next = http::resolve_location(url, *location);
    if (!seen.insert(next).second)
      return fail(server_fault(
          "returned a redirect loop resolving '" + std::string(path) + "': " + http::redact(next) + " was already visited", url,
          "RedirectLoop", resp.status));
    if (hop >= m_options.limits.max_redirects)
      return fail(server_fault("redirected more than " + std::to_string(m_options.limits.max_redirects) + " times resolving '" +
                                   std::string(path) + "' (last to " + http::redact(next) + ")",
                               url, "TooManyRedirects", resp.status));
    // Renamed repo / case fix (relative: same host, auth kept) or a moved endpoint (absolute).
    keep_auth = keep_auth && http::origin_of(next) == http::origin_of(m_options.endpoint);
    url = next;
    req.headers = headers_for(url);
    if (!keep_auth) req.headers.remove("authorization");
    req.headers.set("Accept-Encoding", "identity");
  }
  if (resp.status >= 400) return fail(map_http_error(resp, url, repo, m_options.endpoint));

  FileMetadata meta;
  const bool redirected = resp.status >= 300 && resp.status < 400;
  const std::string host_hint =
      "Is '" + m_options.endpoint + "' a Hugging Face Hub? Check HF_ENDPOINT, your firewall, proxy and SSL settings.";
  auto commit = resp.headers.get("X-Repo-Commit");
  if (!commit)
    return fail(metadata_error("Distant resource does not seem to be on " + m_options.endpoint +
                                   " (no X-Repo-Commit header; got " + http::describe_answer(resp) + " from " +
                                   http::redact(url) + "). " + host_hint,
                               resp, url));
  if (!is_commit_hash(*commit))
    return fail(metadata_error(
        "Refusing server value X-Repo-Commit '" + commit->substr(0, 80) + "': not a 40-character lower-case hex commit", resp,
        url));
  meta.commit = *commit;
  auto etag_raw = resp.headers.get("X-Linked-Etag");
  if (!etag_raw) etag_raw = resp.headers.get("ETag");
  if (!etag_raw)
    return fail(metadata_error("No ETag found for " + std::string(path) + ": cannot name its blob. " + host_hint, resp, url));
  meta.etag = normalize_etag(*etag_raw);
  if (auto v = validate_etag(meta.etag); !v)
    return fail(metadata_error("Refusing server ETag '" + meta.etag.substr(0, 80) + "' as a blob name", resp, url));
  std::optional<std::uint64_t> size = parse_u64(resp.headers.get("X-Linked-Size"));
  if (!size && !redirected) size = parse_u64(resp.headers.get("Content-Length"));
  if (!size) return fail(metadata_error("No Content-Length found for " + std::string(path) + ". " + host_hint, resp, url));
  meta.size = *size;
  meta.location = redirected && resp.headers.get("Location") ? http::resolve_location(url, *resp.headers.get("Location")) : url;
  meta.xet_hash = resp.headers.get("X-Xet-Hash");
  // Xet: the file id and the token route, both needed (PY parse_xet_file_data_from_response); a
  // hash that is not 64 hex is ignored (PY #4595), and the file goes the plain way.
  if (meta.xet_hash && is_lower_hex(*meta.xet_hash, 64)) {
    const auto link = resp.headers.get("Link");
    std::optional<std::string> route = link ? parse_link_rel(*link, "xet-auth") : std::nullopt;
    if (!route) route = resp.headers.get("X-Xet-Refresh-Route");
    if (route && !route->empty()) {
      XetFileData xet;
      xet.file_hash = *meta.xet_hash;
      xet.refresh_route = http::resolve_location(url, *route);
      if (auto rec = link ? parse_link_rel(*link, "xet-reconstruction-info") : std::nullopt)
        xet.reconstruction_url = http::resolve_location(url, *rec);
      meta.xet = std::move(xet);
    }
  }
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
  req.max_body = m_options.limits.max_response_bytes;
  // Mirrors and proxies redirect API calls too (308 with a query the target needs, or another
  // host): followed like every request, Authorization kept only on the same origin.
  req.redirects = http::Redirects::Follow;
  req.max_redirects = m_options.limits.max_redirects;
  HUBCACHE_TRY_ASSIGN(auto r, perform_with_retries(req, attempt == Attempt::First ? 0 : m_options.retry.max_retries));
  if (r.status >= 400) return fail(map_http_error(r, r.url.empty() ? url : r.url, repo, m_options.endpoint));
  if (r.status < 200 || r.status >= 300)
    return fail(server_fault("answered " + http::describe_answer(r) +
                                 (r.headers.has("Location") ? " without a usable Location" : "") + " instead of the API's JSON",
                             r.url.empty() ? url : r.url, "UnexpectedAnswer", r.status));
  return r;
}

Error HubApi::server_fault(const std::string& what, const std::string& url, const std::string& code, int status) const {
  Error e{ErrorCode::Http,
          "the Hub at " + m_options.endpoint + " " + what +
              (what.find(http::redact(url)) == std::string::npos ? " (request " + http::redact(url) + ")" : std::string()) +
              ". This is a fault of the server (or of a proxy in front of it), not your connection: check HF_ENDPOINT, or tell "
              "the server's operator.",
          {},
          HttpErrorContext{},
          {}};
  e.http->status = status;
  e.http->url = http::redact(url);
  e.http->error_code = code;
  return e;
}

template <typename T>
Result<T> HubApi::parsed(Result<T> value, const http::Response& r, const std::string& url) const {
  if (value) return value;
  std::string what = value.error().message;
  if (constexpr std::string_view prefix = "unexpected answer from the Hub: "; what.rfind(prefix, 0) == 0)
    what.erase(0, prefix.size());
  return fail(server_fault("sent an unexpected answer: " + what + "; got " + http::describe_answer(r),
                           r.url.empty() ? url : r.url, "UnexpectedAnswer", r.status));
}

Result<http::Response> HubApi::perform_with_retries(const http::Request& req, int max_retries) {
  return http::perform_with_retries(*m_client, req, m_options.retry, max_retries, m_options.cancel);
}

Result<xet::XetToken> HubApi::xet_token(const RepoRef& repo, const std::string& refresh_route) {
  std::string url = refresh_route;
  constexpr std::string_view k_hub = "https://huggingface.co";
  if (url.starts_with(k_hub) && (url.size() == k_hub.size() || url[k_hub.size()] == '/') && m_options.endpoint != k_hub)
    url = m_options.endpoint + url.substr(k_hub.size());
  HUBCACHE_TRY_ASSIGN(auto resp, get_api(repo, url, Attempt::First));
  return xet::parse_xet_token(resp.body);
}

Result<RepoInfo> HubApi::repo_info(const RepoRef& repo, std::string_view revision, Attempt attempt) {
  const std::string url = repo_info_url(m_options.endpoint, repo, revision);
  HUBCACHE_TRY_ASSIGN(auto resp, get_api(repo, url, attempt));
  return parsed(parse_repo_info(resp.body), resp, url);
}

Result<std::string> HubApi::file_text(const RepoRef& repo, std::string_view revision, std::string_view path, Attempt attempt) {
  HUBCACHE_TRY_ASSIGN(auto resp, get_api(repo, resolve_url(m_options.endpoint, repo, revision, path), attempt));
  return std::move(resp.body);
}

Result<std::vector<TreeEntry>> HubApi::list_tree(const RepoRef& repo, std::string_view revision, std::string_view path,
                                                 bool recursive) {
  std::vector<TreeEntry> all;
  std::string url = tree_url(m_options.endpoint, repo, revision, path, recursive, false);
  std::set<std::string> seen{url};
  std::uint64_t bytes = 0;
  const auto& limits = m_options.limits;
  const std::string listing = "listing the files of " + std::string(to_string(repo.type)) + " '" + repo.id + "'";
  for (int page = 1;; ++page) {
    // Later pages use the backoff (docs/hub-protocol.md#retries); the first fails fast so callers can fall back.
    HUBCACHE_TRY_ASSIGN(auto resp, get_api(repo, url, page == 1 ? Attempt::First : Attempt::Second));
    bytes += resp.body.size();
    if (bytes > limits.max_listing_bytes)
      return fail(server_fault("returned more than " + std::to_string(limits.max_listing_bytes) + " bytes of pages " + listing +
                                   " (" + std::to_string(page) + " pages)",
                               url, "ListingTooLarge", resp.status));
    HUBCACHE_TRY_ASSIGN(auto entries, parsed(parse_tree_entries(resp.body), resp, url));
    for (auto& e : entries) all.push_back(std::move(e));
    const auto link = resp.headers.get("Link");
    const auto next = link ? parse_link_next(*link) : std::nullopt;
    if (!next) return all;
    const std::string next_url = http::resolve_location(resp.url.empty() ? url : resp.url, *next);
    if (!seen.insert(next_url).second)
      return fail(server_fault("returned a pagination loop " + listing + ": page URL " + http::redact(next_url) +
                                   " was already fetched (next link of page " + std::to_string(page) + ")",
                               url, "PaginationLoop", resp.status));
    if (page >= limits.max_pages)
      return fail(server_fault(
          "returned more than " + std::to_string(limits.max_pages) + " pages " + listing + " (the next links do not end)", url,
          "PaginationLoop", resp.status));
    url = next_url;
  }
}

Result<std::vector<TreeEntry>> HubApi::paths_info(const RepoRef& repo, std::string_view revision,
                                                  const std::vector<std::string>& paths) {
  const std::string body = nlohmann::json{{"paths", paths}, {"expand", false}}.dump();
  const std::string url = paths_info_url(m_options.endpoint, repo, revision);
  HUBCACHE_TRY_ASSIGN(auto resp, get_api(repo, url, Attempt::Second, body));
  return parsed(parse_tree_entries(resp.body), resp, url);
}

}  // namespace hubcache::hub

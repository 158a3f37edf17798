#pragma once
// The Hub HTTP protocol (docs/hub-protocol.md#requests): URLs, request headers, the metadata HEAD, error mapping,
// retries, repo info and tree listings. Talks HTTP only: never touches the disk.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/http/http.hpp"
#include "hubcache/xet/reconstruction.hpp"
#include "hubcache/http/retry.hpp"
#include "hubcache/version.hpp"

namespace hubcache::hub {

// ---- URLs (docs/hub-protocol.md#endpoints) ----
std::string encode_revision(std::string_view revision);  // percent_encode(rev, ""): '/' too (refs%2Fpr%2F1)
std::string encode_path(std::string_view path);          // percent_encode(path, "/")
std::string resolve_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision, std::string_view path);
std::string repo_info_url(std::string_view endpoint, const RepoRef& repo, std::optional<std::string_view> revision);
std::string tree_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision, std::string_view path,
                     bool recursive, bool expand);
std::string paths_info_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision);
/// The URL of `Link: <url>; rel="next"`, if any.
std::optional<std::string> parse_link_next(std::string_view link_header);
/// The URL of the first Link entry whose rel is `rel` (`rel="xet-auth"` or `rel=xet-auth`).
std::optional<std::string> parse_link_rel(std::string_view link_header, std::string_view rel);
/// {endpoint}/api/{type}s/{id}/xet-read-token/{revision}: the token route huggingface_hub builds
/// for a file known from a tree listing (`_xet_file_metadata_from_tree_cache`).
std::string xet_token_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision);

// ---- Data ----
/// Result of the metadata HEAD (docs/hub-protocol.md#metadata). All fields validated: commit is 40-hex, etag is a
/// safe blob name.
/// What a resolve answer says of a Xet-stored file (huggingface_hub's `XetFileData`,
/// `parse_xet_file_data_from_response`): present only when both the file id and the token route
/// are, as Python requires. URLs are absolute (resolved against the answering URL).
struct XetFileData {
  std::string file_hash;           // X-Xet-Hash: the Xet file id, 64 lower-case hex
  std::string refresh_route;       // Link rel="xet-auth", else X-Xet-Refresh-Route
  std::string reconstruction_url;  // Link rel="xet-reconstruction-info" ("" when absent)
};

struct FileMetadata {
  std::string commit;
  std::string etag;
  std::uint64_t size = 0;
  std::string location;  // URL to GET (the CDN URL after an LFS redirect)
  std::optional<std::string> xet_hash;
  std::optional<XetFileData> xet;
};

struct LfsInfo {
  std::string oid;  // sha256
  std::uint64_t size = 0;
};

/// A tree / paths-info entry (docs/hub-protocol.md#endpoints).
struct TreeEntry {
  std::string type;  // "file" or "directory"
  std::string path;
  std::string oid;
  std::uint64_t size = 0;
  std::optional<LfsInfo> lfs;
  std::optional<std::string> xet_hash;
  /// The cache blob name: lfs.oid if LFS, else oid.
  const std::string& etag() const { return lfs ? lfs->oid : oid; }
};

/// GET /api/whoami-v2 (what `hf auth whoami` shows; `hf auth login` names the token by it).
struct WhoAmI {
  std::string name;  // the account ("type": "user" or "org")
  std::string type;
  std::string token_name;  // auth.accessToken.displayName ("" when absent)
  std::string token_role;  // auth.accessToken.role, e.g. "read", "write", "fineGrained"
  std::vector<std::string> orgs;
};

struct RepoInfo {
  std::string id;
  std::string sha;  // 40-hex, validated
  bool is_private = false;
  std::string gated;  // "", "auto", "manual"
  std::vector<std::string> siblings;
};

/// Parses a tree / paths-info JSON array. Entries with unusable fields are errors.
Result<std::vector<TreeEntry>> parse_tree_entries(std::string_view json);
Result<RepoInfo> parse_repo_info(std::string_view json);

// ---- Errors (docs/hub-protocol.md#errors) ----
/// Maps an HTTP error response to a typed error (RepoNotFound, RevisionNotFound,
/// EntryNotFound, Gated, Unauthorized, RateLimited, Http). The message names the repo and says
/// what to do; it never contains a token.
Error map_http_error(const http::Response& response, std::string_view url, const RepoRef& repo, std::string_view endpoint = "");

// ---- Client ----
/// Bounds on what a server's answers can make the client do: every loop they drive (listing
/// pages, redirects, retries) ends, and memory stays bounded, whatever the server sends.
struct ServerLimits {
  std::size_t max_response_bytes = 128u << 20;   // one API answer (repo info, a tree page, paths-info)
  std::uint64_t max_listing_bytes = 512u << 20;  // all pages of one tree listing together
  int max_pages = 10000;                         // pages of one tree listing
  int max_redirects = 10;                        // hops of one request
};

struct HubOptions {
  std::string endpoint = "https://huggingface.co";
  std::optional<std::string> token;
  std::string user_agent = k_user_agent;
  std::chrono::seconds etag_timeout{10};
  std::chrono::seconds download_timeout{10};
  std::chrono::seconds connect_timeout{10};
  http::RetryPolicy retry;
  ServerLimits limits;
  const CancelToken* cancel = nullptr;
};

enum class Attempt {
  First,  // docs/hub-protocol.md#retries: no retries, ETag timeout (so a cache fallback is fast)
  Second  // 60 s timeout and the full backoff
};

class HubApi {
 public:
  HubApi(HubOptions options, std::shared_ptr<http::Client> client);

  const HubOptions& options() const { return m_options; }
  http::Client& client() { return *m_client; }

  /// Request headers for `url`: user-agent, and authorization only when `url` is on the
  /// endpoint's origin (docs/hub-protocol.md#redirects).
  http::Headers headers_for(std::string_view url) const;

  /// HEAD on the resolve URL (docs/hub-protocol.md#metadata). Relative redirects are followed with Authorization
  /// kept; an absolute one carrying Hub metadata (X-Repo-Commit / X-Linked-Etag: the LFS redirect
  /// to a CDN) is the answer; any other absolute one (a moved endpoint) is followed, without
  /// Authorization from the first hop that leaves the endpoint's origin on.
  /// Errors: the typed ones of map_http_error; Http for an answer without Hub metadata (naming
  /// what came back) and for a redirect loop (a URL seen before) or more than
  /// limits.max_redirects hops; Network, Timeout, Cancelled.
  Result<FileMetadata> file_metadata(const RepoRef& repo, std::string_view revision, std::string_view path,
                                     Attempt attempt = Attempt::First);
  /// GET /api/T/<id>/revision/<rev>. Every API call (repo info, tree pages, paths-info) follows
  /// redirects (http::Redirects::Follow rules, at most limits.max_redirects) and reads at most
  /// limits.max_response_bytes. Errors: the typed ones of map_http_error; Http for an answer that
  /// is not the expected JSON (the message names status, Content-Type and the body's start), a
  /// redirect loop, a body over the limit; Network, Timeout, Cancelled.
  Result<RepoInfo> repo_info(const RepoRef& repo, std::string_view revision, Attempt attempt = Attempt::First);
  /// A small file's bytes at `revision` (GET of its resolve URL, redirects followed, credentials
  /// kept on the Hub's origin, bounded by limits.max_response_bytes), for a config file read
  /// before a download decides (adapter_config.json for `with_base`); writes nothing. Errors: as
  /// repo_info, EntryNotFound for a missing file.
  Result<std::string> file_text(const RepoRef& repo, std::string_view revision, std::string_view path,
                                Attempt attempt = Attempt::First);
  /// Recursive (or not) listing at `revision`, every page merged; files and directories.
  /// Pages follow `Link: rel="next"` (relative or absolute). Besides repo_info's errors, Http
  /// (http context error_code "PaginationLoop") when a next link names a page already fetched,
  /// when there are more than limits.max_pages pages or more than limits.max_listing_bytes.
  Result<std::vector<TreeEntry>> list_tree(const RepoRef& repo, std::string_view revision, std::string_view path = "",
                                           bool recursive = true);
  /// GET /api/whoami-v2 with the options' token (redirects followed as for every API call).
  /// Errors: Unauthorized (401/403: no token, or the endpoint refuses it; the message says how
  /// to get one; after a redirect to another host, which never gets the token, it names that
  /// host instead of blaming the token), Http (another error status, or an answer that is not whoami JSON: named),
  /// Network, Timeout, Cancelled.
  Result<WhoAmI> whoami();
  /// GET a Xet read token from `refresh_route` (XetFileData::refresh_route, or
  /// xet_token_url): {"accessToken","exp","casUrl"} (Xet spec auth.md). A route on
  /// https://huggingface.co is sent to the options' endpoint instead, as huggingface_hub does
  /// (PR #3180), so a mirror's answers keep working. The token goes along on the endpoint's origin
  /// only. Errors: the repo's (RepoNotFound, Gated, Unauthorized, ...), Integrity for a malformed
  /// answer, Network, Timeout.
  Result<xet::XetToken> xet_token(const RepoRef& repo, const std::string& refresh_route);
  /// POST paths-info; missing paths are simply absent from the answer.
  Result<std::vector<TreeEntry>> paths_info(const RepoRef& repo, std::string_view revision,
                                            const std::vector<std::string>& paths);

 private:
  /// Performs `req`, retrying transient failures and 408/429/5xx up to `max_retries` times with
  /// the policy's backoff; returns the last response or error.
  Result<http::Response> perform_with_retries(const http::Request& req, int max_retries);
  /// GET (POST with `body`) following redirects, with the backoff (retryable statuses and
  /// transport errors), mapping error statuses; a 1xx/3xx final answer is an Http error.
  Result<http::Response> get_api(const RepoRef& repo, const std::string& url, Attempt attempt, const std::string& body = {});
  /// Http error for an answer of the server that breaks the protocol: names the endpoint, what
  /// went wrong and that it is the server's fault (`code` goes to the http context).
  Error server_fault(const std::string& what, const std::string& url, const std::string& code, int status = 0) const;
  /// `value`, or its parse error as a server_fault naming what came back in `r`.
  template <typename T>
  Result<T> parsed(Result<T> value, const http::Response& r, const std::string& url) const;

  HubOptions m_options;
  std::shared_ptr<http::Client> m_client;
};

}  // namespace hubcache::hub

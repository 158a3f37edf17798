#pragma once
// The Hub HTTP protocol (spec 7): URLs, request headers, the metadata HEAD, error mapping,
// retries, repo info and tree listings. Talks HTTP only: never touches the disk.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/cache/repo.hpp"
#include "hubcache/http/http.hpp"
#include "hubcache/http/retry.hpp"

namespace hubcache::hub {

// ---- URLs (spec 7.2) ----
/// Percent-encodes every byte except A-Za-z0-9 "_.-~" and the characters in `safe` (%XX upper).
std::string quote(std::string_view s, std::string_view safe = "");
std::string encode_revision(std::string_view revision);  // quote(rev, "")
std::string encode_path(std::string_view path);          // quote(path, "/")
std::string resolve_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision, std::string_view path);
std::string repo_info_url(std::string_view endpoint, const RepoRef& repo, std::optional<std::string_view> revision);
std::string tree_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision, std::string_view path,
                     bool recursive, bool expand);
std::string paths_info_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision);
/// The URL of `Link: <url>; rel="next"`, if any.
std::optional<std::string> parse_link_next(std::string_view link_header);

// ---- Data ----
/// Result of the metadata HEAD (spec 7.5). All fields validated: commit is 40-hex, etag is a
/// safe blob name.
struct FileMetadata {
  std::string commit;
  std::string etag;
  std::uint64_t size = 0;
  std::string location;  // URL to GET (the CDN URL after an LFS redirect)
  std::optional<std::string> xet_hash;
};

struct LfsInfo {
  std::string oid;  // sha256
  std::uint64_t size = 0;
};

/// A tree / paths-info entry (spec 7.3).
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

// ---- Errors (spec 7.7) ----
/// Maps an HTTP error response to a typed error (RepoNotFound, RevisionNotFound,
/// EntryNotFound, Gated, Unauthorized, RateLimited, Http). The message names the repo and says
/// what to do; it never contains a token.
Error map_http_error(const http::Response& response, std::string_view url, const RepoRef& repo,
                     std::string_view endpoint = "");

// ---- Client ----
struct HubOptions {
  std::string endpoint = "https://huggingface.co";
  std::optional<std::string> token;
  std::string user_agent = "hubcache/0.1.0";
  std::chrono::seconds etag_timeout{10};
  std::chrono::seconds download_timeout{10};
  std::chrono::seconds connect_timeout{10};
  http::RetryPolicy retry;
  const http::CancelToken* cancel = nullptr;
};

enum class Attempt {
  First,  // spec 7.8: no retries, ETag timeout (so a cache fallback is fast)
  Second  // 60 s timeout and the full backoff
};

class HubApi {
 public:
  HubApi(HubOptions options, std::shared_ptr<http::Client> client);

  const HubOptions& options() const { return m_options; }
  http::Client& client() { return *m_client; }

  /// Request headers for `url`: user-agent, and authorization only when `url` is on the
  /// endpoint's origin (spec 7.6).
  http::Headers headers_for(std::string_view url) const;

  /// HEAD on the resolve URL with relative redirects followed (spec 7.5).
  Result<FileMetadata> file_metadata(const RepoRef& repo, std::string_view revision, std::string_view path,
                                     Attempt attempt = Attempt::First);
  /// GET /api/T/<id>/revision/<rev>.
  Result<RepoInfo> repo_info(const RepoRef& repo, std::string_view revision, Attempt attempt = Attempt::First);
  /// Recursive (or not) listing at `revision`, every page merged; files and directories.
  Result<std::vector<TreeEntry>> list_tree(const RepoRef& repo, std::string_view revision, std::string_view path = "",
                                           bool recursive = true);
  /// POST paths-info; missing paths are simply absent from the answer.
  Result<std::vector<TreeEntry>> paths_info(const RepoRef& repo, std::string_view revision,
                                            const std::vector<std::string>& paths);

 private:
  /// Performs `req`, retrying transient failures and 408/429/5xx up to `max_retries` times with
  /// the policy's backoff; returns the last response or error.
  Result<http::Response> perform_with_retries(const http::Request& req, int max_retries);
  /// GET with the backoff (retryable statuses and transport errors), mapping error statuses.
  Result<http::Response> get_api(const RepoRef& repo, const std::string& url, Attempt attempt,
                                 const std::string& body = {});

  HubOptions m_options;
  std::shared_ptr<http::Client> m_client;
};

}  // namespace hubcache::hub

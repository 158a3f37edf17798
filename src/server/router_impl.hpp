#pragma once
// Internals shared by the route handlers (router.cpp, api_routes.cpp, file_routes.cpp).
#include <optional>
#include <string>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/server/router.hpp"
#include "repo_view.hpp"
#include "xet_index.hpp"

namespace hubcache::server {

/// A repo addressed by a request, with its folder realpath once known to exist.
struct RepoTarget {
  RepoRef repo;
  std::string folder;  // realpath of the repo folder ("" if absent)
};

struct Router::Impl {
  RouterOptions options;
  std::string root;  // realpath of the cache
  CacheView view;
  std::string signing_key;  // random per process: signs /_blobs/ URLs
  struct PrivateSpec {
    std::optional<RepoType> type;  // nullopt: every type
    std::string id;
  };
  std::vector<PrivateSpec> private_repos;

  std::unique_ptr<XetIndex> xet;  // serve --xet only

  Impl(RouterOptions o, std::string root_real);

  bool is_private(const RepoRef& repo) const;
  /// The request carries one of the mirror's tokens (Authorization: Bearer).
  bool has_mirror_token(const Request& req) const;
  /// GET /api/whoami-v2: 200 with an account's JSON for one of the mirror's tokens (named
  /// "mirror-token-<line of the token file>"), else 401 as the Hub answers a bad token.
  Response whoami(const Request& req) const;
  /// nullopt when the request may read the repo (present, and public or with a mirror token);
  /// else 401 RepoNotFound for a missing or private repo without a token, 404 with one.
  std::optional<Response> check_access(const Request& req, const RepoTarget& t) const;
  /// Base of absolute URLs: the configured public URL, else the transport's (never a Host
  /// header it did not check).
  std::string base_url(const Request& req) const;
  /// Hex HMAC-SHA256 of `payload` with the signing key.
  std::string sign(std::string_view payload) const;

  // Routes. `rest` are the decoded segments after the repo id / keyword.
  Response repo_info(const Request& req, const RepoTarget& t, const std::string& revision) const;
  Response tree(const Request& req, const RepoTarget& t, const std::string& revision, const std::string& path) const;
  Response paths_info(const Request& req, const RepoTarget& t, const std::string& revision) const;
  Response refs(const Request& req, const RepoTarget& t) const;
  Response resolve(const Request& req, const RepoTarget& t, const std::string& revision, const std::string& path, bool raw) const;
  Response blob(const Request& req, const std::vector<std::string>& segments) const;
  /// 204 when `req` may read the blob URL whose segments (and query) it carries, else the
  /// answer /_blobs/ would give (401 or 403; a malformed blob path is a 403 here, so an nginx
  /// auth_request never turns it into a 500).
  Response blob_auth(const Request& req, const std::vector<std::string>& segments) const;
  /// The repo a blob URL names, or the refusal (404 malformed, 403 bad signature, 401 private).
  struct BlobTarget {
    RepoRef repo;
    std::string hash;
  };
  std::optional<BlobTarget> blob_access(const Request& req, const std::vector<std::string>& segments, Response& refusal) const;
  /// The Location of the blob of `hash` in `repo` (signed unless BlobAuth::None).
  std::string blob_location(const Request& req, const RepoRef& repo, const std::string& hash) const;
  // Xet (xet_routes.cpp; only when `xet` is set).
  /// Loads the cache's Xet records of every repo's served LFS files, and with `build` makes the
  /// missing ones.
  void xet_load(bool build);
  /// The Xet file id of an LFS file, its record made now when needed; nullopt when not Xet-served.
  std::optional<std::string> xet_file_id(const RepoTarget& t, const ServedFile& f) const;
  /// The file id when its record is already known (listings never chunk), else "".
  std::string xet_known_hash(const RepoTarget& t, const ServedFile& f) const;
  /// Adds X-Xet-Hash and the Link of the xet-auth and reconstruction URLs to a resolve answer.
  void xet_headers(const Request& req, const RepoTarget& t, const std::string& commit, const std::string& file_id,
                   Response& r) const;
  Response xet_token(const Request& req, const RepoTarget& t, const std::string& revision) const;
  Response xet_reconstruction(const Request& req, const std::vector<std::string>& segments) const;
  Response xet_xorb(const Request& req, const std::vector<std::string>& segments) const;
  // The HTML pages for people (html_page.cpp).
  Response index_page(const Request& req) const;
  Response repo_page(const Request& req, const RepoRef& repo, const std::string& revision) const;
  /// The pages show the repo to this request: it may read it (check_access) and page_hides agrees.
  bool page_shows(const Request& req, const RepoTarget& t) const;

  /// Resolves `revision` of the target; on failure fills `error` with the Hub's 404.
  std::optional<std::string> commit_of(const RepoTarget& t, const std::string& revision, Response& error) const;
};

Response json_response(int status, const std::string& json_text);
/// "model 'org/name'".
std::string describe(const RepoRef& repo);
/// A path acceptable as a repo file path: validate_repo_path (docs/hub-protocol.md#identifiers) plus no backslash anywhere.
bool safe_repo_path(std::string_view path);
/// Serves the bytes of an open regular file (modified at `mtime`, Unix seconds) with Range,
/// If-Range and If-None-Match handling, and Last-Modified.
Response file_body_response(const Request& req, fs::Fd fd, std::uint64_t size, const std::string& quoted_etag, std::int64_t mtime,
                            HeaderList extra_headers);

}  // namespace hubcache::server

#pragma once
// The Hub-compatible routes over a read-only cache (spec sections 7-8), transport-independent.
// A Router maps a Request to a Response; it is thread-safe and never writes to the cache.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hubcache/server/http.hpp"
#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache::server {

struct RouterOptions {
  std::string cache_dir;  // the Hub cache to serve (must exist)
  /// Repos that need a bearer token: "org/name" (any type) or "datasets/org/name", "spaces/...".
  std::vector<std::string> private_repos;
  std::vector<std::string> tokens;          // accepted bearer tokens (see load_token_file)
  std::chrono::seconds blob_url_ttl{3600};  // lifetime of the signed /_blobs/ redirect URLs
  /// How /_blobs/ URLs are authorized. Signed: the 302 of /resolve carries `expires` and `sig`
  /// (HMAC-SHA256 with a key random per process) in the query, so a cache in front keys on the
  /// path alone; a URL without a valid, unexpired signature gets 403. None: plain content
  /// addresses, no query; a blob of a private repo then needs one of the mirror's tokens (401
  /// without), like the repo's API routes. For sites whose blob store is private anyway.
  enum class BlobAuth { Signed, None };
  /// The secret that signs blob URLs (at least 32 bytes; see load_signing_key). Empty: 32 random
  /// bytes per Router, so URLs die with the process. Origins that share one address (replicas
  /// behind a load balancer) or must outlive restarts share a key.
  std::string signing_key;
  BlobAuth blob_auth = BlobAuth::Signed;
  /// Also answer /resolve of a file kept in git (not LFS) with a 302 to its content-addressed
  /// blob URL (/_blobs/<repo folder>/<git blob id>), carrying X-Linked-Etag, X-Linked-Size and
  /// X-Repo-Commit like an LFS redirect, so a cache in front (nginx, a CDN) holds every file
  /// under an immutable URL. Default (false): as the Hub, such files are answered in place.
  bool redirect_all = false;
  /// Serve files over the Xet protocol too (docs/mirror.md#xet): a resolve of an LFS file carries
  /// X-Xet-Hash and the xet-auth / xet-reconstruction-info Links (a JS-style GET asking for
  /// application/vnd.xet-fileinfo+json gets them in a 200), `xet-read-token` hands out tokens for
  /// the mirror's CAS under /_xet/ (reconstructions, xorbs made of the blobs' chunks). A blob's Xet
  /// record is the cache's (left by a Xet download, also one that ended after the start: read on
  /// first need) or made on first need by chunking the blob.
  bool xet = false;
  /// With `xet`: make every LFS blob's record when the Router is created (before serving).
  bool xet_index_all = false;
  /// With `xet`: how long a resolve waits for a blob's first chunking. A blob not chunked by
  /// then is answered without Xet (the plain path; huggingface_hub gives its HEAD 10 s) while it
  /// goes on being chunked in the background; later resolves of it carry X-Xet-Hash.
  std::chrono::milliseconds xet_resolve_wait{3000};
  /// The URL clients reach the mirror at ("https://mirror.example/hub"), the base of every
  /// absolute URL the mirror sends (Location of /_blobs redirects, Link of tree pages), whatever
  /// Host a request names. Empty: Request::base_url (never an unchecked Host header).
  std::string public_url;
  /// How long a checked ref, repo folder or file lookup is trusted before the disk is consulted
  /// again (like nginx's open_file_cache_valid). New files and refs show up at once (they are
  /// not cached yet); a ref moved to another commit shows within this delay. 0: every request.
  std::chrono::milliseconds revalidate_after{1000};
  /// Descriptors of served files kept open by the lookup cache (0: none, every GET opens).
  std::size_t max_open_files = 4096;
  std::size_t tree_page_size = 1000;       // entries per tree page (the Hub's)
  std::size_t tree_expand_page_size = 50;  // entries per tree page with expand=true
  /// More facts for the HTML page at `/` (label, value), shown under "This mirror": the proxy's
  /// upstream and hit rate. Plain text (the Router escapes it); asked on each request for the page,
  /// from a server thread. Empty: none.
  std::function<std::vector<std::pair<std::string, std::string>>()> page_facts;
  /// Repos the HTML pages must not show to this request although the Router would serve it (the
  /// proxy's repos its upstream marks gated or private, for a request without one of its tokens).
  /// Called from server threads. Empty: the pages show what the request may read.
  std::function<bool(const Request&, const RepoRef&)> page_hides;
};

/// Reads a token file: one token per line, surrounding whitespace and empty lines ignored.
Result<std::vector<std::string>> load_token_file(const std::string& path);
/// Reads a signing key file: its bytes, one trailing newline dropped. Fails (InvalidArgument)
/// when it holds fewer than 32 bytes, or (Io) when it cannot be read.
Result<std::string> load_signing_key(const std::string& path);

class Router {
 public:
  /// Fails if the cache folder is missing, a private repo spec or token is malformed, or the
  /// public URL is not an http(s) URL without query or fragment.
  static Result<std::unique_ptr<Router>> create(RouterOptions options);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  /// Answers one request. Never throws; malformed input gives a 4xx. Besides the Hub's routes it
  /// answers two HTML pages for people (GET/HEAD, text/html, no script): `/` (the repos the request
  /// may read with sizes and revisions, the facts of RouterOptions::page_facts, and how to use this
  /// mirror: HF_ENDPOINT, Python, JS, hubcache) and a repo's page at the Hub's URL of it
  /// (`/org/name`, `/datasets/org/name`, ...; `?revision=`) listing a revision's files, each linked
  /// to its resolve URL. A repo the request may not read is a 404 page there, exactly as a missing
  /// one.
  Response handle(const Request& request) const;
  /// The request carries one of the mirror's tokens (RouterOptions::tokens) as a Bearer token:
  /// what lets it read private repos (compared in constant time).
  bool authorized(const Request& request) const;

  struct Impl;

 private:
  explicit Router(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hubcache::server

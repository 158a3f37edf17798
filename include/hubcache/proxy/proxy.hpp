#pragma once
// The pull-through proxy (`hubcache serve --upstream URL`): the mirror's read-only Router over a
// cache that is filled from an upstream Hub (huggingface.co, another hubcache, any Hub-compatible
// server) when a request misses. A miss is fetched with the Downloader and HubApi, stored exactly
// as `hubcache download` stores it (verified, under the per-blob lock, byte-compatible with
// huggingface_hub), and then answered by the Router from the cache. So the Router stays the one
// place that answers, and never writes; this module is the only one that writes on its behalf.
//
// What a request fills (docs/mirror.md#pull-through-proxy):
// - every repo route: the revision's commit (repo info upstream; refs/<branch> written), asked again
//   once `revalidate` has passed for a branch or tag, never for a commit (immutable);
// - repo info, tree, paths-info: trees/<commit>.json (the upstream's recursive tree) and an empty
//   snapshots/<commit>/, so the Router lists the whole commit (the upstream's Xet hashes are kept
//   on disk, never listed from there);
// - resolve: the file (download_file at the commit); a file the upstream lacks gets its .no_exist
//   marker and the Hub's 404 EntryNotFound with X-Repo-Commit;
// - xet-read-token (router.xet): the tree as for a listing when the commit has no snapshot folder.
// Xet (router.xet, `serve --upstream --xet`): fills talk Xet to an upstream that offers it when
// upstream.xet allows (Auto by default: the Xet record is written, a new revision fetches only the
// chunks the cache lacks). The Router then serves over Xet only what the cache holds: a held LFS
// file's resolve carries X-Xet-Hash and listings its xetHash (the record the fill left, else the
// blob chunked on first need), while a miss streamed as it is fetched, and every file not held,
// is answered plainly, so a client never asks the proxy's CAS for bytes it lacks. The CAS routes
// (/_xet/) go to the Router as they are; a Xet read token of a gated repo with a forwarded client
// token needs the upstream's word for that token, as a resolve does.
// Concurrent requests for the same thing in one process wait for one fill (then find it cached);
// other processes on the same cache wait on the per-blob lock and find the blob there.
// When the upstream cannot be reached, rate-limits or fails (5xx), a request the cache can answer is
// answered from it with `X-Hubcache-Stale: <why>` (and a log line); otherwise it gets 504 (no answer),
// 429 or 502, with the Hub's JSON error shape.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hubcache/core/result.hpp"
#include "hubcache/resolve/download.hpp"
#include "hubcache/server/http.hpp"
#include "hubcache/server/router.hpp"

namespace hubcache::proxy {

struct ProxyOptions {
  /// The cache served and filled (router.cache_dir) and the proxy's own access rules: private repos
  /// and the tokens that may read them (RouterOptions::private_repos / tokens).
  server::RouterOptions router;
  /// How the upstream is reached: endpoint (the upstream Hub), token (the proxy's own upstream
  /// token; a client's is never sent unless forward_client_token), timeouts, retries, transport.
  /// Its cache_dir is set to router.cache_dir.
  DownloadOptions upstream;
  /// A branch or tag is asked upstream again once its last answer is this old (a commit never is).
  std::chrono::seconds revalidate{60};
  /// After the upstream gave no answer (refused, timed out) or rate-limited the proxy (429), it is
  /// not asked again for this long: cached answers are stale at once, the rest gets 504 or 429
  /// (Retry-After: the time left) at once. Metadata is asked once per request (no retries within
  /// it), bounded by upstream.download_timeout, so no client waits on a silent upstream for long.
  std::chrono::seconds upstream_pause{10};
  /// Never contact the upstream: the Router alone answers (like `hubcache serve` without one).
  bool offline = false;
  /// Send the client's own `Authorization` upstream instead of the proxy's token.
  bool forward_client_token = false;
  /// Serve repos the upstream marks gated or private to clients without one of the proxy's tokens.
  /// Off by default: what the proxy's token fetched is not shared anonymously.
  bool share_restricted = false;
  /// Cap on the cache's size in bytes (blobs, each once): after fills, the least recently served
  /// revisions are removed by `cache gc`'s plan (manage/gc.hpp: pins kept, never a repo with a
  /// fill in flight; a file being sent stays readable to its open descriptor). nullopt: no cap.
  std::optional<std::uint64_t> max_size;
  /// One line for each upstream failure answered from the cache or refused (never holds a token).
  std::function<void(std::string_view line)> log;
};

/// What the proxy did since it started (for /metrics and the closing log line).
struct ProxyCounters {
  std::uint64_t requests = 0;         // requests handled
  std::uint64_t hits = 0;             // repo requests answered without starting an upstream transfer
  std::uint64_t misses = 0;           // repo requests that started one (a request joining it is a hit)
  std::uint64_t stale = 0;            // answered from the cache because the upstream failed
  std::uint64_t upstream_errors = 0;  // upstream failures without a usable answer (typed 404s are answers)
  std::uint64_t evicted = 0;          // revisions removed by --max-size
  std::uint64_t upstream_bytes = 0;   // file bytes fetched from the upstream (whole files)
};

class Proxy {
 public:
  /// Errors: those of Router::create (missing cache folder, bad token or private spec, bad public
  /// URL); InvalidArgument when the upstream endpoint is not an http(s) URL.
  static Result<std::unique_ptr<Proxy>> create(ProxyOptions options);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  /// Answers one request: fills the cache from the upstream as needed, then lets the Router answer.
  /// Thread-safe; blocks while a fill runs (serve it with a thread per connection). Never throws.
  server::Response handle(const server::Request& request);

  ProxyCounters counters() const;
  /// The counters as Prometheus text (hubcache_proxy_requests_total, _hits_total, _misses_total,
  /// _stale_total, _upstream_errors_total), for ServerOptions::extra_metrics.
  std::string metrics_text() const;

  struct Impl;

 private:
  explicit Proxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hubcache::proxy

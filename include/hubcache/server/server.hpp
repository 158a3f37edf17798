#pragma once
// `hubcache serve`: the Router behind an HTTP/1.1 server (libmicrohttpd, epoll, a thread pool,
// sendfile bodies, keep-alive). Read-only over the cache.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hubcache/server/router.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache::server {

struct ServerOptions {
  RouterOptions router;
  /// Answers requests instead of a Router over `router` (the pull-through proxy, proxy.hpp).
  /// It may block for long (an upstream fetch), so each connection then gets its own thread
  /// (MHD_USE_THREAD_PER_CONNECTION; `threads` is ignored). Called from many threads at once.
  std::function<Response(const Request&)> handler;
  /// More Prometheus text lines for GET /metrics (the proxy's counters), each with its HELP and
  /// TYPE lines. Called on each scrape, from a server thread.
  std::function<std::string()> extra_metrics;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;        // 0: an ephemeral port (see Server::port())
  unsigned threads = 0;             // event-loop threads; 0: one per core
  unsigned max_connections = 4096;  // further connections are refused, never a crash
  /// Open connections one client address may hold (further ones are closed at once), so that
  /// one client holding idle connections cannot starve the others. 256: twice the 128
  /// connections `hubcache download` opens at most. 0: no per-client limit.
  unsigned max_connections_per_client = 256;
  std::chrono::seconds idle_timeout{30};     // no byte moved for this long: closed
  std::chrono::seconds request_timeout{30};  // request line + headers + body must arrive in this
  std::size_t max_header_bytes = 16 * 1024;  // request line + headers (431/414 above)
  std::size_t max_body_bytes = 1 << 20;      // POST bodies (413 above)
  /// One line per finished request (method, path, status, bytes, time). Never holds a token.
  /// Empty: no access log.
  std::function<void(std::string_view line)> access_log;
  /// HTTPS: PEM files of the server certificate (its chain may follow it) and its private key.
  /// Both or neither; with them the server speaks only TLS and url() starts with "https://".
  /// Errors: InvalidArgument (only one given, or libmicrohttpd built without TLS), Io (a file
  /// unreadable), InvalidArgument (TLS refused the certificate or key: not PEM, or not a pair).
  std::string tls_cert_file;
  std::string tls_key_file;
};

/// Besides the handler's routes, the server answers two of its own (GET or HEAD):
/// - `/health`: 200 `{"status":"ok"}` while it serves (a Kubernetes readiness / liveness probe);
/// - `/metrics`: Prometheus text format 0.0.4: hubcache_requests_total{code="2xx".."5xx"},
///   hubcache_response_bytes_total (body bytes of responses sent whole), hubcache_connections
///   (open now), then ServerOptions::extra_metrics.
class Server {
 public:
  /// Binds and starts serving in background threads.
  static Result<std::unique_ptr<Server>> start(ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;
  /// "http://host:port" (https with TLS) of the bound address; when listening on all interfaces, the machine's
  /// host name stands for it. The value to use as HF_ENDPOINT (unless a public URL is set).
  std::string url() const;
  /// The address and port listened on, as bound: "127.0.0.1:8080", "0.0.0.0:8080", "[::]:80".
  std::string bound_address() const;
  /// Bound to 0.0.0.0 or [::]: reachable at every address of the machine.
  bool all_interfaces() const;
  /// Stops accepting, cuts open connections, joins the threads. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hubcache::server

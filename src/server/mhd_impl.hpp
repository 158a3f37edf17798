#pragma once
// Server::Impl, shared by the libmicrohttpd front (mhd_server.cpp) and its listener and TLS
// set-up (mhd_listen.cpp). Internal to the server module.
#include <microhttpd.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hubcache/server/server.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::server {

using Clock = std::chrono::steady_clock;

/// Host header -> (lower-case host, port); IP literals in the canonical inet_ntop form. Nullopt
/// for a malformed bracketed literal.
std::optional<std::pair<std::string, std::string>> split_host(std::string_view h);

struct Server::Impl {
  ServerOptions options;
  std::unique_ptr<Router> router;                  // unless options.handler is set
  std::function<Response(const Request&)> handle;  // options.handler, or the router's
  MHD_Daemon* daemon = nullptr;
  int listen_fd = -1;
  std::uint16_t bound_port = 0;
  std::string bound_host;       // the address listened on: "127.0.0.1", "0.0.0.0", "[::]", ...
  bool all_interfaces = false;  // bound to 0.0.0.0 or [::]
  std::string url_host;         // the bound address, or for all interfaces the machine's host name
  /// Hosts a client may name this server by (lower case): the bound address, or for all
  /// interfaces every local address, the host name and "localhost". A Host header naming one
  /// of them (with the bound port) may become the base of absolute URLs; any other never does.
  std::vector<std::string> own_hosts;

  // Watchdog over connections still receiving a request (see request_timeout). Each connection's
  // Conn lives in MHD's socket context: worker threads update it without a shared lock; the
  // mutex only guards the set (connect/disconnect) against the watchdog's scan.
  struct Conn {
    int fd = -1;
    std::atomic<Clock::rep> phase_start{0};  // steady_clock ticks
    std::atomic<bool> receiving{true};
  };
  std::mutex conn_mutex;
  std::unordered_map<MHD_Connection*, std::unique_ptr<Conn>> conns;
  std::condition_variable cv;
  bool stopping = false;
  std::thread watchdog;

  // GET /metrics: requests answered by status class (1xx+2xx, 3xx, 4xx, 5xx), body bytes sent.
  std::atomic<std::uint64_t> answered[4] = {0, 0, 0, 0};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::string metrics_text();

  std::string tls_cert, tls_key;  // PEM text; MHD reads it while the daemon runs
  std::string scheme() const { return tls_cert.empty() ? "http://" : "https://"; }
  std::string default_base() const { return scheme() + url_host + ":" + std::to_string(bound_port); }

  /// The base URL for a request with this Host header: the header itself when it names this
  /// server, else default_base() (a forged Host never reaches a Location or Link header).
  std::string base_for(std::optional<std::string_view> host_header) const {
    if (!host_header) return default_base();
    const auto hp = split_host(*host_header);
    if (!hp || hp->first.empty()) return default_base();
    const std::string port = hp->second.empty() ? (tls_cert.empty() ? "80" : "443") : hp->second;
    if (port != std::to_string(bound_port)) return default_base();
    if (std::find(own_hosts.begin(), own_hosts.end(), hp->first) == own_hosts.end()) return default_base();
    return scheme() + hp->first + ":" + port;
  }

  static void set_receiving(MHD_Connection* c, bool receiving) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    auto* conn = info ? static_cast<Conn*>(info->socket_context) : nullptr;
    if (!conn) return;
    conn->phase_start.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    conn->receiving.store(receiving, std::memory_order_release);
  }

  void watch() {
    std::unique_lock lock(conn_mutex);
    while (!stopping) {
      cv.wait_for(lock, std::chrono::milliseconds(200));
      const auto now = Clock::now().time_since_epoch().count();
      const auto limit = std::chrono::duration_cast<Clock::duration>(options.request_timeout).count();
      for (auto& [c, conn] : conns) {
        if (conn->receiving.load(std::memory_order_acquire) && now - conn->phase_start.load(std::memory_order_relaxed) > limit) {
          // MHD reports CLOSED (under this mutex) before it closes the fd, so the fd is still
          // this connection's. shutdown() makes MHD see the end and clean up.
          ::shutdown(conn->fd, SHUT_RDWR);
          conn->receiving.store(false, std::memory_order_relaxed);
        }
      }
    }
  }
};

/// Binds and listens on host:port (getaddrinfo order, SO_REUSEADDR, backlog 4096); fills the
/// bound address fields of `impl` (bound_host/port, all_interfaces, url_host, own_hosts).
/// InvalidArgument for a host that does not resolve, Io when no address can be bound.
Result<fs::Fd> open_listener(const std::string& host, std::uint16_t port, Server::Impl& impl);

/// Reads the PEM certificate and key for HTTPS into `impl` (nothing when neither is given).
/// InvalidArgument: only one given, not PEM, or a libmicrohttpd without TLS; Io: unreadable.
Result<void> load_tls(const ServerOptions& o, Server::Impl& impl);

}  // namespace hubcache::server

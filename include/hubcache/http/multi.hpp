#pragma once
// Many concurrent streaming exchanges driven by one thread (libcurl multi interface). Used by
// the transfer engine; all methods except wakeup() must be called from the driving thread.
//
// HTTP/2: over HTTPS libcurl offers h2 by ALPN (CURL_HTTP_VERSION_2TLS, its default since
// 7.62) and, with CURLMOPT_PIPELINING = CURLPIPE_MULTIPLEX (set explicitly here, also the
// default), runs many exchanges with one host as streams of one connection, as the Hub allows.
// HTTPS exchanges set CURLOPT_PIPEWAIT, so a burst of requests to a host waits for the first
// connection's ALPN answer and multiplexes over it instead of opening one TLS connection each.
// One connection carries up to max_host_connections streams (CURLMOPT_MAX_CONCURRENT_STREAMS;
// libcurl's default is 100) or fewer if the server's SETTINGS say so, and only then does a
// second one open. Plain http:// and HTTP/1.1 servers get one connection per exchange, at most
// max_host_connections per host (further exchanges queue inside libcurl).
// Tested against an h2-only server in tests/interop/test_interop_h2.cpp.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "hubcache/http/http.hpp"

namespace hubcache::http {

class Multi {
 public:
  using Id = std::uint64_t;
  using Done = std::function<void(Result<Response>)>;

  /// max_host_connections: connections to one host at once (0 = unlimited).
  explicit Multi(unsigned max_host_connections = 0, Transport transport = {});
  ~Multi();
  Multi(const Multi&) = delete;
  Multi& operator=(const Multi&) = delete;

  /// Starts an exchange; `done` runs on the driving thread when it ends (also after cancel()).
  Id add(const Request& request, Sink sink, Done done);
  /// Stops an exchange; its `done` gets ErrorCode::Cancelled during the next poll().
  void cancel(Id id);
  /// Moves data and runs callbacks; waits at most `timeout` for activity. Returns the number
  /// of exchanges still running.
  std::size_t poll(std::chrono::milliseconds timeout);
  std::size_t running() const;
  /// Interrupts a poll() from any thread.
  void wakeup();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hubcache::http

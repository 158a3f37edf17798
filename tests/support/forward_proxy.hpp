#pragma once
// A minimal HTTP forward proxy for tests: accepts absolute-form requests ("GET http://h:p/x
// HTTP/1.1") on 127.0.0.1, records each request line, forwards the request to h:p with
// "Connection: close" and relays the answer byte for byte. One connection per request (the
// client's connection is closed after each answer). `CONNECT host:port` (how clients reach https://
// through a proxy) opens a tunnel to a loopback target and relays bytes both ways until one side
// closes; with refuse_connect it is answered 403 instead.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hubcache::test {

class ForwardProxy {
 public:
  /// Listens on an ephemeral port. `refuse_connect`: answer every CONNECT with 403 Forbidden.
  explicit ForwardProxy(bool refuse_connect = false);
  ~ForwardProxy();  // stops and joins
  ForwardProxy(const ForwardProxy&) = delete;
  ForwardProxy& operator=(const ForwardProxy&) = delete;

  /// "http://127.0.0.1:PORT", the value for HTTP_PROXY / http_proxy.
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  /// The request lines received, in order ("GET http://127.0.0.1:1234/api/... HTTP/1.1",
  /// "CONNECT 127.0.0.1:1234 HTTP/1.1").
  std::vector<std::string> requests() const;
  /// How many of those were CONNECT requests.
  std::size_t connects() const;

 private:
  void serve(int client);
  void tunnel(int client, const std::string& target, const std::string& early_bytes);
  bool m_refuse_connect = false;
  int m_listen = -1;
  std::uint16_t m_port = 0;
  std::atomic<bool> m_stop{false};
  std::thread m_accept;
  mutable std::mutex m_mutex;
  std::vector<std::string> m_requests;
  std::vector<std::thread> m_workers;
};

}  // namespace hubcache::test

#pragma once
// A minimal HTTP forward proxy for tests: accepts absolute-form requests ("GET http://h:p/x
// HTTP/1.1") on 127.0.0.1, records each request line, forwards the request to h:p with
// "Connection: close" and relays the answer byte for byte. One connection per request (the
// client's connection is closed after each answer); no CONNECT, no https.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hubcache::test {

class ForwardProxy {
 public:
  ForwardProxy();   // listens on an ephemeral port
  ~ForwardProxy();  // stops and joins
  ForwardProxy(const ForwardProxy&) = delete;
  ForwardProxy& operator=(const ForwardProxy&) = delete;

  /// "http://127.0.0.1:PORT", the value for HTTP_PROXY / http_proxy.
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  /// The request lines received, in order ("GET http://127.0.0.1:1234/api/... HTTP/1.1").
  std::vector<std::string> requests() const;

 private:
  void serve(int client);
  int m_listen = -1;
  std::uint16_t m_port = 0;
  std::atomic<bool> m_stop{false};
  std::thread m_accept;
  mutable std::mutex m_mutex;
  std::vector<std::string> m_requests;
  std::vector<std::thread> m_workers;
};

}  // namespace hubcache::test

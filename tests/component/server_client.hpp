#pragma once
// Test helpers for the mirror: a libcurl HTTP client (no redirects followed), a raw-socket
// client for malformed requests, and a fixture that serves a temp cache on an ephemeral port.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache_builder.hpp"
#include "hubcache/server/server.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {

struct HttpResult {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool has(const std::string& name) const { return headers.count(name) != 0; }
};

/// One request; `headers` are "Name: value" lines. A failed transfer gives status 0.
HttpResult http(const std::string& method, const std::string& url, const std::vector<std::string>& headers = {},
                const std::string& body = {});

/// A GET from another local address (e.g. "127.0.0.2", a second client on the loopback).
HttpResult http_from(const std::string& local_address, const std::string& url, long timeout_s = 5);

/// Sends `bytes` on a fresh TCP connection to 127.0.0.1:port and returns what comes back
/// until the peer closes or `timeout_ms` passes.
std::string raw_exchange(std::uint16_t port, const std::string& bytes, int timeout_ms = 3000);

/// A cache in a temp dir plus a server over it, started on demand.
class ServerFixture : public ::testing::Test {
 protected:
  TempDir tmp;
  CacheBuilder cache{tmp.path() + "/cache"};
  std::unique_ptr<server::Server> srv;
  std::mutex log_mutex;
  std::vector<std::string> log_lines;

  void SetUp() override;
  void TearDown() override {
    if (srv) srv->stop();  // before the log it writes to goes away
  }
  /// Starts the server; `tweak` may adjust the options first.
  void start(const std::function<void(server::ServerOptions&)>& tweak = {});
  std::string url(const std::string& path) const { return srv->url() + path; }
  std::vector<std::string> logs();
};

/// Lowercase 40-hex git blob id / 64-hex sha256 of a string (re-exported for brevity).
std::string git_oid(const std::string& content);
std::string sha256(const std::string& content);

}  // namespace hubcache::test

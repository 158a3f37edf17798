#pragma once
// Internal pieces of the test server shared by its two source files.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hub_server.hpp"

namespace hubcache::test {

struct HttpRequest {
  std::string method;
  std::string target;
  std::string path;
  std::string query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? std::string() : it->second;
  }
};

namespace detail_server {
std::string lower(std::string s);
std::string url_decode(const std::string& s);
std::vector<std::string> split(const std::string& s, char sep);
std::string query_param(const std::string& query, const std::string& name);
bool send_all(int fd, const char* data, std::size_t n);
const char* reason(int status);
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_range(const std::string& h, std::uint64_t size);
// Real-Hub mode (hub_server_cdn.cpp).
std::string cdn_etag_of_content(std::string_view content);
std::string cdn_etag_of_disk_file(const std::string& sha256, std::uint64_t size);
std::string random_sign_key();
std::string hmac_hex(const std::string& key, const std::string& payload);  // HMAC-SHA256, lower-case hex
// Xet (hub_server_xet.cpp).
std::shared_ptr<XetCasState> make_xet_cas_state();
/// "/api/resolve-cache/<type>s/<id>/<commit>/<path>" as "/<prefix><id>/resolve/<commit>/<path>",
/// or nullopt when it is not of that form.
std::optional<std::string> resolve_cache_as_resolve(const std::string& path);
}  // namespace detail_server

using Hdrs = std::vector<std::pair<std::string, std::string>>;

/// The server's mutable configuration as one request sees it (copied under the lock once), with the
/// fault it matched, if any.
struct RequestConfig {
  const HttpRequest* req = nullptr;
  std::optional<Fault> fault;
  std::string token, hostile_commit, hostile_etag;
  std::vector<std::string> tokens_without_access;
  Hostile hostile = Hostile::None;
  Moved moved = Moved::None;
  std::size_t page_size = 0;
  std::uint64_t throttle = 0;  // bytes per second per connection, 0 = unlimited
  bool xet = false, real = false;
  RealHubOptions real_options;
};

/// A request addressed to a repo, with its access checked and its revision resolved.
struct RepoTarget {
  RepoType type = RepoType::Model;
  std::string id;
  std::string action;  // "resolve", "revision", "tree", "paths-info", "" (repo info)
  std::string tail;    // after the revision: the file path (resolve) or folder (tree), still encoded
  std::string rev;     // as asked, decoded ("main" when none)
  std::string commit;
  std::string commit_header;  // X-Repo-Commit / sha: the commit, or the hostile value
  std::string unmoved_path;   // the path asked for, before a moved endpoint's rewrite (for Link headers)
  bool is_private = false, gated = false;
  bool from_resolve_cache = false;  // real-Hub mode: reached through /api/resolve-cache/
};

/// One response being written: status line, headers, body; keeps the request record current.
struct Reply {
  int fd;
  const HttpRequest& req;
  RequestRecord& rec;
  bool& keep_alive;
  std::function<void()> publish;  // copies `rec` into the server's log (under its mutex)

  void head(int status, const Hdrs& headers, std::uint64_t content_length) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + detail_server::reason(status) + "\r\n";
    for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
    out += "Content-Length: " + std::to_string(content_length) + "\r\n";
    if (!keep_alive) out += "Connection: close\r\n";
    out += "\r\n";
    rec.status = status;
    publish();
    if (!detail_server::send_all(fd, out.data(), out.size())) keep_alive = false;
  }
  void simple(int status, Hdrs headers, const std::string& body, const std::string& type = "application/json") {
    headers.emplace_back("Content-Type", type);
    head(status, headers, body.size());
    if (req.method != "HEAD" && !body.empty()) {
      rec.body_bytes += body.size();
      publish();
      if (!detail_server::send_all(fd, body.data(), body.size())) keep_alive = false;
    }
  }
  void error(int status, const std::string& code, const std::string& message, Hdrs extra = {}) {
    if (!code.empty()) extra.emplace_back("X-Error-Code", code);
    extra.emplace_back("X-Error-Message", message);
    extra.emplace_back("X-Request-Id", "test-request");
    simple(status, extra, nlohmann::json{{"error", message}}.dump());
  }
};

}  // namespace hubcache::test

#pragma once
// Internal pieces of the test server shared by its two source files.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
}  // namespace detail_server

}  // namespace hubcache::test

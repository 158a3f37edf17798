// RFC 9112 request hygiene (malformed_request): what the transport passes on but a server must
// refuse with 400, because a proxy in front and this server could read the request differently
// (request smuggling, cache poisoning) or because bytes would be cut silently.
#include <cstdint>

#include "hubcache/server/http.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache::server {
namespace {

bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  return true;
}

// Control bytes a field value must not hold (RFC 9110 section 5.5); HTAB is allowed.
bool has_control_byte(std::string_view v) {
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool all_digits(std::string_view s) {
  for (const char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Host = uri-host [ ":" port ] (RFC 9110 section 7.2, RFC 3986 section 3.2.2). Empty is valid
// (a target without authority).
bool valid_host(std::string_view h) {
  std::string_view port;
  if (!h.empty() && h.front() == '[') {
    const std::size_t close = h.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (const char c : h.substr(1, close - 1))
      if (!is_hex(c) && c != ':' && c != '.') return false;
    const std::string_view rest = h.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else {
    const std::size_t colon = h.find(':');
    const std::string_view name = h.substr(0, colon);
    if (colon != std::string_view::npos) port = h.substr(colon + 1);
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                              c == '.' || c == '_' || c == '~';
      const bool sub_delim = std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
      if (c == '%') {
        if (i + 2 >= name.size() || !is_hex(name[i + 1]) || !is_hex(name[i + 2])) return false;
        i += 2;
      } else if (!unreserved && !sub_delim) {
        return false;
      }
    }
  }
  return port.size() <= 5 && all_digits(port);
}

// "HTTP/1.1" and later 1.x (and any later major version) need a Host header.
bool at_least_http11(std::string_view v) {
  if (v.size() < 8 || v.substr(0, 5) != "HTTP/") return false;
  if (v[5] != '1') return v[5] > '1' && v[5] <= '9';
  return v[6] == '.' && v[7] >= '1' && v[7] <= '9';
}

}  // namespace

std::optional<std::string> malformed_request(const Request& req) {
  for (const char ch : req.path) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return "the request target holds a space or a control byte; percent-encode such bytes";
  }
  std::size_t hosts = 0;
  std::string_view host;
  std::optional<std::uint64_t> length;
  bool has_length = false;
  std::string codings;  // every Transfer-Encoding value, comma-joined
  bool has_te = false;
  for (const auto& [name, value] : req.headers) {
    if (!is_token(name)) return "a header name is empty or holds a character a token cannot (space, colon, control byte)";
    if (has_control_byte(value))
      return "the value of the header '" + name + "' holds a control byte (NUL, CR, LF or another); remove it";
    if (iequals(name, "Host")) {
      ++hosts;
      host = value;
    } else if (iequals(name, "Content-Length")) {
      has_length = true;
      // "5, 5" repeats one length (RFC 9110 section 8.6); different lengths are refused.
      std::string_view rest = value;
      while (true) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = trim(rest.substr(0, comma));
        const auto n = item.size() <= 19 && all_digits(item) ? parse_u64(item) : std::nullopt;
        if (!n) return "the Content-Length '" + value + "' is not a decimal number of bytes";
        if (length && *length != *n) return "the request carries different Content-Length values; send one";
        length = n;
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
    } else if (iequals(name, "Transfer-Encoding")) {
      has_te = true;
      codings += (codings.empty() ? "" : ",") + value;
    }
  }
  if (hosts > 1) return "the request carries more than one Host header; send exactly one";
  if (hosts == 0 && at_least_http11(req.version)) return "an HTTP/1.1 request must carry a Host header";
  if (hosts == 1 && !valid_host(trim(host))) return "the Host header is not a valid host[:port]";
  if (has_te) {
    if (has_length) return "the request carries both Transfer-Encoding and Content-Length; send only one of them";
    if (!at_least_http11(req.version)) return "Transfer-Encoding is not allowed in an HTTP/1.0 request";
    const std::size_t comma = codings.rfind(',');
    const std::string_view last = trim(std::string_view(codings).substr(comma == std::string::npos ? 0 : comma + 1));
    if (!iequals(last, "chunked")) return "the last Transfer-Encoding of a request must be 'chunked'";
  }
  return std::nullopt;
}

}  // namespace hubcache::server

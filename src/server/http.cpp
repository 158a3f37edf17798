#include "hubcache/server/http.hpp"
#include "hubcache/util/text.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <ctime>

namespace hubcache::server {
std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return std::string_view(v);
  return std::nullopt;
}

std::optional<std::string> Request::query_value(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return percent_decode(v, true).value_or(std::string());
  return std::nullopt;
}

std::vector<std::string> Request::query_values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query)
    if (k == name) out.push_back(percent_decode(v, true).value_or(std::string()));
  return out;
}

void Response::set_header(std::string name, std::string value) {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) {
      v = std::move(value);
      return;
    }
  headers.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return std::string_view(v);
  return std::nullopt;
}

std::optional<HeaderList> parse_form(std::string_view body) {
  HeaderList out;
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

RangeDecision decide_range(std::optional<std::string_view> range_header, std::uint64_t size) {
  RangeDecision full;
  if (!range_header) return full;
  std::string_view h = trim(*range_header);
  const std::size_t eq = h.find('=');
  if (eq == std::string_view::npos || !iequals(trim(h.substr(0, eq)), "bytes")) return full;
  h = trim(h.substr(eq + 1));
  if (h.find(',') != std::string_view::npos) return full;  // several ranges: answer with everything
  const std::size_t dash = h.find('-');
  if (dash == std::string_view::npos) return full;
  const std::string_view a = trim(h.substr(0, dash));
  const std::string_view b = trim(h.substr(dash + 1));
  RangeDecision d;
  if (a.empty()) {  // suffix range: the last N bytes
    auto n = parse_u64(b);
    if (!n) return full;
    if (*n == 0 || size == 0) {
      d.kind = RangeDecision::Kind::Unsatisfiable;
      return d;
    }
    const std::uint64_t len = *n < size ? *n : size;
    d.kind = RangeDecision::Kind::Partial;
    d.range = {size - len, size - 1};
    return d;
  }
  auto first = parse_u64(a);
  if (!first) return full;
  std::uint64_t last = 0;
  if (b.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else {
    auto l = parse_u64(b);
    if (!l || *l < *first) return full;  // invalid syntax: ignored, as RFC 9110 says
    last = *l < size ? *l : (size == 0 ? 0 : size - 1);
  }
  if (*first >= size) {
    d.kind = RangeDecision::Kind::Unsatisfiable;
    return d;
  }
  d.kind = RangeDecision::Kind::Partial;
  d.range = {*first, last};
  return d;
}

bool if_none_match(std::string_view header_value, std::string_view quoted_etag) {
  std::string_view rest = header_value;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view tag = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.size() >= 2 && tag.substr(0, 2) == "W/") tag.remove_prefix(2);  // weak comparison
    if (tag == quoted_etag) return true;
  }
  return false;
}

bool if_range_matches(std::string_view if_range, std::string_view quoted_etag, std::string_view last_modified) {
  const std::string_view v = trim(if_range);
  if (v.empty()) return false;
  if (v.front() == '"') return v == quoted_etag;  // strong comparison: W/ tags never match
  if (v.size() >= 2 && v.substr(0, 2) == "W/") return false;
  return !last_modified.empty() && v == last_modified;  // an HTTP-date: exactly the Last-Modified sent
}

std::string http_date(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  static constexpr const char* k_days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", k_days[tm.tm_wday % 7], tm.tm_mday,
                k_months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string iso8601_utc(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return std::string(buf, n);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Compare over the longer length so the loop count does not reveal where a prefix ends.
  const std::size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  // Keep the compiler from short-circuiting: the result is read through a volatile.
  volatile unsigned char sink = diff;
  return sink == 0;
}

}  // namespace hubcache::server

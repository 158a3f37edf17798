#include "hubcache/util/pattern.hpp"

#include <algorithm>

namespace hubcache {
namespace {

// Matches one character against the class starting at pattern[i] == '['. Returns the index just
// past the class, or npos when the class is unterminated (then '[' is a literal).
std::size_t match_class(std::string_view p, std::size_t i, char c, bool& matched) {
  std::size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && p[j] == '!') {
    negate = true;
    ++j;
  }
  std::size_t k = j;
  if (k < p.size() && p[k] == ']') ++k;  // a leading ']' is literal
  while (k < p.size() && p[k] != ']') ++k;
  if (k >= p.size()) return std::string_view::npos;
  bool hit = false;
  for (std::size_t m = j; m < k; ++m) {
    if (m + 2 < k && p[m + 1] == '-') {
      if (p[m] <= c && c <= p[m + 2]) hit = true;
      m += 2;
    } else if (p[m] == c) {
      hit = true;
    }
  }
  matched = hit != negate;
  return k + 1;
}

std::string normalize_slashes(std::string s) {
  std::replace(s.begin(), s.end(), '\\', '/');
  return s;
}

}  // namespace

bool fnmatch_case(std::string_view p, std::string_view s) {
  std::size_t pi = 0, si = 0;
  std::size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      const char pc = p[pi];
      if (pc == '*') {
        while (pi < p.size() && p[pi] == '*') ++pi;
        star_p = pi;
        star_s = si;
        continue;
      }
      if (pc == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (pc == '[') {
        bool matched = false;
        const std::size_t next = match_class(p, pi, s[si], matched);
        if (next == std::string_view::npos) {
          if (s[si] == '[') {
            ++pi;
            ++si;
            continue;
          }
        } else if (matched) {
          pi = next;
          ++si;
          continue;
        }
      } else if (pc == s[si]) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

PathFilter PathFilter::make(std::optional<std::vector<std::string>> allow, std::vector<std::string> ignore) {
  auto fix = [](std::vector<std::string>& v) {
    for (auto& pat : v) {
      pat = normalize_slashes(pat);
      if (!pat.empty() && pat.back() == '/') pat += '*';
    }
  };
  if (allow) fix(*allow);
  fix(ignore);
  return PathFilter{std::move(allow), std::move(ignore)};
}

bool PathFilter::selects(std::string_view path) const {
  const std::string p = normalize_slashes(std::string(path));
  if (allow) {
    const bool any = std::any_of(allow->begin(), allow->end(), [&](const std::string& a) { return fnmatch_case(a, p); });
    if (!any) return false;
  }
  return std::none_of(ignore.begin(), ignore.end(), [&](const std::string& i) { return fnmatch_case(i, p); });
}

}  // namespace hubcache

#include "selection.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace hubcache::cli {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// "5 - 7" -> "5-7", commas -> spaces; then the parts are what spaces separate.
std::vector<std::string> parts_of(std::string_view text) {
  std::string s;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '-') {
      while (!s.empty() && s.back() == ' ') s.pop_back();
      s += '-';
      while (i + 1 < text.size() && is_space(text[i + 1])) ++i;
    } else {
      s += (c == ',' || is_space(c)) ? ' ' : c;
    }
  }
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const auto end = std::min(s.find(' ', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

/// A number of digits only; nullopt when it is not one. Values too large for 64 bits saturate
/// (they are out of range anyway).
std::optional<std::uint64_t> number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  std::uint64_t v = 0;
  if (std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc::result_out_of_range) return UINT64_MAX;
  return v;
}

std::string bounds(std::size_t count) { return count == 0 ? "the list is empty" : "pick from 1 to " + std::to_string(count); }

}  // namespace

Result<std::vector<std::size_t>> parse_selection(std::string_view text, std::size_t count) {
  std::set<std::size_t> picked;
  for (const auto& part : parts_of(text)) {
    const auto dash = part.find('-');
    const auto first = number(part.substr(0, dash));
    const auto last = dash == std::string::npos ? first : number(part.substr(dash + 1));
    if (!first || !last)
      return fail(ErrorCode::InvalidArgument,
                  "'" + part + "' is not a number or a range: type numbers from the list, like 3, or ranges, like 5-7");
    for (const auto v : {*first, *last})
      if (v == 0 || v > count)
        return fail(ErrorCode::InvalidArgument,
                    (v == UINT64_MAX ? part : std::to_string(v)) + " is not in the list: " + bounds(count));
    if (*first > *last)
      return fail(ErrorCode::InvalidArgument,
                  "range '" + part + "' is reversed: write " + std::to_string(*last) + "-" + std::to_string(*first));
    for (auto v = *first; v <= *last; ++v) picked.insert(static_cast<std::size_t>(v));
  }
  return std::vector<std::size_t>(picked.begin(), picked.end());
}

}  // namespace hubcache::cli

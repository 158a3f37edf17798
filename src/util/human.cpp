#include "hubcache/util/human.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <limits>

namespace hubcache {
namespace {

std::optional<std::pair<std::uint64_t, std::string>> split_number(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  const std::size_t start = i;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == start || i - start > 18) return std::nullopt;
  const std::uint64_t n = std::stoull(std::string(text.substr(start, i - start)));
  std::string unit;
  for (; i < text.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) continue;
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  }
  return std::make_pair(n, unit);
}

}  // namespace

std::string format_size(double num) {
  static const char* units[] = {"", "K", "M", "G", "T", "P", "E", "Z"};
  for (const char* unit : units) {
    if (std::fabs(num) < 1000.0) return fmt::format("{:3.1f}{}", num, unit);
    num /= 1000.0;
  }
  return fmt::format("{:.1f}Y", num);
}

std::string format_age(double delta) {
  if (delta < 20) return "a few seconds ago";
  struct Chunk {
    const char* label;
    double divider;
    double max;
  };
  static const Chunk chunks[] = {{"second", 1, 60},      {"minute", 60, 60},        {"hour", 3600, 24},       {"day", 86400, 6},
                                 {"week", 7 * 86400, 6}, {"month", 30 * 86400, 11}, {"year", 365 * 86400, -1}};
  double value = 0;
  const char* label = "year";
  for (const auto& c : chunks) {
    value = std::nearbyint(delta / c.divider);  // round-half-even, as Python's round()
    label = c.label;
    if (c.max >= 0 && value <= c.max) break;
  }
  return fmt::format("{:.0f} {}{} ago", value, label, value > 1 ? "s" : "");
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  const auto& [n, unit] = *parts;
  std::uint64_t mult = 1;
  if (unit.empty())
    mult = 1;
  else if (unit == "k" || unit == "kb")
    mult = 1000ULL;
  else if (unit == "m" || unit == "mb")
    mult = 1000ULL * 1000;
  else if (unit == "g" || unit == "gb")
    mult = 1000ULL * 1000 * 1000;
  else if (unit == "t" || unit == "tb")
    mult = 1000ULL * 1000 * 1000 * 1000;
  else if (unit == "p" || unit == "pb")
    mult = 1000ULL * 1000 * 1000 * 1000 * 1000;
  else
    return std::nullopt;
  if (n > std::numeric_limits<std::uint64_t>::max() / mult) return std::nullopt;  // would wrap around
  return n * mult;
}

std::optional<std::uint64_t> parse_duration(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  const auto& [n, unit] = *parts;
  std::uint64_t mult = 1;
  if (unit.empty() || unit == "s")
    mult = 1;
  else if (unit == "m")
    mult = 60;
  else if (unit == "h")
    mult = 3600;
  else if (unit == "d")
    mult = 86400;
  else if (unit == "w")
    mult = 7 * 86400;
  else if (unit == "mo")
    mult = 30 * 86400;
  else if (unit == "y")
    mult = 365 * 86400;
  else
    return std::nullopt;
  if (n > std::numeric_limits<std::uint64_t>::max() / mult) return std::nullopt;  // would wrap around
  return n * mult;
}

}  // namespace hubcache

#pragma once
// Small ASCII text helpers shared by parsers (refs, headers, filters, targets).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hubcache {

/// `s` without leading and trailing ASCII whitespace (space, \t, \r, \n, \f, \v). A view into `s`.
std::string_view trim(std::string_view s);

/// ASCII lower-case copy.
std::string to_lower(std::string_view s);

/// ASCII case-insensitive equality (HTTP header names).
bool iequals(std::string_view a, std::string_view b);

/// A non-empty run of decimal digits that fits in uint64 (no sign, no space); else nullopt.
std::optional<std::uint64_t> parse_u64(std::string_view s);

}  // namespace hubcache

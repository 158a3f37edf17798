#pragma once
// Small ASCII text helpers shared by parsers (refs, headers, filters, targets).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hubcache {

/// `s` without leading and trailing ASCII whitespace (space, \t, \r, \n, \f, \v). A view into `s`.
std::string_view trim(std::string_view s);

/// `s` cut at every `sep`: "a/b" -> {"a", "b"}, "" -> {""}, "a/" -> {"a", ""}. Views into `s`.
std::vector<std::string_view> split(std::string_view s, char sep);

/// ASCII lower-case copy.
std::string to_lower(std::string_view s);

/// ASCII case-insensitive equality (HTTP header names).
bool iequals(std::string_view a, std::string_view b);

/// URL percent-encoding as Python's urllib.parse.quote(s, safe): every byte except A-Za-z0-9
/// "-._~" and the characters in `safe` becomes %XX (upper-case hex). The one escaper for URLs:
/// hub request paths (safe "/" for file paths, "" for revisions) and the mirror's links.
std::string percent_encode(std::string_view s, std::string_view safe = "");

/// Strict percent-decoding: "%41" -> "A"; a '%' not followed by two hex digits gives nullopt.
/// With `plus_is_space`, '+' decodes to ' ' (query strings and form bodies).
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

/// A non-empty run of decimal digits that fits in uint64 (no sign, no space); else nullopt.
std::optional<std::uint64_t> parse_u64(std::string_view s);

}  // namespace hubcache

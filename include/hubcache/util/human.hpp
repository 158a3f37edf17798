#pragma once
// Human-readable sizes and ages exactly as huggingface_hub prints them (docs/cache-management.md#formatting), and the
// parsers for `--filter` values.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hubcache {

/// 0 -> "0.0", 999 -> "999.0", 1000 -> "1.0K", 3398085269 -> "3.4G" (powers of 1000).
std::string format_size(double bytes);

/// Seconds elapsed -> "a few seconds ago", "3 minutes ago", "1 week ago", ...
std::string format_age(double seconds_ago);

/// "1000", "10kb", "1GB" (powers of 1000, unit case-insensitive; decimals rejected).
std::optional<std::uint64_t> parse_size(std::string_view text);

/// "30", "7d", "2w", "3mo", "1y" -> seconds (mo = 30 days, y = 365 days).
std::optional<std::uint64_t> parse_duration(std::string_view text);

}  // namespace hubcache

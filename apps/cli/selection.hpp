#pragma once
// Parsing of what a user types at a numbered selection list (`hubcache cache rm` without
// targets). Pure: no terminal, no cache; unit-tested in tests/unit/test_cli_selection.cpp.
#include <cstddef>
#include <string_view>
#include <vector>

#include "hubcache/core/result.hpp"

namespace hubcache::cli {

/// Parses a selection like "1 3 5-7" against items numbered 1..count: numbers and inclusive
/// ranges, separated by spaces and/or commas ("5 - 7" reads as "5-7"). Returns the distinct
/// numbers picked, ascending (a number given twice counts once); blank input gives an empty list.
/// Fails (InvalidArgument), naming the offending part and what is accepted, on a part that is
/// not a number or a range, a number outside 1..count and a reversed range ("7-5").
Result<std::vector<std::size_t>> parse_selection(std::string_view text, std::size_t count);

}  // namespace hubcache::cli

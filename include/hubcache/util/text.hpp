#pragma once
// Small ASCII text helpers shared by parsers (refs, headers, filters, targets).
#include <string>
#include <string_view>

namespace hubcache {

/// `s` without leading and trailing ASCII whitespace (space, \t, \r, \n, \f, \v). A view into `s`.
std::string_view trim(std::string_view s);

/// ASCII lower-case copy.
std::string to_lower(std::string_view s);

}  // namespace hubcache

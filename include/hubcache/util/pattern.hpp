#pragma once
// allow/ignore file patterns with Python fnmatchcase semantics (docs/hub-protocol.md#patterns).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hubcache {

/// fnmatchcase: case-sensitive, '*' matches anything including '/', '?' one character,
/// '[seq]' / '[!seq]' classes, no escaping, whole-string match.
bool fnmatch_case(std::string_view pattern, std::string_view name);

/// A set of allow and ignore patterns. `allow == nullopt` means "no allow list" (everything
/// allowed); an empty allow list selects nothing. Ignore wins over allow.
struct PathFilter {
  std::optional<std::vector<std::string>> allow;
  std::vector<std::string> ignore;

  /// Normalizes patterns: '\' becomes '/', a trailing '/' gets '*' appended.
  static PathFilter make(std::optional<std::vector<std::string>> allow, std::vector<std::string> ignore);
  bool selects(std::string_view path) const;
};

}  // namespace hubcache

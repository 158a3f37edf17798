#pragma once
// Internal to the manage module: deletion that cannot leave the cache root.
#include <cstdint>
#include <string>
#include <vector>

#include "hubcache/manage/delete_plan.hpp"

namespace hubcache::manage_detail {

struct RemoveOutcome {
  bool removed = false;  // the path existed and is gone
  bool missing = false;  // the path did not exist
  std::vector<DeleteProblem> problems;
};

/// Removes `path` (a file, a symlink or a whole directory tree), which must lie strictly inside
/// `root` (absolute, symlink-resolved). Every directory from the root down to the path's parent
/// is opened with O_NOFOLLOW, so a symlinked component stops the removal with a problem instead
/// of leading outside; symlinks inside a removed tree are unlinked, never followed. Errors on
/// single entries (permissions) are collected and the rest of the tree is still removed.
RemoveOutcome safe_remove(const std::string& root, const std::string& path);

/// Removes `dir` if it is an empty directory inside root (same path rules); false otherwise.
bool remove_empty_dir(const std::string& root, const std::string& dir);

/// Sum of the sizes of the regular files below `path`, without following symlinks.
std::uint64_t tree_size(const std::string& path);

}  // namespace hubcache::manage_detail

#pragma once
// Pieces every reader shares: the root check and the figures of one file.
#include <sys/stat.h>

#include <string>

#include "hubcache/core/result.hpp"
#include "hubcache/stores/store.hpp"

namespace hubcache::stores::detail {

/// The store's root must be a real folder: NotFound when absent, InvalidArgument when it is a
/// symlink or not a folder, PermissionDenied / Io when it cannot be examined.
Result<void> check_root(const std::string& root, const char* what);

/// Fills the figures of `f` from `st` (the content's stat).
void set_figures(StoredFile& f, const struct ::stat& st);

/// `f` for the entry at `path` whose lstat is `lst`: a symlink is followed (stat) and marked
/// linked. False when it is a dangling or unreadable link (errno set).
bool describe_entry(StoredFile& f, const std::string& path, const struct ::stat& lst);

}  // namespace hubcache::stores::detail

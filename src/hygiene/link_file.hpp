#pragma once
// Making one link of a file under a new name: the mechanics dedupe and views share.
#include <sys/stat.h>

#include <string>

namespace hubcache::hygiene::detail {

/// FICLONE of `source` as the new file `target` (O_EXCL), fsynced. With `like`, the clone gets
/// its owner (when allowed), mode and times. 0, or errno (the partial target is removed).
int clone_file(const std::string& source, const std::string& target, const struct ::stat* like);

/// clone_file failed with `err` because this filesystem (or pair of filesystems) has no reflinks,
/// rather than for a reason a hardlink would meet too.
bool no_reflink_here(int err);

}  // namespace hubcache::hygiene::detail

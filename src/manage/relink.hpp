#pragma once
// After a whole-cache move: the symlinks hubcache made outside the cache (recorded per repo,
// cache/use_records.hpp's link records) pointed at the cache's new place.
#include <string>

#include "hubcache/manage/move.hpp"

namespace hubcache::move_detail {

/// Every symlink in `folder` (not into symlinked folders) whose absolute target lies inside `from`
/// is replaced (unique temp link + rename) by one to the same place below `to`; returns how many.
/// A link that cannot be replaced is a warning naming it.
std::size_t relink_links_in(const std::string& folder, const std::string& from, const std::string& to,
                            std::vector<std::string>& warnings);

/// For each repo folder of the cache now at `to`: a repo moved out of the cache whose home names
/// `from` is recorded as the cache's at `to` (cache/moved_repos.hpp); each recorded folder: every symlink in it (not
/// into symlinked folders) whose absolute target lies inside `from` is replaced (temp link +
/// rename) by one to the same place below `to`. A recorded folder that is gone loses its record
/// and is listed in report.linked_folders_gone. Idempotent; never fails (a link that cannot be
/// replaced is a warning naming it).
void relink_recorded_folders(const std::string& from, const std::string& to, CacheMoveReport& report);

}  // namespace hubcache::move_detail

#pragma once
// Internal to the manage module: which shared blob store hashes a deletion touches.
#include <map>
#include <set>
#include <string>

#include "hubcache/cache/shared_blobs.hpp"

namespace hubcache::manage_detail {

/// Shared entries being deleted, by hash: the cache-relative entry paths ("<folder>/blobs/<etag>").
using SharedEntries = std::map<std::string, std::set<std::string>>;

/// Adds every entry of <repo_path>/blobs that links into the marked `store` (a whole repo folder
/// going). Unreadable entries are skipped: their payloads are then simply not swept.
void collect_shared_entries(const SharedBlobStore& store, const std::string& repo_path, SharedEntries& out);

}  // namespace hubcache::manage_detail

#pragma once
// Internal to the manage module: scanning one top-level entry of a cache (see scan.hpp).
#include <optional>
#include <string>
#include <vector>

#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/manage/scan.hpp"

namespace hubcache::manage_detail {

/// What one top-level entry contributes to a HFCacheInfo.
struct RepoScan {
  std::optional<CachedRepoInfo> info;
  std::optional<SkippedRepo> skipped;
  std::vector<ScanWarning> warnings;
  std::vector<IncompleteFile> incomplete;
  std::uint64_t physical_size = 0;  // info's blobs that are not links into the shared store
};

/// Scans <root>/<folder>. `root_fd` is the open root directory, `dtype` the entry's DT_* type
/// from the root listing. Never fails: problems become warnings in the result.
/// `store` is the cache's shared blob store (links into it, if marked, are shared entries).
RepoScan scan_repo(const std::string& root, int root_fd, const std::string& folder, unsigned char dtype,
                   const ScanOptions& options, const SharedBlobStore* store);

/// Sets last_used / last_used_source of the repo and its revisions from the repo's use records
/// (cache/use_records.hpp) and the blob times (see CachedRevisionInfo::last_used).
void apply_use_records(CachedRepoInfo& info);

}  // namespace hubcache::manage_detail

#pragma once
// `cache gc`: which whole revisions to remove, least recently used first (docs/cache-management.md#gc).
// huggingface_hub has no gc (its documented recipe is `hf cache rm $(hf cache ls --filter
// "accessed>1y" -q)`, on atime); this plans over a scan and executes through a DeletePlan, so the
// blob accounting, the shared blob store and the safety rules are `cache rm`'s (delete_plan.hpp).
//
// Order: CachedRevisionInfo::last_used ascending (use record, else blob atime/mtime), then repo
// label, then commit. Never selected:
// - a pinned revision (cache/use_records.hpp: "*" pins the repo, a ref name pins the commit it
//   points to at planning time, a commit pins itself), or every revision of a repo whose pins
//   file cannot be read (a warning says so);
// - every revision of a repo with a download running (a lock under .locks/<folder>/ held);
// - with `keep`, each repo's `keep` newest revisions (by last_modified, then commit).
// Rules, combined:
// - `unused_for`: every other revision whose last use is older than now - unused_for;
// - `max_size`: then more, in order, until the cache's physical size minus the freed bytes is
//   at most max_size; `min_free`: until free space plus freed bytes reaches min_free;
// - `keep` alone: every revision beyond the kept ones.
// A blob still used by a kept revision or another repo is not freed (delete_plan.hpp), nor one
// hardlinked under another name (another repo's blobs/, Ollama) until every name goes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/manage/delete_plan.hpp"
#include "hubcache/manage/scan.hpp"

namespace hubcache {

struct GcOptions {
  std::optional<std::uint64_t> max_size;  // bytes the cache's blobs may take (each inode and shared payload once)
  std::optional<std::uint64_t> min_free;  // bytes to leave free on the cache's filesystem
  std::optional<double> unused_for;       // seconds
  std::optional<std::size_t> keep;        // newest revisions each repo keeps
  double now = 0;                         // epoch seconds
  /// Free bytes of the cache's filesystem now, for min_free (nullopt: measured with statvfs).
  std::optional<std::uint64_t> free_space;
};

struct GcRevision {
  RepoRef repo;
  std::string commit;
  std::vector<std::string> refs;
  double last_used = 0;
  UseSource source = UseSource::Atime;
  std::uint64_t freed = 0;  // what removing it adds to the freed bytes, in this order
  std::string reason;       // why it is selected ("unused for 40d", "LRU for --max-size", ...) or kept
};

struct GcPlan {
  std::vector<GcRevision> selected;    // removal order
  std::vector<GcRevision> protected_;  // revisions a rule would have selected but that are kept (pinned, download running)
  std::vector<std::string> warnings;
  std::uint64_t size_before = 0;              // the cache's physical size: blobs, each inode and payload once
  std::optional<std::uint64_t> free_before;   // min_free: the free space measured
  std::optional<std::uint64_t> bytes_needed;  // max_size / min_free: what had to be freed (0: already met)
  bool target_met = true;                     // false: everything removable was not enough
  DeletePlan deletion;                        // the removal (freed_bytes() is the exact figure)

  /// Executes the deletion and then drops the use records of removed revisions.
  DeleteReport execute() const;
  /// What removing the selection frees: GcRevision::freed summed (each inode and payload once;
  /// DeletePlan::freed_bytes counts a blob hardlinked into another repo as freed).
  std::uint64_t freed_bytes() const;
};

/// Plans gc over `cache` (a scan with blobs collected: ScanOptions::collect_blobs, files not needed). InvalidArgument when no
/// rule is given (max_size, min_free, unused_for or keep), or keep is 0 with nothing else. Io when min_free needs the free space
/// and statvfs fails.
Result<GcPlan> plan_gc(const HFCacheInfo& cache, const GcOptions& options);

}  // namespace hubcache

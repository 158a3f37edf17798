#pragma once
// `cache move NEW_DIR`: the whole cache to another folder or disk (docs/cache-management.md#move).
// huggingface_hub has none (#1757 closed, #2117: "use HF_HOME"); its links are relative
// (`../../blobs/<etag>`, the shared store's `../../blobs/<xx>/<hash>`), so a whole-cache move keeps
// them valid, and this keeps every byte, name, mode, time, owner and hardlink of the tree.
//
// Same filesystem: one rename(2). Another filesystem: a verified, resumable copy, then an atomic
// switch, then removal of the old copy:
// 1. the copy goes to `<parent of NEW_DIR>/.<name>.hubcache-move/data`, with `state.json`
//    ({"version":1,"from":..,"to":..}) next to it; every regular file is copied (read/write in
//    64 MiB chunks spread over the threads) and each chunk hashed, in order, on the new side by
//    reading it back:
//    a blob named by its hash (`<repo>/blobs/<64 hex>` SHA-256, `<40 hex>` git SHA-1) against its
//    name, any other file against the source's SHA-256. A blob whose source already does not match
//    its name is copied as it is and reported (never "repaired", never dropped);
// 2. directories get their modes and times, the new filesystem is synced (syncfs), and the data
//    folder is renamed to NEW_DIR: from then on NEW_DIR is complete;
// 3. the old cache is renamed aside (`.<name>.hubcache-old`; with leave_link, exchanged
//    atomically with a symlink to NEW_DIR) and removed, then the state folder.
// A kill at any point leaves one complete cache (the old one until step 2, NEW_DIR after it); a
// rerun with the same arguments finds the state and finishes: it re-verifies files already
// copied (a size or hash mismatch is copied again) and copies the rest.
// Symlinks are copied as links; an absolute target inside the old cache is rewritten to the new
// place. So are the symlinks hubcache made outside the cache (the folders its link records name),
// once the new place is complete (a rerun after a kill does it too); others cannot be known. A file hardlinked from outside the
// cache (Ollama, LM Studio) loses that link across filesystems: the plan counts those bytes.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hubcache/core/result.hpp"

namespace hubcache {

struct CacheMovePlan {
  std::string from;  // the cache, absolute and symlink-resolved ("" when a previous run already switched and removed it)
  std::string to;    // NEW_DIR, absolute
  bool same_filesystem = false;
  bool resume = false;                   // an interrupted move to `to` was found; this continues it
  bool switched = false;                 // ... and it had already made `to` the complete cache (only cleanup remains)
  bool already_done = false;             // no cache at the old place, no move state, and `to` is a folder: a rerun after success
  std::size_t files = 0;                 // regular files (hardlinks of one inode once)
  std::size_t links = 0;                 // symlinks
  std::uint64_t bytes = 0;               // what a copy writes (0 on the same filesystem)
  std::uint64_t free_bytes = 0;          // on the destination's filesystem
  std::uint64_t outside_link_bytes = 0;  // bytes of files also hardlinked outside the cache
  std::size_t download_locks_held = 0;   // downloads running in the cache (the move refuses them)
  std::string state_dir;                 // <parent>/.<name>.hubcache-move
};

/// Plans moving the cache at `cache_dir` to `new_dir`. Errors, each before anything is written:
/// - InvalidArgument: `new_dir` is inside the cache, or an existing non-empty folder or a file
///   (the message names it); another move's state is in the way;
/// - NotFound: the cache does not exist, no interrupted move to `new_dir` is found and `new_dir`
///   is no folder (when it is one, the plan says already_done: a rerun after a finished move);
/// - DiskFull: a copy that does not fit (needed and free bytes in the message);
/// - Conflict: a download is running in the cache (a held lock under .locks/).
Result<CacheMovePlan> plan_cache_move(const std::string& cache_dir, const std::string& new_dir);

struct CacheMoveOptions {
  bool leave_link = false;  // leave a symlink to the new place where the cache was
  unsigned threads = 0;     // threads copying and hashing chunks (0: 2)
  /// Called now and then with the bytes copied so far and the total (from the copying thread).
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct CacheMoveReport {
  std::size_t files_copied = 0;
  std::size_t files_kept = 0;  // resume: already copied and verified by an earlier run
  std::uint64_t bytes_copied = 0;
  std::uint64_t bytes_verified = 0;  // read back and hashed on the new side
  std::size_t hardlinks = 0;         // extra names of one inode, linked again on the new side
  std::size_t links_rewritten = 0;   // absolute symlinks into the old cache, pointed at the new one
  /// Symlinks outside the cache, in the folders recorded by `hubcache link --link symlink` and
  /// `migrate --leave-link` (cache/use_records.hpp), pointed at the new place.
  std::size_t outside_links_rewritten = 0;
  /// Repos moved out of the cache (`cache move ORG/NAME --to DIR`) whose home now names the new place.
  std::size_t moved_repos_repointed = 0;
  std::vector<std::string> linked_folders_gone;  // recorded folders that no longer exist (records dropped)
  std::vector<std::string> warnings;             // special files left behind, ...
  /// Blobs whose source did not match their name before the move: copied as they were.
  std::vector<std::string> corrupt_source_blobs;
};

/// Executes the plan. Errors: Io (with the path) on a failed copy step, Integrity when a file
/// read back from the new side differs from the source (the old cache is left complete);
/// DiskFull on ENOSPC. Any error before the switch leaves the old cache untouched and usable.
Result<CacheMoveReport> execute_cache_move(const CacheMovePlan& plan, const CacheMoveOptions& options = {});

}  // namespace hubcache

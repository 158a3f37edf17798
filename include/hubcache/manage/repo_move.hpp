#pragma once
// `cache move ORG/NAME --to DIR` / `--back`: one repo folder to an archive disk and back
// (docs/cache-management.md#move-a-repo). The folder moves to DIR/<folder name> (its home) and
// <cache>/<folder name> becomes a symlink to it, recorded in the home (cache/moved_repos.hpp), so
// `cache ls`, offline resolution, `verify`, `serve`, huggingface_hub and huggingface.js keep
// reading it. Nothing upstream does this (the Hub client's maintainers declined a cache move,
// research note stores.md §8); `mv` + `ln -s` by hand breaks with the shared blob store, whose
// links (`blobs/<etag> -> ../../blobs/<xx>/<hash>`) leave the repo folder.
//
// Forward:
// 0. each blob of the repo that is a shared-store entry becomes a plain blob first (under the
//    store's per-hash lock: a hardlink of the payload renamed over the link, the classic layout
//    every client reads), so the folder holds its own bytes;
// 1. same filesystem: the home is recorded, then one atomic exchange puts the folder at DIR and the
//    symlink in the cache (renameat2 RENAME_EXCHANGE);
//    another filesystem: the verified, resumable copy of `cache move` (state in
//    DIR/.<folder>.hubcache-move), the record, an atomic exchange of the folder with the symlink,
//    then removal of the old folder;
// 2. shared payloads no repo references any more are swept (their bytes freed).
// Back (--back) is the same in reverse: the home's tree comes into the cache (a copy across
// filesystems, state in <cache>/.<folder>.hubcache-move), one exchange replaces the symlink by the
// real folder, then the home is removed. A kill at any point leaves the repo readable from the
// cache (through the link or as a real folder); a rerun with the same arguments finishes.
#include <cstdint>
#include <string>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/manage/move.hpp"

namespace hubcache {

struct RepoMovePlan {
  RepoRef repo;
  std::string cache_dir;  // absolute, symlink-resolved
  bool back = false;      // into the cache from its home
  std::string from;       // the real folder whose tree moves: the repo folder, or (back) its home
  std::string to;         // DIR/<folder name>, or (back) <cache>/<folder name>
  std::string link;       // <cache>/<folder name>: the symlink left there (forward) or replaced (back)
  bool same_filesystem = false;
  bool resume = false;        // an interrupted cross-filesystem move was found; this continues it
  bool switched = false;      // ... and it had already made `to` the repo's folder (only cleanup remains)
  bool already_done = false;  // nothing to do: the repo already is where this asks
  std::size_t files = 0;      // regular files (hardlinks of one inode once; shared entries as files)
  std::size_t links = 0;      // symlinks (shared entries excluded)
  std::uint64_t bytes = 0;    // what a copy writes (0 on the same filesystem)
  std::uint64_t free_bytes = 0;
  std::uint64_t outside_link_bytes = 0;  // bytes of files also hardlinked elsewhere (lost across filesystems)
  std::size_t shared_entries = 0;        // blobs in the shared store, made plain blobs first
  std::size_t download_locks_held = 0;
  std::string state_dir;
};

/// Plans moving the cached repo `repo` to `dir` (its folder goes to dir/<folder name>; `dir` is
/// created when missing), or with back = true (`dir` unused) back into the cache. Errors, each
/// before anything is written:
/// - InvalidArgument: `dir` is inside the cache, or holds the cache; dir/<folder name> exists and is
///   not an empty folder; the repo is already moved elsewhere (the message names its home and
///   `--back`); back of a repo that is not moved;
/// - NotFound: the repo is not in the cache;
/// - CacheCorrupted: the repo folder is a symlink hubcache did not make (check_repo_folder's error);
/// - Conflict: a download of the repo is running (a held lock under .locks/<folder name>/);
/// - DiskFull: a copy that does not fit (needed and free bytes in the message).
Result<RepoMovePlan> plan_repo_move(const std::string& cache_dir, const RepoRef& repo, const std::string& dir, bool back);

struct RepoMoveReport {
  CacheMoveReport copy;                  // the tree copy's figures (all zero on the same filesystem)
  std::size_t shared_made_plain = 0;     // shared-store entries turned into plain blobs
  std::uint64_t shared_bytes_freed = 0;  // store payloads no repo references any more, removed
};

/// Executes the plan. Errors: those of execute_cache_move (Io, Integrity, DiskFull), each leaving
/// the repo readable from the cache; Io when the switch or the record cannot be written.
Result<RepoMoveReport> execute_repo_move(const RepoMovePlan& plan, const CacheMoveOptions& options = {});

}  // namespace hubcache

#pragma once
// Write and read primitives on a Hub cache, shared by import, download and management.
// Every writer here is atomic: readers (other processes, other clients) never see a partial
// ref, blob, tree file or pointer.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/group_commit.hpp"
#include "hubcache/util/lock.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

enum class LinkMode {
  Symlink,  // snapshots hold relative symlinks into blobs/ (the normal layout)
  Copy,     // no-symlink mode (docs/cache-format.md#no-symlinks): snapshots hold regular files
};

/// Creates <cache_dir>/CACHEDIR.TAG with the exact bytes if it is absent; never rewrites it.
Result<void> ensure_cachedir_tag(const std::string& cache_dir);

/// Creates blobs/, refs/ and snapshots/ of a repo folder (JS's scanner needs refs/).
/// Errors: CacheCorrupted when the repo folder or one of those is a symlink or a file (folders.hpp);
/// Io / PermissionDenied / DiskFull from creating them.
Result<void> init_repo_folder(const RepoLayout& layout);

/// init_repo_folder, then an empty snapshots/<commit>/ when there is none: a revision whose
/// files come later (the pull-through proxy lists a commit from trees/<commit>.json before it
/// fetches any of its files; readers treat the listed but absent files as not downloaded yet).
/// Errors: those of init_repo_folder; InvalidRevision when `commit` is not 40 hex;
/// CacheCorrupted when the snapshot folder is a symlink or a file.
Result<void> init_snapshot_folder(const RepoLayout& layout, std::string_view commit);

/// Reads refs/<revision>, tolerating surrounding whitespace. nullopt if there is no such ref.
/// Fails with CacheCorrupted if the content is not a 40-hex commit.
Result<std::optional<std::string>> read_ref(const RepoLayout& layout, std::string_view revision);

/// Atomically writes refs/<revision> = commit (no trailing newline); no-op if unchanged.
Result<void> write_ref(const RepoLayout& layout, std::string_view revision, std::string_view commit);

/// Commit for a revision: the revision itself if it is a commit hash, else its ref (or nullopt).
Result<std::optional<std::string>> resolve_commit(const RepoLayout& layout, std::string_view revision);

/// The commits that have a snapshot folder (snapshots/<40 hex>/, real directories only), sorted;
/// empty when there is none, the folder cannot be read, or the repo folder or snapshots/ is a
/// symlink (check_snapshots_folder). For messages that name what is cached.
std::vector<std::string> cached_commits(const RepoLayout& layout);

/// fsyncs the complete temp file `tmp` (same filesystem) and renames it to blobs/<etag>.
/// With DirSync::Batched the caller fsyncs blobs/ once after its batch.
Result<void> publish_blob(const RepoLayout& layout, const std::string& tmp, std::string_view etag,
                          fs::DirSync dir_sync = fs::DirSync::Now);

/// Same, but the temp file joins `group`: its bytes become durable through a flush shared with
/// concurrent publishers (fs::GroupCommit) before the rename. blobs/ is not fsynced: the caller
/// does it once after its batch. Errors: InvalidPath (etag), the group's flush or rename error.
Result<void> publish_blob(const RepoLayout& layout, const std::string& tmp, std::string_view etag, fs::GroupCommit& group);
/// The same, deferred (fs::GroupCommit::publish_later): validation errors are returned now; the
/// flush and rename happen later and `then` gets their result on the committer thread.
Result<void> publish_blob_later(const RepoLayout& layout, const std::string& tmp, std::string_view etag, fs::GroupCommit& group,
                                fs::GroupCommit::Then then);

/// Makes snapshots/<commit>/<path> point at blobs/<etag> (relative symlink), replacing what is
/// there; a symlink that already has the right target is left alone (no-op, like write_ref).
/// A concurrent creator that already made the same link counts as success. With
/// LinkMode::Copy, the blob's bytes are copied instead (always rewritten). The blob must exist.
/// Returns true if it wrote the pointer, false if the right one was already there.
/// Errors: CacheCorrupted when the repo folder, snapshots/ or snapshots/<commit> is a symlink
/// (check_snapshot_folder); InvalidPath / InvalidRevision for bad input; I/O errors.
Result<bool> create_pointer(const RepoLayout& layout, std::string_view commit, std::string_view path, std::string_view etag,
                            LinkMode mode);

/// Creates the empty marker .no_exist/<commit>/<path>.
Result<void> write_no_exist(const RepoLayout& layout, std::string_view commit, std::string_view path);

/// Takes the per-blob lock .locks/<folder>/<etag>.lock (see FileLock for the contract).
Result<FileLock> lock_blob(const RepoLayout& layout, std::string_view etag,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds{0},
                           const FileLock::WaitCallback& on_wait = {},
                           std::chrono::milliseconds report_every = std::chrono::seconds{10});
/// lock_blob without waiting: a FileLock that is not held() when another holder has the lock.
Result<FileLock> try_lock_blob(const RepoLayout& layout, std::string_view etag);

/// How many lock files under `locks_dir` (a cache's .locks/, or one repo's .locks/<folder>/; any
/// depth) are held by someone else right now: downloads running, ours or huggingface_hub's.
/// Stops counting at `stop_at`. A missing or unreadable folder counts 0. Never creates a lock.
std::size_t count_held_locks(const std::string& locks_dir, std::size_t stop_at = SIZE_MAX);

/// One file of trees/<commit>.json (docs/cache-format.md#trees).
struct TreeFileEntry {
  std::string path;
  std::uint64_t size = 0;
  std::string blob_id;  // git oid
  std::optional<std::string> lfs_sha256;
  std::optional<std::uint64_t> lfs_size;
  std::optional<std::string> xet_hash;
  /// The blob name this file has in the cache: lfs_sha256 if LFS, else the git oid.
  const std::string& etag() const { return lfs_sha256 ? *lfs_sha256 : blob_id; }
};

/// Reads trees/<commit>.json. nullopt when absent; CacheCorrupted when malformed or of another
/// format_version (callers ignore it then, with a warning). Entries come sorted by path.
Result<std::optional<std::vector<TreeFileEntry>>> read_tree_file(const RepoLayout& layout, std::string_view commit);

/// The exact bytes write_tree_file_in writes (a bundle carries them in its tar); "" when an
/// entry's xet_hash is malformed (huggingface_hub then skips the whole file). InvalidPath for a
/// bad path.
Result<std::string> tree_file_text(const std::vector<TreeFileEntry>& entries);
/// Writes trees/<commit>.json atomically (format_version 1, keys sorted, indent 1).
/// write_tree_file_in writes it to another trees/ folder (a local dir's metadata, docs/cache-format.md#trees).
Result<void> write_tree_file_in(const std::string& trees_dir, std::string_view commit, const std::vector<TreeFileEntry>& entries);
Result<void> write_tree_file(const RepoLayout& layout, std::string_view commit, const std::vector<TreeFileEntry>& entries);

}  // namespace hubcache

#pragma once
// Merging one Hub cache into another (`hubcache migrate`'s core): every repo, revision, ref and
// `.no_exist` marker of a source cache (a project's `./model_cache`) lands in the destination (the
// central cache), each blob once, and nothing in the source changes until the caller retires it.
//
// Flow: plan_cache_merge() reads both caches and decides everything (it writes nothing: the dry
// run); execute_cache_merge() writes the destination in a crash-safe order and then checks that
// every source file resolves there to the same bytes; retire_merged_cache() removes the source (or
// leaves a symlink to the destination in its place), only after a clean execute.
//
// Per blob of the source (the names in blobs/, a shared-store entry's payload included):
//   - the destination has the same file (same inode): nothing to do;
//   - the destination has a blob of that name: the two files are compared byte for byte; different
//     bytes refuse the whole merge before anything is written (Conflict, naming both paths and which
//     one holds the bytes its name says);
//   - otherwise the source bytes are hashed and must match the blob name (SHA-256 for 64 hex, git
//     blob SHA-1 for 40), then published under the destination's per-blob lock as a hardlink (same
//     filesystem) or a copy verified while written (import's publish_source_blob).
// Then each snapshot file's pointer, `.no_exist` markers (unless the destination has the file),
// `trees/<commit>.json` when the destination has none, and refs: a ref the destination lacks is
// written; a ref naming another commit there keeps the destination's (MergeRepoPlan::ref_conflicts;
// the source's snapshot is still merged, so the files resolve by commit, and pinned
// (cache/use_records.hpp), so `cache gc` and `cache prune` keep the revision the ref no longer
// names). The source's own pins are added to the destination's.
// An interrupted execute leaves only complete blobs and right pointers; running it again finishes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

struct MergeOptions {
  std::string source;     // a Hub cache folder: holds repo folders (models--org--name, ...)
  std::string cache_dir;  // the destination Hub cache; created when absent
  unsigned threads = 0;   // hashing and copying threads (0 = hardware concurrency)
  /// HF_HUB_DISABLE_SYMLINKS for the destination: snapshot entries are copies (LinkMode::Copy).
  bool disable_symlinks = false;
  /// The source is a staging cache under the destination's `.locks/` (bundle import extracts
  /// there: same filesystem, and a folder every scanner skips); allowed although it lies inside
  /// the destination. Any other source inside the destination is still refused.
  bool source_is_staging = false;
};

enum class MergeBlobAction {
  Present,  // the destination's blob is the same file (inode)
  Compare,  // the destination has a blob of that name: bytes compared before anything is written
  Link,     // hashed, then hardlinked into the destination
  Copy,     // copied (another filesystem), hashed while copied
};
const char* to_string(MergeBlobAction action);  // "present", "compare", "link", "copy"

struct MergeBlob {
  std::string etag;         // the blob name (64 hex SHA-256 or 40 hex git blob SHA-1)
  std::string source_path;  // the bytes in the source (a shared entry's payload)
  std::uint64_t size = 0;
  MergeBlobAction action = MergeBlobAction::Copy;
};

struct MergeFile {
  std::string commit;
  std::string path;  // repo path
  std::string etag;
};

struct RefConflict {
  std::string ref;            // "main", "refs/pr/1"
  std::string source_commit;  // what the source's ref says (its snapshot is merged all the same)
  std::string cache_commit;   // what the destination's ref says, and keeps saying
};

struct MergeRepoPlan {
  RepoRef repo;
  std::string source_folder;                                       // <source>/<repo folder>
  std::string folder;                                              // <cache_dir>/<repo folder>
  std::vector<MergeBlob> blobs;                                    // sorted by etag
  std::vector<MergeFile> files;                                    // every snapshot file, sorted by commit then path
  std::vector<std::pair<std::string, std::string>> refs_to_write;  // (ref, commit) the destination lacks
  std::vector<RefConflict> ref_conflicts;
  std::vector<MergeFile> no_exist;         // markers (etag empty)
  std::vector<std::string> trees_to_copy;  // commits whose trees/<commit>.json the destination lacks
};

struct MergePlan {
  MergeOptions options;  // source and cache_dir absolute and symlink-resolved
  bool same_filesystem = false;
  std::vector<MergeRepoPlan> repos;  // sorted by repo folder name
  /// What is left out, with why: unfinished downloads (`*.incomplete`, bytes given), snapshot
  /// entries that are no file (dangling, pointing out of the cache, at a folder).
  std::vector<std::string> left_out;
  std::uint64_t left_out_bytes = 0;
  std::uint64_t link_bytes = 0, copy_bytes = 0, compare_bytes = 0, present_bytes = 0;
  std::size_t file_count() const;
  std::size_t ref_conflict_count() const;
};

struct MergeReport {
  std::size_t blobs_linked = 0, blobs_copied = 0, blobs_compared = 0;
  std::size_t pointers_written = 0, refs_written = 0, markers_written = 0, trees_written = 0, pins_written = 0;
  /// Files of the source that do not resolve in the destination to the same bytes after the
  /// merge ("<repo folder>/snapshots/<commit>/<path>: why"). Empty = verified: every file does.
  std::vector<std::string> unverified;
  std::size_t files_verified = 0;
};

/// Reads both caches. Writes nothing. Errors:
/// - InvalidArgument: the source is not a folder, holds no repo folder and is not empty of them
///   by accident (a folder without any `models--*`-style entry), is the destination, or one lies
///   inside the other;
/// - Conflict: a download is running into the source (a lock held under its .locks/: let it
///   finish); a blob of the same name has another size in each cache (naming both paths);
///   a snapshot file the destination holds at the same commit and path with another blob;
/// - CacheCorrupted: a repo folder (either side) that is a symlink or a file; a snapshot that
///   holds regular files (a cache written with HF_HUB_DISABLE_SYMLINKS: `hubcache import` it);
///   a destination blob name that is not a file;
/// - Io / PermissionDenied reading either cache.
Result<MergePlan> plan_cache_merge(const MergeOptions& options);

/// Carries out a plan (see the header comment), then verifies (MergeReport::unverified). Errors:
/// Conflict when compared blobs differ (nothing written) or a source blob does not hold the bytes
/// its name says (that blob and what needs it are not merged: `hubcache cache verify` it); the
/// destination's write errors (DiskFull, PermissionDenied, ...). After an error nothing in the
/// source has changed and the destination holds only complete blobs and right pointers.
Result<MergeReport> execute_cache_merge(const MergePlan& plan);

/// After an execute whose report is verified: takes the source folder away. It is first renamed
/// to `.<name>.hubcache-merged` beside it (with `leave_link`, atomically exchanged with a symlink
/// to the destination, so the old path never stops existing), then that is removed. A rerun after
/// a crash finds the renamed folder and finishes. Errors: Conflict when a download started into
/// the source since the plan (nothing removed); Io / PermissionDenied naming what could not be
/// removed (the rest is removed; the destination is whole).
Result<void> retire_merged_cache(const MergePlan& plan, bool leave_link);

/// `.<name>.hubcache-merged` beside `source`: where a retired source waits for its removal.
std::string retired_cache_path(const std::string& source);
/// Whether `path`'s last component has that form. Only retire_merged_cache makes one, after the
/// merge was verified: whatever is left in it is in the destination too, so finishing its
/// removal loses nothing, even when a crash left it without any repo folder.
bool is_retired_cache_path(std::string_view path);
/// The path the retired cache `path` had (retired_cache_path read backwards), or "" when `path`
/// is not of that form.
std::string original_of_retired_cache(std::string_view path);

}  // namespace hubcache

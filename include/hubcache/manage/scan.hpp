#pragma once
// Cache scan with huggingface_hub's scan_cache_dir numbers (docs/cache-management.md#scan), parallel across repos. The
// result types carry PY's names: HFCacheInfo > CachedRepoInfo > CachedRevisionInfo > CachedFileInfo.
//
// Numbers (healthy caches give exactly PY's values, shared blob store included):
// - a file is every non-directory at any depth below snapshots/<commit>/; its blob is the symlink
//   target (or the file itself in no-symlink mode); size/atime/mtime come from the blob;
// - shared blob store (cache/shared_blobs.hpp, when marked): a file's blob is the first hop
//   <repo>/blobs/<etag> even when that entry links into the store (CachedFileInfo::shared_hash), its
//   numbers the payload's; per-revision and per-repo sizes are logical (a payload counts in every
//   repo using it); HFCacheInfo::size_on_disk is physical: the repos' other blobs plus every payload
//   of the store once, unreferenced ones included. A marked top-level `blobs` is no repo and no
//   warning (an unmarked one still warns). A shared link whose payload is gone is dangling;
// - revision: nb_files = files, size = sum over distinct blobs, last_modified = max blob mtime
//   (the snapshot dir's mtime when it has no files), refs = refs whose value is the commit;
// - repo: nb_files = distinct blobs of all revisions, size = their sum (each once),
//   last_accessed/last_modified = max blob atime/mtime (the repo dir's when there is no blob);
// - orphan blobs, .no_exist, trees/ and locks are not counted; refs are found at any depth
//   ("refs/pr/1"); incomplete_files = <root>/*/blobs/*.incomplete, plus split-download state
//   files (see IncompleteFile).
//
// Malformed entries never stop the scan. Each gives a ScanWarning naming the path:
// - repo skipped (PY's CorruptedCacheException, same wording): a root entry that is not a
//   directory ("version.txt"), no "--" in the name, an unknown type, snapshots/ missing, refs/
//   a file, a file directly in snapshots/, a ref to a missing snapshot; and, beyond PY, an
//   unreadable folder and a structural symlink (repo folder, snapshots/, blobs/, refs/, a
//   snapshots/<commit> entry), which is never followed;
// - repo kept (deliberate deviations, documented here):
//   * a dangling pointer: the file is left out of the numbers (it has no blob) and listed in
//     CachedRevisionInfo::dangling, so `rm`, `prune` and `verify` still see the repo (PY skips it);
//   * a pointer whose target lies outside the cache root: never followed, left out of the numbers;
//   * refs/ missing: accepted like PY (JS's scanner would skip the repo, hence the warning).
//   * a ref that is a symlink: ignored (not followed).
// - silently ignored: fifos, sockets and devices (also behind a pointer; never opened), and
//   symlinks to directories inside a snapshot (PY's glob skips them too).
// - no warning: a ref file with surrounding whitespace ("<hash>\n") is stripped (docs/cache-format.md#refs; PY
//   would report the ref as pointing to a missing commit). `kernels--` folders are accepted.
// Root entries ".locks", "CACHEDIR.TAG", ".DS_Store", "Thumbs.db", "desktop.ini" are skipped.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

struct CachedFileInfo {
  std::string path;       // relative to the snapshot dir, '/'-separated ("sub/w.bin")
  std::string blob_path;  // absolute; the file itself in no-symlink mode
  std::uint64_t size = 0;
  double atime = 0;  // epoch seconds of the blob
  double mtime = 0;
  /// Set when blob_path is a symlink into the cache's marked shared blob store: the Xet hash of
  /// its payload (size/atime/mtime are the payload's). Unlinking blob_path frees nothing by itself.
  std::string shared_hash;
  /// Beyond PY: the blob's inode (the payload's for shared_hash) and its link count, from the same
  /// stat: nlink > 1 means other names (another repo's blobs/ after dedupe, Ollama) hold the bytes.
  std::uint64_t blob_dev = 0, blob_ino = 0, blob_nlink = 1;
};

/// Beyond PY: one distinct blob of a repo, however many files of its revisions name it (the
/// blob-level facts of CachedFileInfo, once per blob). Delete, prune and gc plans work from these.
struct CachedBlobInfo {
  std::string path;  // absolute: CachedFileInfo::blob_path of every file naming it
  std::uint64_t size = 0;
  double atime = 0, mtime = 0;
  std::string shared_hash;                    // as CachedFileInfo::shared_hash
  std::uint64_t dev = 0, ino = 0, nlink = 1;  // as CachedFileInfo::blob_dev, blob_ino, blob_nlink
  /// path is <repo>/blobs/<name> of this repo (through its cache path or, for a moved repo, its
  /// home): the name a delete of its last revision removes. False for a copied file in a snapshot
  /// (no-symlink layout) and for a pointer into another repo's blobs/ or outside the cache.
  bool in_repo_blobs = false;
};

/// Where a last-use time came from: hubcache's use record (cache/use_records.hpp: written by
/// every resolution and download), else, for a revision without one, the newest blob atime
/// (unreliable under noatime and relatime) or mtime, whichever is later.
enum class UseSource { Record, Atime, Mtime };
std::string_view to_string(UseSource source);  // "record", "atime", "mtime"

struct CachedRevisionInfo {
  std::string commit;         // the snapshot dir name
  std::string snapshot_path;  // absolute
  std::uint64_t size_on_disk = 0;
  std::size_t nb_files = 0;
  std::vector<std::string> refs;  // sorted ("main", "refs/pr/1")
  double last_modified = 0;
  /// Beyond PY: the newest blob atime (the snapshot dir's when it has no files).
  double last_accessed = 0;
  /// Beyond PY: the last use: the use record when there is one (reads that do not resolve, such
  /// as `cache verify`, a backup or `dedupe --deep`, move atime but are no use), else the later of
  /// last_accessed and last_modified (a revision hubcache never saw used).
  double last_used = 0;
  UseSource last_used_source = UseSource::Atime;
  std::vector<CachedFileInfo> files;  // sorted by path; empty unless ScanOptions::collect_files
  /// Its distinct blobs as indices into CachedRepoInfo::blobs, ascending; empty unless the scan
  /// collected blobs (HFCacheInfo::has_blobs).
  std::vector<std::uint32_t> blob_ids;
  std::vector<std::string> dangling;  // relative paths of pointers whose blob is missing
};

struct CachedRepoInfo {
  RepoRef repo;
  std::string path;  // absolute repo folder
  /// Beyond PY: the home of a repo moved out by `cache move ORG/NAME --to DIR` (`path` is then a
  /// symlink to it, cache/moved_repos.hpp); empty for every other repo.
  std::string moved_to;
  std::uint64_t size_on_disk = 0;
  std::size_t nb_files = 0;
  std::vector<CachedRevisionInfo> revisions;  // sorted by commit
  std::vector<std::string> refs;              // all refs of all revisions, sorted
  /// Beyond PY: every distinct blob of its revisions (nb_files of them), in no particular order;
  /// empty unless HFCacheInfo::has_blobs.
  std::vector<CachedBlobInfo> blobs;
  double last_accessed = 0;
  double last_modified = 0;
  /// Beyond PY: the latest last_used of its revisions (without revisions: of its blob times).
  double last_used = 0;
  UseSource last_used_source = UseSource::Atime;
  /// "model/org/name".
  std::string label() const { return repo.label(); }
};

/// One interrupted download in <repo>/blobs. A split download's state (<etag>.parts.state, and a
/// crashed atomic write of it, .<etag>.parts.state.<8hex>.tmp) goes with its <etag>.parts.incomplete
/// as `sidecars`; a state file left without its data file is an entry of its own (`path` = it).
struct IncompleteFile {
  std::string path;                   // <root>/<folder>/blobs/<etag>[.<8hex>|.parts].incomplete, or an orphan state file
  std::string repo_folder;            // "models--org--name"
  std::string etag;                   // the blob name the download will produce
  std::uint64_t size = 0;             // of `path` and its sidecars
  std::vector<std::string> sidecars;  // full paths, sorted
};

struct ScanWarning {
  std::string path;
  std::string message;        // a sentence that includes the path, without a final '.'
  bool repo_skipped = false;  // true: the repo is not in HFCacheInfo::repos
};

/// A repo folder left out of the listing because of a skip warning (still deletable as a whole).
struct SkippedRepo {
  RepoRef repo;
  std::string path;
};

/// A folder in the cache root that an `hf download --local-dir` wrote (it holds
/// `.cache/huggingface/download/*.metadata`): real files no cache lookup reads, so the model is
/// downloaded again into its repo folder (seed 000). Also reported as a scan warning.
struct LocalDirCopy {
  std::string path;                  // the folder
  std::optional<RepoRef> repo;       // when written over the repo's own folder name
  std::vector<std::string> commits;  // distinct commits its records name, sorted
  std::size_t files = 0;             // files with a valid record
  std::uint64_t bytes = 0;           // their size
  std::size_t already_cached = 0;    // of those, files whose ETag is a blob of some cached repo
};

struct HFCacheInfo {
  std::string cache_dir;                         // absolute, symlink-resolved
  std::vector<CachedRepoInfo> repos;             // sorted by label ("dataset/..." < "model/..." < "space/...")
  std::uint64_t size_on_disk = 0;                // physical: each shared payload once (see the header comment)
  std::vector<IncompleteFile> incomplete_files;  // sorted by path
  std::vector<ScanWarning> warnings;
  std::vector<SkippedRepo> skipped_repos;      // only those whose folder name parses
  std::vector<LocalDirCopy> local_dir_copies;  // sorted by path
  bool has_files = false;                      // CachedFileInfo lists were collected
  bool has_blobs = false;                      // CachedBlobInfo tables were collected (needed by delete, prune and gc plans)

  std::uint64_t incomplete_size() const;
  std::size_t revision_count() const;
};

struct ScanOptions {
  bool collect_files = true;  // false: no CachedFileInfo lists (faster, less memory)
  /// Per-repo blob tables (CachedRepoInfo::blobs, CachedRevisionInfo::blob_ids), kept as well when
  /// collect_files is set. Both false: numbers only (fastest, for listings).
  bool collect_blobs = true;
  unsigned threads = 0;  // 0 = hardware concurrency

  bool keeps_blobs() const { return collect_files || collect_blobs; }  // HFCacheInfo::has_blobs
};

/// Scans the hub cache at `cache_dir` (scan_cache_dir). Fails only when it is missing ("Cache directory not found"), not a
/// directory, or unreadable; everything below it becomes warnings.
Result<HFCacheInfo> scan_cache(const std::string& cache_dir, const ScanOptions& options = {});

}  // namespace hubcache

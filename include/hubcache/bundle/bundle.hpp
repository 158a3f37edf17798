#pragma once
// Bundles: the files a lockfile pins, carried to a site without network (issue 13, docs/bundles.md).
//
// A bundle is a tar stream in the Hub cache layout, so `tar -x -C $HF_HUB_CACHE` is a valid
// install where hubcache is absent:
//
//   .locks/hubcache-bundle.lock                     the lockfile (first entry)
//   models--org--name/blobs/<blob name>             each blob once, however many snapshots use it
//   models--org--name/refs/<revision>               for each locked revision that is a branch or tag
//   models--org--name/snapshots/<commit>/<path>     relative symlink "../../blobs/<name>" (one more
//                                                   "../" per '/' in <path>), as huggingface_hub makes it
//   models--org--name/trees/<commit>.json           the bundled files only, without Xet hashes
//
// The lockfile lives under `.locks/` because both scanners skip that folder: huggingface_hub's
// scan_cache_dir warns about every other root entry but `CACHEDIR.TAG` and OS junk ("Repo path is
// not a directory" / "not a valid HuggingFace cache directory"), the JS client's scanCacheDir
// warns about any root folder without "--". trees/ list only what the bundle holds (a full listing
// would make an offline snapshot_download raise IncompleteSnapshotError) and carry no `xet_hash`
// (with it, a Python client with hf_xet asks an Xet server for a missing file instead of failing
// offline).
//
// With Format::Oci the same content is an OCI image layout folder (`oci-layout`, `index.json`,
// `blobs/sha256/<digest>`): one ModelPack manifest per locked repo, one `*.v1.raw` layer per file
// (its digest is the file's SHA-256: an LFS file's blob name), the repo path in
// `org.cncf.model.filepath`, the git blob id in `dev.hubcache.git-oid`, the lockfile in the index's
// `dev.hubcache.lock` annotation, so an import restores the exact cache entries.
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/lock/lockfile.hpp"
#include "hubcache/manage/merge.hpp"

namespace hubcache::bundle {

/// Where the lockfile is inside a tar bundle (relative to the cache root).
inline constexpr const char* k_bundle_lock_entry = ".locks/hubcache-bundle.lock";

enum class Format { Tar, Oci };
const char* to_string(Format format);  // "tar", "oci"

struct CreateOptions {
  std::string cache_dir;  // the Hub cache the content comes from (never written)
  lock::Lockfile lock;    // what to bundle: every file of every repo
  /// A tar file (written atomically: temp file beside it, fsync, rename), "-" for stdout; with
  /// Format::Oci a folder that must not exist yet (built beside it, then renamed into place).
  std::string output;
  Format format = Format::Tar;
  /// The modification time of every entry (SOURCE_DATE_EPOCH for reproducible bundles): with it,
  /// the same lock and cache always give the same bytes.
  std::time_t mtime = 0;
};

struct CreateReport {
  std::size_t repos = 0, files = 0, blobs = 0;  // blobs: distinct, each written once
  std::uint64_t bytes = 0;                      // content bytes written (each blob once)
};

/// Writes the bundle of `options.lock` from the cache. Every blob is hashed while it is written and
/// must match its name. Errors:
/// - LocalEntryNotFound: the cache lacks a locked file, or holds another blob for it (the message
///   names each and says to run `hubcache sync --lock F` first); nothing is written;
/// - Integrity: a blob's bytes do not match its name (nothing is left at `output`);
/// - InvalidArgument: an empty lock, a lock naming two different commits' files under one repo
///   path twice, `output` (OCI) already exists;
/// - Io / PermissionDenied / DiskFull writing `output`.
Result<CreateReport> create_bundle(const CreateOptions& options);

struct ImportOptions {
  std::string bundle;     // a tar file (any compression libarchive reads), "-" for stdin, or an OCI layout folder
  std::string cache_dir;  // the destination Hub cache; created when absent
  unsigned threads = 0;   // merge's hashing threads (0 = hardware concurrency)
};

struct ImportRefConflict {
  RepoRef repo;
  RefConflict conflict;  // the cache's ref stays (as migrate's merge does)
};

struct ImportReport {
  Format format = Format::Tar;
  lock::Lockfile lock;  // the bundle's lockfile
  std::size_t repos = 0, files = 0, blobs = 0;
  std::uint64_t bytes = 0;                   // content bytes read from the bundle
  bool cleaned_leftover = false;             // a staging folder of an interrupted import was removed first
  std::vector<ImportRefConflict> conflicts;  // refs the cache already had at another commit
  MergeReport merge;
};

/// Imports a bundle: every entry is validated and written into a staging cache under
/// `<cache_dir>/.locks/hubcache-bundle-import/` (a leftover one, from a crash, is removed first;
/// one import at a time per cache, under `.locks/hubcache-bundle-import.lock`), every blob hashed
/// (SHA-256 for 64-hex names, git blob SHA-1 for 40) and checked against the lock (name, size,
/// the pointer of each locked file), trees/ written from the lock; only then is the staging cache
/// merged into the cache (manage's plan_cache_merge / execute_cache_merge: each blob hardlinked
/// once, refs that point elsewhere keep the cache's) and removed. Errors (the cache unchanged):
/// - InvalidArgument naming the entry: an absolute path, a `..` or empty component, an entry
///   outside `models--*`, `datasets--*`, `spaces--*` and the lockfile, a name the layout does not
///   have, a hardlink, device, FIFO or socket, a symlink anywhere but a snapshot file or pointing
///   anywhere but `../..(/..)*/blobs/<name>` of its depth, a regular file in snapshots/, the same
///   entry twice, a malformed ref, no lockfile or a malformed one (lock::parse_lockfile's message),
///   a blob, pointer or ref the lock does not name, a locked file the bundle lacks;
/// - Integrity naming the entry: a blob whose bytes do not match its name, or whose size differs
///   from the lock's;
/// - Io naming the entry: a truncated or unreadable stream; NotFound: no such bundle;
/// - the merge's errors (Conflict: the cache holds other bytes under a blob name; DiskFull, ...).
Result<ImportReport> import_bundle(const ImportOptions& options);

/// `<cache_dir>/.locks/hubcache-bundle-import`: where an import stages the bundle's content.
std::string staging_path(const std::string& cache_dir);

}  // namespace hubcache::bundle

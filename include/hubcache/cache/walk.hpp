#pragma once
// Reading a cache without following symlinks out of it: the one rule for what a snapshot
// pointer leads to (resolve_entry), over util's directory walker (util/dir_walk.hpp). Used by
// scan, verify, delete and the mirror. All work goes through directory fds (openat/fstatat/readlinkat) so a file costs one or
// two syscalls and no path walk from '/'.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache {

using fs::DirReader;
using fs::Fd;
using fs::open_dir_at;
using fs::walk_tree;

/// Names that OSes drop into folders; never repos, revisions or refs.
bool is_os_junk(std::string_view name);

/// One repo folder being read.
struct RepoDirs {
  std::string cache_dir;  // absolute and symlink-resolved
  std::string repo_path;  // <root>/<folder>
  int blobs_fd = -1;      // <repo>/blobs opened without following a symlink, or -1
  /// The cache's shared blob store (may be null or unmarked: no shared entries then).
  const SharedBlobStore* store = nullptr;
  /// Optional: true if this <repo>/blobs/<name> path was already stat'ed by the caller (saves
  /// one syscall per pointer to an already seen blob; Target::st is then left zeroed).
  std::function<bool(const std::string& blob_path)> known_blob;
  /// A repo moved out of the cache (cache/moved_repos.hpp): its home, where repo_path's symlink
  /// leads. Targets inside it count as inside the cache. Empty for every other repo.
  std::string home;
};

enum class TargetKind {
  Blob,       // a symlink resolving to a regular file inside the cache (for a shared entry,
              // <repo>/blobs/<etag> -> store payload, blob_path is the entry, st the payload's)
  Self,       // a regular file in the snapshot (no-symlink mode): it is its own blob
  Dangling,   // a symlink whose target does not exist
  Escapes,    // a symlink whose target lies outside the cache root (never followed)
  Directory,  // a symlink to a directory (skipped, as PY's glob does)
  Special,    // a symlink to a fifo, socket or device inside the cache (never opened)
};

struct Target {
  TargetKind kind = TargetKind::Dangling;
  std::string blob_path;       // absolute: the blob (Blob, Self) or the lexical target (Dangling, Escapes)
  std::string link;            // the raw symlink text (symlinks only)
  bool in_repo_blobs = false;  // blob_path is <repo>/blobs/<name> of this repo
  std::string shared_hash;     // the Xet hash when blob_path is a link into the marked store
  std::string payload_path;    // shared entries: the store payload holding the bytes
  struct stat st {};           // of the blob (Blob, Self)
};

/// Resolves the non-directory entry `name` of directory `dirfd` (absolute `dir_path`, which is
/// `depth` components below the repo folder: snapshots/<commit> is 2). `is_link` says whether
/// the entry is a symlink. Returns false with errno set when the entry vanished or cannot be read.
bool resolve_entry(const RepoDirs& repo, int dirfd, const std::string& dir_path, int depth, const char* name, bool is_link,
                   Target& out);

/// Resolves snapshots/<commit>/<path> of the repo folder `repo.repo_path` (commit and path
/// already validated: no "..", no empty component) with resolve_entry. Every directory on the
/// way, the repo folder's snapshots/ included, is opened without following a symlink, so a
/// symlinked directory inside a snapshot is never crossed. False with errno set when a component
/// is missing, is a symlink or a non-directory (ENOENT, ELOOP, ENOTDIR), or the entry is a
/// directory or unreadable.
bool resolve_pointer(const RepoDirs& repo, std::string_view commit, std::string_view path, Target& out);

/// The one rule for which snapshot entries are the bytes of a cached file: what the mirror
/// serves (its security boundary) and what scan and verify count as a file. Reachable is
///  - Self: a regular file in the snapshot (caches written without symlinks);
///  - Blob directly in this repo's blobs/ (in_repo_blobs), named as an ETag (validate_etag) and
///    not a download in progress (*.incomplete);
///  - a shared entry: this repo's blobs/<etag> linking into the cache's marked shared store,
///    whose payload is a regular file reached through real directories only.
/// Anything else (a link to another repo's blob, out of the cache, to a directory, dangling) is
/// not: hf_hub_download would never have written it. No I/O except the shared payload's realpath.
bool is_reachable(const RepoDirs& repo, const Target& t);

/// The ETag a reachable Blob is stored under: the file name of blob_path (the entry for shared
/// files). Empty for Self.
std::string_view blob_name(const Target& t);

/// The names of the refs under the repo's refs/ folder ("main", "refs/pr/1", ...), sorted:
/// regular files only (a symlinked ref or folder is never followed, OS junk is skipped), at most
/// 8 folders deep. Values are not read. Empty when refs/ is missing or unreadable.
std::vector<std::string> list_ref_names(const std::string& repo_path);

}  // namespace hubcache

#pragma once
// Read-only view of a Hub cache for the mirror: revisions, files reachable through snapshot
// pointers, and per-snapshot listings. Only content reachable from snapshots/<commit>/ whose
// resolved location stays inside the repo folder is ever returned: a pointer into blobs/ (never a
// *.incomplete), or a regular file (no-symlink caches). The one exception is the cache's marked
// shared blob store: a blobs/ entry whose link names exactly a payload there (shared_payload). Listings are cached in memory and
// re-validated against directory mtimes on every use, so files another tool adds show up.
#include <sys/stat.h>
#include <sys/types.h>

#include <ctime>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/cache/walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/server/http.hpp"

namespace hubcache::server {

struct ServedFile {
  std::string path;          // repo path ("a/b.txt")
  std::string content_path;  // absolute, symlink-free path of the bytes to serve
  /// The repo's blobs/<etag> entry when it links into the shared blob store ("" otherwise): a
  /// cached lookup re-checks it too, since the payload outlives a removed or re-pointed link.
  std::string link_path;
  std::uint64_t size = 0;
  std::string oid;  // git blob id (of the LFS pointer file for LFS files)
  std::optional<std::string> lfs_sha256;
  std::uint64_t pointer_size = 0;  // size of the LFS pointer file
  std::int64_t mtime = 0;
  /// An open descriptor of content_path kept by the lookup cache (may be null): serving dup()s it
  /// instead of walking the path again, like nginx's open_file_cache.
  std::shared_ptr<const fs::Fd> fd;
  /// False for a file of the commit the cache does not hold: listed from trees/<commit>.json
  /// (content_path empty). Listings show it; a download of it is refused as the mirror's lack.
  bool held = true;
  bool is_lfs() const { return lfs_sha256.has_value(); }
  /// The ETag a client names the blob by: the SHA-256 for LFS, else the git oid.
  const std::string& etag() const { return lfs_sha256 ? *lfs_sha256 : oid; }
};

struct DirInfo {
  std::string path;
  std::string oid;  // git tree id of what the snapshot holds below it
};

/// What a commit holds: the files under snapshots/<commit>/ and, when the cache has the commit's
/// tree record (trees/<commit>.json), the files it lists that the cache lacks (held = false).
struct SnapshotListing {
  std::string commit;
  std::int64_t mtime = 0;         // of snapshots/<commit>
  std::vector<ServedFile> files;  // sorted by path
  std::vector<DirInfo> dirs;      // sorted by path
  const ServedFile* find_file(std::string_view path) const;
  const DirInfo* find_dir(std::string_view path) const;
};

namespace detail {
using fs::mtime_ns;
/// Changes within the last 2 s may repeat within one mtime tick (and an inode number can be
/// reused at once): such entries are never cached (git's "racily clean" rule).
inline bool recently_changed(std::int64_t mtime) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return mtime > (static_cast<std::int64_t>(now.tv_sec) - 2) * 1000000000;
}
}  // namespace detail

class CacheView {
 public:
  /// `revalidate_after`: a cached ref, repo folder or file lookup is trusted without touching the
  /// disk for this long after it was last checked (0: checked on every request).
  CacheView(std::string root_real, std::chrono::milliseconds revalidate_after, std::size_t max_open_files);

  /// The cache root (a realpath).
  const std::string& root() const { return m_root; }

  /// Path of the repo's folder when it and its snapshots/ are real directories (never symlinks,
  /// cache/folders.hpp); the root is a realpath, so the path is one.
  std::optional<std::string> repo_folder(const RepoRef& repo) const;

  struct Revision {
    enum class Kind { Found, Unknown, NoSnapshot } kind = Kind::Unknown;
    std::string commit;
  };
  /// Maps a revision (commit hash present in snapshots/, ref name, or "HEAD" = main) to a commit.
  Revision resolve_revision(const std::string& folder, std::string_view revision) const;

  /// All refs of a repo folder ("main", "refs/pr/1", ...) with their commits.
  std::vector<std::pair<std::string, std::string>> list_refs(const std::string& folder) const;

  /// One file of snapshots/<commit>/<path> (path already validated), or nullopt if it is absent,
  /// not a file, or resolves outside the repo's blobs/.
  std::optional<ServedFile> lookup_file(const std::string& folder, const std::string& commit, const std::string& path) const;

  /// The (cached) listing of a snapshot; nullptr if the snapshot folder is missing.
  std::shared_ptr<const SnapshotListing> listing(const std::string& folder, const std::string& commit) const;

 private:
  struct CachedListing {
    std::shared_ptr<const SnapshotListing> listing;
    /// Every walked dir and the trees/ folder, mtime ns (-1: absent).
    std::vector<std::pair<std::string, std::int64_t>> dir_mtimes;
  };
  // A cached lookup, valid while lstat() of its path still gives the same identity.
  struct StatKey {
    dev_t dev = 0;
    ino_t ino = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t size = 0;
    bool operator==(const StatKey&) const = default;
  };
  using Clock = std::chrono::steady_clock;
  struct CachedRef {
    StatKey key;
    Clock::time_point checked;
    std::string commit;
  };
  struct CachedFile {
    StatKey key;
    Clock::time_point checked;
    dev_t content_dev = 0;  // identity of the open fd's file, re-checked with the pointer
    ino_t content_ino = 0;
    StatKey link_key;  // identity of info.link_path (shared-store entries)
    ServedFile info;
  };
  struct OidEntry {
    ino_t ino = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string oid;
  };

  /// lstat identity of `path` itself (not followed), or nullopt when it is gone.
  static std::optional<StatKey> link_key_of(const std::string& path);

 public:
  /// The store payload the entry <folder>/blobs/<name> links to, if the cache's shared blob store
  /// is marked, the entry's normalised link target is exactly <root>/blobs/<h[:2]>/<h> and that is
  /// a regular file reached through real directories only (no other escape is ever followed).
  std::optional<std::string> shared_payload(const std::string& folder, const std::string& name) const;

 private:
  std::optional<ServedFile> lookup_file_uncached(const std::string& folder, const std::string& commit,
                                                 const std::string& path) const;
  /// lookup_file_uncached with the repo's blobs/ descriptor and the shared store already at hand
  /// (a listing opens them once for all its files).
  std::optional<ServedFile> served_file(const RepoDirs& dirs, const std::string& commit, const std::string& path) const;
  static Fd open_blobs_dir(const std::string& folder);
  /// The walk's view of a repo folder (with its home when it was moved out of the cache).
  RepoDirs repo_dirs(const std::string& folder, int blobs_fd, const SharedBlobStore& store) const;
  std::optional<std::string> git_oid_of(const std::string& path, ino_t ino, std::uint64_t size, std::int64_t mtime_ns) const;
  CachedListing scan(const std::string& folder, const std::string& commit) const;

  bool fresh(Clock::time_point checked) const { return Clock::now() - checked < m_revalidate_after; }

  std::string m_root;
  std::chrono::milliseconds m_revalidate_after;
  std::size_t m_max_open_files;
  mutable std::unordered_map<std::string, Clock::time_point> m_folders;  // real repo dirs, last seen
  mutable std::mutex m_mutex;
  mutable std::map<std::string, CachedListing> m_listings;      // key: folder + '\n' + commit
  mutable std::unordered_map<std::string, OidEntry> m_oids;     // key: content path
  mutable std::unordered_map<std::string, CachedRef> m_refs;    // key: ref file path
  mutable std::unordered_map<std::string, CachedFile> m_files;  // key: pointer path
  mutable std::size_t m_open_fds = 0;                           // descriptors held by m_files
};

}  // namespace hubcache::server

#include "repo_view.hpp"
#include "hubcache/cache/lfs_pointer.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <functional>

#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/moved_repos.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/cache/walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/text.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache::server {
namespace {

using detail::mtime_ns;
using detail::recently_changed;

constexpr std::size_t k_max_cached_folders = 1024;
constexpr std::size_t k_max_cached_oids = 100000;

}  // namespace

CacheView::CacheView(std::string root_real, std::chrono::milliseconds revalidate_after, std::size_t max_open_files)
    : m_root(std::move(root_real)), m_revalidate_after(revalidate_after), m_max_open_files(max_open_files) {}

std::optional<std::string> CacheView::repo_folder(const RepoRef& repo) const {
  std::string path = fs::join(m_root, repo_folder_name(repo));
  {
    std::lock_guard lock(m_mutex);
    auto it = m_folders.find(path);
    if (it != m_folders.end() && fresh(it->second)) return path;
  }
  // The one rule of the cache (cache/folders.hpp): the repo folder and its snapshots/ are real
  // directories, never symlinks (not even to elsewhere in the cache, as `cache ls` and `verify` say),
  // but for a repo moved out by `cache move ORG/NAME --to DIR` whose home names this cache.
  auto real_dir = check_repo_folder(RepoLayout(m_root, repo));
  if (!real_dir || !*real_dir) return std::nullopt;
  auto snapshots = check_cache_folder(RepoLayout(m_root, repo).snapshots_dir(), "snapshots folder");
  if (!snapshots || !*snapshots) return std::nullopt;
  std::lock_guard lock(m_mutex);  // the root is a realpath and the name has no '/', '.', '..'
  if (m_folders.size() >= k_max_cached_folders) m_folders.clear();
  m_folders[path] = Clock::now();
  return path;
}

CacheView::Revision CacheView::resolve_revision(const std::string& folder, std::string_view revision) const {
  Revision r;
  const auto layout = RepoLayout::of_folder(folder);
  if (!layout) return r;
  auto snapshot_exists = [&](const std::string& commit) {
    struct stat st {};
    return ::lstat(layout->snapshot_dir(commit).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  if (is_commit_hash(revision)) {
    if (snapshot_exists(std::string(revision))) {
      r.kind = Revision::Kind::Found;
      r.commit = std::string(revision);
      return r;
    }
  }
  if (!validate_revision(revision)) return r;
  // The layout only builds paths; the folder is the already-checked realpath.
  // A ref is cached (keyed by its file's identity) only once its snapshot was seen to exist.
  auto read_ref_at = [&](std::string_view name) -> std::optional<Revision> {
    const std::string ref_path = layout->ref_path(name);
    {
      std::lock_guard lock(m_mutex);
      auto it = m_refs.find(ref_path);
      if (it != m_refs.end() && fresh(it->second.checked)) return Revision{Revision::Kind::Found, it->second.commit};
    }
    struct stat st {};
    if (::stat(ref_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    const StatKey key{st.st_dev, st.st_ino, mtime_ns(st), static_cast<std::int64_t>(st.st_size)};
    {
      std::lock_guard lock(m_mutex);
      auto it = m_refs.find(ref_path);
      if (it != m_refs.end() && it->second.key == key) {
        it->second.checked = Clock::now();
        return Revision{Revision::Kind::Found, it->second.commit};
      }
    }
    auto content = fs::read_file(ref_path, 4096);
    if (!content) return std::nullopt;
    const std::string_view s = trim(*content);
    if (!is_commit_hash(s)) return std::nullopt;
    Revision found{snapshot_exists(std::string(s)) ? Revision::Kind::Found : Revision::Kind::NoSnapshot, std::string(s)};
    if (found.kind == Revision::Kind::Found && !recently_changed(key.mtime_ns)) {
      std::lock_guard lock(m_mutex);
      if (m_refs.size() >= k_max_cached_oids) m_refs.clear();
      m_refs[ref_path] = CachedRef{key, Clock::now(), found.commit};
    }
    return found;
  };
  auto ref = read_ref_at(revision);
  if (!ref && revision == "HEAD") ref = read_ref_at("main");
  return ref ? *ref : r;
}

std::vector<std::pair<std::string, std::string>> CacheView::list_refs(const std::string& folder) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& ref : list_ref_names(folder)) {
    auto r = resolve_revision(folder, ref);
    if (r.kind != Revision::Kind::Unknown) out.emplace_back(ref, r.commit);
  }
  return out;
}

std::optional<std::string> CacheView::git_oid_of(const std::string& path, ino_t ino, std::uint64_t size,
                                                 std::int64_t mtime) const {
  {
    std::lock_guard lock(m_mutex);
    auto it = m_oids.find(path);
    if (it != m_oids.end() && it->second.ino == ino && it->second.size == size && it->second.mtime_ns == mtime)
      return it->second.oid;
  }
  auto h = hash_file(path, HashWhat::GitSha1);
  if (!h || h->size != size) return std::nullopt;
  std::lock_guard lock(m_mutex);
  if (m_oids.size() >= k_max_cached_oids) m_oids.clear();
  m_oids[path] = OidEntry{ino, size, mtime, h->git_sha1};
  return h->git_sha1;
}

std::optional<ServedFile> CacheView::lookup_file(const std::string& folder, const std::string& commit,
                                                 const std::string& path) const {
  // Hot path: one lstat() of the pointer re-validates a cached lookup (device, inode, mtime and
  // size of the link itself); blobs never change under their name.
  const auto layout = RepoLayout::of_folder(folder);
  if (!layout) return std::nullopt;
  const std::string pointer = layout->pointer_path(commit, path);
  {
    std::lock_guard lock(m_mutex);
    auto it = m_files.find(pointer);
    if (it != m_files.end() && fresh(it->second.checked)) return it->second.info;
  }
  struct stat lst {};
  if (::lstat(pointer.c_str(), &lst) != 0) return std::nullopt;
  const StatKey key{lst.st_dev, lst.st_ino, mtime_ns(lst), static_cast<std::int64_t>(lst.st_size)};
  std::optional<CachedFile> hit;
  {
    std::lock_guard lock(m_mutex);
    auto it = m_files.find(pointer);
    if (it != m_files.end() && it->second.key == key) hit = it->second;
  }
  if (hit) {
    // The kept descriptor must still be the file the pointer leads to (a deleted or replaced
    // blob is not served from a stale descriptor).
    struct stat cst {};
    bool same = !hit->info.fd || (::stat(hit->info.content_path.c_str(), &cst) == 0 && cst.st_dev == hit->content_dev &&
                                  cst.st_ino == hit->content_ino);
    if (same && !hit->info.link_path.empty()) same = link_key_of(hit->info.link_path) == hit->link_key;
    if (same) {
      std::lock_guard lock(m_mutex);
      auto it = m_files.find(pointer);
      if (it != m_files.end()) it->second.checked = Clock::now();
      return hit->info;
    }
  }
  auto info = lookup_file_uncached(folder, commit, path);
  const auto link_key = info && !info->link_path.empty() ? link_key_of(info->link_path) : std::optional<StatKey>(StatKey{});
  // An inode number can be reused at once: entries changed in the last moments are not cached.
  if (info && link_key && !recently_changed(key.mtime_ns) && !recently_changed(link_key->mtime_ns)) {
    CachedFile entry{key, Clock::now(), 0, 0, *link_key, *info};
    bool room = false;
    {
      std::lock_guard lock(m_mutex);
      room = m_open_fds < m_max_open_files;
    }
    if (room) {
      fs::Fd fd(::open(info->content_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
      struct stat fst {};
      if (fd && ::fstat(fd.get(), &fst) == 0 && S_ISREG(fst.st_mode)) {
        entry.content_dev = fst.st_dev;
        entry.content_ino = fst.st_ino;
        entry.info.fd = std::make_shared<const fs::Fd>(std::move(fd));
      }
    }
    std::lock_guard lock(m_mutex);
    if (m_files.size() >= k_max_cached_oids) {
      m_files.clear();
      m_open_fds = 0;
    }
    auto old = m_files.find(pointer);
    if (old != m_files.end() && old->second.info.fd) --m_open_fds;
    if (entry.info.fd && m_open_fds >= m_max_open_files) entry.info.fd.reset();
    if (entry.info.fd) ++m_open_fds;
    info->fd = entry.info.fd;
    m_files.insert_or_assign(pointer, std::move(entry));
  }
  return info;
}

std::optional<CacheView::StatKey> CacheView::link_key_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return StatKey{st.st_dev, st.st_ino, mtime_ns(st), static_cast<std::int64_t>(st.st_size)};
}

std::optional<std::string> CacheView::shared_payload(const std::string& folder, const std::string& name) const {
  if (name.empty() || name.find('/') != std::string::npos || !validate_etag(name) || name.ends_with(k_incomplete_suffix))
    return std::nullopt;
  const SharedBlobStore store(m_root);
  const auto layout = RepoLayout::of_folder(folder);
  if (!layout) return std::nullopt;
  auto payload = store.linked_payload(layout->blob_path(name));
  if (!payload) return std::nullopt;
  auto real = fs::real_path(payload->path);  // belt and braces: nothing symlinked on the way
  if (!real || *real != payload->path) return std::nullopt;
  return payload->path;
}

std::optional<ServedFile> CacheView::lookup_file_uncached(const std::string& folder, const std::string& commit,
                                                          const std::string& path) const {
  const SharedBlobStore store(m_root);
  const Fd blobs = open_blobs_dir(folder);
  return served_file(repo_dirs(folder, blobs.get(), store), commit, path);
}

RepoDirs CacheView::repo_dirs(const std::string& folder, int blobs_fd, const SharedBlobStore& store) const {
  RepoDirs dirs{m_root, folder, blobs_fd, &store, {}, {}};
  if (const auto layout = RepoLayout::of_folder(folder))
    if (auto home = moved_repo_home(*layout)) dirs.home = std::move(*home);
  return dirs;
}

Fd CacheView::open_blobs_dir(const std::string& folder) {
  // The folder is a checked real directory (repo_folder), so only blobs/ itself must not be a link.
  return Fd(::open(repo_subpath(folder, k_blobs_dir).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

std::optional<ServedFile> CacheView::served_file(const RepoDirs& dirs, const std::string& commit, const std::string& path) const {
  // The cache's one reachability rule decides (cache/walk.hpp): a pointer into this repo's
  // blobs/, a shared entry whose payload is in the marked store, or a file of a no-symlink cache.
  Target t;
  if (!resolve_pointer(dirs, commit, path, t) || !is_reachable(dirs, t)) return std::nullopt;
  ServedFile f;
  f.path = path;
  f.size = static_cast<std::uint64_t>(t.st.st_size);
  f.mtime = t.st.st_mtim.tv_sec;
  f.content_path = t.shared_hash.empty() ? t.blob_path : t.payload_path;
  if (!t.shared_hash.empty()) f.link_path = t.blob_path;
  const std::string_view name = blob_name(t);
  if (digest_kind_of(name) == DigestKind::Sha256) {
    f.lfs_sha256 = std::string(name);
    const std::string ptr = lfs_pointer_text(name, f.size);
    f.oid = git_blob_sha1_hex(ptr);
    f.pointer_size = ptr.size();
  } else if (digest_kind_of(name) == DigestKind::GitSha1) {
    f.oid = std::string(name);
  } else {
    auto oid = git_oid_of(f.content_path, t.st.st_ino, f.size, mtime_ns(t.st));
    if (!oid) return std::nullopt;
    f.oid = *oid;
  }
  return f;
}

}  // namespace hubcache::server

// Snapshot listings for tree / repo-info / paths-info: a walk of snapshots/<commit>/ (no symlinked
// directory is followed), cached and re-validated against every walked directory's mtime.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>

#include "hubcache/util/hash.hpp"
#include "repo_view.hpp"

namespace hubcache::server {
namespace {

using detail::mtime_ns;
using detail::recently_changed;
constexpr std::size_t k_max_cached_listings = 64;
constexpr int k_max_depth = 64;

}  // namespace

const FileInfo* SnapshotListing::find_file(std::string_view path) const {
  auto it = std::lower_bound(files.begin(), files.end(), path, [](const FileInfo& f, std::string_view p) { return f.path < p; });
  return it != files.end() && it->path == path ? &*it : nullptr;
}

const DirInfo* SnapshotListing::find_dir(std::string_view path) const {
  auto it = std::lower_bound(dirs.begin(), dirs.end(), path, [](const DirInfo& d, std::string_view p) { return d.path < p; });
  return it != dirs.end() && it->path == path ? &*it : nullptr;
}

CacheView::CachedListing CacheView::scan(const std::string& folder, const std::string& commit) const {
  CachedListing c;
  auto listing = std::make_shared<SnapshotListing>();
  listing->commit = commit;
  const std::string root = folder + "/snapshots/" + commit;
  struct stat rst{};
  if (::lstat(root.c_str(), &rst) != 0 || !S_ISDIR(rst.st_mode)) return c;
  listing->mtime = rst.st_mtim.tv_sec;
  // Returns the git tree id of `rel`, computed from its children's ids on the way back up.
  std::function<std::string(const std::string&, int)> walk = [&](const std::string& rel, int depth) {
    std::vector<GitTreeEntry> kids;
    const std::string dir = rel.empty() ? root : root + "/" + rel;
    struct stat dst{};
    if (::lstat(dir.c_str(), &dst) != 0) return git_tree_sha1_hex({});
    c.dir_mtimes.emplace_back(dir, mtime_ns(dst));
    if (depth > k_max_depth) return git_tree_sha1_hex({});
    DIR* d = ::opendir(dir.c_str());
    if (!d) return git_tree_sha1_hex({});
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    for (const auto& name : names) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      if (!validate_repo_path(child) || child.find('\\') != std::string::npos) continue;
      struct stat st{};
      if (::lstat((root + "/" + child).c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        std::string oid = walk(child, depth + 1);
        listing->dirs.push_back(DirInfo{child, oid});
        kids.push_back({name, true, std::move(oid)});
      } else if (auto f = lookup_file_uncached(folder, commit, child)) {
        // Not lookup_file(): a listing must not fill the open-descriptor budget meant for
        // files being downloaded.
        kids.push_back({name, false, f->oid});
        listing->files.push_back(std::move(*f));
      }
    }
    return git_tree_sha1_hex(std::move(kids));
  };
  walk("", 0);
  std::sort(listing->files.begin(), listing->files.end(), [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  std::sort(listing->dirs.begin(), listing->dirs.end(), [](const DirInfo& a, const DirInfo& b) { return a.path < b.path; });
  c.listing = std::move(listing);
  return c;
}

std::shared_ptr<const SnapshotListing> CacheView::listing(const std::string& folder, const std::string& commit) const {
  const std::string key = folder + "\n" + commit;
  std::optional<CachedListing> cached;
  {
    std::lock_guard lock(m_mutex);
    auto it = m_listings.find(key);
    if (it != m_listings.end()) cached = it->second;
  }
  if (cached) {  // re-validated outside the lock: a changed directory means a rescan
    bool fresh = true;
    for (const auto& [dir, mt] : cached->dir_mtimes) {
      struct stat st{};
      if (::lstat(dir.c_str(), &st) != 0 || mtime_ns(st) != mt) {
        fresh = false;
        break;
      }
    }
    if (fresh) return cached->listing;
  }
  CachedListing c = scan(folder, commit);
  if (!c.listing) return nullptr;
  // Like git's "racily clean" entries: a directory changed within the last 2 s may change again
  // within the same mtime tick, so such a listing is not cached.
  for (const auto& dm : c.dir_mtimes)
    if (recently_changed(dm.second)) return c.listing;
  std::lock_guard lock(m_mutex);
  if (m_listings.size() >= k_max_cached_listings) m_listings.clear();
  m_listings[key] = c;
  return c.listing;
}

}  // namespace hubcache::server

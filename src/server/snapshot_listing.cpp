// Snapshot listings for tree / repo-info / paths-info: a walk of snapshots/<commit>/ (no symlinked
// directory is followed), cached and re-validated against every walked directory's mtime.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/lfs_pointer.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/cache/walk.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/digest.hpp"
#include "repo_view.hpp"

namespace hubcache::server {
namespace {

using detail::mtime_ns;
using detail::recently_changed;
constexpr std::size_t k_max_cached_listings = 64;
constexpr int k_max_depth = 64;

std::int64_t mtime_or_absent(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? mtime_ns(st) : -1;
}

std::pair<std::string, std::string> split_parent(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// Adds the files trees/<commit>.json lists that the snapshot lacks (held = false), with their
// folders. Returns whether it added any. A missing or unreadable record adds nothing.
bool add_tree_record(const std::string& root, const std::string& folder, SnapshotListing& l) {
  const std::string name = folder.substr(folder.rfind('/') + 1);
  const auto repo = parse_repo_folder_name(name);
  if (!repo || folder != root + "/" + name) return false;
  auto record = read_tree_file(RepoLayout(root, *repo), l.commit);
  if (!record || !*record) return false;
  std::set<std::string> files, dirs;
  for (const auto& f : l.files) files.insert(f.path);
  for (const auto& d : l.dirs) dirs.insert(d.path);
  bool added = false;
  for (const auto& e : **record) {
    if (!validate_repo_path(e.path) || e.path.find('\\') != std::string::npos || digest_kind_of(e.blob_id) != DigestKind::GitSha1)
      continue;
    if (e.lfs_sha256 && digest_kind_of(*e.lfs_sha256) != DigestKind::Sha256) continue;
    if (files.count(e.path) || dirs.count(e.path)) continue;  // what the snapshot holds wins
    ServedFile f;
    f.path = e.path;
    f.size = e.size;
    f.oid = e.blob_id;
    f.lfs_sha256 = e.lfs_sha256;
    if (f.lfs_sha256) f.pointer_size = lfs_pointer_text(*f.lfs_sha256, f.size).size();
    f.mtime = l.mtime;
    f.held = false;
    for (std::string d = split_parent(e.path).first; !d.empty() && dirs.insert(d).second; d = split_parent(d).first)
      l.dirs.push_back(DirInfo{d, ""});
    files.insert(e.path);
    l.files.push_back(std::move(f));
    added = true;
  }
  return added;
}

// Git tree ids of every folder from the files and folders listed, deepest first.
void compute_dir_oids(SnapshotListing& l) {
  std::map<std::string, std::vector<GitTreeEntry>> kids;
  for (const auto& f : l.files) {
    auto [dir, name] = split_parent(f.path);
    kids[dir].push_back({std::move(name), false, f.oid});
  }
  std::vector<DirInfo*> order;
  for (auto& d : l.dirs) order.push_back(&d);
  auto depth = [](const DirInfo* d) { return std::count(d->path.begin(), d->path.end(), '/'); };
  std::stable_sort(order.begin(), order.end(), [&](const DirInfo* a, const DirInfo* b) { return depth(a) > depth(b); });
  for (DirInfo* d : order) {
    d->oid = git_tree_sha1_hex(std::move(kids[d->path]));
    auto [parent, name] = split_parent(d->path);
    kids[parent].push_back({std::move(name), true, d->oid});
  }
}

}  // namespace

const ServedFile* SnapshotListing::find_file(std::string_view path) const {
  auto it =
      std::lower_bound(files.begin(), files.end(), path, [](const ServedFile& f, std::string_view p) { return f.path < p; });
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
  const auto layout = RepoLayout::of_folder(folder);
  if (!layout) return c;
  const std::string root = layout->snapshot_dir(commit);
  struct stat rst {};
  if (::lstat(root.c_str(), &rst) != 0 || !S_ISDIR(rst.st_mode)) return c;
  listing->mtime = rst.st_mtim.tv_sec;
  // One blobs/ descriptor and one read of the shared store's marker for the whole listing.
  const SharedBlobStore store(m_root);
  const Fd blobs = open_blobs_dir(folder);
  const RepoDirs dirs = repo_dirs(folder, blobs.get(), store);
  // Returns the git tree id of `rel`, computed from its children's ids on the way back up.
  std::function<std::string(const std::string&, int)> walk = [&](const std::string& rel, int depth) {
    std::vector<GitTreeEntry> kids;
    const std::string dir = rel.empty() ? root : root + "/" + rel;
    struct stat dst {};
    if (::lstat(dir.c_str(), &dst) != 0) return git_tree_sha1_hex({});
    c.dir_mtimes.emplace_back(dir, mtime_ns(dst));
    if (depth > k_max_depth) return git_tree_sha1_hex({});
    const Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dfd) return git_tree_sha1_hex({});
    std::vector<std::string> names;
    DirReader reader(dfd.get());
    const char* entry = nullptr;
    unsigned char type = DT_UNKNOWN;
    while (reader.next(entry, type)) names.emplace_back(entry);
    for (const auto& name : names) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      if (!validate_repo_path(child) || child.find('\\') != std::string::npos) continue;
      struct stat st {};
      if (::lstat((root + "/" + child).c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        std::string oid = walk(child, depth + 1);
        listing->dirs.push_back(DirInfo{child, oid});
        kids.push_back({name, true, std::move(oid)});
      } else if (auto f = served_file(dirs, commit, child)) {
        // Not lookup_file(): a listing must not fill the open-descriptor budget meant for
        // files being downloaded.
        kids.push_back({name, false, f->oid});
        listing->files.push_back(std::move(*f));
      }
    }
    return git_tree_sha1_hex(std::move(kids));
  };
  walk("", 0);
  c.dir_mtimes.emplace_back(layout->trees_dir(), mtime_or_absent(layout->trees_dir()));
  if (add_tree_record(m_root, folder, *listing)) compute_dir_oids(*listing);
  std::sort(listing->files.begin(), listing->files.end(),
            [](const ServedFile& a, const ServedFile& b) { return a.path < b.path; });
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
      if (mtime_or_absent(dir) != mt) {
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

#include "hubcache/hygiene/usage.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "content_groups.hpp"

namespace hubcache::hygiene {
namespace {

using InodeKey = std::pair<dev_t, ino_t>;

}  // namespace

DiskUsage disk_usage(const std::vector<stores::StoreListing>& listings) {
  DiskUsage out;
  std::set<InodeKey> all_inodes;
  for (const auto& listing : listings) {
    StoreUsage s;
    s.kind = listing.kind;
    s.root = listing.root;
    s.warnings = listing.warnings;
    std::set<InodeKey> store_inodes;
    std::map<std::string, std::pair<ModelUsage, std::set<InodeKey>>> models;
    for (const auto& f : listing.files) {
      const InodeKey key{f.device, f.inode};
      const bool first_in_store = store_inodes.insert(key).second;
      if (first_in_store) s.disk_bytes += f.disk_bytes;
      if (all_inodes.insert(key).second) out.disk_bytes += f.disk_bytes;
      if (f.partial) {
        ++s.partial_files;
        if (first_in_store) s.partial_bytes += f.disk_bytes;
        continue;
      }
      ++s.files;
      s.apparent_bytes += f.size;
      auto& [m, inodes] = models[f.model];
      m.model = f.model;
      ++m.files;
      m.apparent_bytes += f.size;
      if (inodes.insert(key).second) m.disk_bytes += f.disk_bytes;
    }
    for (auto& [name, entry] : models) s.models.push_back(std::move(entry.first));
    std::sort(s.models.begin(), s.models.end(), [](const ModelUsage& a, const ModelUsage& b) {
      return a.disk_bytes != b.disk_bytes ? a.disk_bytes > b.disk_bytes : a.model < b.model;
    });
    out.stores.push_back(std::move(s));
  }
  for (const auto& g : detail::content_groups(listings)) {
    ++out.duplicate_groups;
    out.duplicate_bytes += g.extra_bytes;
  }
  // Free space per filesystem, by each store root's own device.
  std::set<dev_t> seen;
  for (const auto& listing : listings) {
    struct stat st {};
    if (::stat(listing.root.c_str(), &st) != 0 || !seen.insert(st.st_dev).second) continue;
    FilesystemUsage fs_usage;
    fs_usage.device = st.st_dev;
    fs_usage.path = listing.root;
    struct statvfs v {};
    if (::statvfs(listing.root.c_str(), &v) == 0) {
      fs_usage.free_bytes = static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
      fs_usage.total_bytes = static_cast<std::uint64_t>(v.f_blocks) * v.f_frsize;
    }
    out.filesystems.push_back(std::move(fs_usage));
  }
  return out;
}

}  // namespace hubcache::hygiene

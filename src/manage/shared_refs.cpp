#include "shared_refs.hpp"

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/walk.hpp"

namespace hubcache::manage_detail {

void collect_shared_entries(const SharedBlobStore& store, const std::string& repo_path, SharedEntries& out) {
  if (!store.marked()) return;
  const std::string blobs = repo_path + "/blobs";
  Fd dir(::open(blobs.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return;
  DirReader reader(dir.get());
  const char* name = nullptr;
  unsigned char type = DT_UNKNOWN;
  const std::string folder = repo_path.substr(store.cache_dir().size() + 1);
  while (reader.next(name, type)) {
    if (type != DT_LNK) continue;
    auto hash = store.hash_of_entry(blobs + "/" + name);
    if (hash && *hash) out[**hash].insert(repo_subpath(folder, k_blobs_dir, name));
  }
}

}  // namespace hubcache::manage_detail

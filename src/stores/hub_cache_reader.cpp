// The Hub cache reader: repo folders' blobs (and the shared store's payloads they link to, or
// that nothing links to any more), partial downloads, and snapshot files stored without symlinks.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "store_internal.hpp"

namespace hubcache::stores {
namespace {

// A blobs/ entry that belongs to a download still going on (or abandoned): huggingface_hub's
// <etag>.incomplete, hubcache's split-download files (layout.hpp), llama.cpp's
// <oid>.downloadInProgress, and hidden temp files.
bool is_partial_blob_name(std::string_view name) {
  return name.ends_with(".incomplete") || name.ends_with(".downloadInProgress") || name.ends_with(".parts.state") ||
         (!name.empty() && name.front() == '.');
}

// "<repo folder>/<rest>" split at the first '/'.
std::pair<std::string, std::string> split_first(const std::string& rel) {
  const auto slash = rel.find('/');
  if (slash == std::string::npos) return {rel, {}};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

class HubCacheReader final : public detail::RootedReader {
 public:
  using RootedReader::RootedReader;
  StoreKind kind() const override { return StoreKind::HubCache; }
  Result<StoreListing> list() const override;
};

Result<StoreListing> HubCacheReader::list() const {
  HUBCACHE_TRY_ASSIGN(StoreListing out, start_listing("Hub cache"));
  std::map<std::string, std::string> names;               // "<repo folder>/<etag>" -> first snapshot path naming it
  std::vector<std::pair<std::string, StoredFile>> blobs;  // (repo folder, entry)

  auto enter = [](const std::string& rel, const std::string& name) {
    const auto [repo, rest] = split_first(rel);
    if (rest.empty()) return parse_repo_folder_name(name).has_value();  // a repo folder (not the shared store)
    const auto [dir, below] = split_first(rest);
    return dir == k_snapshots_dir || (below.empty() && dir == k_blobs_dir);
  };
  auto visit = [&](const fs::FolderEntry& e) {
    const auto [repo_folder, rest] = split_first(e.rel);
    if (rest.empty()) return;  // a file at the cache root
    const auto repo = parse_repo_folder_name(repo_folder);
    const auto [dir, below] = split_first(rest);
    if (dir == k_blobs_dir) {
      StoredFile f;
      f.model = repo->label();
      if (is_partial_blob_name(e.name)) {
        f.partial = true;
        f.path = e.path;
        detail::set_figures(f, e.lst);
      } else if (!detail::describe_entry(f, e.path, e.lst)) {
        out.warnings.push_back(detail::entry_warning(e.path, errno));
        return;
      } else {
        f.digest = digest_kind_of(e.name);
        if (f.digest != DigestKind::None) f.digest_hex = e.name;
      }
      blobs.emplace_back(repo_folder, std::move(f));
      return;
    }
    if (dir != k_snapshots_dir) return;
    const auto [commit, path] = split_first(below);
    if (path.empty()) return;
    if (S_ISLNK(e.lst.st_mode)) {
      // A pointer: its target's last component is the blob it names (the reachability rule is
      // cache's; a name is only a label here).
      char target[4096];
      const ssize_t n = ::readlink(e.path.c_str(), target, sizeof target - 1);
      if (n <= 0) return;
      const std::string t(target, static_cast<std::size_t>(n));
      const auto base = t.substr(t.rfind('/') + 1);
      auto [it, inserted] = names.emplace(repo_folder + "/" + base, path);
      if (!inserted && path < it->second) it->second = path;
      return;
    }
    if (!S_ISREG(e.lst.st_mode)) return;
    // A snapshot stored without symlinks (HF_HUB_DISABLE_SYMLINKS, Windows without developer mode).
    StoredFile f;
    f.model = repo->label();
    f.name = path;
    f.path = e.path;
    detail::set_figures(f, e.lst);
    out.files.push_back(std::move(f));
  };
  auto on_error = [&](const std::string& path, int err, fs::WalkFailure failure) {
    out.warnings.push_back(std::string(fs::to_string(failure)) + " '" + path + "': " + std::strerror(err));
  };
  fs::walk_folder(m_root, enter, visit, on_error);

  std::set<std::pair<dev_t, ino_t>> reached;  // contents some repo's blob is or links to
  for (auto& [repo_folder, f] : blobs) {
    const std::string etag = f.path.substr(f.path.rfind('/') + 1);
    if (auto it = names.find(repo_folder + "/" + etag); it != names.end()) f.name = it->second;
    reached.emplace(f.device, f.inode);
    out.files.push_back(std::move(f));
  }
  // Payloads of the shared store that no repo links to any more: bytes on disk, no model. (Their
  // names are Xet hashes, not SHA-256: no free identity.)
  auto payloads = SharedBlobStore(m_root).payloads();
  if (!payloads) out.warnings.push_back("cannot list the shared blob store: " + payloads.error().message);
  for (const auto& p : payloads ? *payloads : std::vector<SharedPayload>{}) {
    struct stat st {};
    if (::lstat(p.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || reached.count({st.st_dev, st.st_ino})) continue;
    StoredFile f;
    f.path = p.path;
    detail::set_figures(f, st);
    out.files.push_back(std::move(f));
  }
  std::sort(out.files.begin(), out.files.end(), [](const StoredFile& a, const StoredFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace

std::unique_ptr<StoreReader> open_hub_cache(std::string cache_dir) {
  return std::make_unique<HubCacheReader>(std::move(cache_dir));
}

}  // namespace hubcache::stores

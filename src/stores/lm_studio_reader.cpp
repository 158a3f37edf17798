// The LM Studio reader: <publisher>/<model>/<files> below its models folder.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "hubcache/stores/store.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "store_internal.hpp"

namespace hubcache::stores {
namespace {

class LmStudioReader final : public detail::RootedReader {
 public:
  using RootedReader::RootedReader;
  StoreKind kind() const override { return StoreKind::LmStudio; }
  Result<StoreListing> list() const override;
};

Result<StoreListing> LmStudioReader::list() const {
  HUBCACHE_TRY_ASSIGN(StoreListing out, start_listing("LM Studio models folder"));
  auto visit = [&](const fs::FolderEntry& e) {
    StoredFile f;
    // <publisher>/<model>/<rest>: fewer than two folders and LM Studio does not index the file.
    const auto first = e.rel.find('/');
    const auto second = first == std::string::npos ? first : e.rel.find('/', first + 1);
    const std::string model = second == std::string::npos ? std::string() : e.rel.substr(0, second);
    if (!detail::describe_entry(f, e.path, e.lst)) {  // LM Studio follows a linked file
      detail::note_refused_entry(out, e.path, errno, model);
      return;
    }
    if (second != std::string::npos) {
      f.model = model;
      f.name = e.rel.substr(second + 1);
    }
    out.files.push_back(std::move(f));
  };
  auto on_error = [&](const std::string& path, int err, fs::WalkFailure failure) {
    out.warnings.push_back(std::string(fs::to_string(failure)) + " '" + path + "': " + std::strerror(err));
  };
  fs::walk_folder(m_root, nullptr, visit, on_error);
  std::sort(out.files.begin(), out.files.end(), [](const StoredFile& a, const StoredFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace

std::unique_ptr<StoreReader> open_lm_studio(std::string models_dir) {
  return std::make_unique<LmStudioReader>(std::move(models_dir));
}

}  // namespace hubcache::stores

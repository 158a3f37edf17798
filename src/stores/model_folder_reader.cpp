// The model folder reader: a `--local-dir` download, a git clone or a copied folder, with free
// identities from the local-dir records and git LFS object names.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "hubcache/cache/local_dir.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "store_internal.hpp"

namespace hubcache::stores {
namespace {

constexpr std::string_view k_lfs_objects = ".git/lfs/objects";

// Folders worth entering: all but git's internals (except the way down to its LFS objects) and
// huggingface_hub's bookkeeping (except the downloads' folder, where partial files live).
bool worth_entering(const std::string& rel) {
  if (detail::within(rel, ".git")) return detail::within(k_lfs_objects, rel) || detail::within(rel, k_lfs_objects);
  if (detail::within(rel, k_local_meta_dir))
    return detail::within(k_local_download_dir, rel) || detail::within(rel, k_local_download_dir);
  return true;
}

class ModelFolderReader final : public detail::RootedReader {
 public:
  using RootedReader::RootedReader;
  StoreKind kind() const override { return StoreKind::ModelFolder; }
  Result<StoreListing> list() const override;

 private:
  // The free identity of the file `rel` (content stat `st`) from its local-dir record, if current.
  void identity_from_record(StoredFile& f, const std::string& rel, const struct ::stat& st) const;
};

void ModelFolderReader::identity_from_record(StoredFile& f, const std::string& rel, const struct ::stat& st) const {
  const auto text = fs::read_file(LocalDirLayout(m_root).metadata_path(rel));
  if (!text) return;
  const auto record = parse_local_metadata(*text);
  const double mtime = static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9;
  if (!record || !local_metadata_is_current(*record, mtime)) return;
  f.digest = digest_kind_of(record->etag);
  if (f.digest != DigestKind::None) f.digest_hex = record->etag;
}

Result<StoreListing> ModelFolderReader::list() const {
  HUBCACHE_TRY_ASSIGN(StoreListing out, start_listing("model folder"));
  const std::string model = m_root.substr(m_root.rfind('/') + 1);
  const bool has_records = fs::is_dir(m_root + "/" + std::string(k_local_download_dir));

  auto enter = [](const std::string& rel, const std::string&) { return worth_entering(rel); };
  auto visit = [&](const fs::FolderEntry& e) {
    StoredFile f;
    f.model = model;
    if (detail::within(e.rel, ".git")) {
      if (!detail::within(e.rel, k_lfs_objects) || !S_ISREG(e.lst.st_mode)) return;
      f.path = e.path;
      detail::set_figures(f, e.lst);
      if (digest_kind_of(e.name) == DigestKind::Sha256) {
        f.digest = DigestKind::Sha256;
        f.digest_hex = e.name;
      }
      out.files.push_back(std::move(f));
      return;
    }
    if (detail::within(e.rel, k_local_meta_dir)) {  // only a download's temp file is content
      if (!std::string_view(e.name).ends_with(".incomplete") || !S_ISREG(e.lst.st_mode)) return;
      f.path = e.path;
      f.partial = true;
      detail::set_figures(f, e.lst);
      out.files.push_back(std::move(f));
      return;
    }
    if (!detail::describe_entry(f, e.path, e.lst)) {
      detail::note_refused_entry(out, e.path, errno, model);
      return;
    }
    f.name = e.rel;
    if (has_records) {
      struct stat st = e.lst;
      if (f.linked && ::stat(e.path.c_str(), &st) != 0) st = e.lst;
      identity_from_record(f, e.rel, st);
    }
    out.files.push_back(std::move(f));
  };
  auto on_error = [&](const std::string& path, int err, fs::WalkFailure failure) {
    out.warnings.push_back(std::string(fs::to_string(failure)) + " '" + path + "': " + std::strerror(err));
  };
  fs::walk_folder(m_root, enter, visit, on_error);
  std::sort(out.files.begin(), out.files.end(), [](const StoredFile& a, const StoredFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace

std::unique_ptr<StoreReader> open_model_folder(std::string folder) {
  return std::make_unique<ModelFolderReader>(std::move(folder));
}

}  // namespace hubcache::stores

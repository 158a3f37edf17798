#include "hubcache/cache/layout.hpp"

#include <fcntl.h>

#include <algorithm>
#include <filesystem>

#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache {

std::string repo_folder_name(const RepoRef& repo) {
  std::string out = std::string(plural(repo.type)) + "--";
  for (char c : repo.id) {
    if (c == '/')
      out += "--";
    else
      out += c;
  }
  return out;
}

std::optional<RepoRef> parse_repo_folder_name(std::string_view folder) {
  const auto sep = folder.find("--");
  if (sep == std::string_view::npos) return std::nullopt;
  auto type = parse_repo_type(folder.substr(0, sep));
  if (!type || folder.substr(0, sep).back() != 's') return std::nullopt;
  std::string id;
  std::string_view rest = folder.substr(sep + 2);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest.compare(i, 2, "--") == 0) {
      id += '/';
      ++i;
    } else {
      id += rest[i];
    }
  }
  return RepoRef{*type, id};
}

std::string pointer_target(std::string_view repo_path, std::string_view etag) {
  const auto depth = 2 + std::count(repo_path.begin(), repo_path.end(), '/');
  std::string out;
  for (long i = 0; i < depth; ++i) out += "../";
  out += k_blobs_dir;
  out += '/';
  out += etag;
  return out;
}

std::string_view cachedir_tag_content() {
  return "Signature: 8a477f597d28d172789f06886806bc55\n"
         "# This file is a cache directory tag created by huggingface_hub.\n"
         "# For information about cache directory tags, see:\n"
         "#\thttps://bford.info/cachedir/\n";
}

RepoLayout::RepoLayout(std::string cache_dir, RepoRef repo)
    : m_root(std::move(cache_dir)), m_repo(std::move(repo)), m_folder_name(repo_folder_name(m_repo)) {
  m_folder = fs::join(m_root, m_folder_name);
}

std::string repo_subpath(std::string_view repo_path, std::string_view dir, std::string_view name) {
  std::string out;
  out.reserve(repo_path.size() + dir.size() + name.size() + 2);
  out.append(repo_path).append("/").append(dir);
  if (!name.empty()) out.append("/").append(name);
  return out;
}

std::optional<RepoLayout> RepoLayout::of_folder(const std::string& folder) {
  const auto slash = folder.rfind('/');
  auto repo =
      parse_repo_folder_name(slash == std::string::npos ? std::string_view(folder) : std::string_view(folder).substr(slash + 1));
  if (!repo) return std::nullopt;
  RepoLayout layout(fs::parent(folder), std::move(*repo));
  if (layout.folder() != folder) return std::nullopt;  // e.g. a trailing '/', or "--" spelled oddly
  return layout;
}

std::string RepoLayout::blobs_dir() const { return m_folder + "/" + std::string(k_blobs_dir); }
std::string RepoLayout::blob_path(std::string_view etag) const { return blobs_dir() + "/" + std::string(etag); }
std::string RepoLayout::incomplete_path(std::string_view etag) const {
  return blob_path(etag) + std::string(k_incomplete_suffix);
}
std::string RepoLayout::refs_dir() const { return m_folder + "/" + std::string(k_refs_dir); }
std::string RepoLayout::ref_path(std::string_view revision) const { return refs_dir() + "/" + std::string(revision); }
std::string RepoLayout::snapshots_dir() const { return m_folder + "/" + std::string(k_snapshots_dir); }
std::string RepoLayout::snapshot_dir(std::string_view commit) const { return snapshots_dir() + "/" + std::string(commit); }
std::string RepoLayout::pointer_path(std::string_view commit, std::string_view path) const {
  return snapshot_dir(commit) + "/" + std::string(path);
}
std::string RepoLayout::no_exist_path(std::string_view commit, std::string_view path) const {
  return m_folder + "/" + std::string(k_no_exist_dir) + "/" + std::string(commit) + "/" + std::string(path);
}
std::string RepoLayout::trees_dir() const { return repo_subpath(m_folder, k_trees_dir); }
std::string RepoLayout::tree_path(std::string_view commit) const { return trees_dir() + "/" + std::string(commit) + ".json"; }
std::string RepoLayout::locks_dir() const { return fs::join(m_root, std::string(k_locks_dir) + "/" + m_folder_name); }
std::string RepoLayout::records_dir() const { return repo_subpath(m_folder, k_records_dir); }
std::string RepoLayout::use_record_path(std::string_view commit) const { return records_dir() + "/used/" + std::string(commit); }
std::string RepoLayout::pins_path() const { return records_dir() + "/pins"; }
std::string RepoLayout::lock_path(std::string_view etag) const { return locks_dir() + "/" + std::string(etag) + ".lock"; }

}  // namespace hubcache

namespace hubcache {

HubFolderKind classify_hub_folder(const std::string& dir) {
  namespace sfs = std::filesystem;
  HubFolderKind out;
  std::error_code ec;
  auto is_dir = [](const sfs::path& p) {
    std::error_code e;
    return sfs::is_directory(sfs::symlink_status(p, e));
  };
  const sfs::path path = sfs::path(dir).lexically_normal();
  const sfs::path self = path.has_filename() ? path : path.parent_path();
  if (is_dir(self / "blobs") && is_dir(self / "snapshots")) {
    out.kind = HubFolderKind::RepoFolder;
    out.repo = parse_repo_folder_name(self.filename().string());
    return out;
  }
  const sfs::path parent = self.parent_path();
  if (is_commit_hash(self.filename().string()) && parent.filename() == "snapshots" && is_dir(parent.parent_path() / "blobs")) {
    out.kind = HubFolderKind::SnapshotFolder;
    out.commit = self.filename().string();
    out.repo = parse_repo_folder_name(parent.parent_path().filename().string());
    return out;
  }
  for (const auto& e : sfs::directory_iterator(self, ec)) {
    if (!is_dir(e.path())) continue;
    const std::string name = e.path().filename().string();
    if (parse_repo_folder_name(name)) {
      out.kind = HubFolderKind::CacheRoot;
      return out;
    }
  }
  return out;
}

std::vector<RepoLayout> list_repo_layouts(const std::string& cache_dir) {
  std::vector<RepoLayout> out;
  fs::Fd root(::open(cache_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return out;
  fs::DirReader reader(root.get());
  const char* name = nullptr;
  unsigned char type = DT_UNKNOWN;
  while (reader.next(name, type))
    if (type == DT_DIR)
      if (auto layout = RepoLayout::of_folder(cache_dir + "/" + name)) out.push_back(std::move(*layout));
  return out;
}

}  // namespace hubcache

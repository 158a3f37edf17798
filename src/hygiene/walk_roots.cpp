#include "walk_roots.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/moved_repos.hpp"
#include "hubcache/manage/merge.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/dir_walk.hpp"

namespace hubcache::hygiene::detail {

bool is_skipped_folder_name(std::string_view name) {
  static constexpr std::array<std::string_view, 17> k_names = {
      ".git",    ".hg",     ".svn",        "node_modules",  "__pycache__", "site-packages", "dist-packages",
      ".tox",    ".nox",    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".npm",          ".cargo",
      ".rustup", ".gradle", ".m2"};
  return std::find(k_names.begin(), k_names.end(), name) != k_names.end();
}

namespace {

bool is_weights_name(std::string_view n) {
  for (std::string_view ext : {".safetensors", ".gguf", ".bin", ".pt", ".pth", ".onnx", ".h5", ".msgpack", ".ckpt"})
    if (n.ends_with(ext)) return true;
  return false;
}

struct Entry {
  std::string name;
  unsigned char type;
};

class Walker {
 public:
  Walker(int max_depth, bool cross, const std::set<std::pair<dev_t, ino_t>>& skip, WalkOutcome& out)
      : m_max_depth(max_depth), m_cross(cross), m_skip(skip), m_out(out) {}

  void walk(fs::Fd dir, const std::string& path, int depth) {
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) return;
    if (depth == 0) m_dev = st.st_dev;
    if (m_skip.count({st.st_dev, st.st_ino})) return;
    if (!m_cross && st.st_dev != m_dev) return;
    std::vector<Entry> entries;
    fs::DirReader reader(dir.get());
    const char* name = nullptr;
    unsigned char type = DT_UNKNOWN;
    while (reader.next(name, type)) {
      if (type == DT_UNKNOWN) {  // some filesystems do not give types
        struct stat est {};
        if (::fstatat(dir.get(), name, &est, AT_SYMLINK_NOFOLLOW) == 0)
          type = S_ISDIR(est.st_mode) ? DT_DIR : S_ISREG(est.st_mode) ? DT_REG : DT_LNK;
      }
      entries.push_back({name, type});
    }
    if (reader.error() != 0) m_out.warnings.push_back("cannot read folder '" + path + "': " + std::strerror(reader.error()));
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    const bool virtualenv = std::any_of(entries.begin(), entries.end(), [](const Entry& e) { return e.name == "pyvenv.cfg"; });
    if (virtualenv) return;
    if (auto kind = classify(dir.get(), path, entries)) {
      m_out.stores.push_back({*kind, path});
      return;
    }
    if (depth >= m_max_depth) return;
    for (const auto& e : entries) {
      if (e.type != DT_DIR || is_skipped_folder_name(e.name)) continue;
      fs::Fd sub = fs::open_dir_at(dir.get(), e.name.c_str());
      if (!sub.valid()) {
        if (errno != ELOOP && errno != ENOTDIR)
          m_out.warnings.push_back("cannot read folder '" + path + "/" + e.name + "': " + std::strerror(errno));
        continue;
      }
      walk(std::move(sub), path + "/" + e.name, depth + 1);
    }
  }

 private:
  // What store the folder is, by its listing (and one or two lookups below it).
  std::optional<stores::StoreKind> classify(int dirfd, const std::string& path, const std::vector<Entry>& entries) {
    // A project cache `migrate` moved aside after merging it, whose removal was cut short (maybe
    // after its last repo folder went): still a cache, so a rerun finishes removing it.
    if (is_retired_cache_path(path)) return stores::StoreKind::HubCache;
    bool manifests = false, blobs = false, dot_cache = false, config = false, weights = false, big_weights = false;
    for (const auto& e : entries) {
      const std::string_view n = e.name;
      if (e.type == DT_DIR) {
        if (parse_repo_folder_name(n)) {
          // An archive of `cache move --to` (homes of moved repos only) belongs to the cache that links to it.
          if (is_archive_of_homes(path)) return std::nullopt;
          return stores::StoreKind::HubCache;
        }
        manifests |= n == "manifests";
        blobs |= n == "blobs";
        dot_cache |= n == ".cache";
        continue;
      }
      if (n.starts_with("manifest=") && n.ends_with(".json") && std::count(n.begin(), n.end(), '=') == 3)
        return stores::StoreKind::LlamaCpp;
      if (n.size() > 69 && n.ends_with(".json") && digest_kind_of(n.substr(0, 64)) == DigestKind::Sha256)
        return stores::StoreKind::DatasetsDownloads;
      config |= n == "config.json" || n == "model_index.json";
      weights |= is_weights_name(n);
      big_weights |= n.ends_with(".gguf") || n.ends_with(".safetensors");
    }
    if (manifests && blobs) return stores::StoreKind::Ollama;
    const auto slash = path.find_last_of('/');
    if (path.compare(slash + 1, std::string::npos, "models") == 0) {
      struct stat st {};
      const std::string home = path.substr(0, slash);
      if (::stat((home + "/.internal").c_str(), &st) == 0 || ::stat((home + "/settings.json").c_str(), &st) == 0)
        return stores::StoreKind::LmStudio;
    }
    struct stat st {};
    if (dot_cache && ::fstatat(dirfd, ".cache/huggingface/download", &st, 0) == 0 && S_ISDIR(st.st_mode))
      return stores::StoreKind::ModelFolder;
    if (big_weights || (config && weights)) return stores::StoreKind::ModelFolder;
    return std::nullopt;
  }

  int m_max_depth;
  bool m_cross;
  const std::set<std::pair<dev_t, ino_t>>& m_skip;
  WalkOutcome& m_out;
  dev_t m_dev = 0;
};

}  // namespace

WalkOutcome walk_for_stores(const std::string& root, int max_depth, bool cross_filesystems,
                            const std::set<std::pair<dev_t, ino_t>>& skip) {
  WalkOutcome out;
  fs::Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    out.warnings.push_back("cannot read folder '" + root + "': " + std::strerror(errno));
    return out;
  }
  Walker(max_depth, cross_filesystems, skip, out).walk(std::move(dir), root, 0);
  return out;
}

}  // namespace hubcache::hygiene::detail

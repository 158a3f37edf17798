#include "hubcache/stores/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <cstring>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/local_dir.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"
#include "store_internal.hpp"

namespace hubcache::stores {

const char* to_string(StoreKind kind) {
  switch (kind) {
    case StoreKind::HubCache:
      return "hub-cache";
    case StoreKind::Ollama:
      return "ollama";
    case StoreKind::ModelFolder:
      return "model-folder";
    case StoreKind::LmStudio:
      return "lm-studio";
    case StoreKind::LlamaCpp:
      return "llama-cpp";
    case StoreKind::DatasetsDownloads:
      return "datasets-downloads";
  }
  return "unknown";
}

namespace detail {

Result<void> check_root(const std::string& root, const char* what) {
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return fail(ErrorCode::NotFound, std::string("no ") + what + " at '" + root + "'", root);
    return fail(errno_error(err, std::string("cannot examine the ") + what, root));
  }
  if (S_ISLNK(st.st_mode))
    return fail(ErrorCode::InvalidArgument,
                std::string("the ") + what + " '" + root + "' is a symlink: give the folder it points to", root);
  if (!S_ISDIR(st.st_mode))
    return fail(ErrorCode::InvalidArgument, std::string("the ") + what + " '" + root + "' is not a folder", root);
  return {};
}

void set_figures(StoredFile& f, const struct ::stat& st) {
  f.size = static_cast<std::uint64_t>(st.st_size);
  f.disk_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512u;
  f.device = st.st_dev;
  f.inode = st.st_ino;
  f.links = st.st_nlink;
}

bool describe_entry(StoredFile& f, const std::string& path, const struct ::stat& lst) {
  f.path = path;
  if (S_ISREG(lst.st_mode)) {
    set_figures(f, lst);
    return true;
  }
  if (!S_ISLNK(lst.st_mode)) {  // a fifo, socket or device: never a model file
    errno = ENOTSUP;
    return false;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  if (!S_ISREG(st.st_mode)) {
    errno = EISDIR;
    return false;
  }
  f.linked = true;
  set_figures(f, st);
  return true;
}

std::string entry_warning(const std::string& path, int err) {
  if (err == ENOTSUP) return "skipped '" + path + "': not a regular file";
  return "skipped '" + path + "': a link whose target " +
         (err == EISDIR ? std::string("is not a file") : "cannot be read: " + std::string(std::strerror(err)));
}

void note_refused_entry(StoreListing& out, const std::string& path, int err, const std::string& model) {
  if (err == EISDIR) return;
  std::error_code ec;
  const auto target = err == ENOENT ? std::filesystem::read_symlink(path, ec) : std::filesystem::path();
  if (err == ENOENT && !ec)
    out.dangling.push_back({path, model, target.string()});
  else
    out.warnings.push_back(entry_warning(path, err));
}

Result<StoreListing> RootedReader::start_listing(const char* what) const {
  HUBCACHE_TRY(check_root(m_root, what));
  StoreListing out;
  out.kind = kind();
  out.root = m_root;
  return out;
}

}  // namespace detail

std::unique_ptr<StoreReader> open_store(StoreKind kind, std::string root) {
  switch (kind) {
    case StoreKind::HubCache:
      return open_hub_cache(std::move(root));
    case StoreKind::Ollama:
      return open_ollama(std::move(root));
    case StoreKind::ModelFolder:
      return open_model_folder(std::move(root));
    case StoreKind::LmStudio:
      return open_lm_studio(std::move(root));
    case StoreKind::LlamaCpp:
      return open_llama_cpp(std::move(root));
    case StoreKind::DatasetsDownloads:
      return open_datasets_downloads(std::move(root));
  }
  return nullptr;
}

namespace {

bool is_real_dir(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_regular(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// What the top level of `path` holds that tells a store: llama.cpp manifests, datasets sidecars,
// a model folder's files. One listing, no recursion.
struct TopLevel {
  bool llama_manifest = false, datasets_sidecar = false, model_file = false;
};

TopLevel read_top_level(const std::string& path) {
  TopLevel t;
  fs::walk_folder(
      path, [](const std::string&, const std::string&) { return false; },
      [&](const fs::FolderEntry& e) {
        if (!S_ISREG(e.lst.st_mode)) return;
        const std::string_view n = e.name;
        if (n.starts_with("manifest=") && n.ends_with(".json") && std::count(n.begin(), n.end(), '=') == 3)
          t.llama_manifest = true;
        if (n.size() > 69 && n.ends_with(".json") && digest_kind_of(n.substr(0, 64)) == DigestKind::Sha256)
          t.datasets_sidecar = true;
        if (n == "config.json" || n == "model_index.json" || n.ends_with(".gguf") || n.ends_with(".safetensors"))
          t.model_file = true;
      },
      [](const std::string&, int, fs::WalkFailure) {});
  return t;
}

// An LM Studio home: its internal folder or its settings beside `models/`.
bool is_lm_studio_models(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos || path.substr(slash + 1) != "models") return false;
  const std::string home = path.substr(0, slash);
  return is_real_dir(home + "/.internal") || is_regular(home + "/settings.json");
}

}  // namespace

Result<std::vector<StoreKind>> detect_stores(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(errno_error(errno, "cannot use", path));
  if (!S_ISDIR(st.st_mode)) return fail(ErrorCode::InvalidArgument, "'" + path + "' is not a folder", path);
  if (::access(path.c_str(), R_OK | X_OK) != 0) return fail(errno_error(errno, "cannot read the folder", path));
  std::vector<StoreKind> kinds;
  const TopLevel top = read_top_level(path);
  if (classify_hub_folder(path).kind == HubFolderKind::CacheRoot) kinds.push_back(StoreKind::HubCache);
  if (is_real_dir(path + "/manifests") && is_real_dir(path + "/blobs")) kinds.push_back(StoreKind::Ollama);
  if (top.llama_manifest) kinds.push_back(StoreKind::LlamaCpp);
  if (top.datasets_sidecar) kinds.push_back(StoreKind::DatasetsDownloads);
  if (is_lm_studio_models(path)) kinds.push_back(StoreKind::LmStudio);
  if (kinds.empty() && (top.model_file || is_real_dir(path + "/" + std::string(k_local_download_dir))))
    kinds.push_back(StoreKind::ModelFolder);
  if (kinds.empty())
    return fail(ErrorCode::InvalidArgument,
                "'" + path +
                    "' is not a model store hubcache knows: no models--*/datasets--* folder (Hub cache), no manifests/ and "
                    "blobs/ (Ollama), no manifest=*.json (llama.cpp), no <sha256>.json sidecar (datasets downloads), no LM "
                    "Studio home around it, and no config.json, *.safetensors, *.gguf or .cache/huggingface/download (model "
                    "folder)",
                path);
  return kinds;
}

std::string lm_studio_models_folder(const std::string& home) {
  if (home.empty()) return {};
  std::string lms_home;
  if (auto pointer = fs::read_file(home + "/.lmstudio-home-pointer", 1u << 16)) lms_home = std::string(trim(*pointer));
  if (lms_home.empty()) lms_home = is_real_dir(home + "/.cache/lm-studio") ? home + "/.cache/lm-studio" : home + "/.lmstudio";
  if (auto settings = fs::read_file(lms_home + "/settings.json", 4u << 20)) {
    const auto j = nlohmann::json::parse(*settings, nullptr, false);
    if (j.is_object() && j.contains("downloadsFolder") && j["downloadsFolder"].is_string() &&
        !j["downloadsFolder"].get<std::string>().empty())
      return j["downloadsFolder"].get<std::string>();
  }
  return lms_home + "/models";
}

std::string llama_cpp_cache_folder(const std::string& llama_cache, const std::string& xdg_cache_home, const std::string& home) {
  if (!llama_cache.empty()) return llama_cache;
  if (!xdg_cache_home.empty()) return xdg_cache_home + "/llama.cpp";
  if (!home.empty()) return home + "/.cache/llama.cpp";
  return {};
}

std::string datasets_downloads_folder(const std::string& datasets_cache, const std::string& hf_home) {
  if (!datasets_cache.empty()) return datasets_cache + "/downloads";
  if (!hf_home.empty()) return hf_home + "/datasets/downloads";
  return {};
}

std::vector<std::string> ollama_models_candidates(const std::string& ollama_models, const std::string& home) {
  std::vector<std::string> out;
  if (!ollama_models.empty())
    out.push_back(ollama_models);
  else if (!home.empty())
    out.push_back(home + "/.ollama/models");
  out.emplace_back("/usr/share/ollama/.ollama/models");
  return out;
}

std::string ollama_model_name(const std::string& host, const std::string& ns, const std::string& model, const std::string& tag) {
  const std::string name_tag = model + ":" + tag;
  if (host == "registry.ollama.ai") return ns == "library" ? name_tag : ns + "/" + name_tag;
  return host + "/" + ns + "/" + name_tag;
}

}  // namespace hubcache::stores

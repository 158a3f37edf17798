#include "hubcache/stores/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "hubcache/cache/layout.hpp"
#include "store_internal.hpp"

namespace hubcache::stores {

const char* to_string(StoreKind kind) {
  switch (kind) {
    case StoreKind::HubCache:
      return "hub-cache";
    case StoreKind::Ollama:
      return "ollama";
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
  }
  return nullptr;
}

namespace {

bool is_real_dir(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Result<StoreKind> detect_store(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(errno_error(errno, "cannot use", path));
  if (!S_ISDIR(st.st_mode)) return fail(ErrorCode::InvalidArgument, "'" + path + "' is not a folder", path);
  if (::access(path.c_str(), R_OK | X_OK) != 0) return fail(errno_error(errno, "cannot read the folder", path));
  if (classify_hub_folder(path).kind == HubFolderKind::CacheRoot) return StoreKind::HubCache;
  if (is_real_dir(path + "/manifests") && is_real_dir(path + "/blobs")) return StoreKind::Ollama;
  return fail(ErrorCode::InvalidArgument,
              "'" + path +
                  "' is neither a Hub cache (no models--*, datasets--*, spaces--* or kernels--* folder in it) nor an Ollama "
                  "models folder (no manifests/ and blobs/ folders)",
              path);
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

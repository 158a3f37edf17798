#include "hubcache/hygiene/ollama_import.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/core/repo_id.hpp"
#include "hubcache/stores/ollama_format.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::hygiene {
namespace {

// `path`, or its nearest existing parent: where a folder still to be made would live.

Result<void> check_store(const std::string& models) {
  for (const char* sub : {"/manifests", "/blobs"})
    if (!fs::is_dir(models + sub))
      return fail(ErrorCode::NotFound,
                  "'" + models + "' is not an Ollama models folder (no " + std::string(sub + 1) +
                      "/ folder): give the folder Ollama keeps its models in (OLLAMA_MODELS)",
                  models);
  return {};
}

// The layer's blob, checked against the manifest's size (the SHA-256 is checked by the import).
Result<std::string> layer_blob(const std::string& models, const stores::OllamaLayer& layer, const std::string& manifest,
                               bool copy) {
  std::string blob = stores::ollama_blob_path(models, layer.sha256_hex);
  struct stat st {};
  // Ollama before 0.1.30 named blobs "sha256:<hex>"; it still reads that name.
  if (const std::string old = models + "/blobs/sha256:" + layer.sha256_hex;
      ::stat(blob.c_str(), &st) != 0 && errno == ENOENT && ::stat(old.c_str(), &st) == 0)
    blob = old;
  if (::stat(blob.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return fail(ErrorCode::NotFound,
                  "the manifest '" + manifest + "' names the blob '" + blob +
                      "', which is missing: `ollama pull` the model again, then import it",
                  blob);
    return fail(errno_error(errno, "cannot read Ollama's blob", blob));
  }
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::InvalidArgument, "Ollama's blob '" + blob + "' is not a regular file", blob);
  if (static_cast<std::uint64_t>(st.st_size) != layer.size)
    return fail(ErrorCode::Integrity,
                "Ollama's blob '" + blob + "' holds " + std::to_string(st.st_size) + " bytes, its manifest says " +
                    std::to_string(layer.size) + ": Ollama never rechecks a blob it has; `ollama pull` the model again",
                blob);
  // fs.protected_hardlinks: only the owner, or whoever may read and write the file, may hardlink
  // it; otherwise the link would silently become a full copy.
  if (!copy && ::geteuid() != 0 && st.st_uid != ::geteuid() && ::access(blob.c_str(), R_OK | W_OK) != 0)
    return fail(ErrorCode::PermissionDenied,
                "the kernel lets only the owner (uid " + std::to_string(st.st_uid) + ") hardlink Ollama's blob '" + blob +
                    "' (fs.protected_hardlinks): run the import as that user or as root, or copy the bytes (--copy)",
                blob);
  return blob;
}

// "<commit>/<path>" of each snapshot entry of `layout` that is a symlink to blob `digest`.
std::vector<std::string> snapshot_entries_of(const RepoLayout& layout, const std::string& digest) {
  std::vector<std::string> out;
  fs::walk_folder(
      layout.snapshots_dir(), nullptr,
      [&](const fs::FolderEntry& e) {
        if (!S_ISLNK(e.lst.st_mode)) return;
        std::error_code ec;
        const std::string target = std::filesystem::read_symlink(e.path, ec).string();
        if (!ec && (target == digest || target.ends_with("/" + digest))) out.push_back(e.rel);
      },
      [](const std::string&, int, fs::WalkFailure) {});
  return out;
}

}  // namespace

Result<OllamaImportPlan> plan_ollama_import(const OllamaImportRequest& r) {
  HUBCACHE_TRY_ASSIGN(auto name, stores::parse_ollama_name(r.name));
  HUBCACHE_TRY(check_store(r.models_dir));
  OllamaImportPlan out;
  out.model = stores::ollama_model_name(name.host, name.ns, name.model, name.tag);
  out.manifest = stores::ollama_manifest_path(r.models_dir, name);
  auto text = fs::read_file(out.manifest, 4u << 20);
  if (!text) {
    if (text.error().code == ErrorCode::NotFound)
      return fail(
          ErrorCode::NotFound,
          "Ollama has no model named " + out.model + " (no manifest '" + out.manifest + "'); `ollama list` shows the names",
          out.manifest);
    return fail(text.error());
  }
  auto manifest = stores::parse_ollama_manifest(*text);
  if (!manifest)
    return fail(ErrorCode::InvalidArgument, "'" + out.manifest + "' is " + manifest.error().message + ": nothing was imported",
                out.manifest);

  std::vector<const stores::OllamaLayer*> weights, projectors;
  for (const auto& l : manifest->layers) {
    if (l.media_type == stores::k_ollama_model_media_type)
      weights.push_back(&l);
    else if (l.media_type == stores::k_ollama_projector_media_type)
      projectors.push_back(&l);
    else
      out.left_out.push_back(l.media_type);
  }
  if (weights.size() != 1)
    return fail(ErrorCode::InvalidArgument,
                out.model + "'s manifest has " + std::to_string(weights.size()) +
                    " weights layers (application/vnd.ollama.image.model); import takes a model of one GGUF",
                out.manifest);
  if (projectors.size() > 1)
    return fail(ErrorCode::InvalidArgument,
                out.model + "'s manifest has " + std::to_string(projectors.size()) + " projector layers; import takes one",
                out.manifest);

  ImportOptions io = r.import;
  io.source_dir = fs::absolute_real(r.models_dir + "/blobs");
  io.mode = r.copy ? ImportMode::Copy : ImportMode::Link;
  const std::string file = r.file.empty() ? name.model + "-" + name.tag + ".gguf" : r.file;
  HUBCACHE_TRY_ASSIGN(auto weights_blob, layer_blob(r.models_dir, *weights.front(), out.manifest, r.copy));
  io.files.push_back({file, weights_blob, true});  // named by its SHA-256, as Ollama names it
  if (!projectors.empty()) {
    HUBCACHE_TRY_ASSIGN(auto projector_blob, layer_blob(r.models_dir, *projectors.front(), out.manifest, r.copy));
    const auto slash = file.rfind('/');
    const std::string folder = slash == std::string::npos ? "" : file.substr(0, slash + 1);
    io.files.push_back({folder + "mmproj-" + file.substr(folder.size()), projector_blob, true});
  }

  // Refusals that need no hashing come first.
  if (io.cache_dir.empty()) return fail(ErrorCode::InvalidArgument, "no cache directory given");
  const std::string cache_base = fs::nearest_existing(fs::absolute_real(io.cache_dir));
  struct stat cache_st {
  }, blobs_st{};
  if (::stat(cache_base.c_str(), &cache_st) != 0 || ::stat(io.source_dir.c_str(), &blobs_st) != 0)
    return fail(errno_error(errno, "cannot read", cache_base));
  if (cache_st.st_dev != blobs_st.st_dev && !r.copy)
    return fail(ErrorCode::InvalidArgument,
                "Ollama's store ('" + r.models_dir + "') is on another filesystem than the cache ('" + io.cache_dir +
                    "'): a link cannot cross filesystems. Copy the " + format_size(static_cast<double>(weights.front()->size)) +
                    " instead (--copy), or put the cache on Ollama's filesystem. Nothing was changed.",
                r.models_dir);

  // Already cached: the snapshot the revision names links every layer's blob (the model came from
  // this cache by `ollama link`, or was imported before), under the names given if any, and no
  // commit or ref move was asked for.
  const RepoLayout layout(fs::absolute_real(io.cache_dir), io.repo);
  std::optional<std::string> at = is_commit_hash(io.revision) ? std::optional<std::string>(io.revision) : std::nullopt;
  if (!at)
    if (auto ref = read_ref(layout, io.revision); ref && ref->has_value()) at = **ref;
  std::vector<std::string> where;
  if (at && !io.force && !io.commit)
    for (const auto& named : io.files) {
      const auto* layer = named.path == file ? weights.front() : projectors.front();
      const std::size_t before = where.size();
      for (auto& entry : snapshot_entries_of(layout, layer->sha256_hex))
        if (entry.rfind(*at + "/", 0) == 0 && (r.file.empty() || entry == *at + "/" + named.path)) {
          where.push_back(std::move(entry));
          break;
        }
      if (where.size() == before) {
        where.clear();
        break;
      }
    }
  if (!where.empty()) {
    out.already_cached = std::move(where);
    out.import.options = io;
    out.import.options.cache_dir = layout.cache_dir();
    out.import.repo_folder = layout.folder();
    out.import.commit = *at;
    out.import.same_filesystem = cache_st.st_dev == blobs_st.st_dev;
    out.import.mode = r.copy ? ImportMode::Copy : ImportMode::Link;
    return out;
  }
  if (::access(cache_base.c_str(), W_OK) != 0) return fail(errno_error(errno, "cannot write into the cache", cache_base));

  HUBCACHE_TRY_ASSIGN(out.import, plan_import(io));
  for (const auto& f : out.import.files) {
    const auto* layer = f.path == file ? weights.front() : projectors.front();
    if (f.blob != layer->sha256_hex)
      return fail(ErrorCode::Integrity,
                  "Ollama's blob '" + f.source + "' does not hold the bytes its digest names (SHA-256 " + f.blob +
                      "): Ollama never rechecks a blob it has; `ollama pull` the model again. Nothing was imported.",
                  f.source);
  }
  return out;
}

}  // namespace hubcache::hygiene

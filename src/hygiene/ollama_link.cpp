#include "hubcache/hygiene/ollama_link.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "hubcache/stores/ollama_format.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "link_file.hpp"

namespace hubcache::hygiene {
namespace {

Result<void> check_store(const std::string& models) {
  for (const char* sub : {"/manifests", "/blobs"}) {
    struct stat st {};
    if (::stat((models + sub).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return fail(ErrorCode::NotFound,
                  "'" + models + "' is not an Ollama models folder (no " + std::string(sub + 1) +
                      "/ folder): run Ollama once, or set OLLAMA_MODELS to its folder",
                  models);
    if (::access((models + sub).c_str(), W_OK) != 0)
      return fail(errno_error(errno, "cannot write into Ollama's store", models + sub));
  }
  // Every manifest must be one this tool knows (manifests/*/*/*/*, schemaVersion 2).
  std::string unknown;
  fs::walk_folder(
      models + "/manifests",
      [](const std::string& rel, const std::string&) { return std::count(rel.begin(), rel.end(), '/') < 3; },
      [&](const fs::FolderEntry& e) {
        if (!unknown.empty() || std::count(e.rel.begin(), e.rel.end(), '/') != 3 || !S_ISREG(e.lst.st_mode)) return;
        auto text = fs::read_file(e.path, 4u << 20);
        const auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
        if (!j.is_object() || j.value("schemaVersion", 0) != 2) unknown = e.path;
      },
      [](const std::string&, int, fs::WalkFailure) {});
  if (!unknown.empty())
    return fail(ErrorCode::InvalidArgument,
                "'" + unknown + "' is not a manifest format this version knows (schemaVersion 2 JSON): nothing was written",
                unknown);
  return {};
}

// The blob for `f`: a link of the cache's file (reflink, else hardlink) under its digest name.
Result<void> place_blob(const std::string& models, const OllamaLinkFile& f, const struct stat& blobs_dir, OllamaLinkReport& out) {
  struct stat src {};
  if (::stat(f.path.c_str(), &src) != 0) return fail(errno_error(errno, "cannot read the cached file", f.path));
  const std::string blob = stores::ollama_blob_path(models, f.sha256);
  struct stat existing {};
  if (::stat(blob.c_str(), &existing) == 0) {
    if (existing.st_dev == src.st_dev && existing.st_ino == src.st_ino)
      ++out.blobs_present;
    else
      ++out.blobs_separate;
    return {};
  }
  if (src.st_dev != blobs_dir.st_dev)
    return fail(ErrorCode::InvalidArgument,
                "Ollama's store ('" + models + "') is on another filesystem than the cache ('" + f.path +
                    "'): a link cannot cross filesystems (and a symlink into a home folder is unreadable to Ollama's service "
                    "user); move one of them, or let Ollama pull its own copy",
                models);
  const bool readable = blobs_dir.st_uid == 0 || (src.st_uid == blobs_dir.st_uid && (src.st_mode & S_IRUSR)) ||
                        (src.st_gid == blobs_dir.st_gid && (src.st_mode & S_IRGRP)) || (src.st_mode & S_IROTH);
  if (!readable)
    return fail(ErrorCode::PermissionDenied,
                "Ollama's service user (uid " + std::to_string(blobs_dir.st_uid) + ") could not read '" + f.path +
                    "': make it readable (chmod o+r) first",
                f.path);
  auto h = hash_file(f.path, HashWhat::Sha256);
  if (!h) return fail(h.error());
  if (h->sha256 != f.sha256)
    return fail(ErrorCode::Integrity,
                "'" + f.path + "' does not hold the bytes its name says (SHA-256 " + h->sha256 +
                    "): Ollama never checks a blob it finds, so it is not linked; run `hubcache cache verify`",
                f.path);
  const std::string temp = models + "/blobs/sha256-" + f.sha256 + "-hubcache-" + fs::random_hex(8) + ".tmp";
  int err = detail::clone_file(f.path, temp, nullptr);
  if (err && detail::no_reflink_here(err)) err = ::link(f.path.c_str(), temp.c_str()) == 0 ? 0 : errno;
  if (err) return fail(errno_error(err, "cannot link the cached file into Ollama's store", blob));
  if (::rename(temp.c_str(), blob.c_str()) != 0) {
    const int e = errno;
    ::unlink(temp.c_str());
    return fail(errno_error(e, "cannot place the blob", blob));
  }
  ++out.blobs_linked;
  return {};
}

std::string platform_arch() {
  struct utsname u {};
  if (::uname(&u) != 0) return "amd64";
  const std::string m = u.machine;
  return m == "x86_64" ? "amd64" : m == "aarch64" ? "arm64" : m;
}

}  // namespace

Result<OllamaLinkReport> ollama_link(const OllamaLinkRequest& r) {
  HUBCACHE_TRY_ASSIGN(auto name, stores::parse_ollama_name(r.name));
  HUBCACHE_TRY(check_store(r.models_dir));
  OllamaLinkReport out;
  out.manifest = stores::ollama_manifest_path(r.models_dir, name);
  out.model = stores::ollama_model_name(name.host, name.ns, name.model, name.tag);
  // The manifest this writes, to compare with one already there.
  const std::string config = stores::ollama_gguf_config_json("linux", platform_arch());
  const std::string config_sha = sha256_hex(config);
  std::vector<stores::OllamaLayer> layers;
  struct stat st {};
  for (const auto* f : {&r.model, r.projector ? &*r.projector : nullptr}) {
    if (!f) continue;
    if (::stat(f->path.c_str(), &st) != 0) return fail(errno_error(errno, "cannot read the cached file", f->path));
    layers.push_back({std::string(f == &r.model ? stores::k_ollama_model_media_type : stores::k_ollama_projector_media_type),
                      f->sha256, static_cast<std::uint64_t>(st.st_size)});
  }
  const std::string manifest =
      stores::ollama_manifest_json({"application/vnd.docker.container.image.v1+json", config_sha, config.size()}, layers);
  auto present = fs::read_file(out.manifest, 4u << 20);
  if (present && *present != manifest && !r.force)
    return fail(
        ErrorCode::Conflict,
        "Ollama already has a model named " + out.model + " ('" + out.manifest + "'): choose another name, or replace it (force)",
        out.manifest);
  struct stat blobs {};
  if (::stat((r.models_dir + "/blobs").c_str(), &blobs) != 0)
    return fail(errno_error(errno, "cannot read Ollama's store", r.models_dir + "/blobs"));
  HUBCACHE_TRY(place_blob(r.models_dir, r.model, blobs, out));
  if (r.projector) HUBCACHE_TRY(place_blob(r.models_dir, *r.projector, blobs, out));
  const std::string config_blob = stores::ollama_blob_path(r.models_dir, config_sha);
  if (::lstat(config_blob.c_str(), &st) != 0) HUBCACHE_TRY(fs::write_file_atomic(config_blob, config));
  if (present && *present == manifest) return out;
  std::error_code ec;
  std::filesystem::create_directories(out.manifest.substr(0, out.manifest.rfind('/')), ec);
  if (ec) return fail(errno_error(ec.value(), "cannot create the manifest's folder", out.manifest));
  HUBCACHE_TRY(fs::write_file_atomic(out.manifest, manifest));
  out.manifest_written = true;
  return out;
}

}  // namespace hubcache::hygiene

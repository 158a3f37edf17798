// The OCI bundle: an image layout folder, one ModelPack manifest per locked repo, one raw layer per
// file. An LFS file's layer digest is its blob name; a small file's SHA-256 is computed here.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "bundle_internal.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/util/hash.hpp"
#include "oci_format.hpp"

namespace hubcache::bundle::detail {
namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

class LayoutWriter {
 public:
  explicit LayoutWriter(std::string dir) : m_dir(std::move(dir)) {}
  const std::string& dir() const { return m_dir; }
  /// Writes bytes as blobs/sha256/<digest>; returns the descriptor digest "sha256:<hex>".
  Result<std::string> put(std::string_view data) {
    const std::string hex = sha256_hex(data);
    const std::string path = m_dir + "/blobs/sha256/" + hex;
    if (!fs::is_file(path)) HUBCACHE_TRY(fs::write_file_atomic(path, data, 0644));
    return "sha256:" + hex;
  }
  /// Copies a cache blob (verified against its name) into blobs/sha256/; returns its SHA-256.
  Result<std::string> put_blob(const std::string& source, const std::string& name, std::uint64_t size) {
    const bool lfs = name.size() == 64;
    if (lfs && m_have.count(name)) return name;
    const std::string tmp = m_dir + "/blobs/sha256/." + fs::random_hex(8) + ".tmp";
    fs::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) return fail(errno_error(errno, "cannot write", tmp));
    std::string sha256;
    auto copied = copy_verified_blob(
        source, name, size,
        [&](const char* data, std::size_t n) { return fs::write_all(fd.get(), std::string_view(data, n), tmp); }, &sha256);
    if (copied && ::fsync(fd.get()) != 0) copied = fail(errno_error(errno, "cannot write", tmp));
    fd.reset();
    if (!copied || m_have.count(sha256)) {
      ::unlink(tmp.c_str());
      if (!copied) return fail(std::move(copied).error());
      return sha256;
    }
    if (::rename(tmp.c_str(), (m_dir + "/blobs/sha256/" + sha256).c_str()) != 0)
      return fail(errno_error(errno, "cannot write", m_dir + "/blobs/sha256/" + sha256));
    m_have.insert(sha256);
    return sha256;
  }

 private:
  std::string m_dir;
  std::set<std::string> m_have;
};

}  // namespace

const char* layer_media_type(const RepoRef& repo, const std::string& path) {
  const std::string name = lower(path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1));
  auto ends = [&](std::initializer_list<const char*> suffixes) {
    for (const char* s : suffixes)
      if (name.ends_with(s)) return true;
    return false;
  };
  if (repo.type == RepoType::Dataset) return k_media_dataset;
  if (ends({".safetensors", ".bin", ".gguf", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".msgpack", ".pb", ".tflite", ".mlmodel",
            ".npz", ".nemo"}))
    return k_media_weight;
  if (ends({".md", ".txt", ".rst", ".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg"}) || name.starts_with("license") ||
      name.starts_with("notice") || name.starts_with("readme"))
    return k_media_doc;
  if (ends({".py", ".sh", ".ipynb", ".js", ".ts", ".cpp", ".c", ".h", ".cu", ".rs", ".go"})) return k_media_code;
  return k_media_weight_config;
}

Result<CreateReport> write_oci(const CreateOptions& options, const std::vector<BundleRepo>& repos) {
  struct stat st {};
  if (::lstat(options.output.c_str(), &st) == 0)
    return fail(ErrorCode::InvalidArgument, "'" + options.output + "' already exists: an OCI bundle is written to a new folder",
                options.output);
  const std::string tmp = options.output + ".tmp-" + fs::random_hex(8);
  HUBCACHE_TRY(fs::make_dirs(tmp + "/blobs/sha256"));
  auto built = [&]() -> Result<CreateReport> {
    CreateReport report;
    LayoutWriter out(tmp);
    nlohmann::json manifests = nlohmann::json::array();
    for (const auto& r : repos) {
      ++report.repos;
      std::map<std::string, std::string> sha_of;  // blob name -> SHA-256
      for (const auto& [name, size] : r.blobs) {
        HUBCACHE_TRY_ASSIGN(sha_of[name], out.put_blob(options.cache_dir + "/" + r.folder + "/blobs/" + name, name, size));
        ++report.blobs;
        report.bytes += size;
      }
      for (const auto& [commit, files] : r.snapshots) {
        nlohmann::json layers = nlohmann::json::array(), diff_ids = nlohmann::json::array();
        for (const auto& [path, f] : files) {
          const std::string digest = "sha256:" + sha_of.at(f.blob_name());
          nlohmann::json ann = {{k_ann_filepath, path}, {k_ann_git_oid, f.git_oid}};
          if (f.lfs_sha256) ann[k_ann_lfs] = "true";
          layers.push_back(
              {{"mediaType", layer_media_type(r.repo, path)}, {"digest", digest}, {"size", f.size}, {"annotations", ann}});
          diff_ids.push_back(digest);
          ++report.files;
        }
        std::string revision = commit;
        for (const auto& [ref, c] : r.refs)
          if (c == commit) revision = ref;
        const nlohmann::json config = {
            {"descriptor",
             {{"name", r.repo.id},
              {"sourceURL", options.lock.endpoint + "/" + std::string(url_prefix(r.repo.type)) + r.repo.id},
              {"revision", commit}}},
            {"config", nlohmann::json::object()},
            {"modelfs", {{"type", "layers"}, {"diffIds", diff_ids}}}};
        const std::string config_text = config.dump();
        HUBCACHE_TRY_ASSIGN(const std::string config_digest, out.put(config_text));
        const nlohmann::json manifest = {
            {"schemaVersion", 2},
            {"mediaType", k_media_manifest},
            {"artifactType", k_artifact_model},
            {"config", {{"mediaType", k_media_config}, {"digest", config_digest}, {"size", config_text.size()}}},
            {"layers", layers},
            {"annotations",
             {{k_ann_repo_type, to_string(r.repo.type)},
              {k_ann_repo_id, r.repo.id},
              {k_ann_commit, commit},
              {"org.opencontainers.image.revision", commit},
              {"org.opencontainers.image.source",
               options.lock.endpoint + "/" + std::string(url_prefix(r.repo.type)) + r.repo.id}}}};
        const std::string manifest_text = manifest.dump();
        HUBCACHE_TRY_ASSIGN(const std::string manifest_digest, out.put(manifest_text));
        manifests.push_back({{"mediaType", k_media_manifest},
                             {"artifactType", k_artifact_model},
                             {"digest", manifest_digest},
                             {"size", manifest_text.size()},
                             {"annotations", {{"org.opencontainers.image.ref.name", r.repo.id + ":" + revision}}}});
      }
    }
    const nlohmann::json index = {{"schemaVersion", 2},
                                  {"mediaType", k_media_index},
                                  {"manifests", manifests},
                                  {"annotations", {{k_ann_lock, lock::serialize_lockfile(options.lock)}}}};
    HUBCACHE_TRY(fs::write_file_atomic(tmp + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})", 0644));
    HUBCACHE_TRY(fs::write_file_atomic(tmp + "/index.json", index.dump(2) + "\n", 0644));
    return report;
  }();
  if (built && ::rename(tmp.c_str(), options.output.c_str()) != 0)
    built = fail(errno_error(errno, "cannot rename the OCI layout into place", options.output));
  if (!built) (void)fs::remove_all(tmp);
  return built;
}

}  // namespace hubcache::bundle::detail

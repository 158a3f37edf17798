// Reads an OCI bundle (write_oci's layout) into the staging cache: the lock from index.json, each
// manifest and layer checked against its digest, the cache entries rebuilt from the annotations.
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

Unexpected bad(const std::string& where, const std::string& why) {
  return fail(ErrorCode::InvalidArgument, "OCI bundle " + where + ": " + why, where);
}

Result<std::string> digest_hex(const nlohmann::json& desc, const std::string& where) {
  if (!desc.is_object() || !desc.contains("digest") || !desc["digest"].is_string())
    return bad(where, "a descriptor without a digest");
  const std::string d = desc["digest"].get<std::string>();
  if (!d.starts_with("sha256:") || !is_lower_hex(std::string_view(d).substr(7), 64))
    return bad(where, "digest '" + d + "' is not sha256:<64 hex>");
  return d.substr(7);
}

fs::Fd open_blob(const std::string& dir, const std::string& hex) {
  return fs::Fd(::open((dir + "/blobs/sha256/" + hex).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
}

Result<std::string> read_json_blob(const std::string& dir, const std::string& hex, const std::string& where) {
  const std::string path = dir + "/blobs/sha256/" + hex;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return bad(where, "blobs/sha256/" + hex + " is missing or not a file");
  HUBCACHE_TRY_ASSIGN(std::string text, fs::read_file(path, k_max_small_entry));
  if (sha256_hex(text) != hex)
    return fail(ErrorCode::Integrity, "OCI bundle " + where + ": blobs/sha256/" + hex + " does not match its digest", path);
  return text;
}

}  // namespace

Result<void> read_oci(const std::string& dir, Staging& staging) {
  HUBCACHE_TRY_ASSIGN(const std::string index_text, fs::read_file(dir + "/index.json", k_max_small_entry));
  const auto index = nlohmann::json::parse(index_text, nullptr, false);
  if (index.is_discarded() || !index.is_object()) return bad("index.json", "not a JSON object");
  if (!index.contains("annotations") || !index["annotations"].is_object() || !index["annotations"].contains(k_ann_lock) ||
      !index["annotations"][k_ann_lock].is_string())
    return bad("index.json", std::string("no ") + k_ann_lock + " annotation: not a hubcache bundle");
  const std::string lock_text = index["annotations"][k_ann_lock].get<std::string>();
  {
    std::size_t off = 0;
    Entry e{k_bundle_lock_entry, Entry::Type::File, {}, lock_text.size()};
    HUBCACHE_TRY(staging.add(e, [&](char* buf, std::size_t cap) -> Result<std::size_t> {
      const std::size_t n = std::min(cap, lock_text.size() - off);
      std::copy_n(lock_text.data() + off, n, buf);
      off += n;
      return n;
    }));
  }
  if (!index.contains("manifests") || !index["manifests"].is_array()) return bad("index.json", "no manifests list");
  std::set<std::string> staged_blobs;
  std::size_t m = 0;
  for (const auto& desc : index["manifests"]) {
    const std::string where = "index.json manifests[" + std::to_string(m++) + "]";
    HUBCACHE_TRY_ASSIGN(const std::string hex, digest_hex(desc, where));
    HUBCACHE_TRY_ASSIGN(const std::string text, read_json_blob(dir, hex, where));
    const auto manifest = nlohmann::json::parse(text, nullptr, false);
    if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("annotations") ||
        !manifest["annotations"].is_object() || !manifest.contains("layers") || !manifest["layers"].is_array())
      return bad(where, "not an image manifest with annotations and layers");
    const auto& ann = manifest["annotations"];
    auto str = [&](const nlohmann::json& o, const char* key) -> std::string {
      return o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
    };
    const auto type = parse_repo_type(str(ann, k_ann_repo_type));
    const std::string repo_id = str(ann, k_ann_repo_id), commit = str(ann, k_ann_commit);
    if (!type || !validate_repo_id(repo_id) || !is_commit_hash(commit))
      return bad(where,
                 std::string("needs valid ") + k_ann_repo_type + ", " + k_ann_repo_id + " and " + k_ann_commit + " annotations");
    const std::string folder = repo_folder_name(RepoRef{*type, repo_id});
    std::size_t l = 0;
    for (const auto& layer : manifest["layers"]) {
      const std::string lwhere = where + " layers[" + std::to_string(l++) + "]";
      HUBCACHE_TRY_ASSIGN(const std::string lhex, digest_hex(layer, lwhere));
      const auto& la =
          layer.contains("annotations") && layer["annotations"].is_object() ? layer["annotations"] : nlohmann::json::object();
      const std::string path = str(la, k_ann_filepath), git_oid = str(la, k_ann_git_oid);
      const bool lfs = str(la, k_ann_lfs) == "true";
      if (!is_lower_hex(git_oid, 40)) return bad(lwhere, std::string("no ") + k_ann_git_oid + " annotation");
      const std::string name = lfs ? lhex : git_oid;
      const std::uint64_t size =
          layer.contains("size") && layer["size"].is_number_unsigned() ? layer["size"].get<std::uint64_t>() : 0;
      if (staged_blobs.insert(folder + "/" + name).second) {
        fs::Fd fd = open_blob(dir, lhex);
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
          return bad(lwhere, "blobs/sha256/" + lhex + " is missing or not a file");
        if (static_cast<std::uint64_t>(st.st_size) != size)
          return fail(ErrorCode::Integrity,
                      "OCI bundle " + lwhere + ": blobs/sha256/" + lhex + " holds " + std::to_string(st.st_size) +
                          " bytes, the layer says " + std::to_string(size),
                      dir);
        Hasher sha256(Hasher::Kind::Sha256);
        const std::string blob_path = dir + "/blobs/sha256/" + lhex;
        HUBCACHE_TRY(staging.add(Entry{folder + "/blobs/" + name, Entry::Type::File, {}, size},
                                 [&](char* buf, std::size_t cap) -> Result<std::size_t> {
                                   while (true) {
                                     const ssize_t n = ::read(fd.get(), buf, cap);
                                     if (n < 0 && errno == EINTR) continue;
                                     if (n < 0) return fail(errno_error(errno, "cannot read", blob_path));
                                     sha256.update(buf, static_cast<std::size_t>(n));
                                     return static_cast<std::size_t>(n);
                                   }
                                 }));
        if (sha256.hex_digest() != lhex)
          return fail(ErrorCode::Integrity,
                      "OCI bundle " + lwhere + " ('" + path + "'): blobs/sha256/" + lhex + " does not match its digest",
                      blob_path);
      }
      if (!validate_repo_path(path)) return bad(lwhere, std::string("no valid ") + k_ann_filepath + " annotation");
      HUBCACHE_TRY(staging.add(
          Entry{folder + "/snapshots/" + commit + "/" + path, Entry::Type::Symlink, pointer_target(path, name), 0}, {}));
    }
  }
  return {};
}

}  // namespace hubcache::bundle::detail

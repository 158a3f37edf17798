// The llama.cpp legacy flat cache reader: <owner>_<repo>_<file> named by manifest=<owner>=<repo>=<tag>.json.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"
#include "store_internal.hpp"

namespace hubcache::stores {
namespace {

constexpr std::string_view k_partial_suffix = ".downloadInProgress";

// What a manifest says about one file it names.
struct Claim {
  std::string model, name, sha256;
};

// "manifest=<owner>=<repo>=<tag>.json" -> {owner, repo, tag}; empty when not one.
std::vector<std::string> manifest_parts(const std::string& file) {
  constexpr std::string_view prefix = "manifest=", suffix = ".json";
  if (file.rfind(prefix, 0) != 0 || !std::string_view(file).ends_with(suffix)) return {};
  const auto cut = split(std::string_view(file).substr(prefix.size(), file.size() - prefix.size() - suffix.size()), '=');
  std::vector<std::string> parts(cut.begin(), cut.end());
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty()) return {};
  return parts;
}

class LlamaCppReader final : public detail::RootedReader {
 public:
  using RootedReader::RootedReader;
  StoreKind kind() const override { return StoreKind::LlamaCpp; }
  Result<StoreListing> list() const override;
};

Result<StoreListing> LlamaCppReader::list() const {
  HUBCACHE_TRY_ASSIGN(StoreListing out, start_listing("llama.cpp cache"));
  std::map<std::string, struct ::stat> entries;  // top-level name -> lstat
  auto visit = [&](const fs::FolderEntry& e) { entries.emplace(e.name, e.lst); };
  auto on_error = [&](const std::string& path, int err, fs::WalkFailure failure) {
    out.warnings.push_back(std::string(fs::to_string(failure)) + " '" + path + "': " + std::strerror(err));
  };
  fs::walk_folder(
      m_root, [](const std::string&, const std::string&) { return false; }, visit, on_error);

  // The manifests' claims, by the file name llama.cpp gave each file (make_old_cache_filename).
  std::map<std::string, Claim> claims;
  for (const auto& [name, lst] : entries) {
    const auto parts = manifest_parts(name);
    if (parts.empty() || !S_ISREG(lst.st_mode)) continue;
    const auto text = fs::read_file(m_root + "/" + name);
    const auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    if (!j.is_object()) {
      out.warnings.push_back("skipped the manifest '" + m_root + "/" + name +
                             "': " + (text ? "not llama.cpp's manifest JSON" : text.error().message));
      continue;
    }
    for (const char* key : {"ggufFile", "mmprojFile"}) {
      const auto it = j.find(key);
      if (it == j.end() || !it->is_object() || !it->contains("rfilename") || !(*it)["rfilename"].is_string()) continue;
      Claim c{parts[0] + "/" + parts[1] + ":" + parts[2], (*it)["rfilename"].get<std::string>(), {}};
      if (const auto lfs = it->find("lfs");
          lfs != it->end() && lfs->is_object() && lfs->contains("sha256") && (*lfs)["sha256"].is_string()) {
        const std::string sha = (*lfs)["sha256"].get<std::string>();
        if (digest_kind_of(sha) == DigestKind::Sha256) c.sha256 = sha;
      }
      std::string file = parts[0] + "_" + parts[1] + "_" + c.name;
      std::replace(file.begin() + static_cast<std::ptrdiff_t>(parts[0].size() + parts[1].size() + 2), file.end(), '/', '_');
      claims.emplace(std::move(file), std::move(c));
    }
  }

  auto is_sidecar = [&](const std::string& name) {
    if (!manifest_parts(name).empty()) return true;
    for (std::string_view suffix : {".json", ".etag", ".lastModified"})
      if (std::string_view(name).ends_with(suffix)) {
        const std::string base = name.substr(0, name.size() - suffix.size());
        if (entries.count(base) || entries.count(base + std::string(k_partial_suffix))) return true;
      }
    return false;
  };
  for (const auto& [name, lst] : entries) {
    if (is_sidecar(name) || name == k_cachedir_tag) continue;  // CACHEDIR.TAG: LLAMA_CACHE may be a Hub cache too
    StoredFile f;
    std::string base = name;
    if (std::string_view(name).ends_with(k_partial_suffix) && S_ISREG(lst.st_mode)) {
      f.path = m_root + "/" + name;
      f.partial = true;
      detail::set_figures(f, lst);
      base = name.substr(0, name.size() - k_partial_suffix.size());
    } else if (!detail::describe_entry(f, m_root + "/" + name, lst)) {
      detail::note_refused_entry(out, m_root + "/" + name, errno);
      continue;
    }
    if (const auto it = claims.find(base); it != claims.end()) {
      f.model = it->second.model;
      f.name = it->second.name;
      if (!f.partial && !it->second.sha256.empty()) {
        f.digest = DigestKind::Sha256;
        f.digest_hex = it->second.sha256;
      }
    }
    out.files.push_back(std::move(f));
  }
  return out;  // entries are in name order, so the files are in path order
}

}  // namespace

std::unique_ptr<StoreReader> open_llama_cpp(std::string cache_dir) {
  return std::make_unique<LlamaCppReader>(std::move(cache_dir));
}

}  // namespace hubcache::stores

// The Ollama reader: blobs/sha256-<hex> named by the manifests that refer to them.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <tuple>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "hubcache/stores/ollama_format.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"
#include "store_internal.hpp"

namespace hubcache::stores {
namespace {

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The digest of a blob file name, Ollama's rule (manifest/paths.go BlobsPath):
// ^sha256[:-][0-9a-fA-F]{64}$; "" when the name is not one.
std::string blob_digest(std::string_view name) {
  if (name.size() != 71 || name.substr(0, 6) != "sha256" || (name[6] != '-' && name[6] != ':')) return {};
  return is_hex64(name.substr(7)) ? lower(std::string(name.substr(7))) : std::string();
}

// "sha256-<hex>-partial" and its "-partial-<N>" part states: a download in progress.
bool is_partial_blob(std::string_view name) {
  return name.size() > 71 && blob_digest(name.substr(0, 71)).size() == 64 && name.substr(71, 8) == "-partial";
}

// "sha256:<hex>" in a manifest -> lower-case hex, or "".
std::string layer_digest(const nlohmann::json& layer) {
  if (!layer.is_object()) return {};
  const auto it = layer.find("digest");
  if (it == layer.end() || !it->is_string()) return {};
  const std::string d = it->get<std::string>();
  if (d.size() != 71 || d.compare(0, 7, "sha256:") != 0 || !is_hex64(std::string_view(d).substr(7))) return {};
  return lower(d.substr(7));
}

// "application/vnd.ollama.image.model" -> "model"; other media types as they are.
std::string layer_name(const nlohmann::json& layer) {
  const auto it = layer.find("mediaType");
  if (it == layer.end() || !it->is_string()) return "layer";
  const std::string t = it->get<std::string>();
  constexpr std::string_view prefix = "application/vnd.ollama.image.";
  return t.compare(0, prefix.size(), prefix) == 0 ? t.substr(prefix.size()) : t;
}

class OllamaReader final : public detail::RootedReader {
 public:
  using RootedReader::RootedReader;
  StoreKind kind() const override { return StoreKind::Ollama; }
  Result<StoreListing> list() const override;
};

Result<StoreListing> OllamaReader::list() const {
  HUBCACHE_TRY_ASSIGN(StoreListing out, start_listing("Ollama models folder"));
  std::map<std::string, std::pair<std::string, std::string>> names;  // digest -> (model, layer), first by model
  std::vector<std::pair<std::string, StoredFile>> blobs;             // (digest, entry)
  std::vector<DanglingEntry> layers;                                 // every (manifest, model, digest) named

  auto enter = [](const std::string& rel, const std::string&) {
    const auto parts = split(rel, '/');
    if (parts[0] == "manifests") return parts.size() <= 4;  // manifests/<host>/<namespace>/<model>
    return parts.size() == 1 && parts[0] == "blobs";
  };
  auto visit = [&](const fs::FolderEntry& e) {
    const auto parts = split(e.rel, '/');
    if (parts[0] == "manifests") {
      if (parts.size() != 5) return;  // Ollama reads manifests/*/*/*/* only
      if (!S_ISREG(e.lst.st_mode)) {
        out.warnings.push_back("skipped the manifest '" + e.path + "': not a regular file");
        return;
      }
      auto text = fs::read_file(e.path);
      const auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
      if (!text || j.is_discarded() || !j.is_object() || !j.contains("layers") || !j["layers"].is_array()) {
        out.warnings.push_back("skipped the manifest '" + e.path +
                               "': " + (text ? "not Ollama's manifest JSON" : text.error().message));
        return;
      }
      const std::string model =
          ollama_model_name(std::string(parts[1]), std::string(parts[2]), std::string(parts[3]), std::string(parts[4]));
      auto name_digest = [&](const std::string& digest, const std::string& layer) {
        if (digest.empty()) return;
        layers.push_back({e.path, model, digest});
        auto [it, inserted] = names.emplace(digest, std::make_pair(model, layer));
        if (!inserted && model < it->second.first) it->second = {model, layer};
      };
      if (j.contains("config")) name_digest(layer_digest(j["config"]), "config");
      for (const auto& layer : j["layers"]) name_digest(layer_digest(layer), layer_name(layer));
      return;
    }
    if (parts.size() != 2) return;  // blobs/<name>
    StoredFile f;
    std::string digest = blob_digest(e.name);
    if (digest.empty() && is_partial_blob(e.name)) {
      f.partial = true;
      f.path = e.path;
      detail::set_figures(f, e.lst);
    } else if (!detail::describe_entry(f, e.path, e.lst)) {                        // Ollama follows a linked blob
      detail::note_refused_entry(out, e.path, errno == EISDIR ? ENOTSUP : errno);  // a linked folder is no blob
      return;
    } else if (!digest.empty()) {
      f.digest = DigestKind::Sha256;
      f.digest_hex = digest;
    }
    blobs.emplace_back(std::move(digest), std::move(f));
  };
  auto on_error = [&](const std::string& path, int err, fs::WalkFailure failure) {
    out.warnings.push_back(std::string(fs::to_string(failure)) + " '" + path + "': " + std::strerror(err));
  };
  fs::walk_folder(m_root, enter, visit, on_error);

  // A layer whose blob is missing (or only a dangling link) fails `ollama run`.
  std::set<std::string> present;
  for (const auto& [digest, f] : blobs)
    if (!digest.empty() && !f.partial) present.insert(digest);
  for (auto& l : layers) {
    if (present.count(l.missing)) continue;
    l.missing = ollama_blob_path(m_root, l.missing);
    out.dangling.push_back(std::move(l));
  }
  for (auto& d : out.dangling)
    if (d.model.empty())
      if (auto it = names.find(blob_digest(d.path.substr(d.path.rfind('/') + 1))); it != names.end()) d.model = it->second.first;
  std::sort(out.dangling.begin(), out.dangling.end(), [](const DanglingEntry& a, const DanglingEntry& b) {
    return std::tie(a.path, a.missing) < std::tie(b.path, b.missing);
  });
  for (auto& [digest, f] : blobs) {
    if (auto it = names.find(digest); !digest.empty() && it != names.end()) {
      f.model = it->second.first;
      f.name = it->second.second;
    }
    out.files.push_back(std::move(f));
  }
  std::sort(out.files.begin(), out.files.end(), [](const StoredFile& a, const StoredFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace

std::unique_ptr<StoreReader> open_ollama(std::string models_dir) { return std::make_unique<OllamaReader>(std::move(models_dir)); }

}  // namespace hubcache::stores

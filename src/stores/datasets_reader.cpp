// The datasets 2.x downloads reader: <sha256(url)>[.<sha256(etag)>][.py] files with their .json sidecars.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hubcache/stores/store.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"
#include "store_internal.hpp"

namespace hubcache::stores {
namespace {

constexpr std::string_view k_extracted = "extracted";

// A Hub file URL, on any host (huggingface.co or a mirror): "[<type>s/]<id>/resolve/<rev>/<path>".
struct HubFile {
  std::string model, name;
};
std::optional<HubFile> hub_file_of(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return std::nullopt;
  const auto path_at = url.find('/', scheme + 3);
  if (path_at == std::string::npos) return std::nullopt;
  const auto cut = split(std::string_view(url).substr(path_at + 1, url.find_first_of("?#", path_at) - path_at - 1), '/');
  std::vector<std::string> segs(cut.begin(), cut.end());
  std::string type = "model";
  if (!segs.empty() && (segs[0] == "datasets" || segs[0] == "spaces")) {
    type = segs[0].substr(0, segs[0].size() - 1);
    segs.erase(segs.begin());
  }
  // resolve at index 1 (a legacy id without org) or 2 (<org>/<name>), then the revision and a path.
  std::size_t k = 1;
  if (segs.size() > 2 && segs[2] == "resolve") k = 2;
  if (segs.size() < k + 3 || segs[k] != "resolve" || segs[0].empty() || (k == 2 && segs[1].empty())) return std::nullopt;
  std::string path;
  for (std::size_t i = k + 2; i < segs.size(); ++i) path += (path.empty() ? "" : "/") + segs[i];
  const auto decoded = percent_decode(path);
  if (!decoded || decoded->empty()) return std::nullopt;
  return HubFile{type + "/" + segs[0] + (k == 2 ? "/" + segs[1] : ""), *decoded};
}

class DatasetsReader final : public detail::RootedReader {
 public:
  using RootedReader::RootedReader;
  StoreKind kind() const override { return StoreKind::DatasetsDownloads; }
  Result<StoreListing> list() const override;
};

Result<StoreListing> DatasetsReader::list() const {
  HUBCACHE_TRY_ASSIGN(StoreListing out, start_listing("datasets downloads folder"));
  std::map<std::string, struct ::stat> top;  // top-level name -> lstat
  auto enter = [](const std::string& rel, const std::string&) { return detail::within(rel, k_extracted); };
  auto visit = [&](const fs::FolderEntry& e) {
    if (e.rel.find('/') == std::string::npos) {
      top.emplace(e.name, e.lst);
      return;
    }
    StoredFile f;  // below extracted/: an unpacked archive
    if (!detail::describe_entry(f, e.path, e.lst)) {
      detail::note_refused_entry(out, e.path, errno);
      return;
    }
    f.name = e.rel;
    out.files.push_back(std::move(f));
  };
  auto on_error = [&](const std::string& path, int err, fs::WalkFailure failure) {
    out.warnings.push_back(std::string(fs::to_string(failure)) + " '" + path + "': " + std::strerror(err));
  };
  fs::walk_folder(m_root, enter, visit, on_error);

  auto base_exists = [&](const std::string& name, std::string_view suffix) {
    if (!std::string_view(name).ends_with(suffix)) return false;
    const std::string base = name.substr(0, name.size() - suffix.size());
    return top.count(base) || top.count(base + ".incomplete");
  };
  for (const auto& [name, lst] : top) {
    if (base_exists(name, ".json") || base_exists(name, ".lock")) continue;  // bookkeeping of a download
    StoredFile f;
    std::string base = name;
    if (std::string_view(name).ends_with(".incomplete") && S_ISREG(lst.st_mode)) {
      f.path = m_root + "/" + name;
      f.partial = true;
      detail::set_figures(f, lst);
      base = name.substr(0, name.size() - std::string_view(".incomplete").size());
    } else if (!detail::describe_entry(f, m_root + "/" + name, lst)) {
      detail::note_refused_entry(out, m_root + "/" + name, errno);
      continue;
    }
    if (const auto text = fs::read_file(m_root + "/" + base + ".json", 1u << 20)) {
      const auto j = nlohmann::json::parse(*text, nullptr, false);
      if (j.is_object() && j.contains("url") && j["url"].is_string()) {
        const std::string url = j["url"].get<std::string>();
        if (auto hub = hub_file_of(url)) {
          f.model = hub->model;
          f.name = hub->name;
        } else {
          f.name = url;
        }
      }
    }
    out.files.push_back(std::move(f));
  }
  std::sort(out.files.begin(), out.files.end(), [](const StoredFile& a, const StoredFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace

std::unique_ptr<StoreReader> open_datasets_downloads(std::string downloads_dir) {
  return std::make_unique<DatasetsReader>(std::move(downloads_dir));
}

}  // namespace hubcache::stores

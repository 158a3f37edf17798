#include "hubcache/hygiene/locations.hpp"

#include <climits>
#include <cstdlib>
#include <optional>
#include <set>
#include <utility>

#include "hubcache/cache/layout.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/parallel.hpp"
#include "walk_roots.hpp"

namespace hubcache::hygiene {

std::string real_folder(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

std::vector<StoreLocation> find_stores_under(const std::string& root, int max_depth, bool cross_filesystems,
                                             std::vector<std::string>& warnings) {
  auto walked = detail::walk_for_stores(root, max_depth, cross_filesystems, {});
  for (auto& w : walked.warnings) warnings.push_back(std::move(w));
  std::vector<StoreLocation> out;
  for (auto& s : walked.stores) out.push_back({s.kind, std::move(s.root), false});
  return out;
}

std::vector<Result<stores::StoreListing>> list_stores(const std::vector<StoreLocation>& locations, unsigned threads) {
  std::vector<std::optional<Result<stores::StoreListing>>> listed(locations.size());
  parallel_for(locations.size(), threads, [&](std::size_t i) {
    listed[i].emplace(stores::open_store(locations[i].kind, locations[i].root)->list());
    if (*listed[i]) (*listed[i])->files.shrink_to_fit();  // 100,000s of files: no growth slack kept
  });
  std::vector<Result<stores::StoreListing>> out;
  out.reserve(listed.size());
  for (auto& l : listed) out.push_back(std::move(*l));
  return out;
}

std::vector<StoreLocation> tool_store_locations(const Environment& env, const Config& config) {
  std::vector<StoreLocation> out;
  std::set<std::pair<stores::StoreKind, std::string>> seen;
  auto add = [&](stores::StoreKind kind, const std::string& path, bool configured = false) {
    if (path.empty() || !fs::is_dir(path)) return;
    const std::string root = real_folder(path);
    if (seen.emplace(kind, root).second) out.push_back({kind, root, configured});
  };
  auto var = [&](const char* name) {
    const auto v = env.get_nonempty(name);
    return v ? expand_path(*v, env) : std::string();
  };
  const std::string home = var("HOME");
  add(stores::StoreKind::HubCache, config.hub_cache.value, true);
  add(stores::StoreKind::HubCache, config.hf_home.value + "/hub");
  for (const auto& dir : stores::ollama_models_candidates(var("OLLAMA_MODELS"), home)) add(stores::StoreKind::Ollama, dir);
  add(stores::StoreKind::LmStudio, stores::lm_studio_models_folder(home));
  const std::string llama = stores::llama_cpp_cache_folder(var("LLAMA_CACHE"), var("XDG_CACHE_HOME"), home);
  add(stores::StoreKind::LlamaCpp, llama);
  if (!llama.empty() && classify_hub_folder(llama).kind == HubFolderKind::CacheRoot) add(stores::StoreKind::HubCache, llama);
  add(stores::StoreKind::DatasetsDownloads, stores::datasets_downloads_folder(var("HF_DATASETS_CACHE"), config.hf_home.value));
  return out;
}

}  // namespace hubcache::hygiene

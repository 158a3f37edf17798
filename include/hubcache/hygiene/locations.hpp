#pragma once
// Where each tool keeps its models on this machine, from the environment: the stores `du` and
// `doctor` read without being told where to look.
#include <string>
#include <vector>

#include "hubcache/config/config.hpp"
#include "hubcache/stores/store.hpp"

namespace hubcache::hygiene {

struct StoreLocation {
  stores::StoreKind kind = stores::StoreKind::HubCache;
  std::string root;         // absolute and symlink-resolved
  bool configured = false;  // the Hub cache `config` resolves (huggingface_hub's precedence)
};

/// The stores that exist where their tools keep them, each (kind, real path) once, in this order:
/// the configured Hub cache (`config.hub_cache`); the default Hub cache (`<hf_home>/hub` as it
/// would be without HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE) when that differs; Ollama's folders
/// (stores::ollama_models_candidates: OLLAMA_MODELS, HOME); LM Studio's models folder
/// (stores::lm_studio_models_folder); llama.cpp's cache (LLAMA_CACHE, XDG_CACHE_HOME, HOME), read
/// as its legacy flat cache and, when it holds repo folders, as a Hub cache too; the datasets
/// library's downloads (HF_DATASETS_CACHE, `config.hf_home`). Variables are expanded as
/// config.hpp expand_path does. Folders that do not exist are left out; nothing else is checked.
std::vector<StoreLocation> tool_store_locations(const Environment& env, const Config& config);

/// The stores below the folder `root` (doctor's walk: at most `max_depth` folders deep, one
/// filesystem unless `cross_filesystems`, never into a symlinked folder, `.git`, `node_modules`,
/// virtualenvs; a store is not walked into). Each root as walked (not symlink-resolved). What
/// could not be read goes to `warnings`.
std::vector<StoreLocation> find_stores_under(const std::string& root, int max_depth, bool cross_filesystems,
                                             std::vector<std::string>& warnings);

/// Lists each store (stores::open_store(kind, root)->list()), up to `threads` at once
/// (util/parallel.hpp; 0 = hardware concurrency): one result per location, in the order given.
std::vector<Result<stores::StoreListing>> list_stores(const std::vector<StoreLocation>& locations, unsigned threads = 0);

/// `path` with symlinks resolved (realpath), or `path` itself when that fails.
std::string real_folder(const std::string& path);

}  // namespace hubcache::hygiene

#pragma once
// Finding stores by walking folders (doctor's roots): bounded depth, one filesystem unless asked,
// never into a symlinked folder, and not into what holds no models (git internals, node_modules,
// virtualenvs, build caches).
#include <sys/types.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hubcache/stores/store.hpp"

namespace hubcache::hygiene::detail {

struct WalkedStore {
  stores::StoreKind kind;
  std::string root;  // the root's spelling + the relative path (not realpath'd)
};

struct WalkOutcome {
  std::vector<WalkedStore> stores;    // in walk order (names in byte order)
  std::vector<std::string> warnings;  // folders that could not be read
};

/// Walks `root` (a folder) down to `max_depth`. A folder that is a store by its listing is recorded
/// and not entered: a Hub cache (a repo folder in it), Ollama (manifests/ + blobs/), llama.cpp's
/// legacy cache (manifest=*=*=*.json), datasets downloads (<64 hex>*.json), LM Studio's models
/// folder (an LM Studio home around it), a model folder (.cache/huggingface/download/, or a
/// *.gguf / *.safetensors file, or config.json / model_index.json beside weights). Folders whose
/// (st_dev, st_ino) is in `skip` (stores already read) are not entered.
WalkOutcome walk_for_stores(const std::string& root, int max_depth, bool cross_filesystems,
                            const std::set<std::pair<dev_t, ino_t>>& skip);

/// Names of folders that never hold models worth reporting (.git, node_modules, __pycache__, ...).
bool is_skipped_folder_name(std::string_view name);

}  // namespace hubcache::hygiene::detail

// Resolves a model to local files the way transformers' from_pretrained does: a local folder is
// used directly; otherwise offline-first: use the cache when it already holds the files (no
// network at all), download only what is missing, and honour HF_HUB_OFFLINE / HF_HUB_CACHE /
// HF_TOKEN / HF_ENDPOINT.
//
//   from_pretrained org/model [file ...]         (default files: config.json and *.safetensors)
//   from_pretrained ./models/llama [file ...]    (a folder: its files, no cache, no network)
#include <cstdio>
#include <string>
#include <vector>

#include "hubcache/config/config.hpp"
#include "hubcache/resolve/download.hpp"
#include "hubcache/resolve/local_folder.hpp"
#include "hubcache/resolve/offline.hpp"

int main(int argc, char** argv) {
  using namespace hubcache;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s REPO_ID [FILE...]\n", argv[0]);
    return 2;
  }
  const std::string repo_id = argv[1];
  std::vector<std::string> files(argv + 2, argv + argc);
  const Config config = Config::from_env(Environment::from_process());

  SnapshotLookupOptions lookup;
  lookup.cache_dir = config.hub_cache.value;
  lookup.filenames = files;
  if (files.empty()) lookup.filter = PathFilter::make(std::vector<std::string>{"config.json", "*.safetensors"}, {});

  // 1. A local folder is used directly, and an existing folder wins over a repo id of the same
  //    name (os.path.isdir first, as transformers decides). Every call below would also accept
  //    the folder; this branch only makes the rule visible.
  if (auto folder = local_model_folder(repo_id)) {
    auto local = resolve_snapshot(*folder, lookup);
    if (!local) {
      std::fprintf(stderr, "error: %s\n", local.error().message.c_str());
      return 1;
    }
    std::printf("%s\n", local->snapshot_dir.c_str());
    for (const auto& f : local->files) std::printf("  %s (local folder)\n", f.c_str());
    return 0;
  }

  // 2. Offline first: a complete cached snapshot answers without any network.
  if (auto cached = resolve_snapshot(repo_id, lookup); cached && (cached->verified_complete || !files.empty())) {
    std::printf("%s\n", cached->snapshot_dir.c_str());
    return 0;
  }

  // 3. Fetch what is missing (or, offline, report exactly what is missing).
  Downloader downloader(DownloadOptions::from_env(config));
  SnapshotRequest request;
  request.repo_id = repo_id;
  request.allow_patterns = files.empty() ? std::vector<std::string>{"config.json", "*.safetensors"} : files;
  auto result = downloader.snapshot_download(request);
  if (!result) {
    std::fprintf(stderr, "error: %s\n", result.error().message.c_str());
    for (const auto& m : result.error().missing) std::fprintf(stderr, "  missing: %s\n", m.c_str());
    return 1;
  }
  std::printf("%s\n", result->path.c_str());
  for (const auto& f : result->files) std::printf("  %s%s\n", f.path.c_str(), f.cached ? " (cached)" : "");
  return 0;
}

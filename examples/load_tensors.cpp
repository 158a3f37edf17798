// Loads a model's tensors without copying them: resolves the model offline-first (a local folder
// is used as is; a repo id from the Hub cache, downloading its weights only when the cache lacks
// them), maps its safetensors / GGUF files read-only, prints the tensor table and a SHA-256 of one
// tensor's bytes, read straight from the mapping.
//
//   load_tensors org/model [TENSOR]        (offline-first, honours HF_HUB_OFFLINE / HF_HUB_CACHE / HF_ENDPOINT)
//   load_tensors ./models/llama [TENSOR]   (a folder: no cache, no network)
//   load_tensors ./m-Q4_K_M.gguf [TENSOR]  (one weight file: one GGUF variant of several)
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hubcache/config/config.hpp"
#include "hubcache/resolve/download.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/weights/weights.hpp"

int main(int argc, char** argv) {
  using namespace hubcache;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s REPO_ID|FOLDER [TENSOR]\n", argv[0]);
    return 2;
  }
  const std::string model = argv[1];
  const Config config = Config::from_env(Environment::from_process());
  weights::ModelOpenOptions options;
  options.cache_dir = config.hub_cache.value;

  // 1. Offline first: a weight file, a folder, or a repo whose weights the cache already holds.
  std::error_code ec;
  auto opened = std::filesystem::is_regular_file(model, ec) ? weights::Weights::open_files({model})
                                                            : weights::Weights::open_model(model, options);
  const bool missing =
      !opened && (opened.error().code == ErrorCode::LocalEntryNotFound || opened.error().code == ErrorCode::IncompleteSnapshot);
  if (missing && !config.offline.value) {
    // 2. Not cached: fetch the config and weight files (the network is used only now).
    Downloader downloader(DownloadOptions::from_env(config));
    SnapshotRequest request;
    request.repo_id = model;
    request.allow_patterns = std::vector<std::string>{"*.json", "*.safetensors", "*.gguf"};
    if (auto fetched = downloader.snapshot_download(request); !fetched) {
      std::fprintf(stderr, "error: %s\n", fetched.error().message.c_str());
      return 1;
    }
    opened = weights::Weights::open_model(model, options);
  }
  if (!opened) {
    std::fprintf(stderr, "error: %s\n", opened.error().message.c_str());
    return 1;
  }
  const weights::Weights& w = *opened;

  for (const auto& t : w.tensors())
    fmt::print("{:<48} {:<8} [{}] {} bytes\n", t.name(), t.dtype(), fmt::join(t.shape(), ", "), t.info->length);
  fmt::print("{} tensors, {} parameters, {} bytes in {} file(s)\n", w.tensors().size(), w.parameter_count(), w.tensor_bytes(),
             w.files().size());

  const weights::TensorView* pick = argc > 2 ? w.find(argv[2]) : (w.tensors().empty() ? nullptr : &w.tensors().front());
  if (!pick) {
    if (argc > 2)
      std::fprintf(stderr, "error: no tensor called '%s'\n", argv[2]);
    else
      std::fprintf(stderr, "error: the model has no tensors\n");
    return 1;
  }
  const auto bytes = pick->bytes();  // a view into the mapping: the pages are read as hashed
  fmt::print("sha256({}) = {}\n", pick->name(),
             sha256_hex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  return 0;
}

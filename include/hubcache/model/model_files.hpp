#pragma once
// Which of a repo's files each framework loads: the weight formats a repo carries (safetensors,
// PyTorch .bin, ONNX, TensorFlow, Flax, GGUF, ...) and the exact file set `from_pretrained`
// (transformers), diffusers' `DiffusionPipeline.from_pretrained` or llama.cpp's `-hf` would fetch.
// Pure: a file list in, a selection out; used by `inspect` and by model-aware downloads
// (`download --for`, SnapshotRequest::target).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/result.hpp"

namespace hubcache::model {

/// A repo file as a listing (or a folder) gives it: path relative to the repo root, size in bytes.
struct RepoFile {
  std::string path;
  std::uint64_t size = 0;
};

enum class WeightFormat { Safetensors, PytorchBin, Onnx, TensorFlow, Flax, Gguf, Other };
/// "safetensors", "pytorch", "onnx", "tensorflow", "flax", "gguf", "other".
std::string_view to_string(WeightFormat f);
/// The format of a weight file by its name, or nullopt-like Other for a file that holds no
/// weights (config, tokenizer, code, docs). `is_weight_file` says which.
bool is_weight_file(std::string_view path);
WeightFormat weight_format_of(std::string_view path);

/// All weight files of one format in a repo, and their bytes.
struct WeightGroup {
  WeightFormat format = WeightFormat::Other;
  std::vector<std::string> files;  // sorted
  std::uint64_t bytes = 0;
};
/// The weight formats present, largest first.
std::vector<WeightGroup> weight_formats(const std::vector<RepoFile>& files);

enum class Framework { Transformers, Gguf, Diffusers };
std::string_view to_string(Framework f);

/// What `--for` names: "transformers", "diffusers", "gguf" or "gguf:QUANT" (QUANT as in file
/// names, e.g. Q4_K_M; matched case-insensitively).
struct ModelTarget {
  Framework framework = Framework::Transformers;
  std::string quant;  // gguf only; "" = the default choice (see select_for)

  /// Errors: InvalidArgument naming the value and the accepted ones.
  static Result<ModelTarget> parse(std::string_view text);
  std::string to_string() const;
};

struct LeftOut {
  std::string path;
  std::uint64_t size = 0;
  std::string reason;  // why the framework does not load it, e.g. "PyTorch .bin copy: safetensors is preferred"
};

struct Selection {
  std::vector<std::string> files;  // sorted
  std::vector<LeftOut> left_out;   // every other file, with its reason
  std::uint64_t bytes = 0;         // of `files`
  std::uint64_t left_out_bytes = 0;
  std::vector<std::string> warnings;  // e.g. a diffusers component with only variant weights
};

/// Reads one of the repo's small JSON files by its repo path: model_index.json (diffusers) or a
/// checkpoint's index (`model.safetensors.index.json`, `unet/diffusion_pytorch_model.safetensors.index.json`,
/// `pytorch_model.bin.index.json`). nullopt when it cannot be read (offline and not cached, ...).
using ReadRepoText = std::function<std::optional<std::string>(const std::string& path)>;

/// The files `target` loads out of `files` (see each rule's comment in model_files.cpp and
/// docs/inspect.md), by names alone: a sharded checkpoint is its index and the files named
/// `<stem>-NNNNN-of-NNNNN<ext>` beside it, every folder of a diffusers repo a component.
/// Errors: NotFound when the repo holds nothing the framework can load (e.g. no GGUF file, or no
/// variant matching QUANT: the message lists the variants present).
Result<Selection> select_for(const ModelTarget& target, const std::vector<RepoFile>& files);
/// The same, reading what the loaders read first (`read` is asked only for files in `files`):
/// - diffusers' model_index.json: its components are the keys whose value is a [library, class]
///   pair other than [null, null], and only their folders are loaded (DiffusionPipeline.from_pretrained);
/// - the index of the sharded checkpoint chosen (transformers' root, each diffusers component):
///   the shards are exactly the files its weight_map names, whatever their names and folders
///   below the index's (get_checkpoint_shard_files); shard-named files it does not name are left
///   out ("shard not named by ..."). An index that cannot be read or is invalid
///   (model/safetensors.hpp parse_safetensors_index) falls back to the names, with a warning.
/// Errors: as above; NotFound when the index names shards the repo lacks (listed), since the
/// loader would fail on the first of them.
Result<Selection> select_for(const ModelTarget& target, const std::vector<RepoFile>& files, const ReadRepoText& read);

}  // namespace hubcache::model

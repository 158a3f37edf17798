#pragma once
// Which of a repo's files each framework loads: the weight formats a repo carries (safetensors,
// PyTorch .bin, ONNX, TensorFlow, Flax, GGUF, ...) and the exact file set `from_pretrained`
// (transformers), diffusers' `DiffusionPipeline.from_pretrained` or llama.cpp's `-hf` would fetch.
// Pure: a file list in, a selection out; used by `inspect` and by model-aware downloads
// (`download --for`, SnapshotRequest::target).
#include <cstdint>
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

/// The files `target` loads out of `files` (see each rule's comment in model_files.cpp and
/// docs/inspect.md). Errors: NotFound when the repo holds nothing the framework can load (e.g.
/// no GGUF file, or no variant matching QUANT: the message lists the variants present).
Result<Selection> select_for(const ModelTarget& target, const std::vector<RepoFile>& files);
/// The same, with the text of the repo's model_index.json (diffusers): its components are the
/// keys whose value is a [library, class] pair other than [null, null], and only their folders
/// are loaded. Without it (nullopt), or for another framework, as above.
Result<Selection> select_for(const ModelTarget& target, const std::vector<RepoFile>& files,
                             const std::optional<std::string>& model_index_json);

}  // namespace hubcache::model

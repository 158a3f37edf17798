#pragma once
// `inspect`: what a model needs before it is loaded, from a local folder, a cached snapshot or a
// remote repo without downloading weights (issue 15). Safetensors headers are
// read as the format allows: bytes 0-7 give the header length N, bytes 8..8+N-1 the header;
// GGUF headers from the file's start (1 MiB, then what parse_gguf says it needs); on disk with
// pread, over HTTP with Range requests, so only header bytes move. The JSON files (config,
// generation, tokenizer config, adapter, indexes, README) are read whole (each at most
// k_max_json_bytes).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/hub/hub.hpp"
#include "hubcache/model/model_config.hpp"
#include "hubcache/model/model_files.hpp"
#include "hubcache/model/tensor.hpp"

namespace hubcache::inspect {

/// A JSON file larger than this is not read (a finding says so).
constexpr std::uint64_t k_max_json_bytes = 16u << 20;
/// A README's front matter is looked for in its first bytes only.
constexpr std::uint64_t k_max_readme_bytes = 64u << 10;
/// The first read of a GGUF file; more as parse_gguf asks (doubling), at most k_max_gguf_header.
constexpr std::uint64_t k_gguf_first_read = 1u << 20;
constexpr std::uint64_t k_max_gguf_header = 256u << 20;

/// Something inspect could not read or understand in one file: reported, not fatal.
struct Finding {
  std::string file;  // "" for the repo or folder as a whole (partial snapshot, nothing loadable)
  std::string reason;
};

/// One weight file whose header was read (safetensors or GGUF).
struct WeightFile {
  std::string path;
  std::string format;  // "safetensors" or "gguf"
  std::uint64_t size = 0;
  std::uint64_t header_bytes = 0;  // bytes of the file read (safetensors: 8 + N; GGUF: what was read)
  std::vector<model::TensorInfo> tensors;
  std::uint64_t parameters = 0;
  std::map<std::string, std::uint64_t> parameters_by_dtype;  // elements per dtype (GGUF: ggml type)
  std::uint64_t tensor_bytes = 0;                            // sum of tensor lengths
  // GGUF only:
  std::string gguf_architecture;                     // general.architecture
  std::string gguf_file_type;                        // gguf_file_type_name(general.file_type), "" if absent
  std::optional<std::uint64_t> gguf_context_length;  // <arch>.context_length
  std::uint32_t gguf_version = 0;
};

/// A sharded checkpoint's index (model.safetensors.index.json, also inside diffusers' component
/// folders) and its shards.
struct ShardSet {
  std::string index;
  std::vector<std::string> shards;   // paths relative to the repo, sorted
  std::uint64_t bytes = 0;           // of the shards present
  std::vector<std::string> missing;  // shards the index names that the repo lacks
};

struct Memory {
  std::uint64_t as_stored = 0;  // sum of tensor bytes
  std::uint64_t bf16 = 0;       // parameters x 2 (also fp16)
  std::uint64_t fp32 = 0;       // x 4
  std::uint64_t int8 = 0;       // x 1
  std::uint64_t int4 = 0;       // x 1/2, rounded up
};

struct ModelReport {
  std::string source;  // the folder, or the repo id
  bool remote = false;
  std::string revision;  // as asked
  std::string commit;    // the snapshot's commit ("" for a plain folder)

  std::vector<model::RepoFile> files;  // sorted by path
  std::uint64_t file_bytes = 0;

  // config.json
  std::optional<model::ModelConfig> config;
  // Weights. Totals are over the `basis` files: the safetensors files the loader takes (see
  // needless_for), else every safetensors file, else the GGUF variant llama.cpp's -hf takes
  // (select_for(gguf): Q4_K_M among several; its split parts together), else the first one's.
  std::vector<WeightFile> weights;  // every safetensors and GGUF file read, by path
  std::vector<std::string> basis;   // the files the totals below add up
  std::uint64_t parameters = 0;
  std::map<std::string, std::uint64_t> parameters_by_dtype;
  std::uint64_t tensor_count = 0;
  Memory memory;
  std::vector<ShardSet> shard_sets;
  std::optional<std::uint64_t> context_length;  // config's, else the GGUF's
  // Quantization: config's quantization_config; the GGUF file type is per WeightFile.
  // Tokenizer and chat template
  std::vector<std::string> tokenizer_files;
  bool chat_template = false;
  std::vector<std::string> chat_template_sources;                        // files that hold one
  std::vector<std::pair<std::string, std::string>> generation_defaults;  // key, JSON value
  // Custom code
  std::vector<std::string> code_files;   // *.py
  bool needs_trust_remote_code = false;  // auto_map in config.json or *.py files
  // License and gating
  std::string license;  // README front matter `license:` ("" when none)
  std::string gated;    // remote: repo info's gated ("", "auto", "manual")
  std::optional<model::AdapterConfig> adapter;
  std::optional<model::PipelineIndex> pipeline;  // model_index.json: a diffusers pipeline
  // Formats
  std::vector<model::WeightGroup> weight_formats;
  /// The format of the weights from_pretrained loads (model::select_for(transformers)):
  /// "safetensors", "pytorch", ..., or "" when it loads none (GGUF-only repo, adapter, tokenizer).
  std::string transformers_loads;
  /// file_bytes minus what the loader takes (diffusers for a repo with model_index.json, else
  /// transformers; `needless_for` names it): what a default `hf download` fetches needlessly;
  /// nullopt when select_for finds nothing it loads.
  std::optional<std::uint64_t> needless_bytes;
  std::string needless_for;              // "transformers", "diffusers" or "" (with needless_bytes)
  std::vector<model::LeftOut> left_out;  // those files, with select_for's reason for each

  std::vector<Finding> findings;
  // Remote only: bodies received by this call's own requests (JSON files and header ranges; the
  // repo info and tree listing are not counted) and their number.
  std::uint64_t bytes_transferred = 0;
  std::uint64_t requests = 0;
};

struct LocalOptions {
  std::string revision = "main";
  RepoType repo_type = RepoType::Model;
  std::string cache_dir;  // the hub cache, for a repo id
};

/// Inspects a local model folder, or the cached snapshot of a repo id at `revision` (offline
/// resolution: resolve/offline.hpp's resolve_snapshot, which also takes a folder; never the
/// network). Errors: resolve_snapshot's (NotFound, LocalEntryNotFound, InvalidRepoId, ...), except
/// IncompleteSnapshot: a snapshot downloaded in part (download --for) is inspected as cached, with
/// a Finding naming the files of its commit that are not. A file that cannot be read or parsed is
/// a Finding, not an error; so are entries that hold no file (a dangling link whose blob is gone,
/// a FIFO or device, a directory named like a weight file) and a folder with nothing to load.
Result<ModelReport> inspect_local(const std::string& path_or_repo_id, const LocalOptions& options);

/// Inspects a remote repo: repo info (commit, gating), the recursive tree listing (sizes), the
/// small JSON files by GET, safetensors and GGUF headers by Range requests only (a server that
/// ignores a Range and sends more than asked is refused: the body is bounded by the range).
/// Errors: HubApi's for repo info and the listing (RepoNotFound, RevisionNotFound, Gated,
/// Unauthorized, Network, ...). A file that cannot be read or parsed is a Finding.
Result<ModelReport> inspect_remote(hub::HubApi& api, const RepoRef& repo, const std::string& revision = "main");

}  // namespace hubcache::inspect

#pragma once
// Facts of a model repo's JSON files, as transformers and peft read them: config.json
// (architecture, context length, dtype, quantization, custom code), generation_config.json (the
// generation defaults), tokenizer_config.json (chat template) and adapter_config.json (a PEFT
// adapter). Pure: the file's text in, facts out. A malformed file is an error naming the file and
// why; `inspect` reports it as a finding and goes on.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hubcache/core/result.hpp"

namespace hubcache::model {

/// quantization_config of config.json (transformers' `quantizers/auto.py` picks the quantizer by
/// `quant_method`; bitsandbytes configs written before that field say `load_in_4bit` /
/// `load_in_8bit`, which give method "bitsandbytes").
struct Quantization {
  std::string method;       // "gptq", "awq", "bitsandbytes", "fp8", "compressed-tensors", ... as written
  std::optional<int> bits;  // `bits`, or 4 / 8 for bitsandbytes' load_in_4bit / load_in_8bit,
                            // or `weight_bits`; absent when the config says none
  std::string detail;       // e.g. "nf4" (bnb_4bit_quant_type), "e4m3" (fp8 fmt), group size
};

struct ModelConfig {
  std::string model_type;                  // "" when absent
  std::vector<std::string> architectures;  // as listed
  /// The context length: the first of max_position_embeddings, n_positions, max_seq_len,
  /// seq_length, n_ctx, max_sequence_length that is a positive integer, at the top level and
  /// then inside text_config (multimodal models); `context_length_key` names the one used
  /// ("text_config.max_position_embeddings").
  std::optional<std::uint64_t> context_length;
  std::string context_length_key;
  std::string torch_dtype;  // `torch_dtype`, or `dtype` (transformers >= 4.56 writes that)
  std::optional<Quantization> quantization;
  /// auto_map's classes ("AutoModelForCausalLM" -> "modeling_x.XForCausalLM"): loading needs
  /// trust_remote_code=True.
  std::vector<std::pair<std::string, std::string>> auto_map;
};

/// config.json. Errors: Integrity naming `file` when the text is not a JSON object (with the
/// parser's byte offset). Fields of an unexpected type are ignored, as absent.
Result<ModelConfig> parse_model_config(std::string_view json, std::string_view file = "config.json");

/// generation_config.json: every top-level key except transformers' bookkeeping
/// (`_from_model_config`, `transformers_version`) with its value as compact JSON text, in key
/// order. Errors: Integrity naming `file` when it is not a JSON object.
Result<std::vector<std::pair<std::string, std::string>>> parse_generation_config(
    std::string_view json, std::string_view file = "generation_config.json");

struct TokenizerConfig {
  bool chat_template = false;  // a non-empty `chat_template` (a string, or a list of named templates)
  std::string tokenizer_class;
};
/// tokenizer_config.json. Errors: Integrity naming `file` when it is not a JSON object.
Result<TokenizerConfig> parse_tokenizer_config(std::string_view json, std::string_view file = "tokenizer_config.json");

/// chat_template.json (transformers >= 4.43 saves the template there): true when it holds a
/// non-empty `chat_template`. Errors: Integrity naming `file` when it is not a JSON object.
Result<bool> parse_chat_template_json(std::string_view json, std::string_view file = "chat_template.json");

/// model_index.json of a diffusers pipeline.
struct PipelineIndex {
  std::string class_name;               // `_class_name`, e.g. "StableDiffusionPipeline"
  std::vector<std::string> components;  // keys whose value is [library, class], not [null, null], sorted
};
/// model_index.json, as DiffusionPipeline.from_pretrained reads it: the components it loads are
/// the keys whose value is a [library, class] pair other than [null, null] (a skipped optional
/// component such as a removed safety_checker). Errors: Integrity naming `file` when it is not a
/// JSON object.
Result<PipelineIndex> parse_model_index(std::string_view json, std::string_view file = "model_index.json");

/// adapter_config.json of a PEFT adapter.
struct AdapterConfig {
  std::string peft_type;                // "LORA", "IA3", ...
  std::string base_model_name_or_path;  // the base model's repo id or path
  std::string task_type;
  std::optional<std::uint64_t> r;  // LoRA rank
  std::optional<double> lora_alpha;
  /// target_modules as a list, or the one regex string peft also accepts.
  std::vector<std::string> target_modules;
};
/// adapter_config.json. Errors: Integrity naming `file` when it is not a JSON object.
Result<AdapterConfig> parse_adapter_config(std::string_view json, std::string_view file = "adapter_config.json");

}  // namespace hubcache::model

#include "hubcache/model/model_config.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace hubcache::model {
namespace {

using nlohmann::json;

// The text as a JSON object, or Integrity naming the file and what is wrong.
Result<json> parse_object(std::string_view text, std::string_view file) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return fail(ErrorCode::Integrity, std::string(file) + ": not valid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
  if (!j.is_object()) return fail(ErrorCode::Integrity, std::string(file) + ": not a JSON object");
  return j;
}

std::string string_at(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::uint64_t> positive_at(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > 0) return it->get<std::uint64_t>();
  if (it->is_number_integer() && it->get<std::int64_t>() > 0) return static_cast<std::uint64_t>(it->get<std::int64_t>());
  return std::nullopt;
}

std::optional<int> small_int_at(const json& j, const char* key) {
  const auto v = positive_at(j, key);
  if (!v || *v > 64) return std::nullopt;
  return static_cast<int>(*v);
}

bool true_at(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

bool template_present(const json& j) {
  const auto it = j.find("chat_template");
  if (it == j.end()) return false;
  if (it->is_string()) return !it->get_ref<const std::string&>().empty();
  return it->is_array() && !it->empty();  // [{"name": ..., "template": ...}, ...]
}

Quantization quantization_of(const json& q) {
  Quantization out;
  out.method = string_at(q, "quant_method");
  if (out.method.empty() && (true_at(q, "load_in_4bit") || true_at(q, "load_in_8bit"))) out.method = "bitsandbytes";
  out.bits = small_int_at(q, "bits");
  if (!out.bits) out.bits = small_int_at(q, "weight_bits");
  if (!out.bits && out.method == "bitsandbytes") {
    if (true_at(q, "load_in_4bit"))
      out.bits = 4;
    else if (true_at(q, "load_in_8bit"))
      out.bits = 8;
  }
  if (out.method == "bitsandbytes") out.detail = string_at(q, "bnb_4bit_quant_type");
  if (out.detail.empty()) out.detail = string_at(q, "fmt");
  if (out.detail.empty()) {
    if (const auto g = positive_at(q, "group_size")) out.detail = "group size " + std::to_string(*g);
  }
  if (out.detail.empty()) out.detail = string_at(q, "format");
  return out;
}

constexpr const char* k_context_keys[] = {"max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx",
                                          "max_sequence_length"};

}  // namespace

Result<ModelConfig> parse_model_config(std::string_view text, std::string_view file) {
  auto j = parse_object(text, file);
  if (!j) return fail(std::move(j).error());
  ModelConfig c;
  c.model_type = string_at(*j, "model_type");
  if (const auto it = j->find("architectures"); it != j->end() && it->is_array())
    for (const auto& a : *it)
      if (a.is_string()) c.architectures.push_back(a.get<std::string>());
  for (const char* where : {"", "text_config"}) {
    const json* scope = &*j;
    if (*where) {
      const auto it = j->find(where);
      if (it == j->end() || !it->is_object()) continue;
      scope = &*it;
    }
    for (const char* key : k_context_keys)
      if (const auto v = positive_at(*scope, key)) {
        c.context_length = v;
        c.context_length_key = *where ? std::string(where) + "." + key : std::string(key);
        break;
      }
    if (c.context_length) break;
  }
  c.torch_dtype = string_at(*j, "torch_dtype");
  if (c.torch_dtype.empty()) c.torch_dtype = string_at(*j, "dtype");
  if (const auto it = j->find("quantization_config"); it != j->end() && it->is_object()) c.quantization = quantization_of(*it);
  if (const auto it = j->find("auto_map"); it != j->end() && it->is_object())
    for (const auto& [k, v] : it->items()) {
      // A value is "module.Class", or [slow, fast] for tokenizers, or "repo--module.Class".
      std::string target;
      if (v.is_string())
        target = v.get<std::string>();
      else if (v.is_array())
        for (const auto& e : v)
          if (e.is_string()) {
            if (!target.empty()) target += ", ";
            target += e.get<std::string>();
          }
      c.auto_map.emplace_back(k, target);
    }
  return c;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_generation_config(std::string_view text, std::string_view file) {
  auto j = parse_object(text, file);
  if (!j) return fail(std::move(j).error());
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : j->items()) {
    if (k == "_from_model_config" || k == "transformers_version") continue;
    out.emplace_back(k, v.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  return out;
}

Result<TokenizerConfig> parse_tokenizer_config(std::string_view text, std::string_view file) {
  auto j = parse_object(text, file);
  if (!j) return fail(std::move(j).error());
  TokenizerConfig t;
  t.chat_template = template_present(*j);
  t.tokenizer_class = string_at(*j, "tokenizer_class");
  return t;
}

Result<bool> parse_chat_template_json(std::string_view text, std::string_view file) {
  auto j = parse_object(text, file);
  if (!j) return fail(std::move(j).error());
  return template_present(*j);
}

Result<PipelineIndex> parse_model_index(std::string_view text, std::string_view file) {
  auto j = parse_object(text, file);
  if (!j) return fail(std::move(j).error());
  PipelineIndex out;
  out.class_name = string_at(*j, "_class_name");
  for (const auto& [key, value] : j->items())
    if (value.is_array() && value.size() == 2 && !(value[0].is_null() && value[1].is_null())) out.components.push_back(key);
  std::sort(out.components.begin(), out.components.end());
  return out;
}

Result<AdapterConfig> parse_adapter_config(std::string_view text, std::string_view file) {
  auto j = parse_object(text, file);
  if (!j) return fail(std::move(j).error());
  AdapterConfig a;
  a.peft_type = string_at(*j, "peft_type");
  a.base_model_name_or_path = string_at(*j, "base_model_name_or_path");
  a.task_type = string_at(*j, "task_type");
  a.r = positive_at(*j, "r");
  if (const auto it = j->find("lora_alpha"); it != j->end() && it->is_number()) a.lora_alpha = it->get<double>();
  if (const auto it = j->find("target_modules"); it != j->end()) {
    if (it->is_string())
      a.target_modules.push_back(it->get<std::string>());
    else if (it->is_array())
      for (const auto& m : *it)
        if (m.is_string()) a.target_modules.push_back(m.get<std::string>());
  }
  return a;
}

}  // namespace hubcache::model

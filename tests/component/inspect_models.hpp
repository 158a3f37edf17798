#pragma once
// Test repos for `inspect` (generated weights from model_writer.hpp): each a map of repo path ->
// bytes, written to a folder, a cache (CacheBuilder) or the test hub (weights as LFS files).
#include <map>
#include <string>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "model_writer.hpp"

namespace hubcache::test {

using RepoFiles = std::map<std::string, std::string>;

inline std::string config_json(const std::string& extra = {}) {
  return R"({"model_type":"llama","architectures":["LlamaForCausalLM"],"max_position_embeddings":4096,)"
         R"("torch_dtype":"bfloat16")" +
         extra + "}";
}

/// One safetensors file (F32, BF16, F16 tensors) with config, generation defaults, a tokenizer with
/// a chat template and a README that names a license.
inline RepoFiles single_model() {
  return {{"config.json", config_json()},
          {"generation_config.json", R"({"bos_token_id":1,"eos_token_id":2,"temperature":0.6,"transformers_version":"4.45"})"},
          {"tokenizer_config.json", R"({"tokenizer_class":"LlamaTokenizer","chat_template":"{{ messages }}"})"},
          {"tokenizer.json", R"({"version":"1.0"})"},
          {"README.md", "---\nlanguage: en\nlicense: apache-2.0\n---\n# A model\n"},
          {"model.safetensors",
           safetensors_bytes(
               {{"embed.weight", "BF16", {64, 32}}, {"layers.0.attn.q.weight", "F16", {32, 32}}, {"norm.weight", "F32", {32}}},
               {{"format", "pt"}})}};
}

/// Three shards and their index.
inline RepoFiles sharded_model() {
  RepoFiles files{{"config.json", config_json()}};
  std::string weight_map;
  for (int s = 1; s <= 3; ++s) {
    const std::string shard = "model-0000" + std::to_string(s) + "-of-00003.safetensors";
    std::vector<FakeTensor> tensors;
    for (int t = 0; t < 4; ++t) {
      const std::string name = "layers." + std::to_string(s * 10 + t) + ".mlp.weight";
      tensors.push_back({name, t % 2 ? "F32" : "BF16", {16, static_cast<std::uint64_t>(8 + t)}});
      weight_map += std::string(weight_map.empty() ? "" : ",") + "\"" + name + "\":\"" + shard + "\"";
    }
    files[shard] = safetensors_bytes(tensors);
  }
  files["model.safetensors.index.json"] = R"({"metadata":{"total_size":1},"weight_map":{)" + weight_map + "}}";
  return files;
}

/// A GGUF v3 file with Q4_K, Q8_0, F16 and F32 tensors, larger than inspect's first read (1 MiB)
/// so a read past the header would show.
inline RepoFiles gguf_model() {
  return {{"model-Q4_K_M.gguf", gguf_bytes({{"general.architecture", std::string("llama")},
                                            {"general.name", std::string("tiny")},
                                            {"llama.context_length", std::uint64_t{8192}},
                                            {"general.file_type", std::uint64_t{15}},
                                            {"tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "</s>", "a"}}},
                                           {{"token_embd.weight", "Q4_K", {256, 64}},
                                            {"blk.0.attn_q.weight", "Q8_0", {256, 32}},
                                            {"blk.0.ffn_up.weight", "F16", {1024, 512}},
                                            {"output_norm.weight", "F32", {256}}})},
          {"README.md", "---\nlicense: mit\n---\n"}};
}

/// A LoRA adapter of org/base.
inline RepoFiles adapter_model() {
  return {{"adapter_config.json", R"({"peft_type":"LORA","base_model_name_or_path":"org/base","r":8,"lora_alpha":16,)"
                                  R"("target_modules":["q_proj","v_proj"],"task_type":"CAUSAL_LM"})"},
          {"adapter_model.safetensors", safetensors_bytes({{"base_model.model.q_proj.lora_A.weight", "F32", {8, 32}},
                                                           {"base_model.model.q_proj.lora_B.weight", "F32", {32, 8}}})}};
}

/// The same weights as safetensors, PyTorch .bin and ONNX.
inline RepoFiles multi_format_model() {
  std::string st = safetensors_bytes({{"w", "F32", {128, 128}}});
  return {{"config.json", config_json()},
          {"model.safetensors", st},
          {"pytorch_model.bin", std::string(70000, 'p')},
          {"onnx/model.onnx", std::string(66000, 'o')}};
}

/// Custom code (auto_map and a .py file) and a malformed generation_config.json.
inline RepoFiles custom_code_model() {
  return {{"config.json", config_json(R"(,"auto_map":{"AutoModelForCausalLM":"modeling_x.XForCausalLM"})")},
          {"modeling_x.py", "class XForCausalLM: pass\n"},
          {"generation_config.json", R"({"temperature": 0.7,)"},
          {"model.safetensors", safetensors_bytes({{"w", "BF16", {8, 8}}})}};
}

/// A diffusers pipeline: model_index.json, a sharded unet with an index (and an fp16 variant
/// copy beside it), a text encoder and a vae.
inline RepoFiles diffusers_model() {
  const std::string idx = R"({"weight_map":{"down.weight":"diffusion_pytorch_model-00001-of-00002.safetensors",)"
                          R"("up.weight":"diffusion_pytorch_model-00002-of-00002.safetensors"}})";
  return {{"model_index.json", R"({"_class_name":"StableDiffusionPipeline","unet":["diffusers","UNet2DConditionModel"],)"
                               R"("text_encoder":["transformers","CLIPTextModel"],"vae":["diffusers","AutoencoderKL"]})"},
          {"unet/config.json", R"({"_class_name":"UNet2DConditionModel"})"},
          {"unet/diffusion_pytorch_model.safetensors.index.json", idx},
          {"unet/diffusion_pytorch_model-00001-of-00002.safetensors", safetensors_bytes({{"down.weight", "F32", {64, 16}}})},
          {"unet/diffusion_pytorch_model-00002-of-00002.safetensors", safetensors_bytes({{"up.weight", "F32", {16, 64}}})},
          {"unet/diffusion_pytorch_model.fp16.safetensors",
           safetensors_bytes({{"down.weight", "F16", {64, 16}}, {"up.weight", "F16", {16, 64}}})},
          {"text_encoder/config.json", R"({"model_type":"clip_text_model"})"},
          {"text_encoder/model.safetensors", safetensors_bytes({{"emb.weight", "F32", {100, 8}}})},
          {"vae/config.json", R"({"_class_name":"AutoencoderKL"})"},
          {"vae/diffusion_pytorch_model.safetensors", safetensors_bytes({{"dec.weight", "BF16", {8, 8}}})}};
}

inline bool is_lfs(const std::string& path) {
  return path.ends_with(".safetensors") || path.ends_with(".gguf") || path.ends_with(".bin") || path.ends_with(".onnx");
}

}  // namespace hubcache::test

// model_config.hpp: the facts of config.json, generation_config.json, tokenizer_config.json,
// chat_template.json and adapter_config.json.
#include "hubcache/model/model_config.hpp"

#include <gtest/gtest.h>

using namespace hubcache;
using namespace hubcache::model;

TEST(ModelConfig, ArchitectureContextDtype) {
  auto c = parse_model_config(R"({"model_type":"llama","architectures":["LlamaForCausalLM"],
    "max_position_embeddings":131072,"torch_dtype":"bfloat16","hidden_size":4096})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->model_type, "llama");
  EXPECT_EQ(c->architectures, std::vector<std::string>{"LlamaForCausalLM"});
  EXPECT_EQ(c->context_length, 131072u);
  EXPECT_EQ(c->context_length_key, "max_position_embeddings");
  EXPECT_EQ(c->torch_dtype, "bfloat16");
  EXPECT_FALSE(c->quantization);
  EXPECT_TRUE(c->auto_map.empty());
}

TEST(ModelConfig, ContextLengthKeysInOrderAndInsideTextConfig) {
  EXPECT_EQ(parse_model_config(R"({"n_positions":1024,"n_ctx":2048})")->context_length, 1024u);
  EXPECT_EQ(parse_model_config(R"({"seq_length":8192})")->context_length, 8192u);
  EXPECT_EQ(parse_model_config(R"({"max_seq_len":4096})")->context_length, 4096u);
  auto c = parse_model_config(R"({"model_type":"llava","text_config":{"max_position_embeddings":32768}})");
  EXPECT_EQ(c->context_length, 32768u);
  EXPECT_EQ(c->context_length_key, "text_config.max_position_embeddings");
  // Not positive integers: absent.
  EXPECT_FALSE(parse_model_config(R"({"max_position_embeddings":-1,"n_ctx":"2048"})")->context_length);
  // transformers >= 4.56 writes "dtype".
  EXPECT_EQ(parse_model_config(R"({"dtype":"float16"})")->torch_dtype, "float16");
}

TEST(ModelConfig, Quantization) {
  auto gptq = parse_model_config(R"({"quantization_config":{"quant_method":"gptq","bits":4,"group_size":128}})");
  ASSERT_TRUE(gptq->quantization);
  EXPECT_EQ(gptq->quantization->method, "gptq");
  EXPECT_EQ(gptq->quantization->bits, 4);
  EXPECT_EQ(gptq->quantization->detail, "group size 128");
  auto awq = parse_model_config(R"({"quantization_config":{"quant_method":"awq","bits":4,"version":"gemm"}})");
  EXPECT_EQ(awq->quantization->method, "awq");
  // Old bitsandbytes configs have no quant_method.
  auto bnb = parse_model_config(R"({"quantization_config":{"load_in_4bit":true,"bnb_4bit_quant_type":"nf4"}})");
  EXPECT_EQ(bnb->quantization->method, "bitsandbytes");
  EXPECT_EQ(bnb->quantization->bits, 4);
  EXPECT_EQ(bnb->quantization->detail, "nf4");
  auto bnb8 = parse_model_config(R"({"quantization_config":{"quant_method":"bitsandbytes","load_in_8bit":true}})");
  EXPECT_EQ(bnb8->quantization->bits, 8);
  auto fp8 = parse_model_config(R"({"quantization_config":{"quant_method":"fp8","fmt":"e4m3"}})");
  EXPECT_EQ(fp8->quantization->method, "fp8");
  EXPECT_FALSE(fp8->quantization->bits);
  EXPECT_EQ(fp8->quantization->detail, "e4m3");
  auto ct = parse_model_config(R"({"quantization_config":{"quant_method":"compressed-tensors","format":"float-quantized"}})");
  EXPECT_EQ(ct->quantization->method, "compressed-tensors");
  EXPECT_EQ(ct->quantization->detail, "float-quantized");
}

TEST(ModelConfig, AutoMapMeansRemoteCode) {
  auto c = parse_model_config(R"({"auto_map":{"AutoConfig":"configuration_x.XConfig",
    "AutoModelForCausalLM":"modeling_x.XForCausalLM","AutoTokenizer":["tok.XTok",null]}})");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->auto_map.size(), 3u);
  EXPECT_EQ(c->auto_map[1].first, "AutoModelForCausalLM");
  EXPECT_EQ(c->auto_map[1].second, "modeling_x.XForCausalLM");
  EXPECT_EQ(c->auto_map[2].second, "tok.XTok");
}

TEST(ModelConfig, MalformedIsAnIntegrityErrorNamingTheFile) {
  auto bad = parse_model_config(R"({"model_type": "llama",)", "sub/config.json");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::Integrity);
  EXPECT_NE(bad.error().message.find("sub/config.json"), std::string::npos);
  EXPECT_NE(bad.error().message.find("byte"), std::string::npos);
  auto array = parse_model_config("[1,2]");
  ASSERT_FALSE(array);
  EXPECT_NE(array.error().message.find("not a JSON object"), std::string::npos);
  EXPECT_FALSE(parse_generation_config("nope"));
  EXPECT_FALSE(parse_tokenizer_config(""));
  EXPECT_FALSE(parse_adapter_config("{"));
  EXPECT_FALSE(parse_chat_template_json("\"x\""));
  // Wrong field types are ignored, not errors.
  auto odd = parse_model_config(R"({"model_type":7,"architectures":"X","quantization_config":[]})");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->model_type, "");
  EXPECT_TRUE(odd->architectures.empty());
  EXPECT_FALSE(odd->quantization);
}

TEST(GenerationConfig, DefaultsWithoutBookkeeping) {
  auto g = parse_generation_config(R"({"_from_model_config":true,"bos_token_id":1,"eos_token_id":[2,3],
    "temperature":0.6,"top_p":0.9,"do_sample":true,"transformers_version":"4.45.0"})");
  ASSERT_TRUE(g);
  std::vector<std::pair<std::string, std::string>> want = {
      {"bos_token_id", "1"}, {"do_sample", "true"}, {"eos_token_id", "[2,3]"}, {"temperature", "0.6"}, {"top_p", "0.9"}};
  EXPECT_EQ(*g, want);
}

TEST(TokenizerConfig, ChatTemplate) {
  EXPECT_TRUE(parse_tokenizer_config(R"({"chat_template":"{{ messages }}","tokenizer_class":"LlamaTokenizer"})")->chat_template);
  EXPECT_EQ(parse_tokenizer_config(R"({"tokenizer_class":"LlamaTokenizer"})")->tokenizer_class, "LlamaTokenizer");
  EXPECT_FALSE(parse_tokenizer_config(R"({"tokenizer_class":"X"})")->chat_template);
  EXPECT_FALSE(parse_tokenizer_config(R"({"chat_template":""})")->chat_template);
  EXPECT_TRUE(parse_tokenizer_config(R"({"chat_template":[{"name":"default","template":"x"}]})")->chat_template);
  EXPECT_TRUE(*parse_chat_template_json(R"({"chat_template":"{% for m in messages %}{% endfor %}"})"));
  EXPECT_FALSE(*parse_chat_template_json(R"({})"));
}

TEST(AdapterConfig, LoraFacts) {
  auto a = parse_adapter_config(R"({"peft_type":"LORA","base_model_name_or_path":"org/base","task_type":"CAUSAL_LM",
    "r":16,"lora_alpha":32,"target_modules":["q_proj","v_proj"]})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->peft_type, "LORA");
  EXPECT_EQ(a->base_model_name_or_path, "org/base");
  EXPECT_EQ(a->task_type, "CAUSAL_LM");
  EXPECT_EQ(a->r, 16u);
  EXPECT_EQ(a->lora_alpha, 32.0);
  EXPECT_EQ(a->target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  auto regex = parse_adapter_config(R"({"peft_type":"LORA","target_modules":".*proj"})");
  EXPECT_EQ(regex->target_modules, std::vector<std::string>{".*proj"});
  EXPECT_FALSE(regex->r);
}

TEST(PipelineIndex, ClassAndTheComponentsThePipelineLoads) {
  auto p = parse_model_index(R"({"_class_name":"StableDiffusionPipeline","_diffusers_version":"0.30.0",
    "vae":["diffusers","AutoencoderKL"],"unet":["diffusers","UNet2DConditionModel"],"safety_checker":[null,null],
    "requires_safety_checker":false,"feature_extractor":["transformers","CLIPImageProcessor"],"odd":["one"]})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->class_name, "StableDiffusionPipeline");
  // Not the skipped safety_checker ([null, null]), nor flags or malformed values.
  EXPECT_EQ(p->components, (std::vector<std::string>{"feature_extractor", "unet", "vae"}));
  auto bad = parse_model_index("[1]", "x/model_index.json");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::Integrity);
  EXPECT_NE(bad.error().message.find("x/model_index.json"), std::string::npos) << bad.error().message;
}

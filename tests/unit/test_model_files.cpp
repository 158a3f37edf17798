// Which files each framework loads (model/model_files.hpp): exact file sets and the gist of each
// left-out reason, for transformers, llama.cpp's GGUF variants and diffusers.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>

#include "hubcache/model/model_files.hpp"

namespace hubcache::model {
namespace {

std::vector<RepoFile> repo(const std::vector<std::string>& paths) {
  std::vector<RepoFile> out;
  for (const auto& p : paths) out.push_back({p, 10});
  return out;
}

ModelTarget target(std::string_view text) {
  auto t = ModelTarget::parse(text);
  EXPECT_TRUE(t) << text;
  return t ? *t : ModelTarget{};
}

Selection select(std::string_view t, const std::vector<std::string>& paths) {
  auto s = select_for(target(t), repo(paths));
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? *s : Selection{};
}

std::string reason(const Selection& s, const std::string& path) {
  for (const auto& l : s.left_out)
    if (l.path == path) return l.reason;
  return "<not left out>";
}

using Files = std::vector<std::string>;

TEST(ModelTarget, ParsesTheAcceptedValues) {
  EXPECT_EQ(target("transformers").framework, Framework::Transformers);
  EXPECT_EQ(target("diffusers").framework, Framework::Diffusers);
  EXPECT_EQ(target("gguf").framework, Framework::Gguf);
  EXPECT_EQ(target("gguf").quant, "");
  EXPECT_EQ(target("gguf:Q4_K_M").quant, "Q4_K_M");
  EXPECT_EQ(target("gguf:q8_0").to_string(), "gguf:q8_0");
  for (const char* bad : {"", "pytorch", "gguf:", "transformers:Q4", "gguf:Q4 K", "gguf:../x"}) {
    auto t = ModelTarget::parse(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(t.error().message.find("transformers, diffusers, gguf or gguf:QUANT"), std::string::npos);
  }
}

TEST(WeightFormats, ClassifiesByNameAndGroupsLargestFirst) {
  EXPECT_EQ(weight_format_of("model.safetensors"), WeightFormat::Safetensors);
  EXPECT_EQ(weight_format_of("pytorch_model-00001-of-00002.bin"), WeightFormat::PytorchBin);
  EXPECT_EQ(weight_format_of("onnx/model.onnx"), WeightFormat::Onnx);
  EXPECT_EQ(weight_format_of("tf_model.h5"), WeightFormat::TensorFlow);
  EXPECT_EQ(weight_format_of("flax_model.msgpack"), WeightFormat::Flax);
  EXPECT_EQ(weight_format_of("x-Q4_K_M.gguf"), WeightFormat::Gguf);
  EXPECT_FALSE(is_weight_file("config.json"));
  EXPECT_FALSE(is_weight_file("training_args.bin"));
  EXPECT_FALSE(is_weight_file("model.safetensors.index.json"));
  EXPECT_TRUE(is_weight_file("v1-5-pruned.ckpt"));
  auto groups = weight_formats({{"model.safetensors", 5}, {"pytorch_model.bin", 7}, {"onnx/model.onnx", 1}, {"config.json", 99}});
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].format, WeightFormat::PytorchBin);
  EXPECT_EQ(groups[1].format, WeightFormat::Safetensors);
  EXPECT_EQ(groups[2].files, Files{"onnx/model.onnx"});
}

TEST(SelectTransformers, TakesSafetensorsOverEveryOtherCopy) {
  const Files all = {".gitattributes",
                     "README.md",
                     "config.json",
                     "generation_config.json",
                     "tokenizer.json",
                     "tokenizer_config.json",
                     "special_tokens_map.json",
                     "vocab.json",
                     "merges.txt",
                     "chat_template.jinja",
                     "model.safetensors",
                     "pytorch_model.bin",
                     "tf_model.h5",
                     "flax_model.msgpack",
                     "model.onnx",
                     "onnx/model.onnx",
                     "onnx/config.json",
                     "consolidated.safetensors",
                     "model-Q4_K_M.gguf",
                     "training_args.bin"};
  auto s = select("transformers", all);
  EXPECT_EQ(s.files, (Files{"chat_template.jinja", "config.json", "generation_config.json", "merges.txt", "model.safetensors",
                            "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.json"}));
  EXPECT_EQ(s.bytes, 90u);
  EXPECT_EQ(s.left_out.size(), all.size() - s.files.size());
  EXPECT_EQ(s.left_out_bytes, 10u * s.left_out.size());
  EXPECT_EQ(reason(s, "pytorch_model.bin"), "PyTorch .bin copy of the weights: from_pretrained loads model.safetensors");
  EXPECT_EQ(reason(s, "model.onnx"), "ONNX export: not loaded by from_pretrained");
  EXPECT_EQ(reason(s, "onnx/model.onnx"), "ONNX export: not loaded by from_pretrained");
  EXPECT_EQ(reason(s, "onnx/config.json"), "in subfolder onnx/: from_pretrained reads the repo root");
  EXPECT_EQ(reason(s, "README.md"), "README/docs: not loaded");
  EXPECT_NE(reason(s, "tf_model.h5").find("TensorFlow copy"), std::string::npos);
  EXPECT_NE(reason(s, "flax_model.msgpack").find("Flax copy"), std::string::npos);
  EXPECT_EQ(reason(s, "consolidated.safetensors"),
            "consolidated.safetensors: Mistral's original format, not loaded by from_pretrained");
  EXPECT_NE(reason(s, "model-Q4_K_M.gguf").find("GGUF"), std::string::npos);
  EXPECT_NE(reason(s, "training_args.bin").find("training state"), std::string::npos);
}

TEST(SelectTransformers, ShardedSafetensorsTakeTheIndexAndItsShards) {
  auto s = select("transformers",
                  {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                   "model-00002-of-00002.safetensors", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin",
                   "pytorch_model-00002-of-00002.bin", "original/model-00001-of-00002.safetensors"});
  EXPECT_EQ(s.files, (Files{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                            "model.safetensors.index.json"}));
  EXPECT_NE(reason(s, "pytorch_model-00001-of-00002.bin").find("from_pretrained loads the model.safetensors shards"),
            std::string::npos);
  EXPECT_NE(reason(s, "pytorch_model.bin.index.json").find("index of weights not loaded"), std::string::npos);
  EXPECT_EQ(reason(s, "original/model-00001-of-00002.safetensors"),
            "in subfolder original/: from_pretrained reads the repo root");
}

TEST(SelectTransformers, ASingleFileComesBeforeAnIndexAsFromPretrainedAsksForIt) {
  // from_pretrained asks for model.safetensors first and for the index only when it is missing.
  auto s = select("transformers",
                  {"config.json", "model.safetensors", "model.safetensors.index.json", "model-00001-of-00001.safetensors"});
  EXPECT_EQ(s.files, (Files{"config.json", "model.safetensors"}));
  EXPECT_NE(reason(s, "model-00001-of-00001.safetensors").find("loads model.safetensors"), std::string::npos);
  // diffusers looks for a component's index first.
  auto d = select("diffusers", {"model_index.json", "unet/diffusion_pytorch_model.safetensors",
                                "unet/diffusion_pytorch_model.safetensors.index.json",
                                "unet/diffusion_pytorch_model-00001-of-00001.safetensors"});
  EXPECT_EQ(d.files, (Files{"model_index.json", "unet/diffusion_pytorch_model-00001-of-00001.safetensors",
                            "unet/diffusion_pytorch_model.safetensors.index.json"}));
}

TEST(SelectTransformers, FallsBackToBinThenTensorFlowThenFlax) {
  EXPECT_EQ(select("transformers", {"config.json", "pytorch_model.bin", "tf_model.h5"}).files,
            (Files{"config.json", "pytorch_model.bin"}));
  EXPECT_EQ(select("transformers",
                   {"config.json", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00001.bin", "flax_model.msgpack"})
                .files,
            (Files{"config.json", "pytorch_model-00001-of-00001.bin", "pytorch_model.bin.index.json"}));
  EXPECT_EQ(select("transformers", {"config.json", "tf_model.h5", "flax_model.msgpack"}).files,
            (Files{"config.json", "tf_model.h5"}));
  EXPECT_EQ(select("transformers", {"config.json", "flax_model.msgpack"}).files, (Files{"config.json", "flax_model.msgpack"}));
}

TEST(SelectTransformers, TakesCustomCodeTokenizerModelsAndAdapters) {
  auto s = select("transformers", {"config.json", "configuration_foo.py", "modeling_foo.py", "tokenizer.model", "spiece.model",
                                   "model.safetensors", "additional_chat_templates/tool_use.jinja", "scripts/train.py"});
  EXPECT_EQ(s.files, (Files{"additional_chat_templates/tool_use.jinja", "config.json", "configuration_foo.py",
                            "model.safetensors", "modeling_foo.py", "spiece.model", "tokenizer.model"}));
  auto a = select("transformers",
                  {"adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "README.md", "tokenizer.json"});
  EXPECT_EQ(a.files, (Files{"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"}));
  EXPECT_NE(reason(a, "adapter_model.bin").find("loads adapter_model.safetensors"), std::string::npos);
  EXPECT_EQ(select("transformers", {"adapter_config.json", "adapter_model.bin"}).files,
            (Files{"adapter_config.json", "adapter_model.bin"}));
}

TEST(SelectTransformers, NothingLoadableIsNotFound) {
  auto s = select_for(target("transformers"), repo({"README.md", "model-Q4_K_M.gguf", "onnx/model.onnx"}));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::NotFound);
  EXPECT_NE(s.error().message.find("config.json"), std::string::npos);
}

const Files k_gguf_repo = {"README.md",
                           ".gitattributes",
                           "Model-Q4_K.gguf",
                           "Model-Q4_K_M.gguf",
                           "Model-Q8_0-00001-of-00002.gguf",
                           "Model-Q8_0-00002-of-00002.gguf",
                           "BF16/Model-BF16-00001-of-00002.gguf",
                           "BF16/Model-BF16-00002-of-00002.gguf",
                           "mmproj-Model-F16.gguf",
                           "mmproj-Model-F32.gguf"};

TEST(SelectGguf, DefaultsToQ4KM) {
  auto s = select("gguf", k_gguf_repo);
  EXPECT_EQ(s.files, (Files{"Model-Q4_K_M.gguf", "mmproj-Model-F16.gguf"}));
  EXPECT_EQ(reason(s, "Model-Q4_K.gguf"), "GGUF variant Q4_K: --for gguf takes Q4_K_M");
  EXPECT_EQ(reason(s, "Model-Q8_0-00002-of-00002.gguf"), "GGUF variant Q8_0: --for gguf takes Q4_K_M");
  EXPECT_NE(reason(s, "mmproj-Model-F32.gguf").find("llama.cpp loads one (mmproj-Model-F16.gguf)"), std::string::npos);
  EXPECT_EQ(reason(s, "README.md"), "README/docs: not loaded");
}

TEST(SelectGguf, TakesEverySplitPartOfTheQuantAskedForCaseInsensitively) {
  EXPECT_EQ(select("gguf:q8_0", k_gguf_repo).files,
            (Files{"Model-Q8_0-00001-of-00002.gguf", "Model-Q8_0-00002-of-00002.gguf", "mmproj-Model-F16.gguf"}));
  EXPECT_EQ(select("gguf:BF16", k_gguf_repo).files,
            (Files{"BF16/Model-BF16-00001-of-00002.gguf", "BF16/Model-BF16-00002-of-00002.gguf", "mmproj-Model-F16.gguf"}));
  // Q4_K is its own variant: it never matches Q4_K_M, nor the reverse.
  EXPECT_EQ(select("gguf:Q4_K", k_gguf_repo).files, (Files{"Model-Q4_K.gguf", "mmproj-Model-F16.gguf"}));
  // The projector of the chosen variant is preferred; a tag only in the folder counts.
  EXPECT_EQ(select("gguf:F32", {"Model-F32.gguf", "Model-F16.gguf", "mmproj-F16.gguf", "mmproj-F32.gguf"}).files,
            (Files{"Model-F32.gguf", "mmproj-F32.gguf"}));
  EXPECT_EQ(select("gguf:Q5_K_S", {"Q5_K_S/part-00001-of-00002.gguf", "Q5_K_S/part-00002-of-00002.gguf", "Q6_K/part.gguf"}).files,
            (Files{"Q5_K_S/part-00001-of-00002.gguf", "Q5_K_S/part-00002-of-00002.gguf"}));
  EXPECT_EQ(select("gguf:IQ4_XS", {"llama.IQ4_XS.gguf", "llama.Q4_0.gguf"}).files, Files{"llama.IQ4_XS.gguf"});
}

TEST(SelectGguf, WithoutQ4KMOneVariantIsTheChoiceAndSeveralAreAnError) {
  EXPECT_EQ(select("gguf", {"ggml-model-f16.gguf", "config.json"}).files, Files{"ggml-model-f16.gguf"});
  EXPECT_EQ(select("gguf", {"model.gguf"}).files, Files{"model.gguf"});
  auto s = select_for(target("gguf"), repo({"a-Q8_0.gguf", "a-Q6_K.gguf"}));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::NotFound);
  EXPECT_NE(s.error().message.find("Q6_K, Q8_0"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("gguf:QUANT"), std::string::npos);
}

TEST(SelectGguf, ASplitVariantWithAMissingPartIsNotFoundNamingIt) {
  auto s = select_for(target("gguf:Q8_0"),
                      repo({"Model-Q8_0-00001-of-00003.gguf", "Model-Q8_0-00003-of-00003.gguf", "Model-Q4_0.gguf"}));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::NotFound);
  EXPECT_NE(s.error().message.find("lacks part Model-Q8_0-00002-of-00003.gguf"), std::string::npos) << s.error().message;
  auto two = select_for(target("gguf"), repo({"Q4_K_M/m-Q4_K_M-00002-of-00004.gguf", "Q4_K_M/m-Q4_K_M-00004-of-00004.gguf"}));
  ASSERT_FALSE(two);
  EXPECT_NE(two.error().message.find("lacks parts Q4_K_M/m-Q4_K_M-00001-of-00004.gguf, Q4_K_M/m-Q4_K_M-00003-of-00004.gguf"),
            std::string::npos)
      << two.error().message;
}

TEST(SelectGguf, TwoCopiesOfTheVariantTakeOneLocation) {
  auto s = select("gguf", {"Tiny-Q4_K_M.gguf", "Q4_K_M/Tiny-Q4_K_M.gguf", "Tiny-Q8_0.gguf"});
  EXPECT_EQ(s.files, Files{"Tiny-Q4_K_M.gguf"});
  EXPECT_EQ(reason(s, "Q4_K_M/Tiny-Q4_K_M.gguf"),
            "another copy of the chosen variant Q4_K_M: --for gguf takes the one at the repo's root");
  // Without a root copy: one folder, the shallowest (then first by name).
  auto f = select("gguf", {"b/Tiny-Q4_K_M.gguf", "a/x/Tiny-Q4_K_M.gguf", "c/Tiny-Q4_K_M.gguf"});
  EXPECT_EQ(f.files, Files{"b/Tiny-Q4_K_M.gguf"});
  EXPECT_EQ(reason(f, "c/Tiny-Q4_K_M.gguf"), "another copy of the chosen variant Q4_K_M: --for gguf takes the one in b/");
}

TEST(SelectGguf, UnknownQuantOrNoGgufIsNotFoundListingVariants) {
  auto s = select_for(target("gguf:Q2_K"), repo(k_gguf_repo));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::NotFound);
  EXPECT_NE(s.error().message.find("no GGUF variant 'Q2_K'"), std::string::npos);
  EXPECT_NE(s.error().message.find("BF16, Q4_K, Q4_K_M, Q8_0"), std::string::npos) << s.error().message;
  auto none = select_for(target("gguf"), repo({"config.json", "model.safetensors"}));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no .gguf file"), std::string::npos);
}

TEST(SelectDiffusers, TakesEachComponentFoldersConfigAndPreferredWeights) {
  const Files all = {"model_index.json",
                     "README.md",
                     "v1-5-pruned-emaonly.safetensors",
                     "v1-5-pruned.ckpt",
                     "scheduler/scheduler_config.json",
                     "text_encoder/config.json",
                     "text_encoder/model.safetensors",
                     "text_encoder/model.fp16.safetensors",
                     "text_encoder/pytorch_model.bin",
                     "text_encoder/flax_model.msgpack",
                     "tokenizer/merges.txt",
                     "tokenizer/vocab.json",
                     "tokenizer/tokenizer_config.json",
                     "tokenizer/special_tokens_map.json",
                     "unet/config.json",
                     "unet/diffusion_pytorch_model.safetensors.index.json",
                     "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
                     "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
                     "unet/diffusion_pytorch_model.safetensors.index.fp16.json",
                     "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
                     "unet/diffusion_pytorch_model.bin",
                     "vae/config.json",
                     "vae/diffusion_pytorch_model.bin",
                     "vae/diffusion_pytorch_model.fp16.bin",
                     "vae/diffusion_pytorch_model.onnx",
                     "unet/extra/notes.json"};
  auto s = select("diffusers", all);
  EXPECT_EQ(
      s.files,
      (Files{"model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json", "text_encoder/model.safetensors",
             "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json",
             "tokenizer/vocab.json", "unet/config.json", "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
             "unet/diffusion_pytorch_model-00002-of-00002.safetensors", "unet/diffusion_pytorch_model.safetensors.index.json",
             "vae/config.json", "vae/diffusion_pytorch_model.bin"}));
  EXPECT_EQ(reason(s, "text_encoder/model.fp16.safetensors"), "variant fp16: loaded only with variant=\"fp16\"");
  EXPECT_EQ(reason(s, "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors"),
            "variant fp16: loaded only with variant=\"fp16\"");
  EXPECT_EQ(reason(s, "unet/diffusion_pytorch_model.safetensors.index.fp16.json"),
            "variant fp16: loaded only with variant=\"fp16\"");
  EXPECT_EQ(reason(s, "vae/diffusion_pytorch_model.fp16.bin"), "variant fp16: loaded only with variant=\"fp16\"");
  EXPECT_EQ(reason(s, "v1-5-pruned.ckpt"), "single-file checkpoint; from_pretrained loads the component folders");
  EXPECT_EQ(reason(s, "v1-5-pruned-emaonly.safetensors"), "single-file checkpoint; from_pretrained loads the component folders");
  EXPECT_NE(reason(s, "unet/diffusion_pytorch_model.bin").find("loads the unet/diffusion_pytorch_model.safetensors shards"),
            std::string::npos)
      << reason(s, "unet/diffusion_pytorch_model.bin");
  EXPECT_NE(reason(s, "text_encoder/flax_model.msgpack").find("Flax copy"), std::string::npos);
  EXPECT_NE(reason(s, "vae/diffusion_pytorch_model.onnx").find("ONNX export"), std::string::npos);
  EXPECT_NE(reason(s, "unet/extra/notes.json").find("not in a component folder"), std::string::npos);
}

TEST(SelectDiffusers, NoModelIndexIsNotFound) {
  auto s = select_for(target("diffusers"), repo({"config.json", "model.safetensors"}));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::NotFound);
  EXPECT_NE(s.error().message.find("model_index.json"), std::string::npos);
}

}  // namespace
TEST(SelectDiffusers, ModelIndexNamesTheComponentsAndVariantOnlyComponentsWarn) {
  const std::vector<std::string> files = {"model_index.json",
                                          "unet/config.json",
                                          "unet/diffusion_pytorch_model.safetensors",
                                          "vae/config.json",
                                          "vae/diffusion_pytorch_model.fp16.safetensors",
                                          "safety_checker/config.json",
                                          "safety_checker/model.safetensors",
                                          "extra/config.json",
                                          "scheduler/scheduler_config.json"};
  const std::string index = R"({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
    "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
    "scheduler": ["diffusers", "PNDMScheduler"], "safety_checker": [null, null], "requires_safety_checker": false})";
  std::vector<std::string> asked;
  auto s = select_for(target("diffusers"), repo(files), [&](const std::string& path) -> std::optional<std::string> {
    asked.push_back(path);
    return path == "model_index.json" ? std::optional<std::string>(index) : std::nullopt;
  });
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->files, (Files{"model_index.json", "scheduler/scheduler_config.json", "unet/config.json",
                             "unet/diffusion_pytorch_model.safetensors", "vae/config.json"}));
  EXPECT_EQ(reason(*s, "safety_checker/model.safetensors"),
            "folder safety_checker is no component of model_index.json: DiffusionPipeline.from_pretrained does not load it");
  EXPECT_NE(reason(*s, "extra/config.json").find("no component of model_index.json"), std::string::npos);
  ASSERT_EQ(s->warnings.size(), 1u);
  EXPECT_EQ(s->warnings[0],
            "component vae holds only variant weights (fp16), no default-variant weights: DiffusionPipeline.from_pretrained "
            "without variant= finds no weights for it");
  // Only the pipeline's file is read: no component here is sharded.
  EXPECT_EQ(asked, (Files{"model_index.json"}));
  // Without model_index.json's text: every folder counts, as before.
  auto all = select_for(target("diffusers"), repo(files));
  ASSERT_TRUE(all);
  EXPECT_NE(std::find(all->files.begin(), all->files.end(), "safety_checker/model.safetensors"), all->files.end());
  EXPECT_EQ(all->warnings.size(), 1u);
}

// A reader of the repo's files from a map, recording what it was asked for.
struct Texts {
  std::map<std::string, std::string> files;
  std::vector<std::string> asked;
  ReadRepoText reader() {
    return [this](const std::string& path) -> std::optional<std::string> {
      asked.push_back(path);
      auto it = files.find(path);
      return it == files.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  }
};

std::string index_of(const std::vector<std::pair<std::string, std::string>>& map) {
  std::string out = R"({"metadata": {"total_size": 40}, "weight_map": {)";
  for (std::size_t i = 0; i < map.size(); ++i) out += (i ? ", " : "") + ("\"" + map[i].first + "\": \"" + map[i].second + "\"");
  return out + "}}";
}

TEST(SelectByIndex, TheShardsAreWhatTheIndexNamesWhateverTheirNamesAndStaleOnesAreLeftOut) {
  // A re-sharded checkpoint: the index names three irregularly named files (one in a folder);
  // the old 2-shard files are still in the repo.
  const Files files = {"config.json",
                       "model.safetensors.index.json",
                       "model-00001-of-00002.safetensors",
                       "model-00002-of-00002.safetensors",
                       "model-part-a.safetensors",
                       "model-part-b.safetensors",
                       "weights/model-part-c.safetensors"};
  Texts t;
  t.files["model.safetensors.index.json"] = index_of({{"a.weight", "model-part-a.safetensors"},
                                                      {"b.weight", "model-part-b.safetensors"},
                                                      {"c.weight", "weights/model-part-c.safetensors"},
                                                      {"d.weight", "model-part-a.safetensors"}});
  auto s = select_for(target("transformers"), repo(files), t.reader());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->files, (Files{"config.json", "model-part-a.safetensors", "model-part-b.safetensors",
                             "model.safetensors.index.json", "weights/model-part-c.safetensors"}));
  EXPECT_EQ(reason(*s, "model-00001-of-00002.safetensors"),
            "shard not named by model.safetensors.index.json: from_pretrained does not load it");
  EXPECT_EQ(s->bytes, 50u);
  EXPECT_TRUE(s->warnings.empty());
  EXPECT_EQ(t.asked, (Files{"model.safetensors.index.json"}));
  // By names alone (no reader), the same repo gives the stale shards and leaves the new ones out.
  auto by_name = select_for(target("transformers"), repo(files));
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->files, (Files{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                   "model.safetensors.index.json"}));
}

TEST(SelectByIndex, AShardTheIndexNamesAndTheRepoLacksIsNotFoundListingIt) {
  Texts t;
  t.files["model.safetensors.index.json"] = index_of({{"a", "model-00001-of-00003.safetensors"},
                                                      {"b", "model-00002-of-00003.safetensors"},
                                                      {"c", "model-00003-of-00003.safetensors"}});
  auto s = select_for(target("transformers"),
                      repo({"config.json", "model.safetensors.index.json", "model-00001-of-00003.safetensors"}), t.reader());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::NotFound);
  EXPECT_EQ(s.error().message,
            "model.safetensors.index.json names shards the repo lacks (model-00002-of-00003.safetensors, "
            "model-00003-of-00003.safetensors): from_pretrained cannot load this checkpoint; the repo is incomplete at this "
            "revision");
}

TEST(SelectByIndex, AnUnreadableOrInvalidIndexFallsBackToTheNamesWithAWarning) {
  const Files files = {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                       "model-00002-of-00002.safetensors"};
  Texts unreadable;
  auto s = select_for(target("transformers"), repo(files), unreadable.reader());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->files.size(), 4u);
  ASSERT_EQ(s->warnings.size(), 1u);
  EXPECT_EQ(s->warnings[0],
            "could not read model.safetensors.index.json; its shards are taken by their names "
            "(model-NNNNN-of-NNNNN.safetensors)");
  // An index naming a file outside its folder is refused by the index reader, not followed.
  Texts escaping;
  escaping.files["model.safetensors.index.json"] = index_of({{"a", "../../etc/passwd"}});
  auto e = select_for(target("transformers"), repo(files), escaping.reader());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->files.size(), 4u);
  ASSERT_EQ(e->warnings.size(), 1u);
  EXPECT_NE(e->warnings[0].find("names '../../etc/passwd', not a file inside the index's folder"), std::string::npos)
      << e->warnings[0];
}

TEST(SelectByIndex, EachDiffusersComponentLoadsItsIndexsShardsAndSkippedComponentsAreNotRead) {
  const Files files = {"model_index.json",
                       "transformer/config.json",
                       "transformer/diffusion_pytorch_model.safetensors.index.json",
                       "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
                       "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
                       "transformer/diffusion_pytorch_model-00003-of-00003.safetensors",
                       "transformer/diffusion_pytorch_model.fp16-00001-of-00001.safetensors",
                       "text_encoder_2/config.json",
                       "text_encoder_2/model.safetensors.index.json",
                       "text_encoder_2/model-00001-of-00002.safetensors",
                       "text_encoder_2/model-00002-of-00002.safetensors",
                       "unused/model.safetensors.index.json",
                       "unused/model-00001-of-00001.safetensors"};
  Texts t;
  t.files["model_index.json"] =
      R"({"transformer": ["diffusers", "FluxTransformer2DModel"], "text_encoder_2": ["transformers", "T5EncoderModel"]})";
  t.files["transformer/diffusion_pytorch_model.safetensors.index.json"] = index_of(
      {{"x", "diffusion_pytorch_model-00001-of-00002.safetensors"}, {"y", "diffusion_pytorch_model-00002-of-00002.safetensors"}});
  auto s = select_for(target("diffusers"), repo(files), t.reader());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->files, (Files{"model_index.json", "text_encoder_2/config.json", "text_encoder_2/model-00001-of-00002.safetensors",
                             "text_encoder_2/model-00002-of-00002.safetensors", "text_encoder_2/model.safetensors.index.json",
                             "transformer/config.json", "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
                             "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
                             "transformer/diffusion_pytorch_model.safetensors.index.json"}));
  EXPECT_EQ(reason(*s, "transformer/diffusion_pytorch_model-00003-of-00003.safetensors"),
            "shard not named by transformer/diffusion_pytorch_model.safetensors.index.json: DiffusionPipeline.from_pretrained "
            "does not load it");
  EXPECT_EQ(reason(*s, "transformer/diffusion_pytorch_model.fp16-00001-of-00001.safetensors"),
            "variant fp16: loaded only with variant=\"fp16\"");
  // The folder no component names is not read; text_encoder_2's index is unreadable here: by names, with a warning.
  EXPECT_EQ(t.asked, (Files{"model_index.json", "text_encoder_2/model.safetensors.index.json",
                            "transformer/diffusion_pytorch_model.safetensors.index.json"}));
  ASSERT_EQ(s->warnings.size(), 1u);
  EXPECT_NE(s->warnings[0].find("could not read text_encoder_2/model.safetensors.index.json"), std::string::npos);
}

}  // namespace hubcache::model

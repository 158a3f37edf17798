// `hubcache download --for` and `--with-base` end to end against the test hub in real-Hub mode on
// 127.0.0.1, over repos of real safetensors and GGUF files (model_writer.hpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cache_builder.hpp"
#include "cli_env.hpp"
#include "exit_codes.hpp"
#include "model_writer.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_model{RepoType::Model, "org/model"};
const RepoRef k_gguf{RepoType::Model, "org/model-GGUF"};
const RepoRef k_adapter{RepoType::Model, "org/adapter"};
const RepoRef k_base{RepoType::Model, "org/base"};

std::string weights(const std::string& prefix) {
  return safetensors_bytes({{prefix + ".weight", "F32", {4, 8}}, {prefix + ".bias", "F32", {8}}});
}
std::string gguf(const std::string& type) {
  return gguf_bytes({{"general.architecture", std::string("llama")}}, {{"blk.0.attn_q.weight", type, {256, 4}}});
}

struct DownloadFor : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string cache = dir / "cache";
  std::string c1 = commit_id(1);
  std::string c2 = commit_id(2);
  std::string c3 = commit_id(3);
  std::string c4 = commit_id(4);
  std::vector<std::string> env;

  void SetUp() override {
    server.set_real_hub({});
    // A repo with every copy of its weights, as many on the Hub carry.
    server.add_file(k_model, c1, ".gitattributes", "*.safetensors filter=lfs\n");
    server.add_file(k_model, c1, "README.md", "# model\n");
    server.add_file(k_model, c1, "config.json", R"({"model_type":"llama"})");
    server.add_file(k_model, c1, "generation_config.json", "{}");
    server.add_file(k_model, c1, "tokenizer.json", "{}");
    server.add_file(k_model, c1, "tokenizer_config.json", "{}");
    server.add_file(k_model, c1, "model.safetensors", weights("a"), true);
    server.add_file(k_model, c1, "pytorch_model.bin", std::string(3000, 'p'), true);
    server.add_file(k_model, c1, "model.onnx", std::string(2000, 'o'), true);
    server.add_file(k_model, c1, "onnx/model.onnx", std::string(2000, 'o'), true);
    server.add_file(k_model, c1, "onnx/model_quantized.onnx", std::string(1000, 'q'), true);
    server.set_ref(k_model, "main", c1);
    // GGUF variants: one file, split parts, a folder, projectors.
    server.add_file(k_gguf, c2, "README.md", "# gguf\n");
    server.add_file(k_gguf, c2, "Model-Q4_K_M.gguf", gguf("Q4_K"), true);
    server.add_file(k_gguf, c2, "Model-Q8_0-00001-of-00002.gguf", gguf("Q8_0"), true);
    server.add_file(k_gguf, c2, "Model-Q8_0-00002-of-00002.gguf", gguf("Q8_0"), true);
    server.add_file(k_gguf, c2, "BF16/Model-BF16.gguf", gguf("BF16"), true);
    server.add_file(k_gguf, c2, "mmproj-Model-F16.gguf", gguf("F16"), true);
    server.add_file(k_gguf, c2, "mmproj-Model-F32.gguf", gguf("F32"), true);
    server.set_ref(k_gguf, "main", c2);
    // A PEFT adapter and its base.
    server.add_file(k_adapter, c3, "adapter_config.json", R"({"base_model_name_or_path":"org/base","peft_type":"LORA","r":8})");
    server.add_file(k_adapter, c3, "adapter_model.safetensors", weights("lora"), true);
    server.add_file(k_adapter, c3, "README.md", "# adapter\n");
    server.set_ref(k_adapter, "main", c3);
    server.add_file(k_base, c4, "config.json", "{}");
    server.add_file(k_base, c4, "model.safetensors", weights("base"), true);
    server.add_file(k_base, c4, "pytorch_model.bin", std::string(3000, 'p'), true);
    server.set_ref(k_base, "main", c4);
    env = cli_env(server, dir, cache);
  }
  ProcessResult run(std::vector<std::string> args) { return run_process(cmd(std::move(args)), env); }
  std::string snapshot(const RepoRef& repo, const std::string& commit) const {
    std::string folder = "models--" + repo.id;
    folder.replace(folder.find('/'), 1, "--");
    return cache + "/" + folder + "/snapshots/" + commit;
  }
  // The snapshot's files, relative, as the cache holds them.
  std::set<std::string> files_of(const std::string& snap) const {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(snap, ec); it != std::filesystem::recursive_directory_iterator();
         ++it)
      if (!it->is_directory(ec)) out.insert(it->path().lexically_relative(snap).string());
    return out;
  }
};

}  // namespace

TEST_F(DownloadFor, TransformersTakesExactlyWhatFromPretrainedLoads) {
  auto r = run({"download", "org/model", "--for", "transformers"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, snapshot(k_model, c1) + "\n");
  EXPECT_EQ(files_of(snapshot(k_model, c1)), (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors",
                                                                    "tokenizer.json", "tokenizer_config.json"}));
  // The plan says what was left out and why, one line per file.
  EXPECT_NE(r.err.find("Left out 6 files"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pytorch_model.bin (3.0KB): PyTorch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("PyTorch .bin copy of the weights: from_pretrained loads model.safetensors"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("onnx/model.onnx"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ONNX export: not loaded by from_pretrained"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("README.md"), std::string::npos) << r.err;
  // Nothing of the left-out files was asked for.
  for (const auto& req : server.requests()) {
    EXPECT_EQ(req.path.find("pytorch_model.bin"), std::string::npos) << req.path;
    EXPECT_EQ(req.path.find(".onnx"), std::string::npos) << req.path;
  }
}

TEST_F(DownloadFor, JsonPlanEventListsTheLeftOutFilesAndPatternsStillApply) {
  auto r = run({"download", "org/model", "--for", "transformers", "--exclude", "tokenizer*", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = json_lines(r.out);
  ASSERT_FALSE(lines.empty());
  const auto plan = std::find_if(lines.begin(), lines.end(), [](const auto& j) { return j.value("event", "") == "plan"; });
  ASSERT_NE(plan, lines.end()) << r.out;
  ASSERT_TRUE(plan->contains("left_out")) << plan->dump();
  std::set<std::string> left;
  for (const auto& l : (*plan)["left_out"]) {
    left.insert(l["file"].get<std::string>());
    EXPECT_FALSE(l["reason"].get<std::string>().empty());
  }
  EXPECT_EQ(left, (std::set<std::string>{".gitattributes", "README.md", "model.onnx", "onnx/model.onnx",
                                         "onnx/model_quantized.onnx", "pytorch_model.bin"}));
  EXPECT_EQ(lines.back()["left_out"], 6);
  EXPECT_EQ(files_of(snapshot(k_model, c1)),
            (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors"}));
}

TEST_F(DownloadFor, DryRunShowsTheSelectionAndWritesNothing) {
  auto r = run({"download", "org/model", "--for", "transformers", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[dry-run] Will download 5 files (out of 5)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[dry-run] Left out 6 files"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("from_pretrained loads model.safetensors"), std::string::npos) << r.out;
  EXPECT_FALSE(exists(cache + "/models--org--model"));
  auto j = run({"download", "org/model", "--for", "transformers", "--dry-run", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto v = nlohmann::json::parse(j.out);
  EXPECT_EQ(v["files"].size(), 5u);
  EXPECT_EQ(v["left_out"].size(), 6u);
}

TEST_F(DownloadFor, GgufQuantTakesThatVariantsPartsAndOneProjector) {
  auto r = run({"download", "org/model-GGUF", "--for", "gguf:q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_of(snapshot(k_gguf, c2)),
            (std::set<std::string>{"Model-Q8_0-00001-of-00002.gguf", "Model-Q8_0-00002-of-00002.gguf", "mmproj-Model-F16.gguf"}));
  EXPECT_NE(r.err.find("GGUF variant Q4_K_M: --for gguf takes Q8_0"), std::string::npos) << r.err;
  // Without a quant: Q4_K_M, llama.cpp's default (already cached projector reused).
  auto d = run({"download", "org/model-GGUF", "--for", "gguf", "--json"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_TRUE(exists(snapshot(k_gguf, c2) + "/Model-Q4_K_M.gguf"));
  EXPECT_FALSE(exists(snapshot(k_gguf, c2) + "/BF16"));
  EXPECT_FALSE(exists(snapshot(k_gguf, c2) + "/mmproj-Model-F32.gguf"));
}

TEST_F(DownloadFor, UnknownQuantListsTheVariantsAndBadValuesAreUsageErrors) {
  auto r = run({"download", "org/model-GGUF", "--for", "gguf:Q2_K"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no GGUF variant 'Q2_K'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("BF16, Q4_K_M, Q8_0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gguf:QUANT"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(snapshot(k_gguf, c2)));
  auto bad = run({"download", "org/model", "--for", "pytorch"});
  EXPECT_EQ(bad.exit_code, exit_code::usage) << bad.err;
  EXPECT_NE(bad.err.find("transformers, diffusers, gguf or gguf:QUANT"), std::string::npos) << bad.err;
  auto colon = run({"download", "org/model", "--for", "transformers:Q4_K_M"});
  EXPECT_EQ(colon.exit_code, exit_code::usage) << colon.err;
  // Under --json the error is the JSON line a script reads, as for an invalid repo id.
  auto json = run({"download", "org/model", "--for", "pytorch", "--json"});
  EXPECT_EQ(json.exit_code, exit_code::usage) << json.err;
  const auto lines = json_lines(json.out);
  ASSERT_EQ(lines.size(), 1u) << json.out;
  EXPECT_EQ(lines[0]["error"]["code"], "invalid_argument") << json.out;
  EXPECT_NE(lines[0]["error"]["message"].get<std::string>().find("--for: invalid target 'pytorch'"), std::string::npos);
  auto none = run({"download", "org/model", "--for", "diffusers"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("model_index.json"), std::string::npos) << none.err;
}

TEST_F(DownloadFor, WithBaseBringsTheBaseRepoUnderItsOwnId) {
  auto r = run({"download", "org/adapter", "--for", "transformers", "--with-base", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_of(snapshot(k_adapter, c3)), (std::set<std::string>{"adapter_config.json", "adapter_model.safetensors"}));
  EXPECT_EQ(files_of(snapshot(k_base, c4)), (std::set<std::string>{"config.json", "model.safetensors"}));
  EXPECT_TRUE(exists(cache + "/models--org--base/refs/main"));
  auto result = json_lines(r.out).back();
  ASSERT_EQ(result["bases"].size(), 1u) << result.dump();
  EXPECT_EQ(result["bases"][0]["repo_id"], "org/base");
  EXPECT_EQ(result["bases"][0]["adapter_repo_id"], "org/adapter");
  EXPECT_EQ(result["bases"][0]["path"], snapshot(k_base, c4));
  EXPECT_EQ(result["path"], snapshot(k_adapter, c3));
}

TEST_F(DownloadFor, WithBaseDryRunPlansBothAndWritesNothing) {
  auto r = run({"download", "org/adapter", "--with-base", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Base model org/base (adapter_config.json of org/adapter)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pytorch_model.bin"), std::string::npos) << r.out;  // no target: everything
  EXPECT_FALSE(exists(cache + "/models--org--adapter"));
  EXPECT_FALSE(exists(cache + "/models--org--base"));
}

TEST_F(DownloadFor, WithBaseErrorsSayWhatAdapterConfigSays) {
  auto r = run({"download", "org/model", "--with-base"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("org/model has no adapter_config.json"), std::string::npos) << r.err;
  const RepoRef local{RepoType::Model, "org/local-adapter"};
  server.add_file(local, c1, "adapter_config.json", R"({"base_model_name_or_path":"/home/me/llama"})");
  server.set_ref(local, "main", c1);
  auto l = run({"download", "org/local-adapter", "--with-base"});
  EXPECT_NE(l.exit_code, 0);
  EXPECT_NE(l.err.find("base_model_name_or_path = \"/home/me/llama\": a local path"), std::string::npos) << l.err;
  const RepoRef missing{RepoType::Model, "org/orphan-adapter"};
  server.add_file(missing, c1, "adapter_config.json", R"({"base_model_name_or_path":"org/gone"})");
  server.set_ref(missing, "main", c1);
  auto m = run({"download", "org/orphan-adapter", "--with-base"});
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.err.find("base model org/gone (base_model_name_or_path in adapter_config.json of org/orphan-adapter)"),
            std::string::npos)
      << m.err;
}

TEST_F(DownloadFor, WithBaseFollowsAtMostTwoLevels) {
  // a3 -> a2 -> a1 -> base: a3's base (a2) and a2's base (a1) come, a1's base does not.
  const RepoRef a1{RepoType::Model, "org/a1"}, a2{RepoType::Model, "org/a2"}, a3{RepoType::Model, "org/a3"};
  server.add_file(a1, c1, "adapter_config.json", R"({"base_model_name_or_path":"org/base"})");
  server.add_file(a2, c1, "adapter_config.json", R"({"base_model_name_or_path":"org/a1"})");
  server.add_file(a3, c1, "adapter_config.json", R"({"base_model_name_or_path":"org/a2"})");
  for (const auto& a : {a1, a2, a3}) server.set_ref(a, "main", c1);
  auto r = run({"download", "org/a3", "--with-base", "--for", "transformers"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(exists(cache + "/models--org--a2"));
  EXPECT_TRUE(exists(cache + "/models--org--a1"));
  EXPECT_FALSE(exists(cache + "/models--org--base"));
  EXPECT_NE(r.err.find("--with-base stopped after 2 levels: org/a1 is an adapter too, of org/base"), std::string::npos) << r.err;
}

TEST_F(DownloadFor, ManyLeftOutFilesAreGroupedByReasonWithCountsAndBytes) {
  const RepoRef onnx{RepoType::Model, "org/onnx-heavy"};
  server.add_file(onnx, c1, "config.json", "{}");
  server.add_file(onnx, c1, "model.safetensors", weights("w"), true);
  for (int i = 0; i < 12; ++i)
    server.add_file(onnx, c1, "onnx/model_" + std::to_string(i) + ".onnx", std::string(1000, static_cast<char>('a' + i)), true);
  server.set_ref(onnx, "main", c1);
  auto r = run({"download", "org/onnx-heavy", "--for", "transformers", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[dry-run] Left out 12 files (12.0KB)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  12 files (12.0KB): ONNX export: not loaded by from_pretrained"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("onnx/model_3.onnx"), std::string::npos) << r.out;  // grouped, not one line each
}

TEST_F(DownloadFor, DiffusersTakesEachComponentWithoutVariantsOrSingleFileCheckpoints) {
  const RepoRef sd{RepoType::Model, "org/pipeline"};
  server.add_file(sd, c1, "model_index.json",
                  R"({"_class_name":"StableDiffusionPipeline","scheduler":["diffusers","PNDMScheduler"],)"
                  R"("text_encoder":["transformers","CLIPTextModel"],"tokenizer":["transformers","CLIPTokenizer"],)"
                  R"("unet":["diffusers","UNet2DConditionModel"],"safety_checker":[null,null]})");
  server.add_file(sd, c1, "v1-5-pruned.safetensors", weights("all"), true);
  server.add_file(sd, c1, "scheduler/scheduler_config.json", "{}");
  server.add_file(sd, c1, "unet/config.json", "{}");
  server.add_file(sd, c1, "unet/diffusion_pytorch_model.safetensors", weights("unet"), true);
  server.add_file(sd, c1, "unet/diffusion_pytorch_model.fp16.safetensors", weights("unet16"), true);
  server.add_file(sd, c1, "unet/diffusion_pytorch_model.bin", std::string(3000, 'u'), true);
  server.add_file(sd, c1, "text_encoder/config.json", "{}");
  server.add_file(sd, c1, "text_encoder/model.safetensors", weights("te"), true);
  server.add_file(sd, c1, "tokenizer/vocab.json", "{}");
  server.add_file(sd, c1, "tokenizer/merges.txt", "#");
  server.set_ref(sd, "main", c1);
  auto r = run({"download", "org/pipeline", "--for", "diffusers"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_of(snapshot(sd, c1)),
            (std::set<std::string>{"model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
                                   "text_encoder/model.safetensors", "tokenizer/merges.txt", "tokenizer/vocab.json",
                                   "unet/config.json", "unet/diffusion_pytorch_model.safetensors"}));
  EXPECT_NE(r.err.find("variant fp16: loaded only with variant=\"fp16\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("single-file checkpoint; from_pretrained loads the component folders"), std::string::npos) << r.err;
}

TEST_F(DownloadFor, WithBaseStopsAtARepoAlreadyInTheChain) {
  // An adapter naming itself, and a chain that returns to its start: each repo is fetched once.
  const RepoRef self{RepoType::Model, "org/self"}, x{RepoType::Model, "org/x"}, y{RepoType::Model, "org/y"};
  server.add_file(self, c1, "adapter_config.json", R"({"base_model_name_or_path":"org/self"})");
  server.add_file(self, c1, "adapter_model.safetensors", weights("s"), true);
  server.add_file(x, c1, "adapter_config.json", R"({"base_model_name_or_path":"org/y"})");
  server.add_file(y, c1, "adapter_config.json", R"({"base_model_name_or_path":"ORG/x"})");
  for (const auto& a : {self, x, y}) server.set_ref(a, "main", c1);
  auto count = [&](const std::string& part) {
    int n = 0;
    for (const auto& req : server.requests())
      if (req.path.find(part) != std::string::npos && req.path.find("/tree/") != std::string::npos) ++n;
    return n;
  };
  auto r = run({"download", "org/self", "--with-base", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).back()["bases"].size(), 0u) << r.out;
  EXPECT_NE(r.err.find("--with-base stopped: org/self names org/self as its base model"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("already in the chain org/self; not downloaded again"), std::string::npos) << r.err;
  EXPECT_EQ(count("org/self"), 1);
  auto c = run({"download", "org/x", "--with-base", "--json"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto result = json_lines(c.out).back();
  ASSERT_EQ(result["bases"].size(), 1u) << c.out;
  EXPECT_EQ(result["bases"][0]["repo_id"], "org/y");
  EXPECT_NE(c.err.find("org/y names ORG/x as its base model (base_model_name_or_path), which is already in the chain org/x -> "
                       "org/y; not downloaded again"),
            std::string::npos)
      << c.err;
  EXPECT_EQ(count("org/x"), 1);
  EXPECT_EQ(count("org/y"), 1);
}

TEST_F(DownloadFor, WithBaseOnANonAdapterFailsBeforeWritingAnything) {
  auto r = run({"download", "org/model", "--with-base"});
  EXPECT_EQ(r.exit_code, exit_code::not_found) << r.err;
  EXPECT_NE(r.err.find("org/model has no adapter_config.json"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(cache + "/models--org--model"));
  for (const auto& req : server.requests()) EXPECT_EQ(req.path.find("/resolve/"), std::string::npos) << req.path;
}

TEST_F(DownloadFor, PatternsAndForThatTogetherSelectNothingSaySoAndTheDryRunFailsToo) {
  auto r = run({"download", "org/model", "--for", "transformers", "--include", "*.bin"});
  EXPECT_EQ(r.exit_code, exit_code::not_found) << r.err;
  EXPECT_NE(r.err.find("the patterns --include '*.bin' and --for transformers together select nothing of org/model"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("pytorch_model.bin (PyTorch .bin copy"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("no file of"), std::string::npos) << r.err;
  auto d = run({"download", "org/model", "--for", "transformers", "--include", "*.bin", "--dry-run"});
  EXPECT_EQ(d.exit_code, exit_code::not_found) << d.out;
  EXPECT_EQ(d.out.find("Will download 0 files"), std::string::npos) << d.out;
  EXPECT_NE(d.err.find("together select nothing"), std::string::npos) << d.err;
  // A FILE argument is a name, not an --include.
  auto n = run({"download", "org/model", "pytorch_model.bin", "--for", "transformers"});
  EXPECT_EQ(n.exit_code, exit_code::not_found) << n.err;
  EXPECT_NE(n.err.find("the name 'pytorch_model.bin' and --for transformers together select nothing"), std::string::npos)
      << n.err;
  EXPECT_EQ(n.err.find("--include"), std::string::npos) << n.err;
  auto m = run({"download", "org/model", "nothing.txt", "other.txt", "--for", "transformers"});
  EXPECT_EQ(m.exit_code, exit_code::not_found) << m.err;
  EXPECT_NE(m.err.find("matches the names 'nothing.txt', 'other.txt'"), std::string::npos) << m.err;
  EXPECT_FALSE(exists(snapshot(k_model, c1) + "/pytorch_model.bin"));
}

TEST_F(DownloadFor, ExcludingEveryChosenWeightFileWarnsThatNoWeightsWillBeDownloaded) {
  auto r = run({"download", "org/model", "--for", "transformers", "--exclude", "*.safetensors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no weights will be downloaded: the include/exclude patterns leave out every weight file the target "
                       "transformers chose (model.safetensors)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(exists(snapshot(k_model, c1) + "/model.safetensors"));
  auto ok = run({"download", "org/model", "--for", "transformers", "--exclude", "tokenizer*"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.err.find("no weights will be downloaded"), std::string::npos) << ok.err;
}

TEST_F(DownloadFor, PlansGiveSizesWithUnitsAndNameTheirRepo) {
  auto d = run({"download", "org/adapter", "--for", "transformers", "--with-base", "--dry-run"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("[dry-run] Will download 2 files (out of 2) totalling "), std::string::npos) << d.out;
  EXPECT_EQ(d.out.find("totalling 0."), std::string::npos) << d.out;
  for (const std::string line : {"config.json  ", "model.safetensors  "}) {
    const auto at = d.out.find(line);
    ASSERT_NE(at, std::string::npos) << d.out;
    const auto end = d.out.find('\n', at);
    EXPECT_EQ(d.out[end - 1], 'B') << d.out.substr(at, end - at);
  }
  EXPECT_NE(d.out.find("[dry-run] Left out 1 file (10.0B) of org/adapter the framework does not load:"), std::string::npos)
      << d.out;
  EXPECT_NE(d.out.find("[dry-run] Left out 1 file (3.0KB) of org/base the framework does not load:"), std::string::npos) << d.out;
  auto r = run({"download", "org/adapter", "--for", "transformers", "--with-base"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Left out 1 file (10.0B) of org/adapter the framework"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Left out 1 file (3.0KB) of org/base the framework"), std::string::npos) << r.err;
  auto j = run({"download", "org/adapter", "--for", "transformers", "--with-base", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  std::vector<std::string> plans;
  for (const auto& l : json_lines(j.out))
    if (l.value("event", "") == "plan") plans.push_back(l.value("repo_id", ""));
  EXPECT_EQ(plans, (std::vector<std::string>{"org/adapter", "org/base"})) << j.out;
}

// A checkpoint re-sharded in place: its index names new shards, and the old ones (in the
// `-NNNNN-of-NNNNN` naming a name-based guess would take) are still in the repo. The CLI fetches
// what the index names, says why the old shards are left out, and never asks for them.
TEST_F(DownloadFor, TheShardsAreTheOnesTheIndexNames) {
  const RepoRef re{RepoType::Model, "org/resharded"};
  const std::string c5 = commit_id(5);
  server.add_file(re, c5, "config.json", R"({"model_type":"llama"})");
  server.add_file(
      re, c5, "model.safetensors.index.json",
      R"({"metadata":{"total_size":0},"weight_map":{"a.weight":"model-a.safetensors","b.weight":"model-b.safetensors"}})");
  server.add_file(re, c5, "model-a.safetensors", weights("a"), true);
  server.add_file(re, c5, "model-b.safetensors", weights("b"), true);
  server.add_file(re, c5, "model-00001-of-00002.safetensors", std::string(4000, 'o'), true);
  server.add_file(re, c5, "model-00002-of-00002.safetensors", std::string(4000, 'o'), true);
  server.set_ref(re, "main", c5);
  auto r = run({"download", "org/resharded", "--for", "transformers"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_of(snapshot(re, c5)),
            (std::set<std::string>{"config.json", "model-a.safetensors", "model-b.safetensors", "model.safetensors.index.json"}));
  EXPECT_NE(r.err.find("model-00001-of-00002.safetensors (4.0KB): shard not named by model.safetensors.index.json"),
            std::string::npos)
      << r.err;
  for (const auto& req : server.requests()) EXPECT_EQ(req.path.find("-of-00002"), std::string::npos) << req.path;
  // inspect counts the model through the index: both new shards, 2 x (4x8 + 8) parameters.
  auto inspect = run({"inspect", snapshot(re, c5), "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto report = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(report["basis"], nlohmann::json({"model-a.safetensors", "model-b.safetensors"})) << inspect.out;
  EXPECT_EQ(report["parameters"], 80) << inspect.out;
  // So does `inspect REPO --offline` on this partial snapshot: the stale shards are not cached,
  // which a finding says, and the report covers what is.
  auto offline = run({"inspect", "org/resharded", "--offline", "--json"});
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  const auto cached = nlohmann::json::parse(offline.out);
  EXPECT_EQ(cached["parameters"], 80) << offline.out;
  EXPECT_EQ(cached["commit"], c5) << offline.out;
  ASSERT_EQ(cached["findings"].size(), 1u) << offline.out;
  EXPECT_EQ(cached["findings"][0]["reason"],
            "the snapshot is partial: 2 files of its commit are not cached (model-00001-of-00002.safetensors, "
            "model-00002-of-00002.safetensors); the report covers the cached files");
}

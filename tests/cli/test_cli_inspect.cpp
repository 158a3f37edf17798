// `hubcache inspect`: a local folder, a repo on the test hub (real-Hub mode), the cached snapshot
// with HF_HUB_OFFLINE, and the usage errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_env.hpp"
#include "inspect_models.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

struct InspectCli : ::testing::Test {
  TempDir dir;
  HubServer hub;
  std::string cache = dir / "cache";
  const RepoRef ref{RepoType::Model, "org/model"};
  const std::string commit = commit_id(5);

  void SetUp() override {
    CacheBuilder b(cache);
    for (const auto& [path, bytes] : single_model()) {
      write_file(dir / ("folder/" + path), bytes);
      hub.add_file(ref, commit, path, bytes, is_lfs(path));
      b.add_file(ref, commit, path, bytes, is_lfs(path));
    }
    hub.set_ref(ref, "main", commit);
    b.add_ref(ref, "main", commit);
    hub.set_real_hub({});
  }
  ProcessResult run(std::vector<std::string> args, std::vector<std::string> extra_env = {}) {
    auto env = cli_env(hub, dir, cache);
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    return run_process(cmd(std::move(args)), env);
  }
};

}  // namespace

TEST_F(InspectCli, FolderHumanSummary) {
  auto r = run({"inspect", dir / "folder"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture   llama (LlamaForCausalLM)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("context        4096"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters     3.1K (BF16 2.0K, F16 1.0K, F32 32), 3 tensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chat template yes (tokenizer_config.json)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("license        apache-2.0"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("transferred"), std::string::npos) << r.out;
  // No request: a path is the folder.
  EXPECT_EQ(hub.requests().size(), 0u);
}

TEST_F(InspectCli, RemoteJsonThenOfflineFromTheCache) {
  auto r = run({"inspect", "org/model", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto remote = nlohmann::json::parse(r.out);
  EXPECT_EQ(remote["remote"], true);
  EXPECT_EQ(remote["commit"], commit);
  EXPECT_EQ(remote["parameters"], 3104);
  EXPECT_EQ(remote["weights"][0]["tensors"].size(), 3u);
  EXPECT_GT(remote["bytes_transferred"].get<std::uint64_t>(), 0u);
  EXPECT_GT(hub.requests().size(), 0u);

  hub.clear_requests();
  auto off = run({"inspect", "org/model", "--json"}, {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  auto cached = nlohmann::json::parse(off.out);
  EXPECT_EQ(cached["remote"], false);
  EXPECT_EQ(cached["commit"], commit);
  for (const char* key : {"parameters", "parameters_by_dtype", "memory", "tensor_count", "context_length", "license"})
    EXPECT_EQ(cached[key], remote[key]) << key;
  EXPECT_EQ(hub.requests().size(), 0u);
}

TEST_F(InspectCli, ErrorsAndExitCodes) {
  auto both = run({"inspect", "org/model@main", "--revision", "main"});
  EXPECT_EQ(both.exit_code, 2) << both.err;
  auto absent = run({"inspect", "org/absent", "--offline"});
  EXPECT_EQ(absent.exit_code, 3) << absent.err;
  auto missing = run({"inspect", "org/absent"});
  EXPECT_EQ(missing.exit_code, 5) << missing.err;
}

// A GGUF repo has no config.json: the architecture line comes from the GGUF header.
TEST_F(InspectCli, GgufFolderNamesItsArchitectureFromTheHeader) {
  for (const auto& [path, bytes] : gguf_model()) write_file(dir / ("gguf/" + path), bytes);
  auto r = run({"inspect", dir / "gguf"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture   llama (GGUF general.architecture)"), std::string::npos) << r.out;
}

// An empty folder: rc 0 (a report), but a line says there is nothing to load.
TEST_F(InspectCli, AnEmptyFolderSaysThereIsNothingToLoad) {
  std::filesystem::create_directories(dir / "empty");
  auto r = run({"inspect", dir / "empty"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("  finding        the repo holds nothing transformers' from_pretrained loads"), std::string::npos)
      << r.out;
}

// --strict: the same report, then exit 8 when it has findings and 0 when it has none (human and JSON).
TEST_F(InspectCli, StrictExitsEightOnFindingsAfterTheReport) {
  std::filesystem::create_directories(dir / "empty");
  auto empty = run({"inspect", dir / "empty", "--strict"});
  EXPECT_EQ(empty.exit_code, 8) << empty.err;
  EXPECT_NE(empty.out.find("  finding        the repo holds nothing transformers' from_pretrained loads"), std::string::npos)
      << empty.out;
  auto json = run({"inspect", dir / "empty", "--strict", "--json"});
  EXPECT_EQ(json.exit_code, 8) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  ASSERT_EQ(j.at("findings").size(), 1u) << json.out;
  EXPECT_NE(j["findings"][0].at("reason").get<std::string>().find("nothing"), std::string::npos) << json.out;

  auto clean = run({"inspect", dir / "folder", "--strict"});
  EXPECT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_EQ(clean.out.find("finding"), std::string::npos) << clean.out;
  EXPECT_NE(clean.out.find("architecture   llama (LlamaForCausalLM)"), std::string::npos) << clean.out;
}

// `hubcache du`: stores given as paths or found from the environment, text and JSON, exit codes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cache_builder.hpp"
#include "exit_codes.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace sfs = std::filesystem;

namespace {

struct CliDu : ::testing::Test {
  test::TempDir dir;
  std::string hub = dir / "hub", ollama = dir / "ollama";
  test::CacheBuilder cb{hub};
  const std::string weights = std::string(300000, 'w');

  void SetUp() override {
    cb.add_file({RepoType::Model, "org/gguf"}, test::commit_id(1), "m.gguf", weights, true);
    sfs::create_directories(ollama + "/manifests/registry.ollama.ai/library/m");
    sfs::create_directories(ollama + "/blobs");
    const std::string h = sha256_hex(weights);
    ASSERT_TRUE(fs::write_file_atomic(ollama + "/blobs/sha256-" + h, weights));  // the same GGUF, copied
    ASSERT_TRUE(fs::write_file_atomic(
        ollama + "/manifests/registry.ollama.ai/library/m/latest",
        R"({"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" + h +
            R"(","size":300000}]})"));
  }
  test::ProcessResult du(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {test::hubcache_bin(), "du"});
    // Nothing of this machine's stores: the test's own settings last, so they win.
    std::vector<std::string> all{"HF_HOME=" + dir / "hf_home",
                                 "-HF_HUB_CACHE",
                                 "-HUGGINGFACE_HUB_CACHE",
                                 "-OLLAMA_MODELS",
                                 "-LLAMA_CACHE",
                                 "-XDG_CACHE_HOME",
                                 "-HF_DATASETS_CACHE",
                                 "HOME=" + dir / "home"};
    all.insert(all.end(), env.begin(), env.end());
    return test::run_process(args, all);
  }
};

TEST_F(CliDu, CountsEachStoreAndTheCopyHeldTwice) {
  auto r = du({hub, ollama, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["stores"].size(), 2u);
  EXPECT_EQ(j["stores"][0]["kind"], "hub-cache");
  EXPECT_EQ(j["stores"][0]["models"][0]["model"], "model/org/gguf");
  EXPECT_EQ(j["stores"][1]["kind"], "ollama");
  EXPECT_EQ(j["stores"][1]["models"][0]["model"], "m:latest");
  EXPECT_EQ(j["stores"][1]["apparent_bytes"], weights.size());
  EXPECT_EQ(j["duplicate_groups"], 1);
  EXPECT_EQ(j["duplicate_bytes"], j["stores"][1]["disk_bytes"]);
  EXPECT_EQ(j["disk_bytes"].get<std::uint64_t>(),
            j["stores"][0]["disk_bytes"].get<std::uint64_t>() + j["stores"][1]["disk_bytes"].get<std::uint64_t>());
  EXPECT_EQ(j["filesystems"].size(), 1u);

  auto text = du({hub, ollama});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("m:latest"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Held twice"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Free:"), std::string::npos) << text.out;
}

TEST_F(CliDu, FindsTheConfiguredCacheAndOllamaWithoutPaths) {
  auto r = du({"--json"}, {"HF_HUB_CACHE=" + hub, "OLLAMA_MODELS=" + ollama});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_GE(j["stores"].size(), 2u);
  EXPECT_EQ(j["stores"][0]["root"], hub);
  EXPECT_EQ(j["stores"][1]["root"], ollama);
  // Without OLLAMA_MODELS: $HOME/.ollama/models, absent here, is not a store to read.
  auto only_hub = du({"--json"}, {"HF_HUB_CACHE=" + hub});
  ASSERT_EQ(only_hub.exit_code, 0) << only_hub.err;
  const auto hub_only = nlohmann::json::parse(only_hub.out);  // kept: a range-for over parse(...)["stores"] dangles
  ASSERT_FALSE(hub_only["stores"].empty());
  for (const auto& s : hub_only["stores"]) EXPECT_NE(s["root"], ollama);
}

TEST_F(CliDu, AStoreReachedThroughSymlinksIsMeasuredOnceWhereItIs) {
  sfs::create_directory_symlink(hub, dir / "hublink");
  sfs::create_directory_symlink(ollama, dir / "ollink");
  auto r = du({hub, dir / "hublink", dir / "hublink/", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["stores"].size(), 1u);
  EXPECT_EQ(j["stores"][0]["root"], sfs::canonical(hub).string());
  auto found = du({"--json"}, {"HF_HUB_CACHE=" + hub, "OLLAMA_MODELS=" + dir / "ollink"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  const auto f = nlohmann::json::parse(found.out);
  ASSERT_GE(f["stores"].size(), 2u);
  EXPECT_EQ(f["stores"][1]["root"], sfs::canonical(ollama).string());
  EXPECT_EQ(f["duplicate_groups"], 1);
}

TEST_F(CliDu, FindsEveryToolsStoreWhereItKeepsIt) {
  const std::string home = dir / "home", llama = dir / "llama", datasets = dir / "datasets";
  for (const auto& d : {home + "/.lmstudio/models/org/gguf-GGUF", llama, datasets + "/downloads"}) sfs::create_directories(d);
  ASSERT_TRUE(fs::write_file_atomic(home + "/.lmstudio/models/org/gguf-GGUF/m.gguf", weights));  // a copy
  ASSERT_TRUE(fs::write_file_atomic(llama + "/ggml-org_x_latest.gguf", "docker model"));
  ASSERT_TRUE(fs::write_file_atomic(llama + "/manifest=ggml-org=x=latest.json", "{}"));
  const std::string dl = datasets + "/downloads/" + sha256_hex("https://example.com/d.csv");
  ASSERT_TRUE(fs::write_file_atomic(dl, "a,b\n"));
  ASSERT_TRUE(fs::write_file_atomic(dl + ".json", R"({"url":"https://example.com/d.csv","etag":null})"));
  auto r = du({"--json"}, {"HF_HUB_CACHE=" + hub, "LLAMA_CACHE=" + llama, "HF_DATASETS_CACHE=" + datasets});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  std::map<std::string, std::string> roots;
  for (const auto& s : j["stores"]) roots[s["kind"].get<std::string>()] = s["root"].get<std::string>();
  EXPECT_EQ(roots["hub-cache"], hub);
  EXPECT_EQ(roots["lm-studio"], home + "/.lmstudio/models");
  EXPECT_EQ(roots["llama-cpp"], llama);
  EXPECT_EQ(roots["datasets-downloads"], datasets + "/downloads");
  EXPECT_EQ(roots.count("ollama"), 0u) << "no Ollama folder exists here";
  EXPECT_EQ(j["duplicate_groups"], 0) << "du hashes nothing, and LM Studio's copy has no free identity";

  // Given as a path, a folder holding both llama.cpp layouts is measured as both stores.
  test::CacheBuilder(llama).add_file({RepoType::Model, "org/h"}, test::commit_id(2), "h.gguf", "hub layout", true);
  auto both = du({llama, "--json"});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  const auto b = nlohmann::json::parse(both.out);
  ASSERT_EQ(b["stores"].size(), 2u);
  EXPECT_EQ(b["stores"][0]["kind"], "hub-cache");
  EXPECT_EQ(b["stores"][1]["kind"], "llama-cpp");
  EXPECT_EQ(b["stores"][1]["files"], 1);
}

TEST_F(CliDu, ANegativeTopIsAUsageError) { EXPECT_EQ(du({hub, "--top", "-1"}).exit_code, exit_code::usage); }

TEST_F(CliDu, APathThatIsNoStoreSaysWhatWasLookedFor) {
  auto missing = du({dir / "nope"});
  EXPECT_EQ(missing.exit_code, exit_code::not_found);
  EXPECT_NE(missing.err.find(dir / "nope"), std::string::npos) << missing.err;
  sfs::create_directories(dir / "plain");
  auto plain = du({dir / "plain"});
  EXPECT_EQ(plain.exit_code, exit_code::usage);
  EXPECT_NE(plain.err.find("not a model store"), std::string::npos) << plain.err;
  EXPECT_NE(plain.err.find("Ollama"), std::string::npos) << plain.err;
}

}  // namespace

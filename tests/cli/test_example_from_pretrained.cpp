// examples/from_pretrained.cpp, run as built: a local folder is used directly (no cache, no
// request), a complete cached snapshot answers without a request, offline a missing file is named,
// and online only the missing file is fetched (from the test hub on 127.0.0.1).
#include <gtest/gtest.h>

#include <filesystem>

#include "cache_builder.hpp"
#include "cli_env.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/hash.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};
const std::string k_config = "{\"cached\":1}";
const std::string k_weights(1000, 'w');

struct FromPretrained : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string cache = dir / "cache";
  std::string c1 = commit_id(10);
  CacheBuilder cb{cache};
  std::vector<std::string> env = cli_env(server, dir, cache);

  ProcessResult run(std::vector<std::string> args, std::vector<std::string> extra_env = {}) {
    args.insert(args.begin(), HUBCACHE_FROM_PRETRAINED_BIN);
    auto e = env;
    for (auto& x : extra_env) e.push_back(std::move(x));
    return run_process(args, e);
  }
  struct Listed {
    std::string path, content;
    bool lfs = false;
  };
  // The cache holds config.json of c1 (refs/main), and the commit's file list (as a snapshot
  // download writes it) names `files`.
  void cache_config_with_tree(const std::vector<Listed>& files) {
    cb.add_file(k_repo, c1, "config.json", k_config);
    cb.add_ref(k_repo, "main", c1);
    std::vector<TreeFileEntry> tree;
    for (const auto& f : files) {
      TreeFileEntry e;
      e.path = f.path;
      e.size = f.content.size();
      e.blob_id = git_blob_sha1_hex(f.content);
      if (f.lfs) {
        e.lfs_sha256 = sha256_hex(f.content);
        e.lfs_size = f.content.size();
      }
      tree.push_back(e);
    }
    ASSERT_TRUE(write_tree_file(cb.layout(k_repo), c1, tree));
  }
};

}  // namespace

TEST_F(FromPretrained, ALocalFolderIsUsedDirectly) {
  const std::string folder = dir / "models/llama";
  write_file(folder + "/config.json", "{}");
  write_file(folder + "/model.safetensors", "w");
  write_file(folder + "/README.md", "not selected");
  auto r = run({folder});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, folder + "\n  config.json (local folder)\n  model.safetensors (local folder)\n");
  auto missing = run({folder, "config.json", "tokenizer.json"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_NE(missing.err.find("'" + folder + "' does not have 'tokenizer.json'"), std::string::npos) << missing.err;
  EXPECT_EQ(server.requests().size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(cache));
}

TEST_F(FromPretrained, ACompleteCachedSnapshotAnswersWithoutARequest) {
  ASSERT_NO_FATAL_FAILURE(
      cache_config_with_tree({{"config.json", k_config}, {"README.md", "r"}}));  // nothing selected is missing
  auto r = run({"org/model"});                                                   // online: the cache answers first
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, cb.layout(k_repo).snapshot_dir(c1) + "\n");
  auto file = run({"org/model", "config.json"}, {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, cb.layout(k_repo).snapshot_dir(c1) + "\n");
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST_F(FromPretrained, OfflineAMissingFileIsNamedAndOnlineOnlyItIsFetched) {
  server.add_file(k_repo, c1, "config.json", k_config);
  server.add_file(k_repo, c1, "model.safetensors", k_weights, true);
  server.set_ref(k_repo, "main", c1);
  ASSERT_NO_FATAL_FAILURE(cache_config_with_tree({{"config.json", k_config}, {"model.safetensors", k_weights, true}}));
  auto offline = run({"org/model"}, {"HF_HUB_OFFLINE=1"});
  EXPECT_EQ(offline.exit_code, 1);
  EXPECT_EQ(offline.out, "");
  EXPECT_NE(offline.err.find("  missing: model.safetensors\n"), std::string::npos) << offline.err;
  EXPECT_EQ(server.requests().size(), 0u);
  auto online = run({"org/model"});
  ASSERT_EQ(online.exit_code, 0) << online.err;
  const std::string snap = cb.layout(k_repo).snapshot_dir(c1);
  EXPECT_EQ(online.out, snap + "\n  config.json (cached)\n  model.safetensors\n");
  EXPECT_EQ(server.count("GET", "config.json"), 0);  // the cached file is not fetched again
  EXPECT_GE(server.count("GET", "model.safetensors"), 1);
  EXPECT_EQ(read_file(snap + "/model.safetensors"), k_weights);
}

// `hubcache lock`, `hubcache sync` and `hubcache cache verify --lock` against the test hub in
// real-Hub mode (LFS through signed CDN URLs on another origin, small files through the
// relative /api/resolve-cache/ redirect).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cache_builder.hpp"
#include "cli_env.hpp"
#include "exit_codes.hpp"
#include "hubcache/cache/lfs_pointer.hpp"
#include "hubcache/util/hash.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

struct CliLock : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string cache = dir / "cache";
  std::string lockfile = dir / "hubcache.lock";
  std::string c1 = commit_id(21), c2 = commit_id(22);
  std::string weights = std::string(150000, 'w') + "end";
  std::vector<std::string> env;

  void SetUp() override {
    server.add_file(k_repo, c1, "config.json", "{\"v\": 1}");
    server.add_file(k_repo, c1, "model.safetensors", weights, true);
    server.add_file(k_repo, c1, "docs/readme [draft].md", "# hi");
    server.add_file(k_repo, c1, "onnx/model.onnx", std::string(5000, 'o'), true);
    server.add_file(k_repo, c2, "config.json", "{\"v\": 2}");
    server.set_ref(k_repo, "main", c1);
    server.set_ref(k_repo, "v1", c1);
    server.set_real_hub({});
    env = cli_env(server, dir, cache);
  }
  ProcessResult run(std::vector<std::string> args, std::vector<std::string> extra_env = {}) {
    auto e = env;
    for (auto& x : extra_env) e.push_back(x);
    return run_process(cmd(std::move(args)), e);
  }
  nlohmann::json lock_json() { return nlohmann::json::parse(read_file(lockfile)); }
  std::string blob(const std::string& name) { return cache + "/models--org--model/blobs/" + name; }
};

}  // namespace

TEST_F(CliLock, LockPinsTheHubsListingWithoutReadingAnyFile) {
  auto r = run({"lock", "org/model", "--exclude", "onnx/*", "-o", lockfile});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("org/model@main -> " + c1 + " (3 files)"), std::string::npos) << r.out;
  const auto j = lock_json();
  EXPECT_EQ(j["lockfile_version"], 1);
  EXPECT_EQ(j["endpoint"], server.endpoint());
  ASSERT_EQ(j["repos"].size(), 1u);
  const auto& repo = j["repos"][0];
  EXPECT_EQ(repo["commit"], c1);
  EXPECT_EQ(repo["revision"], "main");
  EXPECT_EQ(repo["exclude"], nlohmann::json::array({"onnx/*"}));
  ASSERT_EQ(repo["files"].size(), 3u);
  EXPECT_EQ(repo["files"][0]["path"], "config.json");
  EXPECT_EQ(repo["files"][0]["git_oid"], git_blob_sha1_hex("{\"v\": 1}"));
  EXPECT_FALSE(repo["files"][0].contains("lfs_sha256"));
  EXPECT_EQ(repo["files"][1]["path"], "docs/readme [draft].md");
  EXPECT_EQ(repo["files"][2]["path"], "model.safetensors");
  EXPECT_EQ(repo["files"][2]["lfs_sha256"], sha256_hex(weights));
  EXPECT_EQ(repo["files"][2]["size"], weights.size());
  EXPECT_EQ(repo["files"][2]["git_oid"], git_blob_sha1_hex(lfs_pointer_text(sha256_hex(weights), weights.size())));
  // Only the API was asked: no file was resolved or fetched.
  for (const auto& rec : server.requests()) {
    EXPECT_FALSE(rec.cdn) << rec.path;
    EXPECT_EQ(rec.path.find("/resolve"), std::string::npos) << rec.path;
  }
  // The same command gives the same bytes (meant to be committed).
  const std::string first = read_file(lockfile);
  ASSERT_EQ(run({"lock", "org/model", "--exclude", "onnx/*", "-o", lockfile}).exit_code, 0);
  EXPECT_EQ(read_file(lockfile), first);
}

TEST_F(CliLock, SyncFetchesWhatIsMissingThenNeedsNoRequestAtAll) {
  ASSERT_EQ(run({"lock", "org/model@v1", "-o", lockfile}).exit_code, 0);
  auto s = run({"sync", "--lock", lockfile, "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto j = nlohmann::json::parse(s.out);
  EXPECT_EQ(j["files"], 4);
  EXPECT_EQ(j["downloaded"], 4);
  EXPECT_EQ(j["offline"], false);
  EXPECT_EQ(read_file(cache + "/models--org--model/snapshots/" + c1 + "/model.safetensors"), weights);
  EXPECT_EQ(read_file(cache + "/models--org--model/snapshots/" + c1 + "/docs/readme [draft].md"), "# hi");
  EXPECT_EQ(read_file(cache + "/models--org--model/refs/v1"), c1);  // a tag the cache lacked
  // Everything is held: offline, verified, and not one request.
  server.clear_requests();
  auto again = run({"sync", "--lock", lockfile, "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  j = nlohmann::json::parse(again.out);
  EXPECT_EQ(j["already"], 4);
  EXPECT_EQ(j["downloaded"], 0);
  EXPECT_EQ(j["offline"], true);
  EXPECT_TRUE(server.requests().empty());
  EXPECT_EQ(run({"sync", "--lock", lockfile}, {"HF_HUB_OFFLINE=1"}).exit_code, 0);
  auto verified = run({"cache", "verify", "--lock", lockfile});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("Verified 4 file(s) of 1 repo(s)"), std::string::npos) << verified.out;
}

TEST_F(CliLock, ACorruptedBlobIsFoundByVerifyAndReplacedBySync) {
  ASSERT_EQ(run({"lock", "org/model", "-o", lockfile}).exit_code, 0);
  ASSERT_EQ(run({"sync", "--lock", lockfile}).exit_code, 0);
  std::string bad = weights;
  bad[7] = 'X';
  std::filesystem::permissions(blob(sha256_hex(weights)), std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  write_file(blob(sha256_hex(weights)), bad);
  auto v = run({"cache", "verify", "--lock", lockfile, "--json"});
  EXPECT_EQ(v.exit_code, exit_code::integrity);
  auto j = nlohmann::json::parse(v.out);
  EXPECT_EQ(j["mismatched"], 1);
  EXPECT_EQ(j["problems"][0]["path"], "model.safetensors");
  EXPECT_NE(j["problems"][0]["detail"].get<std::string>().find("corrupted"), std::string::npos);
  // Without hashing, sync cannot tell; with it (the default), it fetches the file again.
  auto cheap = run({"sync", "--lock", lockfile, "--no-hash", "--json"});
  ASSERT_EQ(cheap.exit_code, 0) << cheap.err;
  EXPECT_EQ(nlohmann::json::parse(cheap.out)["downloaded"], 0);
  auto s = run({"sync", "--lock", lockfile, "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(nlohmann::json::parse(s.out)["downloaded"], 1);
  EXPECT_EQ(read_file(blob(sha256_hex(weights))), weights);
  EXPECT_EQ(run({"cache", "verify", "--lock", lockfile}).exit_code, 0);
}

TEST_F(CliLock, ARefThatMovedOnIsLeftAndNamedUnlessAsked) {
  ASSERT_EQ(run({"lock", "org/model", "--include", "*.json", "-o", lockfile}).exit_code, 0);  // main = c1
  server.set_ref(k_repo, "main", c2);
  ASSERT_EQ(run({"download", "org/model", "config.json", "-q"}).exit_code, 0);  // the cache's main is c2
  auto s = run({"sync", "--lock", lockfile});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.err.find("refs/main points to " + c2 + ", the lock pins " + c1), std::string::npos) << s.err;
  EXPECT_EQ(read_file(cache + "/models--org--model/refs/main"), c2);
  EXPECT_EQ(read_file(cache + "/models--org--model/snapshots/" + c1 + "/config.json"), "{\"v\": 1}");
  ASSERT_EQ(run({"sync", "--lock", lockfile, "--set-refs"}).exit_code, 0);
  EXPECT_EQ(read_file(cache + "/models--org--model/refs/main"), c1);
}

TEST_F(CliLock, OfflineWithFilesMissingFailsNamingThem) {
  ASSERT_EQ(run({"lock", "org/model", "-o", lockfile}).exit_code, 0);
  server.clear_requests();
  auto s = run({"sync", "--lock", lockfile, "--offline"});
  EXPECT_EQ(s.exit_code, exit_code::not_cached) << s.err;
  EXPECT_NE(s.err.find("4 locked file(s) are not in the cache"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("org/model: config.json"), std::string::npos) << "names the files: " << s.err;
  EXPECT_TRUE(server.requests().empty());
  EXPECT_FALSE(std::filesystem::exists(cache + "/models--org--model/blobs"));
}

TEST_F(CliLock, AnEndpointServingOtherBytesThanTheLockIsRefused) {
  ASSERT_EQ(run({"lock", "org/model", "--include", "model.safetensors", "-o", lockfile}).exit_code, 0);
  auto j = lock_json();
  j["repos"][0]["files"][0]["lfs_sha256"] = std::string(64, 'a');  // not what the Hub serves
  write_file(lockfile, j.dump(2));
  auto s = run({"sync", "--lock", lockfile});
  EXPECT_EQ(s.exit_code, exit_code::integrity) << s.err;
  EXPECT_NE(s.err.find("still differ from the lock"), std::string::npos) << s.err;
  auto v = run({"cache", "verify", "--lock", lockfile});
  EXPECT_EQ(v.exit_code, exit_code::integrity);
}

TEST_F(CliLock, BadLockfilesAndArgumentsAreUsageErrorsWithAWayOut) {
  write_file(lockfile, "{\"lockfile_version\": 1, \"endpoint\": \"https://x\", \"repos\": [{\"repo_type\": \"model\"}]}");
  auto s = run({"sync", "--lock", lockfile});
  EXPECT_NE(s.exit_code, 0);
  EXPECT_NE(s.err.find("repos[0].repo_id: missing"), std::string::npos) << s.err;
  auto missing = run({"sync", "--lock", dir / "nope.lock"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("hubcache lock ORG/NAME"), std::string::npos) << missing.err;
  EXPECT_EQ(run({"lock", "org/../x", "-o", lockfile}).exit_code, exit_code::usage);
  EXPECT_EQ(run({"cache", "verify", "org/model", "--lock", lockfile}).exit_code, exit_code::usage);
  auto gone = run({"lock", "org/absent", "-o", dir / "other.lock"});
  EXPECT_EQ(gone.exit_code, exit_code::not_found) << gone.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "other.lock"));
}

TEST_F(CliLock, APointerLeadingOutOfTheCacheIsReplacedAndAFileTheCommitLacksIsNamed) {
  ASSERT_EQ(run({"lock", "org/model", "--include", "*.json", "-o", lockfile}).exit_code, 0);
  ASSERT_EQ(run({"sync", "--lock", lockfile}).exit_code, 0);
  // The pointer now leads to a copy of the right bytes outside the cache: not a cached file.
  const std::string pointer = cache + "/models--org--model/snapshots/" + c1 + "/config.json";
  write_file(dir / "outside.json", "{\"v\": 1}");
  std::filesystem::remove(pointer);
  std::filesystem::create_symlink(dir / "outside.json", pointer);
  EXPECT_EQ(run({"cache", "verify", "--lock", lockfile}).exit_code, exit_code::integrity);
  auto s = run({"sync", "--lock", lockfile});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(read_link(pointer), "../../blobs/" + git_blob_sha1_hex("{\"v\": 1}"));
  EXPECT_EQ(run({"cache", "verify", "--lock", lockfile}).exit_code, 0);
  // A lock naming a file the commit does not have: said so, not blamed on the bytes.
  auto j = lock_json();
  j["repos"][0]["files"].push_back({{"path", "nonexistent.json"}, {"size", 2}, {"git_oid", std::string(40, 'b')}});
  write_file(lockfile, j.dump(2));
  auto absent = run({"sync", "--lock", lockfile});
  EXPECT_EQ(absent.exit_code, exit_code::not_found) << absent.err;
  EXPECT_NE(absent.err.find("not in the commit"), std::string::npos) << absent.err;
  EXPECT_NE(absent.err.find("nonexistent.json"), std::string::npos) << absent.err;
  // A folder given as the lockfile: an error, never a crash.
  auto folder = run({"sync", "--lock", dir.path()});
  EXPECT_EQ(folder.exit_code, exit_code::failure) << folder.err;
  EXPECT_NE(folder.err.find("cannot read the lockfile"), std::string::npos) << folder.err;
}

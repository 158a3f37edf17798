// `hubcache download` end to end against the test hub in real-Hub mode (relative 307 to
// /api/resolve-cache/ for small files, signed CDN URLs on another origin for LFS files).
#include <gtest/gtest.h>

#include "cache_builder.hpp"
#include "cli_env.hpp"
#include "hubcache/util/hash.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

struct CliRealHub : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string cache = dir / "cache";
  std::string c1 = commit_id(10);
  std::string weights = std::string(100000, 'm') + "end";
  std::vector<std::string> env;

  void SetUp() override {
    server.add_file(k_repo, c1, "config.json", "{}");
    server.add_file(k_repo, c1, "model.bin", weights, true);
    server.add_file(k_repo, c1, "docs/readme.md", "# hi");
    server.set_ref(k_repo, "main", c1);
    server.set_real_hub({});
    env = cli_env(server, dir, cache);
  }
  ProcessResult run(std::vector<std::string> args, std::vector<std::string> extra_env = {}) {
    auto e = env;
    for (auto& x : extra_env) e.push_back(x);
    return run_process(cmd(std::move(args)), e);
  }
  std::string snapshot() const { return cache + "/models--org--model/snapshots/" + c1; }
};

}  // namespace

TEST_F(CliRealHub, SmallFileThroughTheRelativeRedirect) {
  auto r = run({"download", "org/model", "config.json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, snapshot() + "/config.json\n");
  EXPECT_EQ(read_file(snapshot() + "/config.json"), "{}");
  EXPECT_EQ(read_link(snapshot() + "/config.json"), "../../blobs/" + git_blob_sha1_hex("{}"));
  EXPECT_EQ(server.count("HEAD", "/api/resolve-cache/models/org/model/" + c1 + "/config.json"), 1);
  EXPECT_EQ(server.count("GET", "/api/resolve-cache/models/org/model/" + c1 + "/config.json"), 1);
}

TEST_F(CliRealHub, LfsFileFromTheCdnWithoutTheToken) {
  server.set_valid_token("hf_secrettoken");
  auto r = run({"download", "org/model", "model.bin", "-q"}, {"HF_TOKEN=hf_secrettoken"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(snapshot() + "/model.bin"), weights);
  EXPECT_EQ(read_link(snapshot() + "/model.bin"), "../../blobs/" + sha256_hex(weights));
  int cdn = 0;
  for (const auto& rec : server.requests()) {
    EXPECT_EQ(rec.had_auth, !rec.cdn) << rec.method << " " << rec.path;
    cdn += rec.cdn;
  }
  EXPECT_GE(cdn, 1);
}

TEST_F(CliRealHub, SnapshotOfTheWholeRepo) {
  auto r = run({"download", "org/model", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, snapshot() + "\n");
  EXPECT_EQ(read_file(snapshot() + "/config.json"), "{}");
  EXPECT_EQ(read_file(snapshot() + "/docs/readme.md"), "# hi");
  EXPECT_EQ(read_file(snapshot() + "/model.bin"), weights);
  EXPECT_EQ(server.body_bytes("/cdn/"), weights.size());
  // A rerun finds everything cached.
  server.clear_requests();
  auto again = run({"download", "org/model", "-q"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server.body_bytes(""), server.body_bytes("/api/models/"));  // listings only, no file bodies
}

TEST_F(CliRealHub, ExpiredCdnUrlsAreNotReused) {
  // Signed URLs from an earlier run are worthless later: a second download signs fresh ones.
  RealHubOptions real;
  real.url_expiry = std::chrono::seconds(1);
  server.set_real_hub(real);
  ASSERT_EQ(run({"download", "org/model", "model.bin", "-q"}).exit_code, 0);
  server.advance_clock(std::chrono::hours(1));
  auto r = run({"download", "org/model", "model.bin", "-q", "--force-download"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(snapshot() + "/model.bin"), weights);
  for (const auto& rec : server.requests()) {
    if (rec.cdn) {
      EXPECT_NE(rec.status, 403) << rec.query;
    }
  }
}

TEST_F(CliRealHub, SnapshotResumesAPartialBlobThroughTheCdn) {
  GTEST_SKIP() << "needs downloader fix (issue 8 §2)";
  // A partial blob left by an earlier run: the rerun fetches only the rest from the CDN, and the
  // Hub's ETag (a SHA-256) never reaches the CDN as an If-Range validator.
  const std::string sha = sha256_hex(weights);
  write_file(cache + "/models--org--model/blobs/" + sha + ".incomplete", weights.substr(0, 60000));
  auto r = run({"download", "org/model", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(snapshot() + "/model.bin"), weights);
  EXPECT_EQ(server.body_bytes("/cdn/"), weights.size() - 60000);
  const std::string cdn_etag = "\"" + server.cdn_etag(sha) + "\"";
  for (const auto& rec : server.requests()) {
    if (rec.cdn && !rec.if_range.empty()) {
      EXPECT_TRUE(rec.if_range == cdn_etag || rec.if_range == server.cdn_last_modified()) << rec.if_range;
    }
  }
}

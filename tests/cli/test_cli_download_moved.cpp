// `hubcache download` with HF_ENDPOINT at a server that redirects every request (a mirror or a
// proxy: 308 relative with a query the target needs, or to another host): snapshots, --dry-run
// and single files work through it; the token never reaches the other host; an answer that is
// not the Hub's names what came back.
#include <gtest/gtest.h>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "cli_env.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

struct CliMoved : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string cache = dir / "cache";
  std::string c1 = commit_id(10);

  void SetUp() override {
    server.add_file(k_repo, c1, "config.json", "{}");
    server.add_file(k_repo, c1, "model.bin", std::string(100000, 'm'), true);
    server.add_file(k_repo, c1, "docs/readme.md", "# hi");
    server.set_ref(k_repo, "main", c1);
    server.set_tree_page_size(2);
  }
  ProcessResult run(std::vector<std::string> args) { return run_process(cmd(std::move(args)), cli_env(server, dir, cache)); }
  std::string snapshot() const { return cache + "/models--org--model/snapshots/" + c1; }
  void expect_snapshot_and_dry_run() {
    auto dry = run({"download", "org/model", "--dry-run"});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_NE(dry.out.find("Will download 3 files (out of 3)"), std::string::npos) << dry.out;
    auto r = run({"download", "org/model", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, snapshot() + "\n");
    EXPECT_EQ(read_file(snapshot() + "/model.bin"), std::string(100000, 'm'));
    EXPECT_EQ(read_file(snapshot() + "/docs/readme.md"), "# hi");
    auto one = run({"download", "org/model", "config.json", "-q", "--force-download"});
    ASSERT_EQ(one.exit_code, 0) << one.err;
    EXPECT_EQ(one.out, snapshot() + "/config.json\n");
  }
};

}  // namespace

TEST_F(CliMoved, SnapshotDryRunAndFilesThroughARelativePermanentRedirect) {
  server.set_moved(Moved::RelativeWithQuery);
  expect_snapshot_and_dry_run();
  int refused = 0;
  for (const auto& r : server.requests()) refused += r.status == 403 ? 1 : 0;
  EXPECT_EQ(refused, 0);  // every redirect was followed with its query
  EXPECT_GT(server.count("", "/moved/"), 0);
}

TEST_F(CliMoved, ThroughAnotherHostTheTokenStaysHome) {
  server.set_valid_token("hf_secrettoken");
  server.set_moved(Moved::OtherHost);
  auto env = cli_env(server, dir, cache);
  env.push_back("HF_TOKEN=hf_secrettoken");
  auto dry = run_process(cmd({"download", "org/model", "--dry-run"}), env);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  auto r = run_process(cmd({"download", "org/model", "-q"}), env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(snapshot() + "/model.bin"), std::string(100000, 'm'));
  auto one = run_process(cmd({"download", "org/model", "config.json", "-q", "--force-download"}), env);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  int other_host = 0, home_with_token = 0;
  for (const auto& q : server.requests()) {
    if (q.path.rfind("/moved/", 0) == 0) {
      ++other_host;
      EXPECT_TRUE(q.cdn);
      EXPECT_FALSE(q.had_auth) << q.method << " " << q.path;
    } else if (!q.cdn) {
      home_with_token += q.had_auth ? 1 : 0;
    }
  }
  EXPECT_GE(other_host, 6);  // 2 x (repo info + 2 tree pages), file GETs, the HEAD
  EXPECT_EQ(home_with_token, server.count("", "") - server.count("", "/moved/") - server.count("", "/cdn/"));
}

TEST_F(CliMoved, AnHtmlPageInsteadOfTheApiIsNamed) {
  server.set_hostile(Hostile::HtmlApi);
  for (auto args :
       {std::vector<std::string>{"download", "org/model"}, std::vector<std::string>{"download", "org/model", "--dry-run"}}) {
    auto r = run(args);
    // A download falls back to the cache, which lacks the files (LocalEntryNotFound, like PY);
    // a dry run only reports the Hub's answer.
    EXPECT_EQ(r.exit_code, args.size() == 2 ? exit_code::not_cached : exit_code::failure) << r.err;
    EXPECT_NE(r.err.find("repo info is not a JSON object; got HTTP 200, Content-Type text/html; charset=utf-8, body starts with "
                         "'<!DOCTYPE html>"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("Check your connection"), std::string::npos) << r.err;
  }
}

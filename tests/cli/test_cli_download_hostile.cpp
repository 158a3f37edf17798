// `hubcache download` against a hostile Hub: every loop its answers drive ends quickly with an
// error naming the server's fault (not the user's connection), and nothing is written.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "cli_env.hpp"

using namespace hubcache;
using namespace hubcache::test;
using namespace std::chrono_literals;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

struct CliHostile : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string cache = dir / "cache";
  std::string c1 = commit_id(10);

  void SetUp() override {
    for (int i = 0; i < 5; ++i) server.add_file(k_repo, c1, "f" + std::to_string(i) + ".txt", "x");
    server.add_file(k_repo, c1, "config.json", "{}");
    server.set_ref(k_repo, "main", c1);
    server.set_tree_page_size(2);
  }
  ProcessResult run(std::vector<std::string> args) { return run_process(cmd(std::move(args)), cli_env(server, dir, cache)); }
  static std::string json_code(const std::string& out) {
    std::istringstream in(out);
    std::string line, last;
    while (std::getline(in, line))
      if (!line.empty()) last = line;
    return nlohmann::json::parse(last)["error"]["code"];
  }
  void expect_server_named(const ProcessResult& r, const std::string& text) {
    EXPECT_EQ(r.exit_code, exit_code::not_cached);
    EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("not your connection"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Check your connection"), std::string::npos) << r.err;
  }
};

}  // namespace

TEST_F(CliHostile, SelfLinkingTreeListingEndsAtOnce) {
  server.set_hostile(Hostile::NextLinksToItself);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run({"download", "org/model"});
  expect_server_named(r, "returned a pagination loop listing the files of model 'org/model': page URL ");
  EXPECT_EQ(server.count("GET", "/tree/"), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_FALSE(exists(cache + "/models--org--model/snapshots"));
  auto dry = run({"download", "org/model", "--dry-run", "--json"});
  EXPECT_EQ(dry.exit_code, 1);
  EXPECT_EQ(json_code(dry.out), "http");
}

TEST_F(CliHostile, CyclingTreeListingEndsAtOnce) {
  server.set_hostile(Hostile::NextLinksCycle);
  auto r = run({"download", "org/model"});
  expect_server_named(r, "was already fetched (next link of page 2)");
  EXPECT_EQ(server.count("GET", "/tree/"), 2);
}

TEST_F(CliHostile, RedirectLoopsEndForSingleFilesAndSnapshots) {
  server.set_hostile(Hostile::RedirectLoop);
  auto file = run({"download", "org/model", "config.json"});
  expect_server_named(file, "returned a redirect loop resolving 'config.json'");
  EXPECT_EQ(server.count("HEAD", "/resolve/"), 2);
  auto snap = run({"download", "org/model"});
  expect_server_named(snap, "redirected more than 10 times");
  EXPECT_EQ(server.count("GET", "/api/"), 11);  // never retried: a loop is not a network blip
}

TEST_F(CliHostile, HugeApiBodiesAreRefused) {
  server.set_hostile(Hostile::HugeBody);
  auto r = run({"download", "org/model", "--json"});
  expect_server_named(r, "the server's answer is larger than the limit of");
  // Nothing cached to fall back on (like huggingface_hub's LocalEntryNotFoundError), and the
  // message names the unusable answer, not the connection.
  EXPECT_EQ(json_code(r.out), "local_entry_not_found");
  EXPECT_NE(r.err.find("gave an answer that cannot be used while locating the files of model 'org/model'"), std::string::npos)
      << r.err;
  EXPECT_LT(server.body_bytes("/api/"), 64u << 20);
}

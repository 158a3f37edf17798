// Every error a snapshot can meet reaches the user as the same typed error (message and --json
// code) the single-file path gives: gated without a token or with one that has no access, a
// private repo to an account without access, a missing repo, revision or file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "cli_env.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_gated{RepoType::Model, "org/gated"};

struct CliTypedErrors : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string cache = dir / "cache";
  std::string c1 = commit_id(10);

  void SetUp() override {
    server.add_file(k_gated, c1, "config.json", "{}");
    server.add_file(k_gated, c1, "model.bin", std::string(1000, 'm'), true);
    server.set_ref(k_gated, "main", c1);
    server.set_gated(k_gated, true);
    server.set_valid_token("hf_granted");
    server.add_token_without_access("hf_noaccess");
  }
  nlohmann::json error_of(std::vector<std::string> args, const std::string& token = "") {
    args.push_back("--json");
    if (!token.empty()) {
      args.push_back("--token");
      args.push_back(token);
    }
    auto r = run_process(cmd(args), cli_env(server, dir, cache));
    std::istringstream in(r.out);
    std::string line, last;
    while (std::getline(in, line))
      if (!line.empty()) last = line;
    EXPECT_FALSE(last.empty()) << r.err;
    if (last.empty()) return nlohmann::json{};
    auto error = nlohmann::json::parse(last)["error"];
    // The exit code tells the error's class (README.md#exit-codes).
    const std::string code = error.value("code", "");
    const int expected = code == "gated" || code == "unauthorized" ? exit_code::auth
                         : code.ends_with("not_found")             ? exit_code::not_found
                                                                   : exit_code::failure;
    EXPECT_EQ(r.exit_code, expected) << code << "\n" << r.err;
    return error;
  }
  // The snapshot's error equals the single-file path's: code and message.
  nlohmann::json expect_same(const std::string& repo, const std::vector<std::string>& extra = {}, const std::string& token = "") {
    std::vector<std::string> file_args{"download", repo, "config.json"}, snap_args{"download", repo};
    for (const auto& x : extra) {
      file_args.push_back(x);
      snap_args.push_back(x);
    }
    const auto file = error_of(file_args, token);
    const auto snap = error_of(snap_args, token);
    EXPECT_EQ(snap["code"], file["code"]);
    EXPECT_EQ(snap["message"], file["message"]);
    EXPECT_EQ(snap["message"].get<std::string>().find("incomplete"), std::string::npos) << snap["message"];
    EXPECT_EQ(snap["message"].get<std::string>().find("failed with HTTP"), std::string::npos) << snap["message"];
    return snap;
  }
};

}  // namespace

TEST_F(CliTypedErrors, GatedWithoutAToken) {
  const auto e = expect_same("org/gated");
  EXPECT_EQ(e["code"], "gated");
  const std::string m = e["message"];
  EXPECT_NE(m.find("Access denied. Model 'org/gated' requires approval. (HTTP 401"), std::string::npos) << m;
  EXPECT_NE(m.find("Ask for access at " + server.endpoint() + "/org/gated and authenticate with a token"), std::string::npos)
      << m;
}

TEST_F(CliTypedErrors, GatedWithATokenThatHasNoAccess) {
  const auto e = expect_same("org/gated", {}, "hf_noaccess");
  EXPECT_EQ(e["code"], "gated");
  const std::string m = e["message"];
  EXPECT_NE(m.find("(HTTP 403"), std::string::npos) << m;
  EXPECT_NE(m.find("you are not in the authorized list"), std::string::npos) << m;
  EXPECT_NE(m.find("Ask for access at " + server.endpoint() + "/org/gated"), std::string::npos) << m;
  EXPECT_EQ(m.find("hf_noaccess"), std::string::npos);
  // With access, both modes work.
  auto ok = run_process(cmd({"download", "org/gated", "-q", "--token", "hf_granted"}), cli_env(server, dir, cache));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST_F(CliTypedErrors, PrivateRepoToAnAccountWithoutAccess) {
  server.set_gated(k_gated, false);
  server.set_private(k_gated, true);
  EXPECT_EQ(expect_same("org/gated", {}, "hf_noaccess")["code"], "repo_not_found");
  EXPECT_EQ(expect_same("org/gated")["code"], "repo_not_found");
}

TEST_F(CliTypedErrors, MissingRepoAndRevision) {
  const auto repo = expect_same("no/such");
  EXPECT_EQ(repo["code"], "repo_not_found");
  EXPECT_NE(repo["message"].get<std::string>().find("Model 'no/such' not found."), std::string::npos);
  server.set_gated(k_gated, false);
  EXPECT_EQ(expect_same("org/gated", {"--revision", "nope"})["code"], "revision_not_found");
}

TEST_F(CliTypedErrors, AListedFileTheHubThenDoesNotFindIsEntryNotFound) {
  server.set_gated(k_gated, false);
  auto missing = Fault::http_status("", "/resolve/", 404, -1);
  missing.error_code = "EntryNotFound";
  server.add_fault(missing);
  const auto file = error_of({"download", "org/gated", "config.json"});
  const auto snap = error_of({"download", "org/gated"});
  EXPECT_EQ(file["code"], "entry_not_found");
  EXPECT_EQ(snap["code"], "entry_not_found");
  EXPECT_NE(snap["message"].get<std::string>().find("File not found in model 'org/gated'."), std::string::npos)
      << snap["message"];
}

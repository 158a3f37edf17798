// `hubcache auth login / whoami / list / switch / logout` against `hubcache serve --token-file`,
// which answers GET /api/whoami-v2 for its own tokens. The files are huggingface_hub's:
// $HF_HOME/token (the active token) and $HF_HOME/stored_tokens (configparser INI).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"
#include "terminal.hpp"

namespace hubcache::test {
namespace {

const std::string k_tok1 = "hf_mirrortokenAAAA1111";
const std::string k_tok2 = "hf_mirrortokenBBBB2222";

struct CliAuth : ::testing::Test {
  TempDir tmp;
  std::string home = tmp.path() + "/hf_home";
  std::string cache = tmp.path() + "/cache";
  std::unique_ptr<ServeProcess> serve;
  void SetUp() override {
    std::filesystem::create_directories(cache);
    write_file(tmp.path() + "/tokens", k_tok1 + "\n" + k_tok2 + "\n");
    serve = std::make_unique<ServeProcess>(
        std::vector<std::string>{"--cache-dir", cache, "--quiet", "--token-file", tmp.path() + "/tokens"});
    ASSERT_FALSE(serve->url().empty());
  }
  std::vector<std::string> env(std::vector<std::string> extra = {}) const {
    std::vector<std::string> e{"HF_ENDPOINT=" + serve->url(),   "HF_HOME=" + home, "-HF_TOKEN",
                               "-HUGGING_FACE_HUB_TOKEN",       "-HF_TOKEN_PATH",  "-HF_HUB_OFFLINE",
                               "-HF_HUB_DISABLE_IMPLICIT_TOKEN"};
    for (auto& x : extra) e.push_back(x);
    return e;
  }
  ProcessResult run(std::vector<std::string> args, const std::string& stdin_data = {}, std::vector<std::string> extra = {}) {
    args.insert(args.begin(), hubcache_bin());
    return run_process(args, env(std::move(extra)), stdin_data);
  }
  bool exists(const std::string& p) const { return std::filesystem::exists(p); }
  static void no_token_in(const ProcessResult& r) {
    for (const auto& t : {k_tok1, k_tok2}) {
      EXPECT_EQ(r.out.find(t), std::string::npos) << r.out;
      EXPECT_EQ(r.err.find(t), std::string::npos) << r.err;
    }
  }
};

}  // namespace

TEST_F(CliAuth, LoginValidatesWithWhoamiAndStoresTheTokenWherePythonLooks) {
  auto r = run({"auth", "login", "--token", k_tok1});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  no_token_in(r);
  EXPECT_NE(r.err.find("Saved as 'mirror-token-1'"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(home + "/token"), k_tok1);
  EXPECT_EQ(read_file(home + "/stored_tokens"), "[mirror-token-1]\nhf_token = " + k_tok1 + "\n\n");
  struct stat st {};
  ASSERT_EQ(::stat((home + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((home + "/stored_tokens").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Not a terminal: the token is read from stdin; a second name is added, sorted, and made active.
  auto piped = run({"auth", "login"}, k_tok2 + "\n");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  no_token_in(piped);
  EXPECT_EQ(read_file(home + "/token"), k_tok2);
  EXPECT_EQ(read_file(home + "/stored_tokens"),
            "[mirror-token-1]\nhf_token = " + k_tok1 + "\n\n[mirror-token-2]\nhf_token = " + k_tok2 + "\n\n");

  auto who = run({"auth", "whoami"});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  EXPECT_EQ(who.out, "hubcache-mirror\n");
  EXPECT_NE(who.err.find("mirror-token-2"), std::string::npos) << who.err;
  no_token_in(who);
}

TEST_F(CliAuth, LoginOnATerminalPromptsAndNeverEchoesTheToken) {
  // On a pseudo-terminal (echo on, as a shell leaves it), typed once the prompt shows.
  std::vector<std::string> argv{"/usr/bin/env"}, set;  // env's -u options come before its assignments
  for (const auto& e : env()) {
    if (e[0] == '-')
      argv.insert(argv.end(), {"-u", e.substr(1)});
    else
      set.push_back(e);
  }
  argv.insert(argv.end(), set.begin(), set.end());
  argv.insert(argv.end(), {hubcache_bin(), "auth", "login"});
  const std::string prompt = "Enter your token (input is not shown): ";
  auto r = run_in_terminal_after(argv, prompt, k_tok1 + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find(prompt), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(k_tok1), std::string::npos) << r.out;  // not echoed, not printed
  EXPECT_EQ(r.out.find("hf_mirror"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Token is valid (account 'hubcache-mirror'"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(home + "/token"), k_tok1);  // validated, then stored
  EXPECT_EQ(read_file(home + "/stored_tokens"), "[mirror-token-1]\nhf_token = " + k_tok1 + "\n\n");

  // A refused token typed there is neither echoed nor stored.
  auto bad = run_in_terminal_after(argv, prompt, "hf_typed_but_refused_999\n");
  EXPECT_EQ(bad.exit_code, exit_code::auth) << bad.out;
  EXPECT_EQ(bad.out.find("hf_typed_but_refused_999"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("the token was refused"), std::string::npos) << bad.out;
  EXPECT_EQ(read_file(home + "/token"), k_tok1);
}

TEST_F(CliAuth, ARefusedTokenIsNotStoredAndNotPrinted) {
  auto r = run({"auth", "login", "--token", "hf_not_a_mirror_token_xyz"});
  EXPECT_EQ(r.exit_code, exit_code::auth);
  EXPECT_NE(r.err.find("the token was refused by " + serve->url() + " (HTTP 401)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("hf_not_a_mirror_token_xyz"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(home + "/token"));
  EXPECT_FALSE(exists(home + "/stored_tokens"));
  auto empty = run({"auth", "login"}, "\n");
  EXPECT_EQ(empty.exit_code, 2);
  auto org = run({"auth", "login", "--token", "api_org_abcdef"});
  EXPECT_EQ(org.exit_code, 2);
  EXPECT_NE(org.err.find("organization token"), std::string::npos) << org.err;
  auto who = run({"auth", "whoami"});
  EXPECT_EQ(who.exit_code, exit_code::auth);
  EXPECT_NE(who.err.find("not logged in"), std::string::npos) << who.err;
}

TEST_F(CliAuth, ListSwitchAndLogoutWorkOnTheStoredTokens) {
  ASSERT_EQ(run({"auth", "login", "--token", k_tok1}).exit_code, 0);
  ASSERT_EQ(run({"auth", "login", "--token", k_tok2}).exit_code, 0);
  auto list = run({"auth", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  no_token_in(list);
  EXPECT_NE(list.out.find("  mirror-token-1  hf_****1111"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("* mirror-token-2  hf_****2222"), std::string::npos) << list.out;

  auto sw = run({"auth", "switch", "mirror-token-1"});
  ASSERT_EQ(sw.exit_code, 0) << sw.err;
  EXPECT_EQ(read_file(home + "/token"), k_tok1);
  EXPECT_NE(run({"auth", "list"}).out.find("* mirror-token-1"), std::string::npos);
  auto bad = run({"auth", "switch", "nope"});
  EXPECT_EQ(bad.exit_code, exit_code::not_found);
  EXPECT_NE(bad.err.find("Stored: mirror-token-1, mirror-token-2"), std::string::npos) << bad.err;

  // Logging out of a token that is not the active one keeps the active one.
  ASSERT_EQ(run({"auth", "logout", "--token-name", "mirror-token-2"}).exit_code, 0);
  EXPECT_EQ(read_file(home + "/token"), k_tok1);
  EXPECT_EQ(read_file(home + "/stored_tokens"), "[mirror-token-1]\nhf_token = " + k_tok1 + "\n\n");
  // Logging out of the active one removes the token file too.
  ASSERT_EQ(run({"auth", "logout", "--token-name", "mirror-token-1"}).exit_code, 0);
  EXPECT_FALSE(exists(home + "/token"));
  ASSERT_EQ(run({"auth", "login", "--token", k_tok2}).exit_code, 0);
  auto all = run({"auth", "logout"}, {}, {"HF_TOKEN=" + k_tok1});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.err.find("HF_TOKEN is still set"), std::string::npos) << all.err;
  EXPECT_FALSE(exists(home + "/token"));
  EXPECT_FALSE(exists(home + "/stored_tokens"));
}

TEST_F(CliAuth, StoredTokensWrittenByPythonAreRead) {
  // configparser's own output, with a comment and an option in another case.
  std::filesystem::create_directories(home);
  write_file(home + "/stored_tokens", "# mine\n[work]\nHF_TOKEN = " + k_tok2 + "\n\n[personal]\nhf_token=" + k_tok1 + "\n");
  auto sw = run({"auth", "switch", "--token-name", "work"});
  ASSERT_EQ(sw.exit_code, 0) << sw.err;
  EXPECT_EQ(read_file(home + "/token"), k_tok2);
  auto list = run({"auth", "list"});
  EXPECT_NE(list.out.find("  personal  hf_****1111"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("* work      hf_****2222"), std::string::npos) << list.out;
}

}  // namespace hubcache::test

// Issue 9 section 5: the token file is read only by commands that send a token (download, auth
// whoami, ...). An inotify watch (IN_OPEN) on the token file sees every open of it by the child
// processes: offline commands (resolve, cache ls/verify, env) must cause none, download must.
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cache_builder.hpp"
#include "cli_env.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_repo{RepoType::Model, "org/private-model"};
const std::string k_token = "hf_lazytokensecret77";

// Counts IN_OPEN events on one file since the last call.
class OpenWatch {
 public:
  explicit OpenWatch(const std::string& path) {
    m_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m_fd >= 0) m_wd = ::inotify_add_watch(m_fd, path.c_str(), IN_OPEN);
  }
  ~OpenWatch() {
    if (m_fd >= 0) ::close(m_fd);
  }
  bool ok() const { return m_fd >= 0 && m_wd >= 0; }
  int opens() {  // the child has exited, so its events are queued
    int n = 0;
    alignas(inotify_event) char buf[4096];
    for (ssize_t len; (len = ::read(m_fd, buf, sizeof buf)) > 0;)
      for (ssize_t i = 0; i < len;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + i);
        if ((ev->mask & IN_OPEN) != 0) ++n;
        i += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    return n;
  }

 private:
  int m_fd = -1;
  int m_wd = -1;
};

TEST(LazyToken, OfflineCommandsNeverOpenTheTokenFileAndDownloadDoes) {
  HubServer server;
  TempDir dir;
  const std::string c1 = commit_id(31);
  server.add_file(k_repo, c1, "config.json", "{\"lazy\": true}");
  server.set_ref(k_repo, "main", c1);
  server.set_private(k_repo, true);  // the download succeeds only with the file's token
  server.set_valid_token(k_token);
  const std::string token_path = dir / "token";
  write_file(token_path, k_token + "\n");
  auto env = cli_env(server, dir, dir / "cache");
  env.push_back("HF_TOKEN_PATH=" + token_path);
  env.push_back("HF_HUB_DISABLE_PROGRESS_BARS=1");
  OpenWatch watch(token_path);
  ASSERT_TRUE(watch.ok()) << "inotify unavailable";

  auto dl = run_process(cmd({"download", k_repo.id, "config.json"}), env);
  ASSERT_EQ(dl.exit_code, 0) << dl.err;
  EXPECT_GE(watch.opens(), 1) << "download must read the token file to reach a private repo";
  EXPECT_EQ(dl.err.find("lazytokensecret"), std::string::npos) << dl.err;

  const std::vector<std::vector<std::string>> offline = {
      {"resolve", k_repo.id, "config.json"}, {"cache", "ls"}, {"cache", "ls", "--json"}, {"cache", "verify", k_repo.id}, {"env"}};
  for (const auto& args : offline) {
    auto r = run_process(cmd(args), env);
    EXPECT_EQ(r.exit_code, 0) << ::testing::PrintToString(args) << "\n" << r.err;
    EXPECT_EQ(watch.opens(), 0) << ::testing::PrintToString(args) << " opened the token file";
  }

  // env still says a token is set (a stat, not a read), and where it would come from.
  auto j = run_process(cmd({"env", "--json"}), env);
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(watch.opens(), 0);
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["token"]["found"], true);
  EXPECT_EQ(doc["token"]["source"], "token file " + token_path);
  EXPECT_EQ(j.out.find("lazytokensecret"), std::string::npos);

  // A second download (cached already: it still asks the Hub, with the token) reads it again.
  auto again = run_process(cmd({"download", k_repo.id, "config.json"}), env);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_GE(watch.opens(), 1);
}

}  // namespace

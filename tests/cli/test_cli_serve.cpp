// `hubcache serve` as a process: prints its URL, serves, logs, stops cleanly on SIGTERM/SIGINT.
#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "cache_builder.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

// A background `hubcache serve` with stdout/stderr captured through pipes.
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> args) {
    int out[2], err[2];
    EXPECT_EQ(::pipe(out), 0);
    EXPECT_EQ(::pipe(err), 0);
    args.insert(args.begin(), hubcache_bin());
    m_pid = ::fork();
    if (m_pid == 0) {
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::close(out[0]);
      ::close(err[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    m_out = out[0];
    m_err = err[0];
    ::fcntl(m_err, F_SETFL, O_NONBLOCK);
  }
  ~ServeProcess() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
    ::close(m_out);
    ::close(m_err);
  }
  /// First stdout line (the URL), waiting up to 10 s.
  std::string first_line() {
    std::string line;
    char c;
    pollfd p{m_out, POLLIN, 0};
    while (::poll(&p, 1, 10000) > 0 && ::read(m_out, &c, 1) == 1 && c != '\n') line.push_back(c);
    return line;
  }
  /// Sends `sig` and returns the exit status (-1 if it did not exit within 10 s).
  int stop(int sig) {
    ::kill(m_pid, sig);
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  std::string err_output() {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(m_err, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
    return s;
  }

 private:
  pid_t m_pid = -1;
  int m_out = -1, m_err = -1;
};

size_t sink(char* d, size_t s, size_t n, void* u) {
  static_cast<std::string*>(u)->append(d, s * n);
  return s * n;
}

std::pair<long, std::string> get(const std::string& url, const std::string& auth = {}) {
  std::string body;
  long code = 0;
  CURL* c = curl_easy_init();
  curl_slist* h = auth.empty() ? nullptr : curl_slist_append(nullptr, ("Authorization: Bearer " + auth).c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &sink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return {code, body};
}

class CliServe : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string cache_dir = tmp.path() + "/cache";
  void SetUp() override {
    CacheBuilder b(cache_dir);
    const RepoRef repo{RepoType::Model, "org/tiny"};
    b.add_file(repo, commit_id(1), "config.json", "{\"a\": 1}");
    b.add_file(repo, commit_id(1), "weights.bin", std::string(3000, 'w'), true);
    b.add_ref(repo, "main", commit_id(1));
    const RepoRef priv{RepoType::Model, "org/secret"};
    b.add_file(priv, commit_id(2), "s.txt", "secret");
    b.add_ref(priv, "main", commit_id(2));
  }
};

TEST_F(CliServe, PrintsUrlServesLogsAndStopsOnSigterm) {
  const std::string before = tree_fingerprint(cache_dir);
  ServeProcess p({"serve", "--cache-dir", cache_dir, "--port", "0"});
  const std::string url = p.first_line();
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
  EXPECT_NE(url, "http://127.0.0.1:0");
  EXPECT_EQ(get(url + "/org/tiny/resolve/main/config.json"), std::make_pair(200L, std::string("{\"a\": 1}")));
  EXPECT_EQ(get(url + "/org/tiny/resolve/main/weights.bin").second, std::string(3000, 'w'));  // via the redirect
  EXPECT_EQ(p.stop(SIGTERM), 0);
  const std::string err = p.err_output();
  EXPECT_NE(err.find("HF_ENDPOINT=" + url), std::string::npos) << err;
  EXPECT_NE(err.find("GET /org/tiny/resolve/main/config.json 200 8 "), std::string::npos) << err;
  EXPECT_EQ(tree_fingerprint(cache_dir), before);
}

TEST_F(CliServe, QuietPrivateReposAndSigint) {
  write_file(tmp.path() + "/tokens", "hf_cli_token\n");
  ServeProcess p({"serve", "--cache-dir", cache_dir, "--port", "0", "--quiet", "--token-file", tmp.path() + "/tokens",
                  "--private", "org/secret"});
  const std::string url = p.first_line();
  ASSERT_FALSE(url.empty());
  EXPECT_EQ(get(url + "/org/secret/resolve/main/s.txt").first, 401);
  EXPECT_EQ(get(url + "/org/secret/resolve/main/s.txt", "hf_cli_token").second, "secret");
  EXPECT_EQ(p.stop(SIGINT), 0);
  EXPECT_EQ(p.err_output(), "");
}

TEST_F(CliServe, BadArgumentsFailClearly) {
  auto r = run_process({hubcache_bin(), "serve", "--cache-dir", tmp.path() + "/absent", "--port", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  r = run_process({hubcache_bin(), "serve", "--cache-dir", cache_dir, "--port", "0", "--private", "bad--id"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--private 'bad--id'"), std::string::npos) << r.err;
  r = run_process({hubcache_bin(), "serve", "--cache-dir", cache_dir, "--port", "0", "--token-file", tmp.path() + "/none"});
  EXPECT_EQ(r.exit_code, 1);
  r = run_process({hubcache_bin(), "serve", "--cache-dir", cache_dir, "--port", "70000"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace hubcache::test

// `hubcache serve` as a process: prints its URL, serves, logs, stops cleanly on SIGTERM/SIGINT.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <regex>
#include <thread>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

size_t sink(char* d, size_t s, size_t n, void* u) {
  static_cast<std::string*>(u)->append(d, s * n);
  return s * n;
}

std::pair<long, std::string> get(const std::string& url, const std::string& auth = {}, const std::string& from = {}) {
  std::string body;
  long code = 0;
  CURL* c = curl_easy_init();
  if (!from.empty()) curl_easy_setopt(c, CURLOPT_INTERFACE, ("host!" + from).c_str());  // the client address
  curl_slist* h = auth.empty() ? nullptr : curl_slist_append(nullptr, ("Authorization: Bearer " + auth).c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &sink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  else
    body = std::string("curl error: ") + curl_easy_strerror(rc);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return {code, body};
}

// The Location of a resolve answer (redirects not followed).
std::string location_of(const std::string& url) {
  std::string body;
  char* loc = nullptr;
  std::string out;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &sink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  if (curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) out = loc;
  curl_easy_cleanup(c);
  return out;
}

std::string lower_host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  std::string h = name;
  for (auto& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return h;
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
  ServeProcess p({"--cache-dir", cache_dir});
  const std::string url = p.url();
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
  ServeProcess p({"--cache-dir", cache_dir, "--quiet", "--token-file", tmp.path() + "/tokens", "--private", "org/secret"});
  const std::string url = p.url();
  ASSERT_FALSE(url.empty());
  EXPECT_EQ(get(url + "/org/secret/resolve/main/s.txt").first, 401);
  EXPECT_EQ(get(url + "/org/secret/resolve/main/s.txt", "hf_cli_token").second, "secret");
  EXPECT_EQ(p.stop(SIGINT), 0);
  EXPECT_EQ(p.err_output(), "");
}

TEST_F(CliServe, AllInterfacesPrintAUsableUrlAndCtrlCStopsCleanly) {
  ServeProcess p({"--cache-dir", cache_dir, "--host", "0.0.0.0"});
  const std::string url = p.url();
  ASSERT_FALSE(url.empty()) << p.err_output();
  // Not 127.0.0.1, which another machine cannot use: the host name (what it can resolve).
  EXPECT_EQ(url.rfind("http://127.0.0.1", 0), std::string::npos) << url;
  const std::string port = url.substr(url.rfind(':') + 1);
  EXPECT_EQ(url, "http://" + lower_host_name() + ":" + port);
  EXPECT_EQ(get("http://127.0.0.1:" + port + "/org/tiny/resolve/main/config.json").second, "{\"a\": 1}");
  EXPECT_EQ(p.stop(SIGINT), 0);
  const std::string err = p.err_output();
  EXPECT_NE(err.find("on 0.0.0.0:" + port + ", all interfaces: other machines reach it at " + url), std::string::npos) << err;
  EXPECT_NE(err.find("this one at http://127.0.0.1:" + port), std::string::npos) << err;
  EXPECT_NE(err.find("Stopped (Ctrl-C); the cache was not changed."), std::string::npos) << err;
  for (const char* alarming : {"rror", "ailed", "bort", "xception"}) EXPECT_EQ(err.find(alarming), std::string::npos) << err;
}

TEST_F(CliServe, PublicUrlIsWhereRedirectsPoint) {
  ServeProcess p({"--cache-dir", cache_dir, "--public-url", "https://mirror.example/hub"});
  const std::string url = p.url();
  ASSERT_FALSE(url.empty()) << p.err_output();
  EXPECT_EQ(
      location_of(url + "/org/tiny/resolve/main/weights.bin").rfind("https://mirror.example/hub/_blobs/models--org--tiny/", 0),
      0u);
  EXPECT_EQ(p.stop(SIGTERM), 0);
  EXPECT_NE(p.err_output().find("Use HF_ENDPOINT=https://mirror.example/hub."), std::string::npos) << p.err_output();
  auto r = run_process({hubcache_bin(), "serve", "--cache-dir", cache_dir, "--port", "0", "--public-url", "mirror.example"});
  EXPECT_EQ(r.exit_code, exit_code::usage);
  EXPECT_NE(r.err.find("the public URL 'mirror.example' is not a URL like http://"), std::string::npos) << r.err;
}

TEST_F(CliServe, MaxConnectionsPerClientIsAnOption) {
  ServeProcess p({"--cache-dir", cache_dir, "--quiet", "--max-connections-per-client", "2"});
  ASSERT_FALSE(p.url().empty());
  EXPECT_EQ(get(p.url() + "/org/tiny/resolve/main/config.json").first, 200);
  EXPECT_EQ(p.stop(SIGTERM), 0);
  auto r = run_process({hubcache_bin(), "serve", "--cache-dir", cache_dir, "--port", "0", "--max-connections-per-client", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--max-connections-per-client"), std::string::npos) << r.err;
}

// `n` idle connections from 127.0.0.1 to `port`; returns once the server has closed all but
// `kept` of them (those over its per-client limit), or after 20 s, so that a loaded machine
// does not leave refusals pending when the test goes on.
std::vector<int> idle_connections(int port, int n, int kept) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
      fds.push_back(fd);
    else
      ::close(fd);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    int closed = 0;
    char c;
    for (int fd : fds) {
      const ssize_t r = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      closed += r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
    if (static_cast<int>(fds.size()) - closed <= kept || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the last close's bookkeeping
  return fds;
}

TEST_F(CliServe, PerClientDefaultIsScaledToTheServersConnections) {
  // A server with few connections: the default per-client limit is an eighth of them (8 of 64),
  // so one client address holding idle connections leaves room for another. (With a flat 256,
  // 127.0.0.1 would take all 64 slots.) Not fewer than 64: MHD splits the limit between its
  // threads, and a thread still closing the flood's refused connections turns new ones away.
  ServeProcess p({"--cache-dir", cache_dir, "--max-connections", "64"});
  const std::string url = p.url();
  ASSERT_FALSE(url.empty()) << p.err_output();
  const auto fds = idle_connections(std::stoi(url.substr(url.rfind(':') + 1)), 80, 8);
  for (int i = 0; i < 3; ++i) {
    auto g = get(url + "/org/tiny/resolve/main/config.json", {}, "127.0.0.2");
    EXPECT_EQ(g.first, 200) << g.second;
  }
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(p.stop(SIGTERM), 0);
  EXPECT_NE(p.err_output().find("Connections: at most 64, 8 per client address."), std::string::npos) << p.err_output();

  // The default server: 256 per client unless its connections (cut by the open-file limit) are
  // fewer than 8 x 256; an explicit value is kept.
  ServeProcess d({"--cache-dir", cache_dir});
  ASSERT_FALSE(d.url().empty()) << d.err_output();
  EXPECT_EQ(d.stop(SIGTERM), 0);
  std::smatch m;
  const std::string err = d.err_output();
  ASSERT_TRUE(std::regex_search(err, m, std::regex("Connections: at most ([0-9]+), ([0-9]+) per client address"))) << err;
  const unsigned max = static_cast<unsigned>(std::stoul(m[1])), per = static_cast<unsigned>(std::stoul(m[2]));
  EXPECT_EQ(per, std::max(1u, std::min(256u, max / 8))) << err;
  ServeProcess e({"--cache-dir", cache_dir, "--max-connections", "16", "--max-connections-per-client", "9"});
  ASSERT_FALSE(e.url().empty()) << e.err_output();
  EXPECT_EQ(e.stop(SIGTERM), 0);
  EXPECT_NE(e.err_output().find("Connections: at most 16, 9 per client address."), std::string::npos) << e.err_output();
  auto help = run_process({hubcache_bin(), "serve", "--help"});
  EXPECT_NE(help.out.find("an eighth of the connections"), std::string::npos) << help.out;
}

TEST_F(CliServe, BadArgumentsFailClearly) {
  auto r = run_process({hubcache_bin(), "serve", "--cache-dir", tmp.path() + "/absent", "--port", "0"});
  EXPECT_EQ(r.exit_code, exit_code::not_found);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  r = run_process({hubcache_bin(), "serve", "--cache-dir", cache_dir, "--port", "0", "--private", "bad--id"});
  EXPECT_EQ(r.exit_code, exit_code::usage);
  EXPECT_NE(r.err.find("private repo 'bad--id'"), std::string::npos) << r.err;
  r = run_process({hubcache_bin(), "serve", "--cache-dir", cache_dir, "--port", "0", "--token-file", tmp.path() + "/none"});
  EXPECT_EQ(r.exit_code, exit_code::not_found);
  r = run_process({hubcache_bin(), "serve", "--cache-dir", cache_dir, "--port", "70000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--port"), std::string::npos) << r.err;
  r = run_process({hubcache_bin(), "serve", "--cache-dir", tmp.path() + "/absent", "--port=-1"});
  EXPECT_EQ(r.exit_code, 2);  // refused while parsing, before the cache is looked at
  EXPECT_EQ(r.err.find("does not exist"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hubcache::test

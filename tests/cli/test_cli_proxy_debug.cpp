// Proxies (libcurl reads http_proxy, HTTPS_PROXY, NO_PROXY itself; hubcache adds upper-case
// HTTP_PROXY, which libcurl ignores and the Python clients honour) through a forward proxy the
// test runs; and HF_DEBUG's request log (method, redacted URL, status, time; never the token).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "cache_builder.hpp"
#include "cli_env.hpp"
#include "forward_proxy.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

struct ProxyDebug : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string c1 = commit_id(12);
  std::vector<std::string> env;

  void SetUp() override {
    server.add_file(k_repo, c1, "config.json", "{}");
    server.add_file(k_repo, c1, "model.bin", std::string(5000, 'm'), true);
    server.set_ref(k_repo, "main", c1);
    env = cli_env(server, dir, dir / "unused");
    for (const char* v : {"-http_proxy", "-HTTP_PROXY", "-https_proxy", "-HTTPS_PROXY", "-all_proxy", "-ALL_PROXY", "-no_proxy",
                          "-NO_PROXY", "-HF_DEBUG", "HF_HUB_DISABLE_PROGRESS_BARS=1"})
      env.emplace_back(v);
  }
  ProcessResult download(const std::string& cache, std::vector<std::string> extra,
                         std::vector<std::string> args = {"org/model"}) {
    auto e = env;
    e.push_back("HF_HUB_CACHE=" + cache);
    e.insert(e.end(), extra.begin(), extra.end());
    args.insert(args.begin(), "download");
    return run_process(cmd(args), e);
  }
};

TEST_F(ProxyDebug, DownloadsGoThroughTheProxyOfEitherCase) {
  for (const std::string var : {"http_proxy", "HTTP_PROXY"}) {
    ForwardProxy proxy;
    auto r = download(dir / ("c-" + var), {var + "=" + proxy.url()});
    ASSERT_EQ(r.exit_code, 0) << var << "\n" << r.err;
    const auto seen = proxy.requests();
    // Metadata, listing and both files (the LFS one from the CDN port) all went through it.
    bool api = false, config = false, blob = false;
    for (const auto& line : seen) {
      EXPECT_EQ(line.find(" http://127.0.0.1:"), line.find(' ')) << "not absolute-form: " << line;
      api = api || line.find("/api/models/org/model") != std::string::npos;
      config = config || line.find("/config.json") != std::string::npos;
      blob = blob || line.find("model.bin") != std::string::npos ||
             line.find(":" + std::to_string(server.cdn_port()) + "/") != std::string::npos;
    }
    EXPECT_TRUE(api && config && blob) << var << ": " << ::testing::PrintToString(seen);
  }
}

TEST_F(ProxyDebug, NoProxyBypassesIt) {
  ForwardProxy proxy;
  auto r = download(dir / "c", {"http_proxy=" + proxy.url(), "HTTP_PROXY=" + proxy.url(), "NO_PROXY=127.0.0.1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(proxy.requests().empty()) << ::testing::PrintToString(proxy.requests());
}

TEST_F(ProxyDebug, EnvShowsProxiesWithoutPasswords) {
  auto r =
      run_process(cmd({"env", "--json"}), {"HTTPS_PROXY=http://user:s3cret@proxy:3128", "NO_PROXY=127.0.0.1", "-https_proxy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["proxies"]["HTTPS_PROXY"], "http://user:***@proxy:3128");
  EXPECT_EQ(j["proxies"]["NO_PROXY"], "127.0.0.1");
  EXPECT_EQ(r.out.find("s3cret"), std::string::npos);
}

TEST_F(ProxyDebug, HfDebugLogsEveryRequestWithoutSecrets) {
  server.set_private(k_repo, true);
  server.set_valid_token("hf_debugsecret42");
  server.set_real_hub({});  // signed CDN URLs
  auto quiet = download(dir / "q", {"HF_TOKEN=hf_debugsecret42"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("[HF_DEBUG]"), std::string::npos) << quiet.err;

  auto r = download(dir / "c", {"HF_TOKEN=hf_debugsecret42", "HF_DEBUG=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("debugsecret42"), std::string::npos) << r.err;
  const std::regex line_re(R"(\[HF_DEBUG\] (GET|HEAD|POST) (http://127\.0\.0\.1:\d+/\S*) -> (\d{3}|failed) \((\d+) ms\))");
  std::istringstream in(r.err);
  int lines = 0;
  bool repo_info = false, signed_blob = false;
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (!std::regex_search(l, m, line_re)) continue;
    ++lines;
    const std::string url = m[2];
    repo_info =
        repo_info || (m[1] == "GET" && url.find("/api/models/org/model/revision/main") != std::string::npos && m[3] == "200");
    if (url.find("X-Amz-Signature=") != std::string::npos) {
      signed_blob = true;
      EXPECT_NE(url.find("X-Amz-Signature=***"), std::string::npos) << l;
    }
  }
  EXPECT_GE(lines, 4) << r.err;  // repo info, the tree, and one request per file at least
  EXPECT_TRUE(repo_info) << r.err;
  EXPECT_TRUE(signed_blob) << r.err;
}

}  // namespace

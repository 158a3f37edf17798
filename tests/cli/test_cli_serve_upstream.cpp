// `hubcache serve --upstream`: the proxy process in front of the test hub in real-Hub mode, used by
// `hubcache download`; killed mid-fetch and restarted; its /health and /metrics routes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cache_builder.hpp"
#include "cli_env.hpp"
#include "exit_codes.hpp"
#include "http_get.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/util/hash.hpp"
#include "serve_process.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

struct CliServeUpstream : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string proxy_cache = dir / "proxy-cache";
  std::string client_cache = dir / "client-cache";
  std::string c1 = commit_id(10);
  std::string big = std::string(24u << 20, 'x');

  void SetUp() override {
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
    server.add_file(k_repo, c1, "config.json", "{}");
    server.add_file(k_repo, c1, "big.bin", big, true);
    server.set_ref(k_repo, "main", c1);
    server.set_real_hub({});
    std::filesystem::create_directories(proxy_cache);
  }
  ProcessResult download_through(const std::string& proxy_url, std::vector<std::string> args) {
    auto env = cli_env(server, dir, client_cache);
    env.push_back("HF_ENDPOINT=" + proxy_url);
    args.insert(args.begin(), "download");
    return run_process(cmd(std::move(args)), env);
  }
  std::string incomplete() const { return proxy_cache + "/models--org--model/blobs/" + sha256_hex(big) + ".incomplete"; }
};

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

}  // namespace

TEST_F(CliServeUpstream, KilledMidFetchARestartedProxyResumesAndTheClientSucceeds) {
  server.set_throttle(8u << 20);  // 3 s for the whole file
  {
    ServeProcess proxy({"--upstream", server.endpoint(), "--cache-dir", proxy_cache, "--quiet"});
    ASSERT_FALSE(proxy.url().empty()) << proxy.err_output();
    std::thread client([&] { (void)http_get(proxy.url() + "/org/model/resolve/main/big.bin"); });
    for (int i = 0; i < 500 && file_size(incomplete()) < (6u << 20); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_GE(file_size(incomplete()), 6u << 20) << "the fill never got going";
    EXPECT_EQ(proxy.stop(SIGKILL), 128 + SIGKILL);
    client.join();  // its connection was cut
  }
  ServeProcess proxy({"--upstream", server.endpoint(), "--cache-dir", proxy_cache, "--quiet"});
  ASSERT_FALSE(proxy.url().empty()) << proxy.err_output();
  const auto r = download_through(proxy.url(), {"org/model", "big.bin", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err << proxy.err_output();
  EXPECT_TRUE(read_file(client_cache + "/models--org--model/snapshots/" + c1 + "/big.bin") == big);
  EXPECT_TRUE(read_file(proxy_cache + "/models--org--model/blobs/" + sha256_hex(big)) == big);
  EXPECT_LT(server.body_bytes("/cdn/"), big.size() + big.size() / 2) << "the restarted proxy resumed its prefix";
}

TEST_F(CliServeUpstream, HealthAndMetricsSayWhatTheProxyDid) {
  ServeProcess proxy({"--upstream", server.endpoint(), "--cache-dir", proxy_cache, "--quiet"});
  ASSERT_FALSE(proxy.url().empty()) << proxy.err_output();
  const auto health = http_get(proxy.url() + "/health");
  EXPECT_EQ(health.first, 200);
  EXPECT_EQ(health.second, "{\"status\":\"ok\"}");
  ASSERT_EQ(download_through(proxy.url(), {"org/model", "config.json", "-q"}).exit_code, 0);
  ASSERT_EQ(download_through(proxy.url(), {"org/model", "config.json", "-q", "--force-download"}).exit_code, 0);
  const auto metrics = http_get(proxy.url() + "/metrics");
  EXPECT_EQ(metrics.first, 200);
  const std::string& m = metrics.second;
  EXPECT_NE(m.find("# TYPE hubcache_requests_total counter"), std::string::npos) << m;
  EXPECT_NE(m.find("hubcache_proxy_misses_total 1\n"), std::string::npos) << m;  // the first download's file
  EXPECT_NE(m.find("hubcache_proxy_hits_total "), std::string::npos) << m;
  EXPECT_EQ(m.find("hubcache_proxy_hits_total 0\n"), std::string::npos) << m;  // the second one's
  EXPECT_NE(m.find("hubcache_requests_total{code=\"2xx\"} "), std::string::npos) << m;
}

TEST_F(CliServeUpstream, BadUpstreamOptionsAreRefusedWithTheReason) {
  const auto no_upstream = run_process(cmd({"serve", "--offline", "--cache-dir", proxy_cache, "--port", "0"}));
  EXPECT_EQ(no_upstream.exit_code, exit_code::usage);
  EXPECT_NE(no_upstream.err.find("--upstream"), std::string::npos) << no_upstream.err;
  const auto size = run_process(
      cmd({"serve", "--upstream", server.endpoint(), "--max-size", "lots", "--cache-dir", proxy_cache, "--port", "0"}));
  EXPECT_EQ(size.exit_code, exit_code::usage);
  EXPECT_NE(size.err.find("--max-size takes a size such as 500MB"), std::string::npos) << size.err;
  const auto ftp = run_process(cmd({"serve", "--upstream", "ftp://example", "--cache-dir", proxy_cache, "--port", "0"}));
  EXPECT_NE(ftp.exit_code, 0);
  EXPECT_NE(ftp.err.find("not an http(s) URL"), std::string::npos) << ftp.err;
}

// --xet with --upstream (refused before): the proxy's fill goes to the upstream over Xet, a miss
// is answered plainly, and what the proxy holds is served over Xet.
TEST_F(CliServeUpstream, WithXetTheProxyFillsOverXetAndServesWhatItHoldsOverXet) {
  server.set_xet(true);
  ServeProcess proxy({"--upstream", server.endpoint(), "--xet", "--cache-dir", proxy_cache, "--quiet"});
  ASSERT_FALSE(proxy.url().empty()) << proxy.err_output();
  const auto first = download_through(proxy.url(), {"org/model", "big.bin", "-q"});
  ASSERT_EQ(first.exit_code, 0) << first.err << proxy.err_output();
  EXPECT_TRUE(read_file(client_cache + "/models--org--model/snapshots/" + c1 + "/big.bin") == big);
  const std::string blob = proxy_cache + "/models--org--model/blobs/" + sha256_hex(big);
  for (int i = 0; i < 500 && file_size(blob) != big.size(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server.body_bytes("/cdn/"), 0u) << "the proxy fetched over Xet";
  EXPECT_GT(server.body_bytes("/cas/xorbs/"), 0u);
  // A second client asks for Xet only: served by the proxy's CAS.
  client_cache = dir / "second-client";
  const auto second = download_through(proxy.url(), {"org/model", "big.bin", "-q", "--xet", "on"});
  ASSERT_EQ(second.exit_code, 0) << second.err << proxy.err_output();
  EXPECT_TRUE(read_file(client_cache + "/models--org--model/snapshots/" + c1 + "/big.bin") == big);
  const auto record = read_xet_record(RepoLayout(client_cache, k_repo), sha256_hex(big));
  EXPECT_TRUE(record && record->has_value()) << "the second download went over Xet";
}

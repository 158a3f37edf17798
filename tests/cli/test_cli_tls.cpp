// `hubcache serve --tls-cert/--tls-key` and the client's CA settings (SSL_CERT_FILE,
// REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE): a CA and a server certificate for 127.0.0.1 are made at
// test time with the openssl command, the sample is served over HTTPS by a child `hubcache serve`
// and downloaded with and without the CA, directly and through a CONNECT tunnel of a local proxy
// (HTTPS_PROXY, NO_PROXY, a proxy that refuses the tunnel).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "forward_proxy.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"
#include "tls_certs.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const std::string k_commit = "4c6b9f2e0d1a3b5c7e9f8a6b4c2d0e1f3a5b7c9d";

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

class Tls : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string src = tmp / "src";
  std::string ca = tmp / "ca.pem";
  std::string cert = tmp / "server.pem";
  std::string key = tmp / "server.key";
  std::unique_ptr<ServeProcess> server;

  void SetUp() override {
    if (!have_openssl()) GTEST_SKIP() << "the openssl command is not installed";
    std::string error;
    auto certs = make_test_certs(tmp.path(), error);
    ASSERT_TRUE(certs) << error;
    ASSERT_EQ(certs->ca, ca);
    ASSERT_EQ(certs->cert, cert);
    ASSERT_EQ(certs->key, key);
    auto imp = run_process({hubcache_bin(), "import", source_dir() + "/sample/tiny-model", "--copy", "--cache-dir", src, "--repo",
                            "org/tiny-model", "--commit", k_commit});
    ASSERT_EQ(imp.exit_code, 0) << imp.out << imp.err;
    server = std::make_unique<ServeProcess>(
        std::vector<std::string>{"--quiet", "--cache-dir", src, "--tls-cert", cert, "--tls-key", key});
    ASSERT_EQ(server->url().rfind("https://127.0.0.1:", 0), 0u) << server->url() << server->err_output();
  }
  ProcessResult download(const std::string& cache, std::vector<std::string> extra,
                         std::vector<std::string> files = {"config.json"}) {
    std::vector<std::string> e = {"HF_ENDPOINT=" + server->url(),
                                  "HF_HUB_CACHE=" + cache,
                                  "HF_HOME=" + tmp / "hf_home",
                                  "-HF_TOKEN",
                                  "-HUGGING_FACE_HUB_TOKEN",
                                  "-HF_HUB_OFFLINE",
                                  "-TRANSFORMERS_OFFLINE",
                                  "-SSL_CERT_FILE",
                                  "-REQUESTS_CA_BUNDLE",
                                  "-CURL_CA_BUNDLE",
                                  "-HF_DEBUG",
                                  "-http_proxy",
                                  "-HTTP_PROXY",
                                  "-https_proxy",
                                  "-HTTPS_PROXY",
                                  "-all_proxy",
                                  "-ALL_PROXY",
                                  "-no_proxy",
                                  "-NO_PROXY",
                                  "HF_HUB_DOWNLOAD_TIMEOUT=5",
                                  "HF_HUB_DISABLE_PROGRESS_BARS=1"};
    e.insert(e.end(), extra.begin(), extra.end());
    std::vector<std::string> argv = {hubcache_bin(), "download", "org/tiny-model"};
    argv.insert(argv.end(), files.begin(), files.end());
    return run_process(argv, e);
  }
};

TEST_F(Tls, DownloadsOverHttpsWithTheCaFromEachVariable) {
  for (const std::string var : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}) {
    const std::string cache = tmp / ("c-" + var);
    auto r = download(cache, {var + "=" + ca});
    ASSERT_EQ(r.exit_code, 0) << var << "\n" << r.err;
    EXPECT_EQ(r.out, cache + "/models--org--tiny-model/snapshots/" + k_commit + "/config.json\n") << var;
    EXPECT_EQ(read_file(cache + "/models--org--tiny-model/snapshots/" + k_commit + "/config.json"),
              read_file(source_dir() + "/sample/tiny-model/config.json"));
  }
}

TEST_F(Tls, WithoutTheCaFailsOnceNamingTheCertificateAndTheVariables) {
  auto r = download(tmp / "c", {"HF_DEBUG=1"});
  EXPECT_EQ(r.exit_code, exit_code::not_cached) << r.err;
  EXPECT_NE(r.err.find("certificate cannot be verified"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("SSL_CERT_FILE"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("REQUESTS_CA_BUNDLE"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Check your connection"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("gave an answer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("TLS certificate of " + server->url() + " could not be verified"), std::string::npos) << r.err;
  // One attempt: retrying cannot change a certificate (HF_DEBUG logs every request).
  EXPECT_EQ(count(r.err, "[HF_DEBUG]"), 1u) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "c/models--org--tiny-model/snapshots")) << r.err;
  // A snapshot says the same.
  auto snap = download(tmp / "c", {"HF_DEBUG=1"}, {});
  EXPECT_EQ(snap.exit_code, exit_code::not_cached) << snap.err;
  EXPECT_NE(snap.err.find("TLS certificate of " + server->url() + " could not be verified"), std::string::npos) << snap.err;
  EXPECT_NE(snap.err.find("SSL_CERT_FILE"), std::string::npos) << snap.err;
  EXPECT_EQ(count(snap.err, "[HF_DEBUG]"), 1u) << snap.err;
}

// auth login and whoami reach the server like download does: the CA variables, and HF_DEBUG's
// request log (the token never in it).
TEST(TlsAuth, LoginAndWhoamiUseTheCaAndLogTheirRequests) {
  if (!have_openssl()) GTEST_SKIP() << "the openssl command is not installed";
  TempDir tmp;
  std::string error;
  auto certs = make_test_certs(tmp.path(), error);
  ASSERT_TRUE(certs) << error;
  const std::string cert = certs->cert, key = certs->key, ca = certs->ca;
  const std::string token = "hf_tlsauthtokenCCCC3333";
  write_file(tmp / "tokens", token + "\n");
  std::filesystem::create_directories(tmp / "cache");
  ServeProcess server(
      {"--quiet", "--cache-dir", tmp / "cache", "--token-file", tmp / "tokens", "--tls-cert", cert, "--tls-key", key});
  ASSERT_EQ(server.url().rfind("https://127.0.0.1:", 0), 0u) << server.url() << server.err_output();
  auto run = [&](std::vector<std::string> args, std::vector<std::string> extra) {
    args.insert(args.begin(), hubcache_bin());
    std::vector<std::string> e = {"HF_ENDPOINT=" + server.url(),
                                  "HF_HOME=" + tmp / "hf_home",
                                  "-HF_TOKEN",
                                  "-HUGGING_FACE_HUB_TOKEN",
                                  "-HF_TOKEN_PATH",
                                  "-HF_HUB_OFFLINE",
                                  "-SSL_CERT_FILE",
                                  "-REQUESTS_CA_BUNDLE",
                                  "-CURL_CA_BUNDLE",
                                  "-HF_DEBUG",
                                  "-https_proxy",
                                  "-HTTPS_PROXY",
                                  "-all_proxy",
                                  "-ALL_PROXY"};
    e.insert(e.end(), extra.begin(), extra.end());
    return run_process(args, e);
  };
  auto refused = run({"auth", "login", "--token", token}, {});
  EXPECT_NE(refused.exit_code, 0) << refused.err;
  EXPECT_NE(refused.err.find("SSL_CERT_FILE"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "hf_home/token"));

  auto login = run({"auth", "login", "--token", token}, {"SSL_CERT_FILE=" + ca, "HF_DEBUG=1"});
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_EQ(read_file(tmp / "hf_home/token"), token);
  EXPECT_NE(login.err.find("[HF_DEBUG] GET " + server.url() + "/api/whoami-v2 -> 200"), std::string::npos) << login.err;
  EXPECT_EQ(login.err.find(token), std::string::npos) << login.err;

  auto who = run({"auth", "whoami"}, {"REQUESTS_CA_BUNDLE=" + ca, "HF_DEBUG=1"});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  EXPECT_EQ(who.out, "hubcache-mirror\n");
  EXPECT_EQ(count(who.err, "[HF_DEBUG]"), 1u) << who.err;
  EXPECT_EQ(who.err.find(token), std::string::npos) << who.err;
}

TEST_F(Tls, AMissingCaFileIsNamed) {
  auto r = download(tmp / "c", {"SSL_CERT_FILE=" + tmp / "nope.pem"});
  EXPECT_EQ(r.exit_code, exit_code::not_cached) << r.err;
  EXPECT_NE(r.err.find(tmp / "nope.pem"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("from SSL_CERT_FILE"), std::string::npos) << r.err;
}

TEST_F(Tls, HttpsProxyTunnelsTheDownloadWithConnect) {
  ForwardProxy proxy;
  const std::string cache = tmp / "c";
  auto r = download(cache, {"SSL_CERT_FILE=" + ca, "HTTPS_PROXY=" + proxy.url()}, {});  // the whole snapshot
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(cache + "/models--org--tiny-model/snapshots/" + k_commit + "/config.json"),
            read_file(source_dir() + "/sample/tiny-model/config.json"));
  // Every exchange went through a tunnel to the mirror (the TLS inside is end to end: the proxy
  // sees no request line but CONNECT's).
  const auto seen = proxy.requests();
  ASSERT_GE(proxy.connects(), 1u) << ::testing::PrintToString(seen);
  EXPECT_EQ(proxy.connects(), seen.size()) << ::testing::PrintToString(seen);
  const std::string authority = server->url().substr(std::string("https://").size());
  for (const auto& line : seen) EXPECT_EQ(line, "CONNECT " + authority + " HTTP/1.1");
}

TEST_F(Tls, NoProxyCoveringTheHostBypassesTheHttpsProxy) {
  ForwardProxy proxy;
  for (const std::string no_proxy : {"NO_PROXY=127.0.0.1", "no_proxy=localhost,127.0.0.1"}) {
    const std::string cache = tmp / ("c-" + no_proxy.substr(0, no_proxy.find('=')));
    auto r = download(cache, {"SSL_CERT_FILE=" + ca, "HTTPS_PROXY=" + proxy.url(), no_proxy});
    ASSERT_EQ(r.exit_code, 0) << no_proxy << "\n" << r.err;
    EXPECT_TRUE(std::filesystem::exists(cache + "/models--org--tiny-model/snapshots/" + k_commit + "/config.json"));
  }
  EXPECT_EQ(proxy.connects(), 0u) << ::testing::PrintToString(proxy.requests());
}

TEST_F(Tls, AProxyThatRefusesTheTunnelIsNamedOnce) {
  ForwardProxy proxy(/*refuse_connect=*/true);
  for (const bool snapshot : {false, true}) {
    const auto before = proxy.connects();
    auto r = download(tmp / "c", {"SSL_CERT_FILE=" + ca, "HTTPS_PROXY=" + proxy.url()},
                      snapshot ? std::vector<std::string>{} : std::vector<std::string>{"config.json"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("the proxy HTTPS_PROXY=" + proxy.url() + " refused to open a tunnel to " + server->url()),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("HTTP 403"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("NO_PROXY"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Check your connection"), std::string::npos) << r.err;
    // Not retried: a proxy's policy does not change between attempts.
    EXPECT_EQ(proxy.connects() - before, 1u) << ::testing::PrintToString(proxy.requests());
    EXPECT_FALSE(std::filesystem::exists(tmp / "c/models--org--tiny-model/snapshots")) << r.err;
  }
}

TEST_F(Tls, EnvShowsTheCaInEffect) {
  auto r =
      run_process({hubcache_bin(), "env", "--json"}, {"REQUESTS_CA_BUNDLE=/r.pem", "SSL_CERT_FILE=" + ca, "-CURL_CA_BUNDLE"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ca_bundle"]["value"], ca);
  EXPECT_EQ(j["ca_bundle"]["source"], "SSL_CERT_FILE");
  auto text = run_process({hubcache_bin(), "env"}, {"-SSL_CERT_FILE", "CURL_CA_BUNDLE=/c.pem", "-REQUESTS_CA_BUNDLE"});
  EXPECT_NE(text.out.find("/c.pem  (CURL_CA_BUNDLE)"), std::string::npos) << text.out;
}

}  // namespace

TEST(TlsServe, RefusesHalfAPairAndAKeyThatIsNotPem) {
  TempDir tmp;
  write_file(tmp / "cert.pem", "not a certificate\n");
  std::filesystem::create_directories(tmp / "c");
  auto half = run_process({hubcache_bin(), "serve", "--cache-dir", tmp / "c", "--port", "0", "--tls-cert", tmp / "cert.pem"});
  EXPECT_EQ(half.exit_code, exit_code::usage) << half.err;
  EXPECT_NE(half.err.find("--tls-cert requires --tls-key"), std::string::npos) << half.err;
  auto bad = run_process({hubcache_bin(), "serve", "--cache-dir", tmp / "c", "--port", "0", "--tls-cert", tmp / "cert.pem",
                          "--tls-key", tmp / "cert.pem"});
  EXPECT_EQ(bad.exit_code, exit_code::usage) << bad.err;
  EXPECT_NE(bad.err.find("not in PEM format"), std::string::npos) << bad.err;
}

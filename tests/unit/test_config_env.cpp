#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hubcache/config/config.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

namespace {
Config cfg(std::map<std::string, std::string> vars, Overrides ov = {}) {
  if (!vars.count("HOME")) vars["HOME"] = "/home/u";
  return Config::from_env(Environment(std::move(vars)), ov);
}
}  // namespace

TEST(EnvBool, Parsing) {
  for (const char* t : {"1", "ON", "on", "YES", "yes", "TRUE", "True"}) EXPECT_TRUE(parse_env_bool(t)) << t;
  for (const char* f : {"0", "false", "", "no", "2", " 1"}) EXPECT_FALSE(parse_env_bool(f)) << f;
}

TEST(EnvPrecedence, CacheDir) {  // vector 34
  EXPECT_EQ(cfg({}).hub_cache.value, "/home/u/.cache/huggingface/hub");
  EXPECT_EQ(cfg({{"XDG_CACHE_HOME", "/x"}}).hub_cache.value, "/x/huggingface/hub");
  EXPECT_EQ(cfg({{"XDG_CACHE_HOME", "/x"}, {"HF_HOME", "/h"}}).hub_cache.value, "/h/hub");
  EXPECT_EQ(cfg({{"HF_HOME", "/h"}, {"HUGGINGFACE_HUB_CACHE", "/legacy"}}).hub_cache.value, "/legacy");
  auto c = cfg({{"HF_HOME", "/h"}, {"HUGGINGFACE_HUB_CACHE", "/legacy"}, {"HF_HUB_CACHE", "/new"}});
  EXPECT_EQ(c.hub_cache.value, "/new");
  EXPECT_EQ(c.hub_cache.source, "HF_HUB_CACHE");
  Overrides ov;
  ov.cache_dir = "/flag";
  auto f = cfg({{"HF_HUB_CACHE", "/new"}}, ov);
  EXPECT_EQ(f.hub_cache.value, "/flag");
  EXPECT_EQ(f.hub_cache.source, "cache_dir override");  // the front end's label for it
  ov.cache_dir_source = "--cache-dir";
  EXPECT_EQ(cfg({{"HF_HUB_CACHE", "/new"}}, ov).hub_cache.source, "--cache-dir");
}

TEST(EnvPrecedence, ExpansionAndEmptyHome) {
  EXPECT_EQ(cfg({{"HF_HOME", "~/hf"}}).hub_cache.value, "/home/u/hf/hub");
  EXPECT_EQ(cfg({{"HF_HOME", "${BASE}/hf"}, {"BASE", "/b"}}).hub_cache.value, "/b/hf/hub");
  EXPECT_EQ(expand_path("$UNKNOWN_VAR/x", Environment()), "$UNKNOWN_VAR/x");
  auto e = cfg({{"HF_HOME", ""}});
  EXPECT_EQ(e.hub_cache.value, "/home/u/.cache/huggingface/hub");
  ASSERT_FALSE(e.warnings.empty());
  EXPECT_NE(e.warnings[0].find("HF_HOME"), std::string::npos);
}

TEST(EnvPrecedence, Offline) {  // vector 34
  EXPECT_FALSE(cfg({{"HF_HUB_OFFLINE", "0"}, {"TRANSFORMERS_OFFLINE", "1"}}).offline.value);
  EXPECT_TRUE(cfg({{"TRANSFORMERS_OFFLINE", "yes"}}).offline.value);
  EXPECT_TRUE(cfg({{"HF_HUB_OFFLINE", ""}, {"TRANSFORMERS_OFFLINE", "1"}}).offline.value);
  EXPECT_TRUE(cfg({{"HF_HUB_OFFLINE", "ON"}}).offline.value);
  EXPECT_FALSE(cfg({}).offline.value);
}

TEST(EnvPrecedence, TokenOrderAndCleaning) {  // vectors 34, 35
  auto t = cfg({{"HF_TOKEN", ""}, {"HUGGING_FACE_HUB_TOKEN", "t"}});
  ASSERT_TRUE(t.token());
  EXPECT_EQ(*t.token(), "t");
  EXPECT_EQ(t.token_source(), "HUGGING_FACE_HUB_TOKEN");
  test::TempDir dir;
  test::write_file(dir / "token", " hf_abc\r\n");
  auto f = cfg({{"HF_TOKEN_PATH", dir / "token"}});
  ASSERT_TRUE(f.token());
  EXPECT_EQ(*f.token(), "hf_abc");
  auto d = cfg({{"HF_TOKEN_PATH", dir / "token"}, {"HF_TOKEN", "x"}, {"HF_HUB_DISABLE_IMPLICIT_TOKEN", "1"}});
  EXPECT_FALSE(d.token());
  Overrides ov;
  ov.token = "explicit";
  auto o = cfg({{"HF_TOKEN", "env"}, {"HF_HUB_DISABLE_IMPLICIT_TOKEN", "1"}}, ov);
  ASSERT_TRUE(o.token());
  EXPECT_EQ(*o.token(), "explicit");
  EXPECT_EQ(cfg({{"HF_HOME", "/h"}}).token_path.value, "/h/token");
}

TEST(EnvPrecedence, TheTokenFileIsReadOnlyWhenTheTokenIsAskedFor) {  // issue 9 section 5
  test::TempDir dir;
  test::write_file(dir / "token", "hf_before\n");
  auto c = cfg({{"HF_TOKEN_PATH", dir / "token"}});
  // from_env did not read it: what token() returns is what the file holds when it is asked for.
  test::write_file(dir / "token", "hf_after\n");
  EXPECT_EQ(c.token_source_unread(), "token file " + (dir / "token"));
  test::write_file(dir / "token", "hf_later\n");
  ASSERT_TRUE(c.token());
  EXPECT_EQ(*c.token(), "hf_later");
  EXPECT_EQ(c.token_source(), "token file " + (dir / "token"));
  test::write_file(dir / "token", "hf_too_late\n");
  EXPECT_EQ(*c.token(), "hf_later");  // read once
  EXPECT_EQ(cfg({{"HF_TOKEN_PATH", dir / "absent"}}).token_source_unread(), "");
  EXPECT_EQ(cfg({{"HF_TOKEN_PATH", dir / "token"}, {"HF_TOKEN", "hf_env"}}).token_source_unread(), "HF_TOKEN");
  EXPECT_EQ(cfg({{"HF_TOKEN_PATH", dir / "token"}, {"HF_HUB_DISABLE_IMPLICIT_TOKEN", "1"}}).token_source_unread(), "");
}

TEST(EnvPrecedence, EndpointAndTimeouts) {
  EXPECT_EQ(cfg({}).endpoint.value, "https://huggingface.co");
  EXPECT_EQ(cfg({{"HF_ENDPOINT", "http://127.0.0.1:8080/"}}).endpoint.value, "http://127.0.0.1:8080");
  EXPECT_EQ(cfg({}).etag_timeout.value, 10);
  EXPECT_EQ(cfg({{"HF_HUB_ETAG_TIMEOUT", "0"}}).etag_timeout.value, 10);
  EXPECT_EQ(cfg({{"HF_HUB_ETAG_TIMEOUT", "3"}}).etag_timeout.value, 3);
  EXPECT_EQ(cfg({{"HF_HUB_DOWNLOAD_TIMEOUT", "25"}}).download_timeout.value, 25);
}

TEST(EnvWarnings, TransformersCacheDiffers) {
  auto c = cfg({{"HF_HUB_CACHE", "/a"}, {"TRANSFORMERS_CACHE", "/b"}});
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("TRANSFORMERS_CACHE"), std::string::npos);
  EXPECT_TRUE(cfg({{"HF_HUB_CACHE", "/a"}, {"TRANSFORMERS_CACHE", "/a/"}}).warnings.empty());
}

TEST(EnvWarnings, UnwritableCache) {
  test::TempDir dir;
  EXPECT_TRUE(diagnose_cache_dir(dir / "new/cache").empty());
  test::write_file(dir / "afile", "x");
  auto w = diagnose_cache_dir(dir / "afile/cache");  // a parent that is a file can never hold a cache
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("afile"), std::string::npos);
  auto f = diagnose_cache_dir(dir / "afile");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].find("is a file"), std::string::npos);
}

TEST(EnvFlags, SharedBlobsAndXetSwitches) {  // research note shared-blobs.md 3.1
  EXPECT_FALSE(cfg({}).disable_shared_blobs);
  EXPECT_FALSE(cfg({}).disable_xet);
  EXPECT_TRUE(cfg({{"HF_HUB_DISABLE_SHARED_BLOBS", "yes"}}).disable_shared_blobs);
  EXPECT_FALSE(cfg({{"HF_HUB_DISABLE_SHARED_BLOBS", "0"}}).disable_shared_blobs);
  EXPECT_TRUE(cfg({{"HF_HUB_DISABLE_XET", "True"}}).disable_xet);
  EXPECT_FALSE(cfg({{"HF_HUB_DISABLE_XET", "no"}}).disable_xet);
}

TEST(EnvPrecedence, CaBundle) {  // httpx's SSL_CERT_FILE, then requests' REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE
  EXPECT_EQ(cfg({}).ca_bundle.value, "");
  EXPECT_EQ(cfg({}).ca_bundle.source, "system");
  EXPECT_EQ(cfg({{"CURL_CA_BUNDLE", "/curl.pem"}}).ca_bundle.value, "/curl.pem");
  auto r = cfg({{"CURL_CA_BUNDLE", "/curl.pem"}, {"REQUESTS_CA_BUNDLE", "/req.pem"}});
  EXPECT_EQ(r.ca_bundle.value, "/req.pem");
  EXPECT_EQ(r.ca_bundle.source, "REQUESTS_CA_BUNDLE");
  auto s = cfg({{"CURL_CA_BUNDLE", "/curl.pem"}, {"REQUESTS_CA_BUNDLE", "/req.pem"}, {"SSL_CERT_FILE", "~/ca.pem"}});
  EXPECT_EQ(s.ca_bundle.value, "/home/u/ca.pem");
  EXPECT_EQ(s.ca_bundle.source, "SSL_CERT_FILE");
  // An empty value counts as unset (never "verify nothing").
  EXPECT_EQ(cfg({{"SSL_CERT_FILE", ""}, {"CURL_CA_BUNDLE", "/curl.pem"}}).ca_bundle.source, "CURL_CA_BUNDLE");
}

TEST(EnvPrecedence, ProxiesAndDebug) {
  auto c = cfg({{"HTTPS_PROXY", "http://p:3128"}, {"NO_PROXY", "127.0.0.1"}, {"HTTP_PROXY", "http://q:3128"}});
  ASSERT_EQ(c.proxy_vars.size(), 3u);
  EXPECT_EQ(c.proxy_vars[0], (std::pair<std::string, std::string>{"HTTPS_PROXY", "http://p:3128"}));
  // libcurl ignores upper-case HTTP_PROXY; the Python clients use it, so it is passed on...
  EXPECT_EQ(c.http_proxy_fallback, "http://q:3128");
  // ...unless the lower-case one, which libcurl reads itself, is set.
  EXPECT_EQ(cfg({{"HTTP_PROXY", "http://q:3128"}, {"http_proxy", "http://r:3128"}}).http_proxy_fallback, "");
  EXPECT_FALSE(cfg({}).debug);
  EXPECT_TRUE(cfg({{"HF_DEBUG", "1"}}).debug);
}

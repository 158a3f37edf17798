#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "hubcache/version.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
using test::run_process;

namespace {
std::vector<std::string> clean_env(const test::TempDir& home) {
  return {"HOME=" + home.path(), "-HF_HOME",        "-HF_HUB_CACHE",           "-HUGGINGFACE_HUB_CACHE",
          "-XDG_CACHE_HOME",     "-HF_TOKEN",       "-HUGGING_FACE_HUB_TOKEN", "-HF_TOKEN_PATH",
          "-HF_ENDPOINT",        "-HF_HUB_OFFLINE", "-TRANSFORMERS_OFFLINE",   "-TRANSFORMERS_CACHE"};
}
}  // namespace

TEST(CliEnv, JsonShowsSourcesAndNeverTheToken) {
  test::TempDir home;
  auto env = clean_env(home);
  env.push_back("HF_HOME=" + home.path() + "/hf");
  env.push_back("HF_TOKEN=hf_supersecret123");
  env.push_back("TRANSFORMERS_OFFLINE=1");
  auto r = run_process({test::hubcache_bin(), "env", "--json"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("hf_supersecret123"), std::string::npos);
  EXPECT_EQ(r.err.find("hf_supersecret123"), std::string::npos);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["hub_cache"]["value"], home.path() + "/hf/hub");
  EXPECT_EQ(j["hf_home"]["source"], "HF_HOME");
  EXPECT_EQ(j["token"]["found"], true);
  EXPECT_EQ(j["token"]["source"], "HF_TOKEN");
  EXPECT_EQ(j["offline"]["value"], true);
  EXPECT_EQ(j["offline"]["source"], "TRANSFORMERS_OFFLINE");
}

TEST(CliEnv, CacheDirFlagBeatsEverything) {
  test::TempDir home;
  auto env = clean_env(home);
  env.push_back("HF_HUB_CACHE=" + home.path() + "/envcache");
  auto r = run_process({test::hubcache_bin(), "env", "--json", "--cache-dir", home.path() + "/flag"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["hub_cache"]["value"], home.path() + "/flag");
  EXPECT_EQ(j["hub_cache"]["source"], "--cache-dir");
}

TEST(CliEnv, WarnsAboutTransformersCacheEmptyHomeAndUnwritableCache) {
  test::TempDir home;
  auto env = clean_env(home);
  env.push_back("HF_HOME=");
  env.push_back("TRANSFORMERS_CACHE=" + home.path() + "/elsewhere");
  auto r = run_process({test::hubcache_bin(), "env"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("TRANSFORMERS_CACHE"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("HF_HOME is set but empty"), std::string::npos) << r.err;
  test::write_file(home / "afile", "x");
  auto f = run_process({test::hubcache_bin(), "env", "--json", "--cache-dir", home.path() + "/afile/cache"}, clean_env(home));
  ASSERT_EQ(f.exit_code, 0);
  auto j = nlohmann::json::parse(f.out);
  ASSERT_FALSE(j["warnings"].empty());
  EXPECT_NE(j["warnings"][0].get<std::string>().find("afile"), std::string::npos);
}

TEST(CliEnv, WarnsWhenTheCacheIsNotWritable) {
  test::TempDir home;
  ::chmod(home.path().c_str(), 0755);
  ::mkdir((home / "ro").c_str(), 0755);  // owned by the test user; another user cannot write it
  const bool root = ::geteuid() == 0;
  if (!root) ::chmod((home / "ro").c_str(), 0555);
  auto r = run_process({test::hubcache_bin(), "env", "--json", "--cache-dir", home / "ro"}, clean_env(home), {},
                       root ? test::k_nobody_uid : -1);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["warnings"].size(), 1u) << r.out;
  EXPECT_NE(j["warnings"][0].get<std::string>().find("is not writable"), std::string::npos);
}

TEST(CliVersion, BothProgramsPrintTheProjectVersion) {
  const std::string expected = std::string("hubcache ") + k_version + "\n";
  EXPECT_EQ(std::string(k_version).find_first_not_of("0123456789."), std::string::npos) << k_version;
  auto r = run_process({test::hubcache_bin(), "--version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
  auto net = run_process({test::hubcache_bin() + "-net", "--version"});
  ASSERT_EQ(net.exit_code, 0) << net.err;
  EXPECT_EQ(net.out, expected);
}

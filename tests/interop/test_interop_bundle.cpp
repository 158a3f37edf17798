// Bundles end to end with the binary and no server: a cached repo -> `bundle create` -> `bundle
// import` into an empty cache elsewhere -> `HF_HUB_OFFLINE=1 hubcache resolve` finds every file; the
// bundle's own lock makes the same bundle again (--lock); one corrupted byte is refused naming the
// file; Debian's `tar -x` of a bundle gives the same repo folder, which the JS client's scanCacheDir
// reads without a warning (the lock under .locks/ is skipped by it).
#include <filesystem>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "exit_codes.hpp"
#include "temp_dir.hpp"

using namespace hubcache::test;
namespace stdfs = std::filesystem;

namespace {

const std::string k_commit = "4c6b9f2e0d1a3b5c7e9f8a6b4c2d0e1f3a5b7c9d";

std::map<std::string, std::string> repo_folder(const std::string& cache) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : describe_tree(cache + "/models--org--tiny-model"))
    if (!k.starts_with(".hubcache")) out[k] = v;
  return out;
}

struct InteropBundle : ::testing::Test {
  TempDir tmp;
  std::string source = tmp.path() + "/source", tar = tmp.path() + "/models.tar";

  void SetUp() override {
    auto imported = run_process({hubcache_bin(), "import", source_dir() + "/sample/tiny-model", "--repo", "org/tiny-model",
                                 "--commit", k_commit, "--copy", "--cache-dir", source});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    auto created = run_process({hubcache_bin(), "bundle", "create", "org/tiny-model", "-o", tar, "--cache-dir", source, "--json"},
                               {"SOURCE_DATE_EPOCH=1700000000"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    const auto j = nlohmann::json::parse(created.out);
    EXPECT_EQ(j["repos"][0]["commit"], k_commit);
  }
};

TEST_F(InteropBundle, ImportedOfflineResolvesEveryFile) {
  const std::string dest = tmp.path() + "/elsewhere/cache";
  auto imported = run_process({hubcache_bin(), "bundle", "import", tar, "--cache-dir", dest, "--json"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  auto resolved = run_process({hubcache_bin(), "resolve", "org/tiny-model", "--cache-dir", dest, "--json"}, {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(resolved.exit_code, 0) << resolved.err;
  const auto j = nlohmann::json::parse(resolved.out);
  EXPECT_EQ(j["commit"], k_commit);
  std::size_t sample_files = 0;
  for (const auto& e : stdfs::recursive_directory_iterator(source_dir() + "/sample/tiny-model"))
    if (e.is_regular_file()) {
      ++sample_files;
      const std::string rel = e.path().string().substr(source_dir().size() + std::string("/sample/tiny-model/").size());
      EXPECT_EQ(read_file(dest + "/models--org--tiny-model/snapshots/" + k_commit + "/" + rel), read_file(e.path().string()))
          << rel;
    }
  EXPECT_EQ(j["files"].size(), sample_files);
  EXPECT_EQ(j["verified_complete"], true);

  // The lock inside the bundle makes the same bundle again.
  const std::string unpacked = tmp.path() + "/unpacked";
  stdfs::create_directories(unpacked);
  ASSERT_EQ(run_process({"/usr/bin/env", "tar", "-x", "-f", tar, "-C", unpacked}).exit_code, 0);
  auto again = run_process({hubcache_bin(), "bundle", "create", "--lock", unpacked + "/.locks/hubcache-bundle.lock", "-o",
                            tmp.path() + "/again.tar", "--cache-dir", source},
                           {"SOURCE_DATE_EPOCH=1700000000"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(read_file(tmp.path() + "/again.tar"), read_file(tar));
}

TEST_F(InteropBundle, OneCorruptedByteIsRefusedNamingTheFile) {
  std::string bytes = read_file(tar);
  const std::string weights = read_file(source_dir() + "/sample/tiny-model/model.safetensors");
  const auto at = bytes.find(weights.substr(0, 256));
  ASSERT_NE(at, std::string::npos);
  bytes[at + weights.size() / 2] ^= 0x20;
  write_file(tar, bytes);
  const std::string dest = tmp.path() + "/dest";
  auto r = run_process({hubcache_bin(), "bundle", "import", tar, "--cache-dir", dest});
  EXPECT_EQ(r.exit_code, exit_code::integrity) << r.err;
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
  EXPECT_FALSE(stdfs::exists(dest + "/models--org--tiny-model"));
}

TEST_F(InteropBundle, PlainTarExtractIsACacheBothClientsRead) {
  const std::string by_tar = tmp.path() + "/by-tar", by_import = tmp.path() + "/by-import";
  stdfs::create_directories(by_tar);
  auto x = run_process({"/usr/bin/env", "tar", "-x", "-f", tar, "-C", by_tar});
  ASSERT_EQ(x.exit_code, 0) << x.err;
  ASSERT_EQ(run_process({hubcache_bin(), "bundle", "import", tar, "--cache-dir", by_import}).exit_code, 0);
  EXPECT_EQ(repo_folder(by_tar), repo_folder(by_import));
  EXPECT_FALSE(repo_folder(by_tar).empty());
  auto resolved =
      run_process({hubcache_bin(), "resolve", "org/tiny-model", "--cache-dir", by_tar, "--json"}, {"HF_HUB_OFFLINE=1"});
  EXPECT_EQ(resolved.exit_code, 0) << resolved.err;

  const std::string interop = source_dir() + "/tests/interop";
  if (!stdfs::exists(interop + "/node_modules/@huggingface/hub") ||
      run_process({"/usr/bin/env", "node", "--version"}).exit_code != 0)
    GTEST_SKIP() << "node or tests/interop/node_modules missing (run scripts/install-deps.sh)";
  auto scan = run_process({"/usr/bin/env", "node", interop + "/bundle_scan.mjs", by_tar});
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  const auto j = nlohmann::json::parse(scan.out);
  EXPECT_TRUE(j["warnings"].empty()) << j["warnings"].dump();
  ASSERT_EQ(j["repos"].size(), 1u);
  EXPECT_EQ(j["repos"][0]["id"], "model/org/tiny-model");
  EXPECT_EQ(j["repos"][0]["revisions"][0]["commit"], k_commit);
  EXPECT_EQ(j["repos"][0]["revisions"][0]["refs"], nlohmann::json::array({"main"}));
  std::size_t top_level = 0;
  for (const auto& e : stdfs::directory_iterator(source_dir() + "/sample/tiny-model"))
    if (e.is_regular_file()) ++top_level;
  EXPECT_EQ(j["repos"][0]["revisions"][0]["files"], top_level) << "JS counts a snapshot's top-level files";
}

}  // namespace

// The real JS client (@huggingface/hub, node) downloads from `hubcache serve` into a fresh
// cache, which must then match the source cache exactly. Skipped if node or node_modules is absent.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cache_builder.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/server/server.hpp"
#include "hubcache/util/hash.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

namespace stdfs = std::filesystem;

struct JsResult {
  bool ok = false;
  nlohmann::json json;
  std::string output;
};

class InteropServe : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string source = tmp.path() + "/source";
  std::string commit = "4c6b9f2e0d1a3b5c7e9f8a6b4c2d0e1f3a5b7c9d";
  std::unique_ptr<server::Server> srv;
  std::string interop_dir = source_dir() + "/tests/interop";

  void SetUp() override {
    if (!stdfs::exists(interop_dir + "/node_modules/@huggingface/hub") ||
        run_process({"/usr/bin/env", "node", "--version"}).exit_code != 0)
      GTEST_SKIP() << "node or tests/interop/node_modules missing (run scripts/install-deps.sh)";
    // The bundled sample as `hubcache import` lays it out (safetensors through LFS, the rest in
    // git), plus an empty file; the private copy is built with CacheBuilder the same way.
    const std::string sample = source_dir() + "/sample/tiny-model";
    auto imported = run_process(
        {hubcache_bin(), "import", sample, "--repo", "org/tiny-model", "--commit", commit, "--copy", "--cache-dir", source});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    CacheBuilder b(source);
    b.add_file(RepoRef{RepoType::Model, "org/tiny-model"}, commit, "empty.txt", "");
    const RepoRef priv{RepoType::Model, "org/private-model"};
    for (auto it = stdfs::recursive_directory_iterator(sample); it != stdfs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file()) continue;
      const std::string rel = it->path().string().substr(sample.size() + 1);
      b.add_file(priv, commit, rel, read_file(it->path().string()), rel.ends_with(".safetensors"));
    }
    b.add_file(priv, commit, "empty.txt", "");
    b.add_ref(priv, "main", commit);
    server::ServerOptions o;
    o.router.cache_dir = source;
    o.router.private_repos = {"org/private-model"};
    o.router.tokens = {"hf_interop_token"};
    o.port = 0;
    auto s = server::Server::start(std::move(o));
    ASSERT_TRUE(s.has_value()) << s.error().message;
    srv = std::move(*s);
  }

  JsResult js(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env", "node", interop_dir + "/serve_client.mjs"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process(argv);
    JsResult out;
    out.output = r.out + r.err;
    const auto at = r.out.rfind("RESULT ");
    if (at == std::string::npos) return out;
    out.json = nlohmann::json::parse(r.out.substr(at + 7, r.out.find('\n', at) - at - 7));
    out.ok = out.json.value("ok", false) && r.exit_code == 0;
    return out;
  }
};

TEST_F(InteropServe, SnapshotDownloadReproducesTheSourceCacheExactly) {
  const std::string dst = tmp.path() + "/js-cache";
  auto r = js({"snapshot", srv->url(), dst, "org/tiny-model", "-"});
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.json["path"], dst + "/models--org--tiny-model/snapshots/" + commit);
  const auto want = describe_tree(source + "/models--org--tiny-model");
  const auto got = describe_tree(dst + "/models--org--tiny-model");
  EXPECT_EQ(got, want);
  // Spot checks that make the comparison meaningful.
  EXPECT_EQ(got.at("refs/main"), "file " + sha256_hex(commit));
  EXPECT_EQ(got.at("snapshots/" + commit + "/1_Pooling/config.json").rfind("link ../../../blobs/", 0), 0u);
  const std::string weights = read_file(source_dir() + "/sample/tiny-model/model.safetensors");
  EXPECT_EQ(got.at("snapshots/" + commit + "/model.safetensors"), "link ../../blobs/" + sha256_hex(weights));
  EXPECT_EQ(got.at("blobs/" + sha256_hex(weights)), "file " + sha256_hex(weights));
  // `hubcache cache ls` reports the client's cache as it reports the source.
  auto listing = [&](const std::string& cache) {
    auto ls = run_process({hubcache_bin(), "cache", "ls", "--cache-dir", cache, "--json"});
    EXPECT_EQ(ls.exit_code, 0) << ls.err;
    nlohmann::json out = nlohmann::json::array();
    for (const auto& repo : nlohmann::json::parse(ls.out))
      if (repo["repo_id"] == "org/tiny-model")
        out.push_back({{"repo_id", repo["repo_id"]},
                       {"repo_type", repo["repo_type"]},
                       {"nb_files", repo["nb_files"]},
                       {"size_bytes", repo["size_bytes"]},
                       {"refs", repo["refs"]},
                       {"revisions", repo["revisions"]}});
    return out;
  };
  const auto source_ls = listing(source);
  ASSERT_EQ(source_ls.size(), 1u);
  EXPECT_EQ(source_ls[0]["nb_files"], 8);
  EXPECT_EQ(listing(dst), source_ls);
  // hubcache itself resolves the client's cache offline to the same snapshot.
  auto resolved = run_process({hubcache_bin(), "resolve", "org/tiny-model", "--cache-dir", dst, "--json"});
  ASSERT_EQ(resolved.exit_code, 0) << resolved.err;
  auto j = nlohmann::json::parse(resolved.out);
  EXPECT_EQ(j["commit"], commit);
  EXPECT_EQ(j["files"].size(), 8u);
}

// The JS client through `hubcache serve --upstream` (a proxy process over an empty cache) whose
// upstream is this mirror: the client's cache and the proxy's both hold the source's files.
TEST_F(InteropServe, ThroughAPullThroughProxyTheCacheIsTheSame) {
  const std::string proxy_cache = tmp.path() + "/proxy-cache", dst = tmp.path() + "/js-proxied";
  stdfs::create_directories(proxy_cache);
  ServeProcess proxy({"--upstream", srv->url(), "--cache-dir", proxy_cache, "--quiet"});
  ASSERT_FALSE(proxy.url().empty()) << proxy.err_output();
  auto r = js({"snapshot", proxy.url(), dst, "org/tiny-model", "-"});
  ASSERT_TRUE(r.ok) << r.output << proxy.err_output();
  const auto want = describe_tree(source + "/models--org--tiny-model");
  EXPECT_EQ(describe_tree(dst + "/models--org--tiny-model"), want);
  // The proxy stored every file it served: its snapshot resolves offline to the same files.
  auto resolved = run_process({hubcache_bin(), "resolve", "org/tiny-model", "--cache-dir", proxy_cache, "--json"});
  ASSERT_EQ(resolved.exit_code, 0) << resolved.err;
  EXPECT_EQ(nlohmann::json::parse(resolved.out)["files"].size(), 8u) << resolved.out;
  const std::string weights = read_file(source_dir() + "/sample/tiny-model/model.safetensors");
  EXPECT_EQ(read_file(proxy_cache + "/models--org--tiny-model/blobs/" + sha256_hex(weights)), weights);
  // The private repo of the upstream stays out of reach: the proxy holds no token for it.
  auto denied = js({"snapshot", proxy.url(), tmp.path() + "/js-denied", "org/private-model", "-"});
  EXPECT_FALSE(denied.ok);
  EXPECT_EQ(proxy.stop(), 0);
}

TEST_F(InteropServe, DownloadFileToCacheDirNamesTheSnapshotByTheCommit) {
  const std::string dst = tmp.path() + "/js-file";
  auto r = js({"file", srv->url(), dst, "org/tiny-model", "-", "model.safetensors"});
  ASSERT_TRUE(r.ok) << r.output;
  const std::string pointer = dst + "/models--org--tiny-model/snapshots/" + commit + "/model.safetensors";
  EXPECT_EQ(r.json["path"], pointer);
  EXPECT_EQ(read_file(pointer), read_file(source_dir() + "/sample/tiny-model/model.safetensors"));
  r = js({"file", srv->url(), dst, "org/tiny-model", "-", "1_Pooling/config.json"});
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(read_link(dst + "/models--org--tiny-model/snapshots/" + commit + "/1_Pooling/config.json"),
            read_link(source + "/models--org--tiny-model/snapshots/" + commit + "/1_Pooling/config.json"));
  r = js({"file", srv->url(), dst, "org/tiny-model", "-", "empty.txt"});
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(read_file(dst + "/models--org--tiny-model/snapshots/" + commit + "/empty.txt"), "");
}

TEST_F(InteropServe, PrivateRepoFailsWithoutTheTokenAndWorksWithIt) {
  const std::string dst = tmp.path() + "/js-private";
  auto denied = js({"snapshot", srv->url(), dst, "org/private-model", "-"});
  EXPECT_FALSE(denied.ok);
  EXPECT_EQ(denied.json["status"], 401) << denied.output;
  // The Hub's answer to an anonymous request for a private (or missing) repo.
  EXPECT_NE(denied.json["message"].get<std::string>().find("Invalid username or password."), std::string::npos) << denied.output;
  EXPECT_FALSE(stdfs::exists(dst + "/models--org--private-model/blobs"));
  auto wrong = js({"snapshot", srv->url(), dst, "org/private-model", "hf_wrong"});
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.json["status"], 401);
  auto ok = js({"snapshot", srv->url(), dst, "org/private-model", "hf_interop_token"});
  ASSERT_TRUE(ok.ok) << ok.output;
  EXPECT_EQ(describe_tree(dst + "/models--org--private-model"), describe_tree(source + "/models--org--private-model"));
}

// A commit the mirror holds only part of (its tree record lists a file the cache lacks): the JS
// client must fail on that file with the mirror's 503, not download the rest as a whole snapshot.
TEST_F(InteropServe, APartialCommitFailsInsteadOfLookingComplete) {
  const RepoRef part{RepoType::Model, "org/partial"};
  CacheBuilder b(source);
  b.add_file(part, commit, "config.json", "{}");
  b.add_ref(part, "main", commit);
  TreeFileEntry held, lacking;
  held.path = "config.json";
  held.size = 2;
  held.blob_id = git_blob_sha1_hex("{}");
  lacking.path = "weights/model.bin";
  lacking.size = 5;
  lacking.blob_id = git_blob_sha1_hex("12345");
  ASSERT_TRUE(write_tree_file(b.layout(part), commit, {held, lacking}));
  const std::string dst = tmp.path() + "/js-partial";
  auto r = js({"snapshot", srv->url(), dst, "org/partial", "-"});
  EXPECT_FALSE(r.ok) << r.output;
  EXPECT_EQ(r.json["status"], 503) << r.output;
  EXPECT_NE(r.json["message"].get<std::string>().find("This mirror lacks 'weights/model.bin'"), std::string::npos) << r.output;
  EXPECT_FALSE(stdfs::exists(dst + "/models--org--partial/snapshots/" + commit + "/weights/model.bin"));
  // A single file of the commit that the mirror holds still downloads.
  auto one = js({"file", srv->url(), dst, "org/partial", "-", "config.json"});
  EXPECT_TRUE(one.ok) << one.output;
}

}  // namespace
}  // namespace hubcache::test

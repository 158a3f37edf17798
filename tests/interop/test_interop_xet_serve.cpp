// The real JS client (@huggingface/hub 2.17.5, an independent Xet download client) fetches files
// from `hubcache serve --xet` over Xet: the bytes must be identical, and the mirror's access log
// must show the Xet path (reconstructions and xorb runs, no /_blobs/ download of the LFS file).
// Skipped if node or node_modules is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "cache_builder.hpp"
#include "hubcache/util/hash.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

namespace stdfs = std::filesystem;

const RepoRef k_repo{RepoType::Model, "org/xet-model"};

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

struct JsResult {
  bool ok = false;
  nlohmann::json json;
  std::string output;
};

class InteropXetServe : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string source = tmp.path() + "/source";
  std::string commit = "4c6b9f2e0d1a3b5c7e9f8a6b4c2d0e1f3a5b7c9d";
  std::string interop_dir = source_dir() + "/tests/interop";
  std::string weights = random_bytes(5 * 1000 * 1000 + 123, 42);
  std::string config = "{\"hidden\": 8}\n";
  std::unique_ptr<ServeProcess> serve;

  void SetUp() override {
    if (!stdfs::exists(interop_dir + "/node_modules/@huggingface/hub") ||
        run_process({"/usr/bin/env", "node", "--version"}).exit_code != 0)
      GTEST_SKIP() << "node or tests/interop/node_modules missing (run scripts/install-deps.sh)";
    CacheBuilder b(source);
    b.add_file(k_repo, commit, "model.safetensors", weights, true);
    b.add_file(k_repo, commit, "config.json", config);
    b.add_ref(k_repo, "main", commit);
    serve = std::make_unique<ServeProcess>(std::vector<std::string>{"--xet", "--cache-dir", source});
    ASSERT_FALSE(serve->url().empty()) << serve->err_output();
  }

  JsResult js(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env", "node", interop_dir + "/xet_serve_client.mjs"};
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
  // Access-log lines (method path status ...) that start with `method prefix`.
  std::size_t count(const std::string& method, const std::string& prefix) {
    const std::string log = serve->err_output();
    std::size_t n = 0, at = 0;
    while ((at = log.find(method + " " + prefix, at)) != std::string::npos) {
      if (at == 0 || log[at - 1] == '\n') ++n;
      at += prefix.size();
    }
    return n;
  }
};

TEST_F(InteropXetServe, DownloadFileFetchesTheLfsFileOverXetWithIdenticalBytes) {
  auto r = js({"file", serve->url(), k_repo.id, "model.safetensors"});
  ASSERT_TRUE(r.ok) << r.output << serve->err_output();
  EXPECT_EQ(r.json["sha256"], sha256_hex(weights));
  EXPECT_EQ(r.json["size"], weights.size());
  EXPECT_EQ(r.json["xet"], true);
  // The mirror saw the Xet path and no plain download of the blob.
  EXPECT_EQ(count("GET", "/api/models/org/xet-model/xet-read-token/"), 1u) << serve->err_output();
  EXPECT_EQ(count("GET", "/_xet/v2/reconstructions/"), 1u) << serve->err_output();
  EXPECT_GE(count("GET", "/_xet/xorbs/default/"), 1u) << serve->err_output();
  EXPECT_EQ(count("GET", "/_blobs/"), 0u) << serve->err_output();
  // A git file has no Xet identity: the client reads it in place.
  auto c = js({"file", serve->url(), k_repo.id, "config.json"});
  ASSERT_TRUE(c.ok) << c.output;
  EXPECT_EQ(c.json["sha256"], sha256_hex(config));
  EXPECT_EQ(c.json["xet"], false);
}

TEST_F(InteropXetServe, ARangeOfTheFileComesOverXet) {
  const std::uint64_t start = 1234567, end = 3456789;
  auto r = js({"range", serve->url(), k_repo.id, "model.safetensors", std::to_string(start), std::to_string(end)});
  ASSERT_TRUE(r.ok) << r.output << serve->err_output();
  EXPECT_EQ(r.json["sha256"], sha256_hex(weights.substr(start, end - start)));
  EXPECT_EQ(r.json["size"], end - start);
  EXPECT_EQ(count("GET", "/_xet/v2/reconstructions/"), 1u) << serve->err_output();
  // Only the xorb runs of the range: fewer bytes than the file crossed.
  std::size_t xorb_bytes = 0;
  static const std::regex k_line(R"(GET /_xet/xorbs/default/\S+ 20[06] (\d+))");
  const std::string log = serve->err_output();
  for (auto it = std::sregex_iterator(log.begin(), log.end(), k_line); it != std::sregex_iterator(); ++it)
    xorb_bytes += std::stoull((*it)[1]);
  EXPECT_GT(xorb_bytes, end - start);
  EXPECT_LT(xorb_bytes, weights.size());
}

TEST_F(InteropXetServe, SnapshotDownloadWritesTheSameFilesFetchedOverXet) {
  const std::string dst = tmp.path() + "/js-cache";
  auto r = js({"snapshot", serve->url(), k_repo.id, dst});
  ASSERT_TRUE(r.ok) << r.output << serve->err_output();
  const std::string snap = dst + "/models--org--xet-model/snapshots/" + commit;
  EXPECT_EQ(r.json["path"], snap);
  EXPECT_TRUE(read_file(snap + "/model.safetensors") == weights);
  EXPECT_EQ(read_file(snap + "/config.json"), config);
  EXPECT_TRUE(read_file(dst + "/models--org--xet-model/blobs/" + sha256_hex(weights)) == weights);
  EXPECT_GE(count("GET", "/_xet/xorbs/default/"), 1u) << serve->err_output();
  EXPECT_EQ(count("GET", "/_blobs/"), 0u) << serve->err_output();
}

}  // namespace
}  // namespace hubcache::test

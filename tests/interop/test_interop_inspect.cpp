// `hubcache inspect` against the npm parsers as oracles, both reading from `hubcache serve` over
// HTTP ranges: @huggingface/hub's parseSafetensorsMetadata (single and sharded) and
// @huggingface/gguf's gguf() must report the same tensors (names, dtypes, shapes) and parameter
// counts as `inspect --json`. Also: inspect moves only header bytes, counted by serve's /metrics.
// Skipped if node or node_modules is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "hubcache/http/http.hpp"
#include "inspect_models.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

class InteropInspect : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string cache = tmp / "cache";
  std::string interop_dir = source_dir() + "/tests/interop";
  std::unique_ptr<ServeProcess> serve;
  std::map<std::string, RepoFiles> repos{
      {"org/single", single_model()}, {"org/sharded", sharded_model()}, {"org/gguf", gguf_model()}};

  void SetUp() override {
    if (!stdfs::exists(interop_dir + "/node_modules/@huggingface/gguf") ||
        run_process({"/usr/bin/env", "node", "--version"}).exit_code != 0)
      GTEST_SKIP() << "node or tests/interop/node_modules missing (run scripts/install-deps.sh)";
    CacheBuilder b(cache);
    for (const auto& [id, files] : repos) {
      const RepoRef ref{RepoType::Model, id};
      for (const auto& [path, bytes] : files) b.add_file(ref, commit_id(3), path, bytes, is_lfs(path));
      b.add_ref(ref, "main", commit_id(3));
    }
    serve = std::make_unique<ServeProcess>(std::vector<std::string>{"--cache-dir", cache, "--quiet"});
    ASSERT_FALSE(serve->url().empty()) << serve->err_output();
  }

  json inspect(const std::string& id, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {hubcache_bin(), "inspect", id, "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run_process(argv, {"HF_ENDPOINT=" + serve->url(), "HF_HUB_CACHE=" + tmp / "client-cache",
                                "HF_HOME=" + tmp / "hf_home", "-HF_TOKEN", "-HF_HUB_OFFLINE"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  json oracle(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env", "node", interop_dir + "/inspect_oracle.mjs"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process(argv);
    const auto at = r.out.rfind("RESULT ");
    EXPECT_NE(at, std::string::npos) << r.out << r.err;
    if (at == std::string::npos) return {};
    json j = json::parse(r.out.substr(at + 7, r.out.find('\n', at) - at - 7), nullptr, false);
    EXPECT_TRUE(j.value("ok", false)) << j.dump();
    return j;
  }
  std::uint64_t served_bytes() {
    http::Client c;
    http::Request q;
    q.url = serve->url() + "/metrics";
    auto r = c.perform(q);
    EXPECT_TRUE(r && r->status == 200);
    if (!r) return 0;
    const std::string key = "\nhubcache_response_bytes_total ";
    const auto at = r->body.find(key);
    EXPECT_NE(at, std::string::npos) << r->body;
    return std::stoull(r->body.substr(at + key.size()));
  }
};

// name -> (dtype, shape) of inspect's weights over `paths` (all when empty).
std::map<std::string, std::pair<std::string, json>> ours_by_name(const json& report) {
  std::map<std::string, std::pair<std::string, json>> out;
  for (const auto& w : report["weights"])
    for (const auto& t : w["tensors"]) out[t["name"]] = {t["dtype"], t["shape"]};
  return out;
}
std::map<std::string, std::pair<std::string, json>> theirs_by_name(const json& oracle) {
  std::map<std::string, std::pair<std::string, json>> out;
  for (const auto& t : oracle["tensors"]) out[t["name"]] = {t["dtype"], t["shape"]};
  return out;
}

void expect_counts_equal(const json& report, const json& oracle) {
  std::map<std::string, std::uint64_t> ours = report["parameters_by_dtype"], theirs;
  for (const auto& [d, n] : oracle["parameterCount"].items()) theirs[d] = n.get<std::uint64_t>();
  EXPECT_EQ(ours, theirs);
  EXPECT_EQ(report["parameters"].get<std::uint64_t>(), oracle["parameterTotal"].get<std::uint64_t>());
}

}  // namespace

TEST_F(InteropInspect, SafetensorsSingleAndShardedAgreeWithParseSafetensorsMetadata) {
  for (const std::string id : {"org/single", "org/sharded"}) {
    SCOPED_TRACE(id);
    const json ours = inspect(id);
    const json theirs = oracle({"safetensors", serve->url(), id});
    ASSERT_TRUE(ours.is_object());
    EXPECT_EQ(theirs["sharded"], id == "org/sharded");
    EXPECT_EQ(ours_by_name(ours), theirs_by_name(theirs));
    EXPECT_EQ(ours["tensor_count"].get<std::size_t>(), theirs["tensors"].size());
    expect_counts_equal(ours, theirs);
  }
}

TEST_F(InteropInspect, GgufAgreesWithHuggingfaceGguf) {
  const json ours = inspect("org/gguf");
  const json theirs = oracle({"gguf", serve->url() + "/org/gguf/resolve/main/model-Q4_K_M.gguf"});
  ASSERT_TRUE(ours.is_object());
  EXPECT_EQ(ours_by_name(ours), theirs_by_name(theirs));
  ASSERT_EQ(theirs["tensors"].size(), 4u);
  expect_counts_equal(ours, theirs);
  EXPECT_EQ(ours["weights"][0]["gguf_version"], theirs["version"]);
  EXPECT_EQ(theirs["fileType"], 15);
  EXPECT_EQ(ours["weights"][0]["file_type"], "Q4_K_M");
}

TEST_F(InteropInspect, OnlyHeaderBytesCrossTheWireAndTheCachedCopySaysTheSame) {
  for (const auto& [id, files] : repos) {
    SCOPED_TRACE(id);
    std::uint64_t weight_bytes = 0;
    for (const auto& [p, b] : files)
      if (is_lfs(p)) weight_bytes += b.size();
    const auto before = served_bytes();
    const json remote = inspect(id);
    const auto sent = served_bytes() - before;
    ASSERT_TRUE(remote.is_object());
    std::uint64_t header_bytes = 0;
    for (const auto& w : remote["weights"]) header_bytes += w["header_bytes"].get<std::uint64_t>();
    // What inspect counted (JSON files + header ranges) plus the repo info and tree listing
    // (a few KiB), and the /metrics answer itself, is all the server sent.
    EXPECT_GE(sent, remote["bytes_transferred"].get<std::uint64_t>());
    EXPECT_LE(sent, remote["bytes_transferred"].get<std::uint64_t>() + 16384);
    EXPECT_LE(remote["bytes_transferred"].get<std::uint64_t>(), header_bytes + 4096);
    if (id != "org/gguf") {
      EXPECT_LT(header_bytes * 4, weight_bytes);
    }

    // The same answers from the cached snapshot, offline.
    json cached = inspect(id, {"--offline", "--cache-dir", cache});
    ASSERT_TRUE(cached.is_object());
    for (const char* key : {"parameters", "parameters_by_dtype", "tensor_count", "memory", "context_length", "file_bytes",
                            "license", "chat_template", "tokenizer_files", "weight_formats", "commit"})
      EXPECT_EQ(remote[key], cached[key]) << key;
    EXPECT_EQ(ours_by_name(remote), ours_by_name(cached));
  }
}

}  // namespace hubcache::test

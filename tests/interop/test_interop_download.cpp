// Same repo, same `hubcache serve`, two clients: the cache `hubcache download` writes must equal
// the cache @huggingface/hub (node) writes, entry for entry (blob names and bytes, snapshot
// symlink targets, refs). Skipped if node or node_modules is absent.
//
// What the JS client writes (lib/snapshot-download.ts, download-file-to-cache-dir.ts, 2.17.5):
// - snapshotDownload resolves the revision through the repo info, writes refs/<revision> (for a
//   non-commit revision) and names the snapshot after the info's sha: the same as ours.
// - downloadFileToCacheDir names the snapshot after the file's lastCommit (paths-info with
//   expand) and writes no ref at all, where we write refs/<revision> as huggingface_hub does.
//   The mirror makes lastCommit the snapshot commit, so only refs/ differs: compared apart.
// - For snapshot downloads we also write trees/<commit>.json (docs/cache-format.md#trees, as huggingface_hub >= 1.22
//   does); JS writes no trees/. It is compared apart (its content checked), the rest must be equal,
//   except that for a commit revision we leave an empty refs/ folder where JS creates none.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "hubcache/server/server.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

namespace stdfs = std::filesystem;

const std::string k_c1 = "4c6b9f2e0d1a3b5c7e9f8a6b4c2d0e1f3a5b7c9d";
const std::string k_c2 = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807";

// "" when equal; else one line per entry only in `a`, only in `b`, or different.
std::string diff(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b) {
  std::string out;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end())
      out += "only ours: " + k + " " + v + "\n";
    else if (it->second != v)
      out += "differs: " + k + " " + v + " vs " + it->second + "\n";
  }
  for (const auto& [k, v] : b)
    if (!a.contains(k)) out += "only js: " + k + " " + v + "\n";
  return out;
}

std::map<std::string, std::string> without(std::map<std::string, std::string> m, const std::string& top) {
  std::erase_if(m, [&](const auto& kv) { return kv.first == top || kv.first.starts_with(top + "/"); });
  return m;
}

// Our repo folder without hubcache's own records (.hubcache/: use records and pins, which no
// other client reads or writes; docs/cache-format.md#hubcache-records).
std::map<std::string, std::string> ours_tree(const std::string& repo_folder) {
  return without(describe_tree(repo_folder), ".hubcache");
}
std::map<std::string, std::string> without_refs(std::map<std::string, std::string> m) { return without(std::move(m), "refs"); }

class InteropDownload : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string source = tmp / "source";
  std::string sample = source_dir() + "/sample/tiny-model";
  std::string interop_dir = source_dir() + "/tests/interop";
  std::unique_ptr<server::Server> srv;

  void SetUp() override {
    if (!stdfs::exists(interop_dir + "/node_modules/@huggingface/hub") ||
        run_process({"/usr/bin/env", "node", "--version"}).exit_code != 0)
      GTEST_SKIP() << "node or tests/interop/node_modules missing (run scripts/install-deps.sh)";
    import(sample, {"--commit", k_c1});
    const std::string pr = tmp / "pr";
    stdfs::copy(sample, pr, stdfs::copy_options::recursive);
    write_file(pr + "/config.json", "{\"pr\": 1}\n");
    write_file(pr + "/sub/dir/new.bin", std::string(20000, 'n'));
    import(pr, {"--revision", "refs/pr/1", "--commit", k_c2});
    server::ServerOptions o;
    o.router.cache_dir = source;
    o.port = 0;
    auto s = server::Server::start(std::move(o));
    ASSERT_TRUE(s.has_value()) << s.error().message;
    srv = std::move(*s);
  }
  void import(const std::string& dir, std::vector<std::string> args) {
    args.insert(args.begin(), {hubcache_bin(), "import", dir, "--repo", "org/tiny-model", "--copy", "--cache-dir", source});
    auto r = run_process(args);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  std::string ours(const std::string& cache, std::vector<std::string> args) {
    args.insert(args.begin(), {hubcache_bin(), "download", "org/tiny-model", "-q"});
    auto r = run_process(args, {"HF_ENDPOINT=" + srv->url(), "HF_HUB_CACHE=" + cache, "HF_HOME=" + tmp / "hf_home", "-HF_TOKEN",
                                "-HF_HUB_OFFLINE", "-HF_HUB_DISABLE_SYMLINKS"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  nlohmann::json js(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env", "node", interop_dir + "/serve_client.mjs"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process(argv);
    const auto at = r.out.rfind("RESULT ");
    EXPECT_NE(at, std::string::npos) << r.out << r.err;
    if (at == std::string::npos) return {};
    auto j = nlohmann::json::parse(r.out.substr(at + 7, r.out.find('\n', at) - at - 7));
    EXPECT_TRUE(j.value("ok", false)) << r.out << r.err;
    return j;
  }
};

TEST_F(InteropDownload, SnapshotDownloadWritesTheSameCacheForEveryRevisionForm) {
  for (const auto& [revision, commit] :
       std::vector<std::pair<std::string, std::string>>{{"main", k_c1}, {"refs/pr/1", k_c2}, {k_c2, k_c2}}) {
    SCOPED_TRACE(revision);
    const std::string tag = std::to_string(std::hash<std::string>{}(revision));
    const std::string ours_cache = tmp / ("ours-" + tag), js_cache = tmp / ("js-" + tag);
    EXPECT_EQ(ours(ours_cache, {"--revision", revision}), ours_cache + "/models--org--tiny-model/snapshots/" + commit + "\n");
    auto j = js({"snapshot", srv->url(), js_cache, "org/tiny-model", "-", "", revision});
    EXPECT_EQ(j.value("path", ""), js_cache + "/models--org--tiny-model/snapshots/" + commit);
    const auto a = ours_tree(ours_cache + "/models--org--tiny-model");
    const auto b = describe_tree(js_cache + "/models--org--tiny-model");
    auto comparable = without(a, "trees");
    // For a commit revision we leave an empty refs/ folder, JS none: no ref either way.
    if (!b.contains("refs") && comparable.contains("refs") && without_refs(comparable).size() + 1 == comparable.size())
      comparable.erase("refs");
    EXPECT_EQ(diff(comparable, b), "");
    const auto tree = nlohmann::json::parse(read_file(ours_cache + "/models--org--tiny-model/trees/" + commit + ".json"));
    EXPECT_EQ(tree["format_version"], 1);
    std::size_t in_snapshot = 0;
    for (const auto& [rel, what] : b) in_snapshot += rel.starts_with("snapshots/") && what.starts_with("link ");
    EXPECT_EQ(tree["files"].size(), in_snapshot);
    // Meaningful: the whole source snapshot, its ref (none for a commit), LFS and nested files.
    const std::string snap = "snapshots/" + commit + "/";
    EXPECT_EQ(a.at(snap + "model.safetensors"), "link ../../blobs/" + sha256_hex(read_file(sample + "/model.safetensors")));
    EXPECT_EQ(a.at(snap + "1_Pooling/config.json").rfind("link ../../../blobs/", 0), 0u);
    const std::string ref = revision == "main" ? "refs/main" : revision == "refs/pr/1" ? "refs/refs/pr/1" : "";
    if (!ref.empty()) {
      EXPECT_EQ(a.at(ref), "file " + sha256_hex(commit));
    } else {
      EXPECT_FALSE(a.contains("refs/main"));
    }
    const auto src = describe_tree(source + "/models--org--tiny-model");
    for (const auto& [rel, what] : a)
      if (rel.starts_with(snap)) {
        EXPECT_EQ(src.at(rel), what) << rel;
      }
    std::size_t links = 0;
    for (const auto& [rel, what] : src) links += rel.starts_with(snap) && what.starts_with("link ");
    std::size_t got = 0;
    for (const auto& [rel, what] : a) got += rel.starts_with(snap) && what.starts_with("link ");
    EXPECT_EQ(got, links);
  }
}

TEST_F(InteropDownload, SingleFileDownloadsWriteTheSameBlobsAndLinks) {
  const std::string ours_cache = tmp / "ours-files", js_cache = tmp / "js-files";
  for (const std::string f : {"model.safetensors", "1_Pooling/config.json", "README.md"}) {
    SCOPED_TRACE(f);
    EXPECT_EQ(ours(ours_cache, {f}), ours_cache + "/models--org--tiny-model/snapshots/" + k_c1 + "/" + f + "\n");
    auto j = js({"file", srv->url(), js_cache, "org/tiny-model", "-", f});
    EXPECT_EQ(j.value("path", ""), js_cache + "/models--org--tiny-model/snapshots/" + k_c1 + "/" + f);
  }
  const auto a = ours_tree(ours_cache + "/models--org--tiny-model");
  const auto b = describe_tree(js_cache + "/models--org--tiny-model");
  EXPECT_EQ(diff(without_refs(a), without_refs(b)), "");
  EXPECT_EQ(without_refs(a).size(), 1u + 3u + 1u + 1u + 3u + 1u);  // blobs/+3, snapshots/C/+1_Pooling+3 links
  // Differences that are legitimate: we write refs/main like huggingface_hub; JS writes no ref here.
  EXPECT_EQ(a.at("refs/main"), "file " + sha256_hex(k_c1));
  EXPECT_FALSE(b.contains("refs/main"));
}

TEST_F(InteropDownload, EachClientReadsTheOthersCache) {
  // JS fills a cache; our download then finds every file there: it changes nothing of what JS
  // wrote and only adds its trees/<commit>.json. The result verifies.
  const std::string shared = tmp / "shared";
  js({"snapshot", srv->url(), shared, "org/tiny-model", "-"});
  const auto before = describe_tree(shared + "/models--org--tiny-model");
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(ours(shared, {}), shared + "/models--org--tiny-model/snapshots/" + k_c1 + "\n");
  const auto after = describe_tree(shared + "/models--org--tiny-model");
  EXPECT_EQ(diff(without(without(after, "trees"), ".hubcache"), before), "");
  EXPECT_TRUE(after.contains(".hubcache/used/" + k_c1));  // the use record (docs/cache-format.md#hubcache-records)
  EXPECT_TRUE(after.contains("trees/" + k_c1 + ".json"));
  auto v = run_process({hubcache_bin(), "cache", "verify", "org/tiny-model", "--cache-dir", shared});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace
}  // namespace hubcache::test

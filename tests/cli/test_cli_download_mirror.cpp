// `hubcache download` against `hubcache serve`: the sample imported into a source cache, served
// by a child `hubcache serve`, downloaded into fresh caches. Every downloaded cache must equal the
// source for what was downloaded (blob names and bytes, symlink targets, refs) and verify.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/hash.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

namespace stdfs = std::filesystem;

const std::string k_c1 = "4c6b9f2e0d1a3b5c7e9f8a6b4c2d0e1f3a5b7c9d";  // main and tag v1.0
const std::string k_c2 = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807";  // refs/pr/1
const std::string k_c3 = "0123456789abcdef0123456789abcdef01234567";  // the dataset's main
const std::string k_token = "hf_mirror_token";

// relative path -> "link <target>" | "file <sha256>" | "dir", for entries below root/{blobs,snapshots,refs}.
std::map<std::string, std::string> describe(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const char* sub : {"blobs", "snapshots", "refs"}) {
    for (auto& [rel, what] : describe_tree(root + "/" + sub)) out[std::string(sub) + "/" + rel] = what;
  }
  return out;
}

std::set<std::string> snapshot_files(const std::string& snapshot) {
  std::set<std::string> out;
  for (auto it = stdfs::recursive_directory_iterator(snapshot); it != stdfs::recursive_directory_iterator(); ++it)
    if (it->is_symlink() || it->is_regular_file()) out.insert(it->path().string().substr(snapshot.size() + 1));
  return out;
}

class DownloadMirror : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string src = tmp / "src";
  std::string sample = source_dir() + "/sample/tiny-model";
  std::unique_ptr<ServeProcess> server;

  void SetUp() override {
    // org/tiny-model: the sample at C1 (main, tag v1.0) and a changed copy at C2 (refs/pr/1).
    import(sample, {"--repo", "org/tiny-model", "--commit", k_c1});
    CacheBuilder(src).add_ref(RepoRef{RepoType::Model, "org/tiny-model"}, "v1.0", k_c1);
    const std::string pr = tmp / "pr";
    stdfs::copy(sample, pr, stdfs::copy_options::recursive);
    write_file(pr + "/config.json", "{\"changed\": true}\n");
    write_file(pr + "/extra/notes.txt", "only in the pull request\n");
    import(pr, {"--repo", "org/tiny-model", "--revision", "refs/pr/1", "--commit", k_c2});
    // A dataset and a private model.
    const std::string data = tmp / "data";
    write_file(data + "/train.csv", "a,b\n1,2\n");
    write_file(data + "/data/part-0.parquet", std::string(5000, 'p'));
    import(data, {"--repo", "org/table", "--repo-type", "dataset", "--commit", k_c3});
    import(sample, {"--repo", "org/secret", "--commit", k_c1});
    write_file(tmp / "tokens", k_token + "\n");
    start_server();
  }

  void import(const std::string& dir, std::vector<std::string> args) {
    args.insert(args.begin(), {hubcache_bin(), "import", dir, "--copy", "--cache-dir", src});
    auto r = run_process(args);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  void start_server() {
    server = std::make_unique<ServeProcess>(
        std::vector<std::string>{"--quiet", "--cache-dir", src, "--token-file", tmp / "tokens", "--private", "org/secret"});
    ASSERT_EQ(server->url().rfind("http://127.0.0.1:", 0), 0u) << server->url();
  }
  std::vector<std::string> env(const std::string& cache) const {
    return {
        "HF_ENDPOINT=" + server->url(), "HF_HUB_CACHE=" + cache, "HF_HOME=" + tmp / "hf_home", "-HF_TOKEN",
        "-HUGGING_FACE_HUB_TOKEN",      "-HF_HUB_OFFLINE",       "-TRANSFORMERS_OFFLINE",      "-HF_HUB_DISABLE_IMPLICIT_TOKEN",
        "-HF_HUB_DISABLE_SYMLINKS",     "-TRANSFORMERS_CACHE",   "HF_HUB_DOWNLOAD_TIMEOUT=5",  "HF_HUB_DISABLE_PROGRESS_BARS=1"};
  }
  ProcessResult download(const std::string& cache, std::vector<std::string> args, std::vector<std::string> extra = {}) {
    args.insert(args.begin(), {hubcache_bin(), "download"});
    auto e = env(cache);
    e.insert(e.end(), extra.begin(), extra.end());
    return run_process(args, e);
  }
  // Every entry the download wrote under blobs/, snapshots/, refs/ is in the source, identical;
  // and `hubcache cache verify` passes on the downloaded cache.
  void expect_subset_of_source(const std::string& cache, const std::string& folder) {
    const auto got = describe(cache + "/" + folder);
    const auto want = describe(src + "/" + folder);
    ASSERT_FALSE(got.empty());
    for (const auto& [rel, what] : got) {
      auto it = want.find(rel);
      ASSERT_NE(it, want.end()) << rel << " is not in the source";
      EXPECT_EQ(what, it->second) << rel;
    }
    // "models--org--name" -> type model, id org/name; every snapshot that was written is verified.
    const std::string type = folder.substr(0, folder.find("s--"));
    std::string id = folder.substr(folder.find("--") + 2);
    id.replace(id.find("--"), 2, "/");
    int verified = 0;
    for (const auto& e : stdfs::directory_iterator(cache + "/" + folder + "/snapshots")) {
      auto v = run_process({hubcache_bin(), "cache", "verify", id, "--repo-type", type, "--revision",
                            e.path().filename().string(), "--cache-dir", cache, "--json"});
      const auto report = nlohmann::json::parse(v.out, nullptr, false);
      ASSERT_TRUE(report.is_object()) << v.out << v.err;
      const auto files = snapshot_files(e.path().string());
      EXPECT_EQ(report["checked"], files.size()) << v.out;
      // A filtered snapshot download writes the full trees/<commit>.json (docs/cache-format.md#trees); `cache verify`
      // lists the files left out on purpose as missing_files (a warning). Nothing may fail.
      EXPECT_TRUE(report["problems"].empty()) << v.out;
      for (const auto& m : report["missing_files"]) EXPECT_FALSE(files.contains(m.get<std::string>())) << v.out;
      EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
      ++verified;
    }
    EXPECT_GT(verified, 0);
  }
  std::string snap(const std::string& cache, const std::string& commit, const std::string& folder = "models--org--tiny-model") {
    return cache + "/" + folder + "/snapshots/" + commit;
  }
};

TEST_F(DownloadMirror, SingleFilesEqualTheSource) {
  const std::string cache = tmp / "c";
  auto wrong_id = download(cache, {"tiny-model", "-q"});
  EXPECT_EQ(wrong_id.exit_code, exit_code::not_found);
  EXPECT_NE(wrong_id.err.find("Model 'tiny-model' not found."), std::string::npos) << wrong_id.err;
  // The mirror answers a missing repo as the Hub does (401, so a private one looks the same);
  // the client says what that means instead of the Hub's "Invalid username or password.".
  EXPECT_NE(wrong_id.err.find("HTTP 401"), std::string::npos) << wrong_id.err;
  EXPECT_NE(wrong_id.err.find("private repo too"), std::string::npos) << wrong_id.err;
  EXPECT_EQ(wrong_id.err.find("username"), std::string::npos) << wrong_id.err;
  for (const std::string f : {"config.json", "model.safetensors", "1_Pooling/config.json"}) {
    auto r = download(cache, {"org/tiny-model", f, "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, snap(cache, k_c1) + "/" + f + "\n");
    EXPECT_EQ(read_file(snap(cache, k_c1) + "/" + f), read_file(sample + "/" + f));
  }
  EXPECT_EQ(snapshot_files(snap(cache, k_c1)),
            (std::set<std::string>{"config.json", "model.safetensors", "1_Pooling/config.json"}));
  EXPECT_EQ(read_file(cache + "/models--org--tiny-model/refs/main"), k_c1);
  // The safetensors went through the LFS redirect and is named by its SHA-256.
  const std::string weights = read_file(sample + "/model.safetensors");
  EXPECT_EQ(read_link(snap(cache, k_c1) + "/model.safetensors"), "../../blobs/" + sha256_hex(weights));
  expect_subset_of_source(cache, "models--org--tiny-model");
  auto missing = download(cache, {"org/tiny-model", "nope.txt"});
  EXPECT_EQ(missing.exit_code, exit_code::not_found);
  EXPECT_NE(missing.err.find("File not found in model 'org/tiny-model'."), std::string::npos) << missing.err;
}

TEST_F(DownloadMirror, SnapshotsWithIncludeExcludeAndWhole) {
  const std::string part = tmp / "part";
  auto r = download(part, {"org/tiny-model", "--include", "*.json", "--exclude", "1_Pooling/*", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, snap(part, k_c1) + "\n");
  EXPECT_EQ(snapshot_files(snap(part, k_c1)),
            (std::set<std::string>{"config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"}));
  expect_subset_of_source(part, "models--org--tiny-model");

  const std::string whole = tmp / "whole";
  r = download(whole, {"org/tiny-model", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(snapshot_files(snap(whole, k_c1)), snapshot_files(snap(src, k_c1)));
  expect_subset_of_source(whole, "models--org--tiny-model");
  // Exactly the main snapshot of the source: every blob it points to, refs/main.
  auto want = describe(src + "/models--org--tiny-model");
  auto got = describe(whole + "/models--org--tiny-model");
  std::erase_if(want, [&](const auto& kv) {
    return kv.first.starts_with("snapshots/" + k_c2) || kv.first.starts_with("refs/refs") || kv.first == "refs/v1.0" ||
           (kv.first.starts_with("blobs/") && !got.contains(kv.first));
  });
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.size(), want.size());
}

TEST_F(DownloadMirror, EveryRevisionForm) {
  struct Case {
    std::string revision, commit, ref;
  };
  for (const Case& c : {Case{"main", k_c1, "refs/main"}, Case{"v1.0", k_c1, "refs/v1.0"},
                        Case{"refs/pr/1", k_c2, "refs/refs/pr/1"}, Case{k_c2, k_c2, ""}, Case{k_c1.substr(0, 7), k_c1, ""}}) {
    SCOPED_TRACE(c.revision);
    const std::string cache = tmp / ("rev-" + std::to_string(std::hash<std::string>{}(c.revision)));
    auto r = download(cache, {"org/tiny-model", "--revision", c.revision, "-q"});
    if (c.revision.size() == 7) {
      // The Hub resolves short hashes; the mirror serves only refs and full commits of its cache
      // (a known limitation of `hubcache serve`), and the downloader says so clearly.
      EXPECT_EQ(r.exit_code, exit_code::not_found);
      EXPECT_NE(r.err.find("Revision not found in model 'org/tiny-model'."), std::string::npos) << r.err;
      EXPECT_FALSE(exists(cache + "/models--org--tiny-model/blobs"));
      continue;
    }
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, snap(cache, c.commit) + "\n");
    EXPECT_EQ(snapshot_files(snap(cache, c.commit)), snapshot_files(snap(src, c.commit)));
    if (!c.ref.empty()) {
      EXPECT_EQ(read_file(cache + "/models--org--tiny-model/" + c.ref), c.commit);
    }
    expect_subset_of_source(cache, "models--org--tiny-model");
  }
  const std::string pr = tmp / "rev-pr-file";
  auto r = download(pr, {"org/tiny-model", "config.json", "--revision", "refs/pr/1", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(snap(pr, k_c2) + "/config.json"), "{\"changed\": true}\n");
  auto bad = download(pr, {"org/tiny-model", "--revision", "refs/pr/9"});
  EXPECT_EQ(bad.exit_code, exit_code::not_found);
  EXPECT_NE(bad.err.find("Revision not found in model 'org/tiny-model'."), std::string::npos) << bad.err;
}

TEST_F(DownloadMirror, DatasetRepo) {
  const std::string cache = tmp / "ds";
  auto r = download(cache, {"org/table", "--repo-type", "dataset", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, snap(cache, k_c3, "datasets--org--table") + "\n");
  EXPECT_EQ(read_file(snap(cache, k_c3, "datasets--org--table") + "/data/part-0.parquet"), std::string(5000, 'p'));
  EXPECT_EQ(describe(cache + "/datasets--org--table"), describe(src + "/datasets--org--table"));
  expect_subset_of_source(cache, "datasets--org--table");
  auto as_model = download(tmp / "ds2", {"org/table", "train.csv"});
  EXPECT_EQ(as_model.exit_code, exit_code::not_found);
  EXPECT_NE(as_model.err.find("not found"), std::string::npos) << as_model.err;
}

TEST_F(DownloadMirror, PrivateRepoNeedsTheToken) {
  const std::string cache = tmp / "priv";
  auto anon = download(cache, {"org/secret", "config.json"});
  EXPECT_EQ(anon.exit_code, exit_code::not_found);
  EXPECT_NE(anon.err.find("Hint: Pass --token or set HF_TOKEN"), std::string::npos) << anon.err;
  EXPECT_NE(anon.err.find("run `hubcache auth login`"), std::string::npos) << anon.err;  // our own command, not hf's
  EXPECT_FALSE(exists(cache + "/models--org--secret/blobs")) << "nothing downloaded without the token";
  auto wrong = download(cache, {"org/secret", "--token", "hf_wrong"});
  EXPECT_EQ(wrong.exit_code, exit_code::not_found);
  EXPECT_EQ(wrong.err.find("hf_wrong"), std::string::npos) << "the token is never printed";
  auto ok = download(cache, {"org/secret", "--token", k_token, "-q"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(describe(cache + "/models--org--secret"), describe(src + "/models--org--secret"));
  auto env_token = download(tmp / "priv2", {"org/secret", "tokenizer.json", "-q"}, {"HF_TOKEN=" + k_token});
  ASSERT_EQ(env_token.exit_code, 0) << env_token.err;
  expect_subset_of_source(tmp / "priv2", "models--org--secret");
}

TEST_F(DownloadMirror, LocalDirWritesFilesAndSpecMetadata) {
  const std::string out = tmp / "local";
  auto r = download(tmp / "unused", {"org/tiny-model", "--local-dir", out, "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, out + "\n");
  for (const std::string f : {"config.json", "model.safetensors", "1_Pooling/config.json", "README.md"}) {
    SCOPED_TRACE(f);
    EXPECT_TRUE(stdfs::is_regular_file(stdfs::symlink_status(out + "/" + f)));
    EXPECT_EQ(read_file(out + "/" + f), read_file(sample + "/" + f));
    // docs/cache-format.md#local-dir: three LF-terminated lines: commit, ETag (the source's blob name), a float timestamp.
    std::istringstream meta(read_file(out + "/.cache/huggingface/download/" + f + ".metadata"));
    std::string commit, etag, ts, extra;
    ASSERT_TRUE(std::getline(meta, commit) && std::getline(meta, etag) && std::getline(meta, ts));
    EXPECT_FALSE(std::getline(meta, extra));
    EXPECT_EQ(commit, k_c1);
    EXPECT_EQ(etag, stdfs::path(read_link(snap(src, k_c1) + "/" + f)).filename().string());
    EXPECT_GT(std::stod(ts), 1.6e9);
  }
  EXPECT_EQ(read_file(out + "/.cache/huggingface/.gitignore"), "*");
  EXPECT_FALSE(exists(tmp / "unused/models--org--tiny-model/blobs"));
}

TEST_F(DownloadMirror, DryRunWritesNothing) {
  const std::string cache = tmp / "dry";
  ASSERT_EQ(download(cache, {"org/tiny-model", "config.json", "-q"}).exit_code, 0);
  const std::string before = tree_fingerprint(cache);
  auto r = download(cache, {"org/tiny-model", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[dry-run] Will download 6 files (out of 7)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model.safetensors"), std::string::npos) << r.out;
  EXPECT_EQ(tree_fingerprint(cache), before);
  auto fresh = download(tmp / "dry2", {"org/tiny-model", "--dry-run", "--local-dir", tmp / "dry-local"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_FALSE(exists(tmp / "dry2/models--org--tiny-model/blobs"));
  EXPECT_FALSE(exists(tmp / "dry-local/config.json"));
}

TEST_F(DownloadMirror, OfflineWithAndWithoutTheFilesCached) {
  const std::string cache = tmp / "off";
  ASSERT_EQ(download(cache, {"org/tiny-model", "--include", "*.json", "-q"}).exit_code, 0);
  const std::string url = server->url();
  EXPECT_EQ(server->stop(), 0);  // no network from here on: the mirror is gone
  const std::string before = tree_fingerprint(cache);
  auto hit = download(cache, {"org/tiny-model", "config.json", "-q"}, {"HF_HUB_OFFLINE=1", "HF_ENDPOINT=" + url});
  ASSERT_EQ(hit.exit_code, 0) << hit.err;
  EXPECT_EQ(hit.out, snap(cache, k_c1) + "/config.json\n");
  auto snap_hit = download(cache, {"org/tiny-model", "--include", "*.json", "-q"}, {"HF_HUB_OFFLINE=1", "HF_ENDPOINT=" + url});
  ASSERT_EQ(snap_hit.exit_code, 0) << snap_hit.err;
  EXPECT_EQ(snap_hit.out, snap(cache, k_c1) + "\n");
  auto miss = download(cache, {"org/tiny-model", "model.safetensors"}, {"HF_HUB_OFFLINE=1", "HF_ENDPOINT=" + url});
  EXPECT_EQ(miss.exit_code, exit_code::not_cached);
  EXPECT_NE(miss.err.find("Local entry not found"), std::string::npos) << miss.err;
  auto none = download(tmp / "off-empty", {"org/tiny-model", "config.json"}, {"HF_HUB_OFFLINE=1", "HF_ENDPOINT=" + url});
  EXPECT_EQ(none.exit_code, exit_code::not_cached);
  EXPECT_NE(none.err.find("Local entry not found"), std::string::npos) << none.err;
  EXPECT_EQ(tree_fingerprint(cache), before);
}

// A mirror holding part of a commit (trees/<commit>.json lists every file, the snapshot only
// some) answers 503 for what it lacks. A snapshot download from it fails naming the files, records
// nothing as absent from the commit (.no_exist) and leaves no ref at the partial snapshot.
TEST_F(DownloadMirror, APartialMirrorFailsTheSnapshotAndRecordsNothingAsAbsent) {
  const RepoRef part{RepoType::Model, "org/part"};
  const std::string c = commit_id(7);
  CacheBuilder b(src);
  b.add_file(part, c, "config.json", "{\"held\": true}");
  b.add_file(part, c, "sub/a.txt", "a");
  b.add_ref(part, "main", c);
  auto entry = [](const std::string& path, const std::string& content) {
    TreeFileEntry e;
    e.path = path;
    e.size = content.size();
    e.blob_id = git_blob_sha1_hex(content);
    return e;
  };
  ASSERT_TRUE(write_tree_file(
      b.layout(part), c,
      {entry("config.json", "{\"held\": true}"), entry("extra/b.txt", "b"), entry("sub/a.txt", "a"), entry("sub/c.txt", "c")}));
  const std::string cache = tmp / "partial";
  auto r = download(cache, {"org/part"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.err.find("extra/b.txt") != std::string::npos || r.err.find("sub/c.txt") != std::string::npos) << r.err;
  EXPECT_NE(r.err.find("503"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("This mirror lacks '"), std::string::npos) << r.err;
  const std::string folder = cache + "/models--org--part";
  EXPECT_FALSE(stdfs::exists(folder + "/.no_exist"));
  // By design (as huggingface_hub does) trees/<commit>.json and refs/main are written before the
  // files; the tree record then makes `resolve` report the snapshot incomplete, naming every
  // missing file, so nothing takes the partial snapshot for the commit.
  ASSERT_EQ(read_file(folder + "/refs/main"), c);
  auto res = run_process({hubcache_bin(), "resolve", "org/part", "--cache-dir", cache}, {"HF_HUB_OFFLINE=1"});
  EXPECT_NE(res.exit_code, 0) << res.out;
  EXPECT_NE(res.err.find("extra/b.txt"), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("sub/c.txt"), std::string::npos) << res.err;
  // (503 is retried like any server failure, so one download here takes ~20 s: the single-file
  // path is not run too; its 503 handling is the same http retry and error path.)
}

}  // namespace

// `hubcache download` over Xet from `hubcache serve --xet`: our client against our server, both
// real processes. The bytes come through /_xet/ (the access log shows the reconstruction and the
// xorb runs, no /_blobs/ download), the cache equals a plain download's, and a second revision
// that changed 5% of the file and grew by 1% moves only that much through the xorbs; the same
// into a --local-dir.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <random>
#include <sstream>

#include "hubcache/util/hash.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

namespace stdfs = std::filesystem;

// Revision "next" (B) sorts before "main" (A): the mirror must still pack B against A's xorbs,
// since A came into its cache first (its snapshot folder is older).
const std::string k_c1 = "2222222222222222222222222222222222222222";
const std::string k_c2 = "1111111111111111111111111111111111111111";

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Sum of the body bytes of access-log lines "GET <path starting with prefix> <status> <bytes> ...".
std::uint64_t logged_bytes(const std::string& log, const std::string& prefix, int* count = nullptr) {
  std::istringstream in(log);
  std::string line;
  std::uint64_t total = 0;
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string method, path, status, bytes;
    words >> method >> path >> status >> bytes;
    if (method != "GET" || path.rfind(prefix, 0) != 0) continue;
    ++n;
    total += std::stoull(bytes);
  }
  if (count) *count = n;
  return total;
}

class CliDownloadXet : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string src = tmp / "src";
  std::string a = random_bytes(16 << 20, 1);
  std::string b;

  void SetUp() override {
    b = a;
    b.replace(a.size() / 2, a.size() / 20, random_bytes(a.size() / 20, 2));
    b += random_bytes(a.size() / 100, 3);
    import_files(a, "main", k_c1);
    import_files(b, "next", k_c2);
  }
  void import_files(const std::string& weights, const std::string& revision, const std::string& commit) {
    const std::string dir = tmp / ("files-" + revision);
    write_file(dir + "/model.safetensors", weights);
    write_file(dir + "/config.json", "{\"rev\": \"" + revision + "\"}\n");
    auto r = run_process({hubcache_bin(), "import", dir, "--copy", "--cache-dir", src, "--repo", "org/xet", "--revision",
                          revision, "--commit", commit});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  // A snapshot (the files of the listing) or, with `file`, one file (its metadata HEAD).
  ProcessResult download(const std::string& url, const std::string& cache, const std::string& revision, const std::string& mode,
                         const std::string& file = {}, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{hubcache_bin(), "download", "org/xet"};
    if (!file.empty()) args.push_back(file);
    for (const auto& arg : {"--revision", revision.c_str(), "--xet", mode.c_str(), "--cache-dir", cache.c_str(), "--json"})
      args.emplace_back(arg);
    args.insert(args.end(), extra.begin(), extra.end());
    return run_process(args, {"HF_ENDPOINT=" + url, "HF_HOME=" + tmp / "home", "-HF_HUB_DISABLE_XET"});
  }
};

// --xet-index: every LFS file's record is known at start, so listings carry xetHash and a snapshot
// goes over Xet (without it, a listing names only files already chunked; see the next test).
TEST_F(CliDownloadXet, OurClientFetchesOverXetFromOurServerAndOnlyWhatChanged) {
  ServeProcess server({"--cache-dir", src, "--xet-index"});
  ASSERT_FALSE(server.url().empty()) << server.err_output();
  const std::string cache = tmp / "client";
  auto r = download(server.url(), cache, "main", "on");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string blob_a = cache + "/models--org--xet/blobs/" + sha256_hex(a);
  EXPECT_EQ(read_file(blob_a), a);
  EXPECT_EQ(r.out.find("xet_fallback"), std::string::npos) << r.out;

  int reconstructions = 0, runs = 0;
  const std::string log1 = server.err_output();
  logged_bytes(log1, "/_xet/v2/reconstructions/", &reconstructions);
  const std::uint64_t xorbs_a = logged_bytes(log1, "/_xet/xorbs/", &runs);
  EXPECT_EQ(reconstructions, 1) << log1;
  EXPECT_GE(runs, 1);
  EXPECT_GE(xorbs_a, a.size());  // uncompressed chunks plus their 8-byte headers
  EXPECT_EQ(logged_bytes(log1, "/_blobs/"), 0u) << log1;

  // As huggingface_hub >= 1.32 leaves it: the Xet file's blob is a link into the shared blob
  // store (payload named by the Xet hash, read-only, its manifest naming the link); the rest is
  // the same cache as a plain download's (snapshots, refs, the git file's blob).
  const std::string link = read_link(blob_a);
  ASSERT_EQ(link.rfind("../../blobs/", 0), 0u) << link;
  const std::string hash = link.substr(link.rfind('/') + 1);
  EXPECT_EQ(link, "../../blobs/" + hash.substr(0, 2) + "/" + hash);
  EXPECT_EQ(read_file(cache + "/blobs/.huggingface-shared-blobs"), "1\n");
  EXPECT_EQ(read_file(cache + "/blobs/" + hash.substr(0, 2) + "/" + hash + ".refs"),
            "models--org--xet/blobs/" + sha256_hex(a) + "\n");
  struct stat st {};
  ASSERT_EQ(::lstat((cache + "/blobs/" + hash.substr(0, 2) + "/" + hash).c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0222, 0u);  // payloads are read-only
  const std::string plain = tmp / "plain";
  auto p = download(server.url(), plain, "main", "off");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_FALSE(stdfs::exists(plain + "/blobs"));  // the plain path never publishes
  for (const char* sub : {"/snapshots", "/refs"})
    EXPECT_EQ(tree_fingerprint(cache + "/models--org--xet" + sub), tree_fingerprint(plain + "/models--org--xet" + sub)) << sub;
  EXPECT_EQ(read_file(cache + "/models--org--xet/snapshots/" + k_c1 + "/model.safetensors"), a);

  // Revision "next": only the changed chunks travel.
  const std::uint64_t before = logged_bytes(server.err_output(), "/_xet/xorbs/");
  auto n = download(server.url(), cache, "next", "on");
  ASSERT_EQ(n.exit_code, 0) << n.out << n.err;
  EXPECT_EQ(read_file(cache + "/models--org--xet/blobs/" + sha256_hex(b)), b);
  const std::uint64_t moved = logged_bytes(server.err_output(), "/_xet/xorbs/") - before;
  EXPECT_LE(moved, b.size() * 8 / 100) << moved << " of " << b.size();
  EXPECT_GT(moved, b.size() * 5 / 100);
}

// Without --xet-index the server chunks a file when its metadata is first asked for: a one-file
// download (a HEAD) goes over Xet all the same.
TEST_F(CliDownloadXet, OneFileGoesOverXetThroughItsMetadata) {
  ServeProcess server({"--cache-dir", src, "--xet"});
  ASSERT_FALSE(server.url().empty()) << server.err_output();
  const std::string cache = tmp / "client";
  auto r = download(server.url(), cache, "main", "on", "model.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_file(cache + "/models--org--xet/snapshots/" + k_c1 + "/model.safetensors"), a);
  int runs = 0;
  EXPECT_GE(logged_bytes(server.err_output(), "/_xet/xorbs/", &runs), a.size());
  EXPECT_GE(runs, 1);
  EXPECT_EQ(logged_bytes(server.err_output(), "/_blobs/"), 0u);
}

// Without --xet-index a listing names no xetHash for a file not chunked yet: a snapshot asks the
// file's own resolve (a HEAD, as huggingface_hub does per file) and still goes over Xet, and the
// next revision moves only what changed (the trial found snapshots taking the plain path).
TEST_F(CliDownloadXet, ASnapshotGoesOverXetWhenTheListingNamesNoXetHash) {
  ServeProcess server({"--cache-dir", src, "--xet"});
  ASSERT_FALSE(server.url().empty()) << server.err_output();
  const std::string cache = tmp / "client";
  auto r = download(server.url(), cache, "main", "on");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_file(cache + "/models--org--xet/snapshots/" + k_c1 + "/model.safetensors"), a);
  EXPECT_GE(logged_bytes(server.err_output(), "/_xet/xorbs/"), a.size());
  EXPECT_EQ(logged_bytes(server.err_output(), "/_blobs/"), 0u) << server.err_output();
  const std::uint64_t before = logged_bytes(server.err_output(), "/_xet/xorbs/");
  auto n = download(server.url(), cache, "next", "on");
  ASSERT_EQ(n.exit_code, 0) << n.out << n.err;
  EXPECT_EQ(read_file(cache + "/models--org--xet/snapshots/" + k_c2 + "/model.safetensors"), b);
  EXPECT_LE(logged_bytes(server.err_output(), "/_xet/xorbs/") - before, b.size() * 8 / 100);
  EXPECT_EQ(logged_bytes(server.err_output(), "/_blobs/"), 0u);
}

// --local-dir over Xet (as huggingface_hub with hf_xet): the files land in the folder with their
// metadata, the bytes through the xorbs and the cache untouched; with revision A in the cache,
// B into a local dir moves only what changed (the cache's records lend their chunks).
TEST_F(CliDownloadXet, ALocalDirGoesOverXetAndReusesTheCachesChunks) {
  ServeProcess server({"--cache-dir", src, "--xet-index"});
  ASSERT_FALSE(server.url().empty()) << server.err_output();
  const std::string cache = tmp / "client";
  const std::string local = tmp / "local";
  auto r = download(server.url(), cache, "main", "auto", "", {"--local-dir", local});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_file(local + "/model.safetensors"), a);
  EXPECT_EQ(read_file(local + "/config.json"), "{\"rev\": \"main\"}\n");
  const std::string meta = read_file(local + "/.cache/huggingface/download/model.safetensors.metadata");
  EXPECT_EQ(meta.substr(0, 41 + 65), k_c1 + "\n" + sha256_hex(a) + "\n") << meta;
  EXPECT_EQ(r.out.find("xet_fallback"), std::string::npos) << r.out;
  const std::string log1 = server.err_output();
  EXPECT_GE(logged_bytes(log1, "/_xet/xorbs/"), a.size());
  EXPECT_EQ(logged_bytes(log1, "/_blobs/"), 0u) << log1;
  EXPECT_FALSE(stdfs::exists(cache + "/models--org--xet"));  // a local dir leaves the cache alone
  EXPECT_FALSE(stdfs::exists(cache + "/blobs"));

  auto c = download(server.url(), cache, "main", "on", "model.safetensors");  // A into the cache
  ASSERT_EQ(c.exit_code, 0) << c.out << c.err;
  const std::uint64_t before = logged_bytes(server.err_output(), "/_xet/xorbs/");
  const std::string local_b = tmp / "local-b";
  auto n = download(server.url(), cache, "next", "on", "model.safetensors", {"--local-dir", local_b});
  ASSERT_EQ(n.exit_code, 0) << n.out << n.err;
  EXPECT_EQ(read_file(local_b + "/model.safetensors"), b);
  const std::uint64_t moved = logged_bytes(server.err_output(), "/_xet/xorbs/") - before;
  EXPECT_LE(moved, b.size() * 8 / 100) << moved << " of " << b.size();
  EXPECT_EQ(logged_bytes(server.err_output(), "/_blobs/"), 0u);
  // --json's file_done says how many of the file's bytes came from the cache's chunks.
  const auto done = n.out.find("\"event\":\"file_done\"");
  ASSERT_NE(done, std::string::npos) << n.out;
  const std::string line = n.out.substr(n.out.rfind('\n', done) + 1, n.out.find('\n', done) - n.out.rfind('\n', done) - 1);
  const auto at = line.find("\"reused\":");
  ASSERT_NE(at, std::string::npos) << line;
  EXPECT_GE(std::stoull(line.substr(at + 9)), b.size() * 90 / 100) << line;
  EXPECT_NE(line.find("\"downloaded\":" + std::to_string(moved)), std::string::npos) << line;
}

}  // namespace

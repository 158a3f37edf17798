// download_file and snapshot_download against the test hub in real-Hub mode: small files through
// the relative 307 to /api/resolve-cache/, LFS files through signed, expiring URLs on another
// origin whose ETag is not the SHA-256 (so the Hub's ETag is no If-Range validator there).
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "download_fixture.hpp"
#include "hubcache/cache/store.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

FileRequest file(const std::string& name) {
  FileRequest r;
  r.repo_id = k_model.id;
  r.filename = name;
  return r;
}

// Bytes of `n` that vary, so a misplaced range shows in the hash.
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919 + i / 4093) & 0xff);
  return s;
}

struct RealHubDownload : DownloadFixture {
  std::string big = pattern(8u << 20);  // "large": split and resumed with lowered thresholds

  void SetUp() override {
    DownloadFixture::SetUp();
    server.add_file(k_model, c1, "big.bin", big, /*lfs=*/true);
    server.set_real_hub({});
  }
  // Every If-Range the CDN received carried a validator it issued (its ETag or Last-Modified).
  void expect_only_cdn_validators() const {
    const std::string etag = "\"" + server.cdn_etag(sha256_hex(big)) + "\"";
    const std::string etag_w = "\"" + server.cdn_etag(sha256_hex(weights)) + "\"";
    for (const auto& rec : server.requests())
      if (rec.cdn && !rec.if_range.empty()) {
        EXPECT_TRUE(rec.if_range == etag || rec.if_range == etag_w || rec.if_range == server.cdn_last_modified())
            << rec.path << " If-Range: " << rec.if_range;
      }
  }
  // snapshot_download of big.bin alone.
  auto snapshot_big(const DownloadOptions& o) {
    Downloader d(o);
    SnapshotRequest req;
    req.repo_id = k_model.id;
    req.allow_patterns = std::vector<std::string>{"big.bin"};
    return d.snapshot_download(req);
  }
  DownloadOptions split_options() {
    auto o = options();
    o.transfer.split_threshold = 1u << 20;
    o.transfer.part_size = 1u << 20;
    o.transfer.parallel_below_rate = 0;  // parallel ranges from the start
    o.transfer.max_parts_per_file = 4;
    return o;
  }
};

}  // namespace

TEST_F(RealHubDownload, SmallFileThroughResolveCacheKeepsAuth) {
  server.set_valid_token("hf_token123");
  Downloader d(options("hf_token123"));
  auto r = d.download_file(file("config.json"));
  ASSERT_TRUE(r) << r.error().message;
  const std::string etag = git_blob_sha1_hex("{\"model\": 1}");
  EXPECT_EQ(r->etag, etag);
  EXPECT_EQ(read_link(r->path), "../../blobs/" + etag);
  EXPECT_EQ(read_file(r->path), "{\"model\": 1}");
  // The metadata HEAD followed the relative 307 on the same origin, token kept.
  int heads_at_cache = 0, gets_at_cache = 0;
  for (const auto& rec : server.requests()) {
    EXPECT_FALSE(rec.cdn);
    EXPECT_TRUE(rec.had_auth) << rec.method << " " << rec.path;
    if (rec.path.rfind("/org/model/resolve/", 0) == 0) {
      EXPECT_EQ(rec.status, 307);
    }
    if (rec.path.rfind("/api/resolve-cache/models/org/model/" + c1 + "/config.json", 0) == 0) {
      EXPECT_EQ(rec.status, 200);
      (rec.method == "HEAD" ? heads_at_cache : gets_at_cache)++;
    }
  }
  EXPECT_EQ(heads_at_cache, 1);
  EXPECT_EQ(gets_at_cache, 1);
}

TEST_F(RealHubDownload, FreshLfsFileDropsAuthAtTheCdn) {
  server.set_valid_token("hf_token123");
  Downloader d(options("hf_token123"));
  auto r = d.download_file(file("model.safetensors"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->etag, sha256_hex(weights));
  EXPECT_EQ(read_link(r->path), "../../blobs/" + sha256_hex(weights));
  EXPECT_EQ(read_file(r->path), weights);
  int cdn_gets = 0;
  for (const auto& rec : server.requests()) {
    if (rec.cdn) {
      EXPECT_FALSE(rec.had_auth);  // another origin (vector 14)
      EXPECT_EQ(rec.status, 200);
      cdn_gets += rec.method == "GET";
    } else {
      EXPECT_TRUE(rec.had_auth);
    }
  }
  EXPECT_EQ(cdn_gets, 1);
  EXPECT_EQ(server.body_bytes("/cdn/"), weights.size());
  expect_only_cdn_validators();
}

TEST_F(RealHubDownload, ResumesAPartialBlobThroughTheCdn) {
  const std::string etag = sha256_hex(weights);
  write_file(layout().incomplete_path(etag), weights.substr(0, 100000));
  Downloader d(options());
  auto r = d.download_file(file("model.safetensors"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), weights);
  EXPECT_EQ(server.body_bytes("/cdn/"), weights.size() - 100000);  // the rerun moved less than the file
  expect_only_cdn_validators();
}

TEST_F(RealHubDownload, ResumesAfterConnectionResetsThroughTheCdn) {
  server.add_fault(Fault::body(FaultKind::ResetMidBody, "GET", "/cdn/", 1u << 20, 3));
  Downloader d(options());
  auto r = d.download_file(file("big.bin"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(sha256_hex(read_file(r->path)), sha256_hex(big));
  int cdn_gets = 0;
  for (const auto& rec : server.requests()) {
    if (!rec.cdn || rec.method != "GET") continue;
    // Each retry asked for the rest and got it (206), never the whole file again.
    if (cdn_gets++ > 0) {
      EXPECT_EQ(rec.status, 206) << "range " << rec.range << " If-Range " << rec.if_range;
    }
  }
  EXPECT_GE(cdn_gets, 4);
  expect_only_cdn_validators();
}

TEST_F(RealHubDownload, ParallelRangesThroughTheCdn) {
  Downloader d(split_options());
  auto r = d.download_file(file("big.bin"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(sha256_hex(read_file(r->path)), sha256_hex(big));
  int ranged = 0;
  for (const auto& rec : server.requests()) {
    if (!rec.cdn || rec.method != "GET") continue;
    EXPECT_EQ(rec.status, 206) << "range " << rec.range << " If-Range " << rec.if_range;
    ranged += !rec.range.empty();
  }
  EXPECT_GE(ranged, 2);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size());  // no range answered with the whole file
  expect_only_cdn_validators();
}

TEST_F(RealHubDownload, SplitDownloadOutlivesItsSignedUrls) {
  // The signed URLs expire while the ranges are under way: requests started later need fresh ones.
  auto o = split_options();
  o.transfer.max_parts_per_file = 2;
  RealHubOptions real;
  real.url_expiry = std::chrono::seconds(1);
  real.rate_bytes_per_second = 4u << 20;  // >= 1 s for the file: later ranges start after the clock moved
  server.set_real_hub(real);
  std::atomic<bool> moved{false};
  o.progress = [&](const DownloadEvent& e) {
    if (e.kind == DownloadEvent::Kind::Progress && e.file_bytes > 0 && !moved.exchange(true))
      server.advance_clock(std::chrono::hours(2));
  };
  Downloader d(o);
  auto r = d.download_file(file("big.bin"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(moved.load());
  EXPECT_EQ(sha256_hex(read_file(r->path)), sha256_hex(big));
  int expired = 0;
  for (const auto& rec : server.requests()) expired += rec.cdn && rec.status == 403;
  EXPECT_GE(expired, 1);  // the URL did expire under the download, which got a fresh one
  expect_only_cdn_validators();
}

TEST_F(RealHubDownload, SnapshotThroughResolveCacheAndCdn) {
  server.set_valid_token("hf_token123");
  Downloader d(options("hf_token123"));
  SnapshotRequest req;
  req.repo_id = k_model.id;
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->commit, c1);
  EXPECT_EQ(read_file(r->path + "/config.json"), "{\"model\": 1}");
  EXPECT_EQ(read_file(r->path + "/sub/dir/notes.txt"), "notes");
  EXPECT_EQ(read_file(r->path + "/empty.txt"), "");
  EXPECT_EQ(read_file(r->path + "/model.safetensors"), weights);
  EXPECT_EQ(sha256_hex(read_file(r->path + "/big.bin")), sha256_hex(big));
  EXPECT_EQ(read_file(layout().ref_path("main")), c1);
  for (const auto& rec : server.requests()) EXPECT_EQ(rec.had_auth, !rec.cdn) << rec.path;
  // The non-empty small files (an empty one is written without a request).
  EXPECT_EQ(server.count("GET", "/api/resolve-cache/models/org/model/" + c1 + "/config.json"), 1);
  EXPECT_EQ(server.count("GET", "/api/resolve-cache/models/org/model/" + c1 + "/sub/dir/notes.txt"), 1);
  EXPECT_EQ(server.body_bytes("/cdn/"), weights.size() + big.size());
  expect_only_cdn_validators();
}

// An LFS file's HEAD (asked for its Xet headers) redirects to the CDN: the snapshot fetches
// from that Location directly, as hf_hub_download does, without a second round trip to the
// resolve URL.
TEST_F(RealHubDownload, SnapshotFetchesAnLfsFileFromItsHeadsLocation) {
  auto r = snapshot_big(options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(sha256_hex(read_file(r->path + "/big.bin")), sha256_hex(big));
  const std::string resolve = "/org/model/resolve/" + c1 + "/big.bin";
  EXPECT_EQ(server.count("HEAD", resolve), 1);
  EXPECT_EQ(server.count("GET", resolve), 0) << "the bytes were asked from the resolve URL, not its Location";
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size());
}

TEST_F(RealHubDownload, SnapshotResumesAPartialBlobThroughTheCdn) {
  // The snapshot knows the file from the tree listing and the CDN URL from the file's HEAD: a
  // validator from the Hub must not reach the CDN.
  const std::string etag = sha256_hex(big);
  write_file(layout().incomplete_path(etag), big.substr(0, 1u << 20));
  auto r = snapshot_big(options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(sha256_hex(read_file(r->path + "/big.bin")), etag);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size() - (1u << 20));  // the rerun moved less than the file
  expect_only_cdn_validators();
}

TEST_F(RealHubDownload, SnapshotSplitsABigFileIntoRangesAtTheCdn) {
  auto r = snapshot_big(split_options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(sha256_hex(read_file(r->path + "/big.bin")), sha256_hex(big));
  int ranged = 0;
  for (const auto& rec : server.requests()) {
    if (!rec.cdn || rec.method != "GET") continue;
    EXPECT_EQ(rec.status, 206) << "range " << rec.range << " If-Range " << rec.if_range;
    ranged += !rec.range.empty();
  }
  EXPECT_GE(ranged, 2);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size());  // no range answered with the whole file
  expect_only_cdn_validators();
}

// The default (max_workers 0) adapts to latency: with every request held 50 ms, the files in
// flight grow past the first round's k_auto_workers_start; a fixed max_workers is a hard bound.
struct RealHubLatency : RealHubDownload {
  static constexpr int k_files = 400;
  void SetUp() override {
    RealHubDownload::SetUp();
    for (int i = 0; i < k_files; ++i)
      server.add_file(k_model, c1, "many/f" + std::to_string(i) + ".json", "{\"i\": " + std::to_string(i) + "}");
    RealHubOptions real;
    real.latency = std::chrono::milliseconds(50);
    server.set_real_hub(real);
  }
  std::mutex starters_mutex;
  std::set<std::thread::id> starters;  // threads that started a file's transfer
  Result<SnapshotResult> fetch_many(unsigned max_workers, const std::string& pattern = "many/*") {
    auto o = options();
    o.max_workers = max_workers;
    o.progress = [this](const DownloadEvent& e) {
      if (e.kind != DownloadEvent::Kind::FileStart) return;
      std::lock_guard lock(starters_mutex);
      starters.insert(std::this_thread::get_id());
    };
    Downloader d(o);
    SnapshotRequest req;
    req.repo_id = k_model.id;
    req.allow_patterns = std::vector<std::string>{pattern};
    return d.snapshot_download(req);
  }
  void expect_all(const SnapshotResult& r) {
    for (int i = 0; i < k_files; i += 37)
      EXPECT_EQ(read_file(r.path + "/many/f" + std::to_string(i) + ".json"), "{\"i\": " + std::to_string(i) + "}");
    EXPECT_EQ(server.count("GET", "/api/resolve-cache/models/org/model/" + c1 + "/many/"), k_files);
  }
};

TEST_F(RealHubLatency, SnapshotRaisesFilesInFlightWhileLatencyBoundsThem) {
  auto r = fetch_many(0);
  ASSERT_TRUE(r) << r.error().message;
  expect_all(*r);
  EXPECT_GT(server.peak_in_flight(), static_cast<int>(k_auto_workers_start)) << "peak " << server.peak_in_flight();
  EXPECT_LE(server.peak_in_flight(), static_cast<int>(k_auto_workers_max));
  // Files waiting on the network hold no thread: over 32 in flight, on a few threads.
  EXPECT_GE(starters.size(), 2u);
  EXPECT_LE(starters.size(), static_cast<std::size_t>(k_auto_worker_threads));
}

TEST_F(RealHubLatency, AFixedMaxWorkersBoundsTheRequestsInFlight) {
  auto r = fetch_many(6, "many/f1*");  // f1, f10-f19, f100-f199
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->files.size(), 111u);
  EXPECT_EQ(read_file(r->path + "/many/f142.json"), "{\"i\": 142}");
  EXPECT_EQ(server.count("GET", "/api/resolve-cache/models/org/model/" + c1 + "/many/"), 111);
  EXPECT_LE(server.peak_in_flight(), 6);
  EXPECT_GE(server.peak_in_flight(), 2);
}

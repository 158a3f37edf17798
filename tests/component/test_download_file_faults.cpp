// download_file against faults: the cache fallback, resume of partial blobs, corruption, a full disk, blob locks held by others,
// expired signed URLs.
#include <sys/stat.h>

#include <mutex>
#include <thread>

#include "download_seams.hpp"
#include "download_fixture.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/resolve/offline.hpp"

using namespace hubcache;
using namespace hubcache::test;

TEST_F(DownloadFixture, FaultsEndInAVerifiedBlob) {
  server.add_fault(Fault::http_status("GET", "/cdn/", 500));
  server.add_fault(Fault::body(FaultKind::ResetMidBody, "GET", "/cdn/", 1000));
  server.add_fault(Fault::body(FaultKind::WrongBytes, "GET", "/cdn/"));
  server.add_fault(Fault::body(FaultKind::ShortBody, "GET", "/cdn/", 5000));
  Downloader d(options());
  auto r = d.download_file(file_request("model.safetensors"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), weights);
  EXPECT_EQ(sha256_hex(read_file(layout().blob_path(sha256_hex(weights)))), sha256_hex(weights));
}

TEST_F(DownloadFixture, PersistentCorruptionPublishesNothing) {
  server.add_fault(Fault::body(FaultKind::WrongBytes, "GET", "/cdn/", 0, -1));
  Downloader d(options());
  auto r = d.download_file(file_request("model.safetensors"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity);
  EXPECT_NE(r.error().message.find("model.safetensors"), std::string::npos);
  const std::string etag = sha256_hex(weights);
  EXPECT_FALSE(exists(layout().blob_path(etag)));
  EXPECT_FALSE(exists(layout().pointer_path(c1, "model.safetensors")));
  EXPECT_FALSE(exists(layout().incomplete_path(etag)));
}

TEST_F(DownloadFixture, DiskFullPublishesNothing) {
  auto o = options();
  detail::DownloadSeams seams;
  seams.write_fn = [](int, const void*, std::size_t, off_t) -> ssize_t {
    errno = ENOSPC;
    return -1;
  };
  Downloader d(o);
  detail::set_download_seams(d, seams);
  auto r = d.download_file(file_request("model.safetensors"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::DiskFull);
  EXPECT_FALSE(exists(layout().blob_path(sha256_hex(weights))));
  EXPECT_FALSE(exists(layout().pointer_path(c1, "model.safetensors")));
  auto o2 = options();
  detail::DownloadSeams seams2;
  seams2.free_space_fn = [](const std::string&) -> Result<std::uint64_t> { return std::uint64_t{1000}; };
  Downloader d2(o2);
  detail::set_download_seams(d2, seams2);
  auto r2 = d2.download_file(file_request("model.safetensors"));
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, ErrorCode::DiskFull);
  EXPECT_NE(r2.error().message.find("1000 available"), std::string::npos);
}

TEST_F(DownloadFixture, Head503WithCachedCopyDoesNotRetryVector13_18) {
  std::vector<std::chrono::milliseconds> delays;
  http::detail::ScopedRetryDelayMap record([&](std::chrono::milliseconds d) {
    delays.push_back(d);
    return std::chrono::milliseconds(1);
  });
  auto o = options();
  Downloader d(o);
  ASSERT_TRUE(d.download_file(file_request("config.json")));
  server.clear_requests();
  server.add_fault(Fault::http_status("HEAD", "/resolve/", 503, -1));
  auto cached = d.download_file(file_request("config.json"));
  ASSERT_TRUE(cached) << cached.error().message;
  EXPECT_EQ(server.count("HEAD", ""), 1);
  EXPECT_TRUE(delays.empty());
  // Not cached: a second attempt with the full backoff, then a clear error.
  auto missing = d.download_file(file_request("sub/dir/notes.txt"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::LocalEntryNotFound);
  EXPECT_EQ(delays,
            (std::vector<std::chrono::milliseconds>{std::chrono::seconds(1), std::chrono::seconds(2), std::chrono::seconds(4),
                                                    std::chrono::seconds(8), std::chrono::seconds(8)}));
  EXPECT_EQ(server.count("HEAD", ""), 1 + 1 + 6);
}

TEST_F(DownloadFixture, ResumesAPartialBlobLeftByAnotherClient) {
  // huggingface_hub <= 1.17 (and this tool) leave blobs/<etag>.incomplete as a prefix.
  const std::string etag = sha256_hex(weights);
  write_file(layout().incomplete_path(etag), weights.substr(0, 100000));
  Downloader d(options());
  auto r = d.download_file(file_request("model.safetensors"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(server.body_bytes("/cdn/"), weights.size() - 100000);
  EXPECT_EQ(read_file(r->path), weights);
  EXPECT_FALSE(exists(layout().incomplete_path(etag)));
}

TEST_F(DownloadFixture, CorruptPartialBlobIsDiscardedNotPublished) {
  const std::string etag = sha256_hex(weights);
  write_file(layout().incomplete_path(etag), std::string(100000, 'X'));  // wrong bytes
  Downloader d(options());
  auto r = d.download_file(file_request("model.safetensors"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), weights);  // the mismatch discarded the prefix and refetched
  EXPECT_EQ(sha256_hex(read_file(layout().blob_path(etag))), etag);
}

TEST_F(DownloadFixture, WaitingForAnotherProcessesBlobLockIsReported) {
  // Another process holds the blob's lock (docs/cache-format.md#locks): the download waits, reports what it waits for,
  // then proceeds once the lock is released.
  const std::string etag = git_blob_sha1_hex("{\"model\": 1}");
  auto held = lock_blob(layout(), etag);
  ASSERT_TRUE(held && held->held());
  std::mutex m;
  std::vector<DownloadEvent> waits;
  DownloadOptions o = options();
  o.lock_report_every = std::chrono::milliseconds(50);
  o.progress = [&](const DownloadEvent& e) {
    if (e.kind != DownloadEvent::Kind::LockWait) return;
    std::lock_guard lock(m);
    waits.push_back(e);
  };
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    held->release();
  });
  Downloader d(o);
  auto r = d.download_file(file_request("config.json"));
  release.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), "{\"model\": 1}");
  std::lock_guard lock(m);
  ASSERT_GE(waits.size(), 2u);
  EXPECT_EQ(waits[0].file, "config.json");
  EXPECT_EQ(waits[0].lock_path, layout().lock_path(etag));
}

TEST_F(DownloadFixture, AWaitForAFileOfTheSameDownloadIsNotReportedAsAnotherProcess) {
  // Two paths with one content share a blob and its lock: the second worker waits for the first
  // (a slow transfer), which is no other process's download, so no LockWait event is sent.
  server.add_file(k_model, c1, "copy.safetensors", weights, /*lfs=*/true);
  server.set_throttle(600000);  // about 0.5 s per copy of the weights
  std::mutex m;
  std::vector<DownloadEvent> waits;
  DownloadOptions o = options();
  o.download_timeout = std::chrono::seconds(10);
  o.lock_report_every = std::chrono::milliseconds(20);
  o.progress = [&](const DownloadEvent& e) {
    if (e.kind != DownloadEvent::Kind::LockWait) return;
    std::lock_guard lock(m);
    waits.push_back(e);
  };
  Downloader d(o);
  SnapshotRequest req;
  req.repo_id = k_model.id;
  req.allow_patterns = std::vector<std::string>{"*.safetensors"};
  const auto started = std::chrono::steady_clock::now();
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(300));  // the wait was real
  EXPECT_EQ(read_file(r->path + "/model.safetensors"), weights);
  EXPECT_EQ(read_file(r->path + "/copy.safetensors"), weights);
  EXPECT_EQ(server.body_bytes("/cdn/"), weights.size());  // one transfer for both paths
  std::lock_guard lock(m);
  EXPECT_TRUE(waits.empty()) << waits.size() << " LockWait event(s), first for " << waits.front().file;
}

TEST_F(DownloadFixture, ExpiredSignedUrlLeadsToAFreshResolve) {
  // The HEAD's pre-signed Location is refused when the GET reaches it (docs/hub-protocol.md#redirects, expired): the
  // download goes back to the resolve URL at the commit, whose redirect signs a new URL, and
  // resumes the partial blob instead of starting over.
  const std::string etag = sha256_hex(weights);
  write_file(layout().incomplete_path(etag), weights.substr(0, 100000));
  server.set_valid_token("hf_token123");
  server.add_fault(Fault::http_status("GET", "/cdn/", 403, 1));
  Downloader d(options("hf_token123"));
  auto r = d.download_file(file_request("model.safetensors"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), weights);
  int resolve_gets = 0;
  std::uint64_t content_bytes = 0;  // bytes of the file itself (the 403's error body aside)
  for (const auto& rec : server.requests()) {
    if (rec.status == 200 || rec.status == 206) content_bytes += rec.body_bytes;
    if (rec.method == "GET" && rec.path.find("/resolve/" + c1 + "/") != std::string::npos) {
      ++resolve_gets;
      EXPECT_TRUE(rec.had_auth);  // the resolve URL is on the endpoint
      EXPECT_EQ(rec.range, "bytes=100000-");
    }
    if (rec.path.rfind("/cdn/", 0) == 0) {
      EXPECT_FALSE(rec.had_auth);
    }
  }
  EXPECT_EQ(resolve_gets, 1);
  EXPECT_EQ(content_bytes, weights.size() - 100000);
}
TEST_F(DownloadFixture, MetadataErrorFallsBackToCacheVector13_9) {
  Downloader d(options());
  ASSERT_TRUE(d.download_file(file_request("config.json")));
  server.set_hostile_commit("../../x");
  auto cached = d.download_file(file_request("config.json"));
  ASSERT_TRUE(cached) << cached.error().message;
  auto uncached = d.download_file(file_request("sub/dir/notes.txt"));
  ASSERT_FALSE(uncached);
  EXPECT_EQ(uncached.error().code, ErrorCode::LocalEntryNotFound);
  EXPECT_NE(uncached.error().message.find("X-Repo-Commit"), std::string::npos);
}

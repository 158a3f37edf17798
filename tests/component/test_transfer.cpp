// The transfer engine against the fault-injecting server: resume, ranges, faults, verification.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>
#include <thread>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/transfer/engine.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
using namespace hubcache::transfer;
using namespace std::chrono_literals;
using test::Fault;
using test::FaultKind;

namespace {

const RepoRef k_repo{RepoType::Model, "org/r"};

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

struct Transfer : ::testing::Test {
  test::HubServer server;
  test::TempDir dir;
  std::string commit = test::commit_id(7);
  std::string small = random_bytes(1000, 1);
  std::string big = random_bytes(3u << 20, 2);
  std::vector<std::chrono::milliseconds> delays;
  std::mutex delays_mutex;

  void SetUp() override {
    server.add_file(k_repo, commit, "small.bin", small);
    server.add_file(k_repo, commit, "big.bin", big, /*lfs=*/true);
    server.set_ref(k_repo, "main", commit);
  }
  EngineOptions options() {
    EngineOptions o;
    o.idle_timeout = 1000ms;
    o.split_threshold = 1u << 20;
    o.part_size = 256u << 10;
    o.parallel_below_rate = 0;  // parallel ranges from the start unless a test says otherwise
    o.retry.adjust = [this](std::chrono::milliseconds d) {
      std::lock_guard lock(delays_mutex);
      delays.push_back(d);
      return 1ms;
    };
    return o;
  }
  Job job(const std::string& path, const std::string& content, bool lfs = false) {
    Job j;
    j.url = server.endpoint() + "/org/r/resolve/main/" + path;
    j.temp_path = dir / (path + ".incomplete");
    j.parts_path = dir / (path + ".parts.incomplete");
    j.parts_state_path = dir / (path + ".parts.state");
    j.size = content.size();
    j.hash = lfs ? DigestKind::Sha256 : DigestKind::GitSha1;
    j.digest = lfs ? sha256_hex(content) : git_blob_sha1_hex(content);
    j.label = path;
    return j;
  }
};

}  // namespace

TEST_F(Transfer, SequentialDownloadIsVerified) {
  Engine engine(options());
  auto r = engine.download(job("small.bin", small));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  EXPECT_FALSE(r->split);
  EXPECT_EQ(r->downloaded, 1000u);
  EXPECT_EQ(test::read_file(r->path), small);
}

TEST_F(Transfer, ResumeVector13_20) {
  Engine engine(options());
  auto j = job("small.bin", small);
  test::write_file(j.temp_path, small.substr(0, 400));
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->reused, 400u);
  EXPECT_EQ(r->downloaded, 600u);
  EXPECT_EQ(server.requests().back().range, "bytes=400-");
  EXPECT_EQ(test::read_file(r->path), small);
}

TEST_F(Transfer, IgnoredRangeTruncatesAndRestarts) {
  Engine engine(options());
  auto j = job("small.bin", small);
  test::write_file(j.temp_path, std::string(400, 'x'));  // garbage prefix: a 200 must overwrite it
  server.add_fault(Fault::body(FaultKind::IgnoreRange, "GET", "small.bin"));
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->downloaded, 1000u);
  EXPECT_EQ(test::read_file(r->path), small);
}

TEST_F(Transfer, RangeStartingElsewhereRestarts) {
  Engine engine(options());
  auto j = job("small.bin", small);
  test::write_file(j.temp_path, small.substr(0, 400));
  server.add_fault(Fault::body(FaultKind::RangeElsewhere, "GET", "small.bin"));
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(r->path), small);
  EXPECT_EQ(server.requests().back().range, "");  // the restart asks for the whole file
}

TEST_F(Transfer, StreamErrorsResumeFromCurrentOffset) {
  Engine engine(options());
  server.add_fault(Fault::body(FaultKind::ResetMidBody, "GET", "small.bin", 300));
  server.add_fault(Fault::body(FaultKind::ShortBody, "GET", "small.bin", 200));
  auto r = engine.download(job("small.bin", small));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(r->path), small);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[1].range, "bytes=300-");
  EXPECT_EQ(reqs[2].range, "bytes=500-");
  EXPECT_EQ(delays.size(), 2u);  // one stream-retry delay each
}

TEST_F(Transfer, StallTimesOutThenResumes) {
  Engine engine(options());
  server.add_fault(Fault::body(FaultKind::Stall, "GET", "small.bin", 100));
  auto r = engine.download(job("small.bin", small));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(r->path), small);
  EXPECT_EQ(server.requests().back().range, "bytes=100-");
}

TEST_F(Transfer, AServerRestartingFromZeroAndCuttingOffEndsWithItsFault) {
  // Each answer is "progress" (bytes from 0), so only a bound on restarts ends this loop.
  Engine engine(options());
  server.add_fault(Fault::body(FaultKind::IgnoreRangeAndCut, "GET", "small.bin", 300, -1));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = engine.download(job("small.bin", small));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Http);
  EXPECT_FALSE(r.error().is_transient());
  ASSERT_TRUE(r.error().http);
  EXPECT_EQ(r.error().http->error_code, "RestartLoop");
  EXPECT_NE(r.error().message.find("the server at " + server.endpoint() + " sent 'small.bin' from byte 0 again 8 times"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(server.count("GET", "small.bin"), 10);  // the first answer, 8 restarts, and the answer refused as the 9th
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST_F(Transfer, ARedirectLoopEndsAtTheHopLimitWithoutStreamRetries) {
  server.set_hostile(test::Hostile::RedirectLoop);
  Engine engine(options());
  auto r = engine.download(job("small.bin", small));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Http);
  ASSERT_TRUE(r.error().http);
  EXPECT_EQ(r.error().http->error_code, "TooManyRedirects");
  EXPECT_EQ(server.count("GET", "small.bin"), 11);  // the request and 10 hops, once
}

TEST_F(Transfer, PersistentFailureGivesUpAndKeepsPartial) {
  auto o = options();
  o.stream_retries = 2;
  Engine engine(o);
  server.add_fault(Fault::body(FaultKind::ResetMidBody, "GET", "small.bin", 0, -1));
  auto j = job("small.bin", small);
  auto r = engine.download(j);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Network);
  EXPECT_NE(r.error().message.find("small.bin"), std::string::npos);
  EXPECT_EQ(server.count("GET", "small.bin"), 3);
}

TEST_F(Transfer, StatusRetriesHonourRetryAfter) {
  Engine engine(options());
  server.add_fault(Fault::http_status("GET", "small.bin", 500));
  auto limited = Fault::http_status("GET", "small.bin", 429);
  limited.retry_after = "7";
  server.add_fault(limited);
  auto r = engine.download(job("small.bin", small));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{1s, 8s}));
  server.add_fault(Fault::http_status("GET", "small.bin", 404));
  auto j = job("small.bin", small);
  j.restart = true;
  auto nf = engine.download(j);
  ASSERT_FALSE(nf);
  ASSERT_TRUE(nf.error().http);
  EXPECT_EQ(nf.error().http->status, 404);
}

TEST_F(Transfer, HashMismatchRetriesOnceThenFails) {
  Engine engine(options());
  server.add_fault(Fault::body(FaultKind::WrongBytes, "GET", "small.bin"));
  auto once = engine.download(job("small.bin", small));
  ASSERT_TRUE(once) << once.error().message;
  EXPECT_EQ(once->attempts, 2);
  EXPECT_EQ(test::read_file(once->path), small);

  server.add_fault(Fault::body(FaultKind::WrongBytes, "GET", "small.bin", 0, 2));
  auto j = job("small.bin", small);
  j.restart = true;
  auto twice = engine.download(j);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::Integrity);
  EXPECT_NE(twice.error().message.find("small.bin"), std::string::npos);
  EXPECT_FALSE(test::exists(j.temp_path));  // never an unverified file left to publish
}

TEST_F(Transfer, SizeMismatchVector13_22) {
  Engine engine(options());
  auto j = job("small.bin", small);
  j.size = 999;
  auto r = engine.download(j);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity);
  EXPECT_NE(r.error().message.find("size mismatch"), std::string::npos);
}

TEST_F(Transfer, EmptyFileNeedsNoRequest) {
  server.add_file(k_repo, commit, "empty", "");
  Engine engine(options());
  auto r = engine.download(job("empty", ""));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  EXPECT_EQ(server.count("GET", "empty"), 0);
  EXPECT_EQ(test::read_file(r->path), "");
}

TEST_F(Transfer, LargeFileIsSplitIntoParallelRanges) {
  Engine engine(options());
  auto j = job("big.bin", big, true);
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->split);
  EXPECT_TRUE(r->verified);
  EXPECT_EQ(r->path, j.parts_path);
  EXPECT_EQ(test::read_file(r->path), big);
  EXPECT_GE(server.count("GET", "/cdn/"), 8);
  EXPECT_GT(r->peak_parallel, 1u);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size());  // every byte once
  EXPECT_FALSE(test::exists(j.parts_state_path));
}

TEST_F(Transfer, FastSingleStreamKeepsOneConnectionForASplitFile) {
  auto o = options();
  o.parallel_below_rate = 1;        // any stream is fast enough...
  o.rate_window = std::chrono::hours(1);  // ...and a stall on a loaded machine never ends a window
  Engine engine(o);
  auto j = job("big.bin", big, true);
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->split);  // still ranges with a state record, so it stays resumable
  EXPECT_EQ(r->peak_parallel, 1u);
  EXPECT_GE(server.count("GET", "/cdn/"), 2);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size());
  EXPECT_EQ(test::read_file(r->path), big);
}

TEST_F(Transfer, SlowSingleStreamIsJoinedByParallelRanges) {
  auto o = options();
  o.parallel_below_rate = std::uint64_t{1} << 62;  // no stream is fast enough
  o.rate_window = 1ms;
  Engine engine(o);
  auto j = job("big.bin", big, true);
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(r->peak_parallel, 1u);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size());
  EXPECT_EQ(test::read_file(r->path), big);
}

TEST_F(Transfer, SplitFallsBackWhenServerIgnoresRange) {
  Engine engine(options());
  server.add_fault(Fault::body(FaultKind::IgnoreRange, "GET", "/cdn/", 0, -1));
  auto r = engine.download(job("big.bin", big, true));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(r->path), big);
  EXPECT_EQ(server.count("GET", "/cdn/"), 1);
}

TEST_F(Transfer, SplitResumesFromStateRecord) {
  auto o = options();
  std::atomic<std::uint64_t> budget{1u << 20};
  o.write_fn = [&](int fd, const void* d, std::size_t n, off_t off) -> ssize_t {
    if (budget.load() < n) {
      errno = EIO;
      return -1;
    }
    budget -= n;
    return ::pwrite(fd, d, n, off);
  };
  auto j = job("big.bin", big, true);
  {
    Engine engine(o);
    auto r = engine.download(j);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::Io);
  }
  ASSERT_TRUE(test::exists(j.parts_state_path));
  ASSERT_TRUE(server.wait_idle());  // the failed engine's last requests may still be answered
  server.clear_requests();
  Engine engine(options());
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(r->reused, 0u);
  EXPECT_LT(server.body_bytes("/cdn/"), big.size());
  EXPECT_EQ(test::read_file(r->path), big);
}

TEST_F(Transfer, SequentialPrefixIsConvertedToSplit) {
  auto j = job("big.bin", big, true);
  test::write_file(j.temp_path, big.substr(0, 1000000));
  Engine engine(options());
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->split);
  EXPECT_EQ(r->reused, 1000000u);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size() - 1000000);
  EXPECT_EQ(test::read_file(r->path), big);
  EXPECT_FALSE(test::exists(j.temp_path));
}

TEST_F(Transfer, DiskFullBeforeFirstByteAndMidTransfer) {
  auto o = options();
  o.free_space_fn = [](const std::string&) -> Result<std::uint64_t> { return std::uint64_t{10}; };
  {
    Engine engine(o);
    auto r = engine.download(job("small.bin", small));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::DiskFull);
    EXPECT_NE(r.error().message.find("1000 more bytes needed"), std::string::npos);
    EXPECT_NE(r.error().message.find("10 available"), std::string::npos);
    EXPECT_EQ(server.count("GET", ""), 0);
  }
  auto o2 = options();
  o2.write_fn = [](int, const void*, std::size_t, off_t) -> ssize_t {
    errno = ENOSPC;
    return -1;
  };
  Engine engine(o2);
  auto r = engine.download(job("big.bin", big, true));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::DiskFull);
  EXPECT_NE(r.error().message.find("no space left"), std::string::npos);
}

TEST_F(Transfer, ManyCallersShareTheEngine) {
  auto o = options();
  o.max_connections = 4;
  Engine engine(o);
  std::vector<std::string> contents;
  for (int i = 0; i < 24; ++i) {
    contents.push_back(random_bytes(static_cast<std::size_t>(1000 + i * 517), static_cast<unsigned>(100 + i)));
    server.add_file(k_repo, commit, "f" + std::to_string(i), contents.back());
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 24; ++i)
    threads.emplace_back([&, i] {
      auto r = engine.download(job("f" + std::to_string(i), contents[static_cast<std::size_t>(i)]));
      if (r && test::read_file(r->path) == contents[static_cast<std::size_t>(i)]) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 24);
}

TEST_F(Transfer, CancelStopsTransfers) {
  CancelToken cancel;
  auto o = options();
  o.cancel = &cancel;
  server.set_throttle(100000);
  Engine engine(o);
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    cancel.cancel();
  });
  auto r = engine.download(job("big.bin", big, true));
  stopper.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Cancelled);
}

// ---- direct URLs: a followed redirect's target is reused, refused ones are given up (docs/hub-protocol.md#redirects) ----

TEST_F(Transfer, RangesGoStraightToTheRedirectTarget) {
  Engine engine(options());
  auto j = job("big.bin", big, /*lfs=*/true);
  j.headers.set("Authorization", "Bearer hf_secret");
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->split);
  EXPECT_EQ(test::read_file(r->path), big);
  // One redirect from the resolve URL; every other range asked the CDN directly, without the token.
  EXPECT_EQ(server.count("GET", "/resolve/"), 1);
  const int cdn = server.count("GET", "/cdn/");
  EXPECT_GT(cdn, 1);
  for (const auto& req : server.requests()) {
    if (req.path.rfind("/cdn/", 0) == 0) {
      EXPECT_FALSE(req.had_auth) << "credentials sent to the CDN";
    }
  }
  EXPECT_EQ(r->url_refreshes, 0);
}

TEST_F(Transfer, RefusedDirectUrlFallsBackToTheStableUrl) {
  Engine engine(options());
  auto j = job("big.bin", big, /*lfs=*/true);
  // A pre-signed URL that its server no longer accepts (here: 404 on the CDN; S3 answers 403).
  j.location = "http://127.0.0.1:" + std::to_string(server.cdn_port()) + "/cdn/" + std::string(64, '0') + "?X-Amz-Signature=old";
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  EXPECT_EQ(test::read_file(r->path), big);
  EXPECT_GE(r->url_refreshes, 1);
  EXPECT_GE(server.count("GET", "/resolve/"), 1);
}

TEST_F(Transfer, RefusalOfAFreshRedirectIsAnError) {
  Engine engine(options());
  auto j = job("big.bin", big, /*lfs=*/true);
  server.add_fault(Fault::http_status("GET", "/cdn/", 403, -1));  // every signed URL refused
  auto r = engine.download(j);
  ASSERT_FALSE(r);
  ASSERT_TRUE(r.error().http);
  EXPECT_EQ(r.error().http->status, 403);
  // Bounded: no endless refresh loop (one redirect per attempt that reached the CDN via resolve).
  EXPECT_LE(server.count("GET", "/resolve/"), 3);
}

TEST_F(Transfer, StartedJobsAreInFlightTogetherOnOneThreadAndFinishVerified) {
  test::RealHubOptions real;
  real.latency = 100ms;
  server.set_real_hub(real);
  constexpr int k_files = 12;
  std::vector<std::string> contents;
  for (int i = 0; i < k_files; ++i) {
    contents.push_back(random_bytes(2000 + static_cast<std::size_t>(i), 10u + static_cast<unsigned>(i)));
    server.add_file(k_repo, commit, "f" + std::to_string(i) + ".bin", contents.back());
  }
  EngineOptions o = options();
  o.max_connections = 16;
  Engine engine(o);
  server.clear_requests();
  std::vector<Engine::Pending> pending;
  for (int i = 0; i < k_files; ++i) {
    auto p = engine.start(job("f" + std::to_string(i) + ".bin", contents[static_cast<std::size_t>(i)]));
    ASSERT_TRUE(p) << p.error().message;
    pending.push_back(std::move(*p));
  }
  for (int i = 0; i < k_files; ++i) {
    auto r = engine.finish(std::move(pending[static_cast<std::size_t>(i)]));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->verified);
    EXPECT_GE(r->elapsed, std::chrono::microseconds(100ms)) << "the engine measures the transfer, latency included";
    EXPECT_EQ(test::read_file(r->path), contents[static_cast<std::size_t>(i)]);
  }
  // Started from this one thread before any was finished, all were answered at once.
  EXPECT_EQ(server.peak_in_flight(), k_files);
}

TEST_F(Transfer, APendingJobDroppedUnfinishedEndsItsTransferAndCanBeDownloadedAgain) {
  Engine engine(options());
  {
    auto p = engine.start(job("big.bin", big, true));
    ASSERT_TRUE(p) << p.error().message;
  }  // dropped: waits for the transfer, discards the outcome
  auto r = engine.download(job("big.bin", big, true));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  EXPECT_EQ(sha256_hex(test::read_file(r->path)), sha256_hex(big));
}

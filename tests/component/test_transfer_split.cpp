// The transfer engine's split files: parallel ranges, the single-stream rule, resume from the state record, redirect targets.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "transfer_fixture.hpp"

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
  o.parallel_below_rate = 1;              // any stream is fast enough...
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

// A CDN edge or proxy at its connection limit for this client closes each further connection
// unanswered. The refused ranges wait for a free connection instead of failing the file (with
// stream_retries 1 and retry waits of 1 ms, counting each refusal failed the file at once).
TEST_F(Transfer, RangesRefusedAtTheServersConnectionLimitWaitForAFreeConnection) {
  RealHubOptions real;
  real.cdn_max_connections = 3;
  real.rate_bytes_per_second = 8u << 20;  // the ranges overlap long enough to meet the limit
  server.set_real_hub(real);
  auto o = options();
  o.max_parts_per_file = 8;
  o.stream_retries = 1;
  Engine engine(o);
  auto j = job("big.bin", big, true);
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(server.cdn_refused(), 0);  // the limit was met
  EXPECT_GT(r->peak_parallel, 3u);     // more than 3 were started before the first refusal
  EXPECT_TRUE(r->verified);
  EXPECT_EQ(test::read_file(r->path), big);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size());  // every byte once
}

// A range that gets nothing while no other range of the file is in flight still counts as a
// failure: the file fails after its retries instead of waiting forever.
TEST_F(Transfer, ARangeThatGetsNothingWithNoOtherInFlightStillFailsTheFile) {
  server.add_fault(Fault::body(FaultKind::ShortBody, "GET", "/cdn/", 0, -1));  // every CDN answer ends before its body
  auto o = options();
  o.max_parts_per_file = 1;
  o.stream_retries = 2;
  Engine engine(o);
  auto r = engine.download(job("big.bin", big, true));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("failed after 2 retries"), std::string::npos) << r.error().message;
}

namespace {
// The [first, last] byte ranges the CDN was asked for, by offset.
std::vector<std::pair<std::uint64_t, std::uint64_t>> asked_ranges(const HubServer& server, std::uint64_t size) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  for (const auto& q : server.requests()) {
    if (!q.cdn || q.method != "GET") continue;
    unsigned long long a = 0, b = 0;
    if (std::sscanf(q.range.c_str(), "bytes=%llu-%llu", &a, &b) == 2)
      out.emplace_back(a, b);
    else if (std::sscanf(q.range.c_str(), "bytes=%llu-", &a) == 1)
      out.emplace_back(a, size - 1);
    else
      out.emplace_back(0, size - 1);  // unranged
  }
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

// Near the end of a split file each range is a share of what is left (down to a quarter of
// part_size), so the last ranges in flight end close together and the prefix hash has little
// left to read after the last byte.
TEST_F(Transfer, RangesShrinkTowardTheEndOfASplitFile) {
  auto o = options();
  o.max_parts_per_file = 4;
  Engine engine(o);
  auto j = job("big.bin", big, true);
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  const auto ranges = asked_ranges(server, big.size());
  ASSERT_GT(ranges.size(), 2u);
  std::uint64_t next = 0, last_size = o.part_size;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const auto [a, b] = ranges[i];
    ASSERT_EQ(a, next) << "range " << i << ": the ranges tile the file, each asked once";
    const std::uint64_t n = b - a + 1;
    EXPECT_LE(n, last_size) << "range " << i << ": no range is longer than the one before it";
    if (i + 1 < ranges.size()) {
      EXPECT_GE(n, o.part_size / 4) << "range " << i;
    }
    last_size = n;
    next = b + 1;
  }
  EXPECT_EQ(next, big.size());
  EXPECT_EQ(ranges.front().second + 1, o.part_size);  // full-size ranges first
  EXPECT_LT(ranges.back().second - ranges.back().first + 1, o.part_size);
}

// Written bytes go to writeback range by range as they land, not when the hashed prefix reaches
// them: while the first range the CDN answers stalls, the ranges after it are handed over, and
// in the end every byte was handed over exactly once.
TEST_F(Transfer, WritebackFollowsEachRangeNotThePrefix) {
  const std::string huge = random_bytes(12u << 20, 3);
  server.add_file(k_repo, commit, "huge.bin", huge, /*lfs=*/true);
  Fault stall = Fault::body(FaultKind::Stall, "GET", "/cdn/", 64u << 10);
  stall.stall = 600ms;  // below the idle timeout: the range resumes, no retry
  server.add_fault(stall);
  std::mutex m;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;  // (offset, length) in call order
  auto o = options();
  o.part_size = 1u << 20;
  o.max_parts_per_file = 4;
  o.writeback_fn = [&](int, std::uint64_t off, std::uint64_t len) {
    std::lock_guard lock(m);
    calls.emplace_back(off, len);
  };
  Engine engine(o);
  auto r = engine.download(job("huge.bin", huge, true));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  ASSERT_FALSE(calls.empty());
  auto sorted = calls;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(sorted, calls) << "handed over in file order: writeback waited for the prefix";
  std::uint64_t next = 0;
  for (const auto& [off, len] : sorted) {
    EXPECT_EQ(off, next) << "every byte handed over once";
    next = off + len;
  }
  EXPECT_EQ(next, huge.size());
}

// A large file is fdatasync'ed in the background while it downloads (each time datasync_every
// more bytes went to writeback), so the device's cache is flushed along the way and not all at
// the fsync before publishing.
TEST_F(Transfer, ALargeFileIsSyncedWhileItDownloads) {
  const std::string huge = random_bytes(12u << 20, 4);
  server.add_file(k_repo, commit, "huge.bin", huge, /*lfs=*/true);
  server.set_throttle(4u << 20);  // 4 ranges at 4 MiB/s: about 0.75 s for the file
  std::atomic<int> during{0}, total{0};
  auto o = options();
  o.part_size = 1u << 20;
  o.max_parts_per_file = 4;
  o.datasync_every = 1u << 20;
  o.datasync_fn = [&](int fd) {
    ++total;
    if (server.body_bytes("/cdn/") < huge.size()) ++during;
    EXPECT_EQ(::fdatasync(fd), 0);
  };
  Engine engine(o);
  auto r = engine.download(job("huge.bin", huge, true));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  EXPECT_GT(during.load(), 0) << total.load() << " background syncs, none while the CDN was still sending";
  // None for a file below the step: it is left to the fsync before publishing.
  o.datasync_every = 64u << 20;
  total = 0;
  Engine engine2(o);
  auto r2 = engine2.download(job("huge.bin", huge, true));
  ASSERT_TRUE(r2) << r2.error().message;
  EXPECT_EQ(total.load(), 0);
}

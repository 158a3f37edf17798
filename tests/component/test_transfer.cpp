// The transfer engine: verification, sharing, start/finish, disk full and cancel.
#include "transfer_fixture.hpp"

TEST_F(Transfer, SequentialDownloadIsVerified) {
  Engine engine(options());
  auto r = engine.download(job("small.bin", small));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  EXPECT_FALSE(r->split);
  EXPECT_EQ(r->downloaded, 1000u);
  EXPECT_EQ(test::read_file(r->path), small);
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
    Engine::Pending moved = std::move(*p);
    auto again = engine.finish(std::move(*p));  // moved from: nothing to finish
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::InvalidArgument);
  }  // dropped: waits for the transfer, discards the outcome
  auto r = engine.download(job("big.bin", big, true));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  EXPECT_EQ(sha256_hex(test::read_file(r->path)), sha256_hex(big));
}

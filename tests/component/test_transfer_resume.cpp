// The transfer engine against faults: resume from the current offset, restarts, stalls, retries and give-up.
#include "transfer_fixture.hpp"

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

// A split data file of the full size without its state record: verified and killed before it was
// published (the record goes at verification). It is hashed as it is and kept when it matches;
// a full-size file that does not match (preallocated, killed before its first record) is
// downloaded again.
TEST_F(Transfer, ACompleteSplitFileWithoutItsRecordIsHashedNotDownloadedAgain) {
  auto j = job("big.bin", big, true);
  test::write_file(j.parts_path, big);
  Engine engine(options());
  auto r = engine.download(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->verified);
  EXPECT_EQ(r->reused, big.size());
  EXPECT_EQ(server.body_bytes("/cdn/"), 0u) << "the verified bytes were fetched again";
  EXPECT_EQ(test::read_file(r->path), big);

  test::write_file(j.parts_path, std::string(big.size(), '\0'));  // full size, wrong bytes
  ::unlink(j.parts_state_path.c_str());
  auto again = engine.download(j);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->verified);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size());
  EXPECT_EQ(test::read_file(again->path), big);
}

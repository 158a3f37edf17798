#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "hubcache/util/group_commit.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

namespace {

// Group commit only applies where one flush covers other files; elsewhere each file is flushed.
#define SKIP_UNLESS_SHARED(dir)                                                                   \
  if (!fs::GroupCommit::shares_flushes(dir)) GTEST_SKIP() << "filesystem of " << (dir) << " flushes per file"

}  // namespace

TEST(GroupCommit, RenamesOnlyAfterTheFlushReturns) {
  test::TempDir dir;
  SKIP_UNLESS_SHARED(dir.path());
  test::write_file(dir / "a.tmp", "bytes");
  int calls = 0;
  bool dst_existed = true, tmp_existed = false;
  fs::GroupCommit gc([&](int) -> Result<void> {
    ++calls;
    dst_existed = test::exists(dir / "a");
    tmp_existed = test::exists(dir / "a.tmp");
    return {};
  });
  ASSERT_TRUE(gc.publish(dir / "a.tmp", dir / "a"));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(dst_existed);
  EXPECT_TRUE(tmp_existed);
  EXPECT_EQ(test::read_file(dir / "a"), "bytes");
  EXPECT_FALSE(test::exists(dir / "a.tmp"));
  EXPECT_EQ(gc.flushes(), 1u);
}

TEST(GroupCommit, PublishersArrivingDuringAFlushShareTheNextOne) {
  test::TempDir dir;
  SKIP_UNLESS_SHARED(dir.path());
  constexpr int k_late = 6;
  for (int i = 0; i <= k_late; ++i) test::write_file(dir / ("f" + std::to_string(i) + ".tmp"), "data " + std::to_string(i));
  std::atomic<int> calls{0};
  std::atomic<bool> first_flush_running{false};
  std::atomic<int> late_published_during_second{-1};
  fs::GroupCommit* gcp = nullptr;
  fs::GroupCommit gc([&](int) -> Result<void> {
    const int n = ++calls;
    if (n == 1) {
      // Hold the first flush until every late publisher has joined the next group.
      first_flush_running = true;
      while (gcp->waiting() < static_cast<std::size_t>(k_late)) std::this_thread::yield();
    } else {
      int visible = 0;
      for (int i = 1; i <= k_late; ++i) visible += test::exists(dir / ("f" + std::to_string(i))) ? 1 : 0;
      late_published_during_second = visible;
    }
    return {};
  });
  gcp = &gc;
  std::thread first([&] { EXPECT_TRUE(gc.publish(dir / "f0.tmp", dir / "f0")); });
  while (!first_flush_running) std::this_thread::yield();
  std::vector<std::thread> late;
  for (int i = 1; i <= k_late; ++i)
    late.emplace_back([&, i] {
      const std::string base = dir / ("f" + std::to_string(i));
      EXPECT_TRUE(gc.publish(base + ".tmp", base));
    });
  first.join();
  for (auto& t : late) t.join();
  EXPECT_EQ(calls.load(), 2);  // one flush for the leader, one for the six that came during it
  EXPECT_EQ(gc.flushes(), 2u);
  EXPECT_EQ(late_published_during_second.load(), 0);  // none renamed before its group's flush
  for (int i = 0; i <= k_late; ++i) EXPECT_EQ(test::read_file(dir / ("f" + std::to_string(i))), "data " + std::to_string(i));
}

TEST(GroupCommit, AFailedFlushRenamesNothingOfItsGroup) {
  test::TempDir dir;
  SKIP_UNLESS_SHARED(dir.path());
  test::write_file(dir / "b.tmp", "bytes");
  int calls = 0;
  fs::GroupCommit gc([&](int) -> Result<void> {
    if (++calls == 1) return fail(ErrorCode::Io, "flush failed: EIO");
    return {};
  });
  auto r = gc.publish(dir / "b.tmp", dir / "b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Io);
  EXPECT_NE(r.error().message.find("flush failed"), std::string::npos);
  EXPECT_FALSE(test::exists(dir / "b"));
  EXPECT_TRUE(test::exists(dir / "b.tmp"));
  // The next group runs its own flush rather than reusing the failed result.
  ASSERT_TRUE(gc.publish(dir / "b.tmp", dir / "b"));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(test::read_file(dir / "b"), "bytes");
}

TEST(GroupCommit, DefaultFlushPublishesAndAMissingTempFails) {
  test::TempDir dir;
  test::write_file(dir / "c.tmp", "bytes");
  fs::GroupCommit gc;
  ASSERT_TRUE(gc.publish(dir / "c.tmp", dir / "c"));
  EXPECT_EQ(test::read_file(dir / "c"), "bytes");
  EXPECT_EQ(gc.flushes(), 1u);
  auto r = gc.publish(dir / "missing.tmp", dir / "d");
  ASSERT_FALSE(r);
  EXPECT_FALSE(test::exists(dir / "d"));
}

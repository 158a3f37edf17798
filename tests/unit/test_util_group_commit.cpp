#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <filesystem>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "hubcache/util/group_commit.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

namespace {

// Group commit only applies where one flush covers other files; elsewhere each file is flushed.
#define SKIP_UNLESS_SHARED(dir) \
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

TEST(GroupCommit, DeferredPublishesShareFlushesAndRenameOnlyAfterThem) {
  test::TempDir dir;
  SKIP_UNLESS_SHARED(dir.path());
  constexpr int k_files = 12;
  for (int i = 0; i < k_files; ++i) test::write_file(dir / ("d" + std::to_string(i) + ".tmp"), "deferred " + std::to_string(i));
  std::atomic<bool> release{false};
  std::atomic<int> renamed_before_flush{0}, flush_calls{0};
  fs::GroupCommit gc([&](int) -> Result<void> {
    if (++flush_calls == 1)
      for (int i = 0; i < k_files; ++i) renamed_before_flush += test::exists(dir / ("d" + std::to_string(i))) ? 1 : 0;
    while (!release) std::this_thread::yield();  // the first flush waits until every file is queued
    return {};
  });
  std::mutex m;
  std::vector<int> order;
  int ok = 0;
  for (int i = 0; i < k_files; ++i) {
    gc.publish_later(dir / ("d" + std::to_string(i) + ".tmp"), dir / ("d" + std::to_string(i)), [&, i](Result<void> r) {
      std::lock_guard lock(m);
      order.push_back(i);
      ok += r ? 1 : 0;
      // The callback runs after this file's rename.
      EXPECT_TRUE(test::exists(dir / ("d" + std::to_string(i))));
    });
  }
  release = true;
  gc.drain();
  EXPECT_EQ(ok, k_files);
  std::vector<int> expected(k_files);
  for (int i = 0; i < k_files; ++i) expected[i] = i;
  std::sort(order.begin(), order.end());  // callbacks run on several threads: each exactly once
  EXPECT_EQ(order, expected);
  // Files queued while the first flush ran share the next one: at most two flushes in all.
  EXPECT_LE(gc.flushes(), 2u);
  EXPECT_GE(gc.flushes(), 1u);
  EXPECT_EQ(renamed_before_flush.load(), 0);  // the first flush ran before any rename
  for (int i = 0; i < k_files; ++i) EXPECT_EQ(test::read_file(dir / ("d" + std::to_string(i))), "deferred " + std::to_string(i));
}

TEST(GroupCommit, DeferredPublishWithAFailedFlushRenamesNothing) {
  test::TempDir dir;
  SKIP_UNLESS_SHARED(dir.path());
  test::write_file(dir / "x.tmp", "x");
  fs::GroupCommit gc([](int) -> Result<void> { return fail(ErrorCode::Io, "flush failed (injected)"); });
  std::optional<Error> got;
  gc.publish_later(dir / "x.tmp", dir / "x", [&](Result<void> r) {
    if (!r) got = r.error();
  });
  gc.drain();
  ASSERT_TRUE(got.has_value());
  EXPECT_NE(got->message.find("flush failed"), std::string::npos);
  EXPECT_FALSE(test::exists(dir / "x"));
  EXPECT_TRUE(test::exists(dir / "x.tmp"));
  // A missing temp file fails at once, on the caller's thread.
  bool called = false;
  gc.publish_later(dir / "missing.tmp", dir / "missing", [&](Result<void> r) { called = !r; });
  EXPECT_TRUE(called);
}

TEST(GroupCommitScope, TheRuleFollowsTheFilesystemAndItsJournal) {
  constexpr long ext = 0xEF53, xfs = 0x58465342, btrfs = 0x9123683E, nfs = 0x6969, tmpfs = 0x01021994;
  EXPECT_EQ(fs::flush_scope_of(ext, std::string("1234")), fs::FlushScope::Journal);
  EXPECT_EQ(fs::flush_scope_of(ext, std::string("<none>")), fs::FlushScope::Filesystem);
  EXPECT_EQ(fs::flush_scope_of(ext, std::nullopt), fs::FlushScope::Filesystem);  // unknown: syncfs is safe either way
  EXPECT_EQ(fs::flush_scope_of(xfs, std::nullopt), fs::FlushScope::Journal);
  EXPECT_EQ(fs::flush_scope_of(btrfs, std::nullopt), fs::FlushScope::Filesystem);
  EXPECT_EQ(fs::flush_scope_of(nfs, std::nullopt), fs::FlushScope::File);
  EXPECT_EQ(fs::flush_scope_of(tmpfs, std::nullopt), fs::FlushScope::File);
}

// An independent oracle: jbd2 lists every running ext4 journal in /proc/fs/jbd2/<device>-<inode>.
TEST(GroupCommitScope, AnExt4WithoutAJournalIsFlushedWhole) {
  test::TempDir dir;
  struct statfs s {};
  struct stat st {};
  ASSERT_EQ(::statfs(dir.path().c_str(), &s), 0);
  ASSERT_EQ(::stat(dir.path().c_str(), &st), 0);
  if (static_cast<long>(s.f_type) != 0xEF53) GTEST_SKIP() << "the temp dir is not on ext2/3/4";
  char target[4096];
  const std::string link = "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  if (n <= 0) GTEST_SKIP() << "no sysfs entry for the temp dir's device";
  std::string name(target, static_cast<std::size_t>(n));
  name = name.substr(name.rfind('/') + 1);
  bool journal = false;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/fs/jbd2", ec))
    journal = journal || e.path().filename().string().rfind(name + "-", 0) == 0;
  EXPECT_EQ(fs::GroupCommit::flush_scope(dir.path()), journal ? fs::FlushScope::Journal : fs::FlushScope::Filesystem) << name;
}

TEST(GroupCommit, ThensRunOnFourLongLivedThreadsAndDrainWaitsForThemAndWhatTheyHeld) {
  test::TempDir dir;
  SKIP_UNLESS_SHARED(dir.path());
  fs::GroupCommit gc([](int) -> Result<void> { return {}; });
  std::mutex m;
  std::set<pid_t> threads;  // kernel thread ids: unlike std::thread::id, not reused at once
  int called = 0;
  auto held = std::make_shared<int>(7);  // stands for a blob lock a callback keeps until it returns
  constexpr int k_groups = 6, k_per_group = 5;
  for (int g = 0; g < k_groups; ++g) {
    for (int i = 0; i < k_per_group; ++i) {
      const std::string name = "g" + std::to_string(g) + "f" + std::to_string(i);
      test::write_file(dir / (name + ".tmp"), name);
      gc.publish_later(dir / (name + ".tmp"), dir / name, [&, held](Result<void> r) {
        EXPECT_TRUE(r);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        std::lock_guard lock(m);
        threads.insert(::gettid());
        ++called;
      });
    }
    gc.drain();  // a group at a time: each drain sees its group's callbacks returned
    std::lock_guard lock(m);
    EXPECT_EQ(called, (g + 1) * k_per_group);
  }
  EXPECT_EQ(held.use_count(), 1);  // every callback, and what it captured, is gone
  EXPECT_LE(threads.size(), 4u);   // the same threads serve every group
  EXPECT_EQ(threads.count(::gettid()), 0u);
  for (int g = 0; g < k_groups; ++g)
    for (int i = 0; i < k_per_group; ++i) {
      const std::string name = "g" + std::to_string(g) + "f" + std::to_string(i);
      EXPECT_EQ(test::read_file(dir / name), name);
    }
}

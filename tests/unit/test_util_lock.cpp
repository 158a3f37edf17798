#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "hubcache/util/lock.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
using namespace std::chrono_literals;

TEST(FileLock, ExcludesSecondHolderUntilRelease) {
  test::TempDir dir;
  auto a = FileLock::acquire(dir / "x.lock");
  ASSERT_TRUE(a && a->held());
  auto b = FileLock::try_acquire(dir / "x.lock");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->held());
  auto timed = FileLock::acquire(dir / "x.lock", 50ms);
  ASSERT_FALSE(timed);
  EXPECT_EQ(timed.error().code, ErrorCode::Timeout);
  a->release();
  auto c = FileLock::try_acquire(dir / "x.lock");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->held());
}

TEST(FileLock, DeadHolderDoesNotBlock) {
  test::TempDir dir;
  const std::string path = dir / "dead.lock";
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto l = FileLock::acquire(path);
    ::_exit(l ? 0 : 1);  // exits while holding: the kernel drops the lock
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto l = FileLock::acquire(path, 2000ms);
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->held());
}

TEST(FileLock, ReacquiresWhenLockFileWasUnlinked) {
  test::TempDir dir;
  const std::string path = dir / "u.lock";
  auto a = FileLock::acquire(path);
  ASSERT_TRUE(a);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto b = FileLock::acquire(path, 5000ms);
    got = b && b->held();
  });
  std::this_thread::sleep_for(50ms);
  ::unlink(path.c_str());  // like filelock 3.20.4-3.29.4 on release
  a->release();
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_TRUE(test::exists(path));  // the waiter re-created the file instead of locking a dead inode
}

TEST(FileLock, WaitCallbackReportsWhileBlocked) {
  test::TempDir dir;
  auto a = FileLock::acquire(dir / "w.lock");
  ASSERT_TRUE(a);
  int calls = 0;
  auto b = FileLock::acquire(
      dir / "w.lock", 350ms, [&](std::chrono::seconds) { ++calls; }, 100ms);
  EXPECT_FALSE(b);
  EXPECT_GE(calls, 2);
}

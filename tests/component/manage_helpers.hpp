#pragma once
// Small helpers shared by the test_manage_* component tests.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include "cache_builder.hpp"
#include "hubcache/manage/delete_plan.hpp"
#include "hubcache/manage/scan.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {

inline void make_symlink(const std::string& target, const std::string& link) {
  std::filesystem::create_directories(std::filesystem::path(link).parent_path());
  if (::symlink(target.c_str(), link.c_str()) != 0) throw std::runtime_error("symlink failed: " + link);
}

/// Sets atime/mtime (epoch seconds) of `path` without following a final symlink.
inline void set_times(const std::string& path, double atime, double mtime) {
  auto ts = [](double t) {
    timespec s{};
    s.tv_sec = static_cast<time_t>(t);
    s.tv_nsec = static_cast<long>((t - static_cast<double>(s.tv_sec)) * 1e9);
    return s;
  };
  const timespec times[2] = {ts(atime), ts(mtime)};
  if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw std::runtime_error("utimensat failed: " + path);
}

/// Runs `fn` where permission bits are enforced: in a child process switched to "nobody" when
/// the tests run as root (root ignores them), in-process otherwise. Returns fn's result.
/// Paths the child needs must be reachable by "nobody" (see open_up).
inline int run_unprivileged(const std::function<int()>& fn) {
  if (::geteuid() != 0) return fn();
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(99);
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/// Makes a whole tree readable and writable by everyone, so run_unprivileged's child can work
/// in it (the temp dir itself is 0700).
inline void open_up(const std::string& root) {
  ::chmod(root.c_str(), 0777);
  for (auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_symlink()) continue;
    ::chmod(e.path().c_str(), e.is_directory() ? 0777 : 0666);
  }
}

/// A temp cache with a builder, scanned and planned on demand (delete and prune tests).
struct DeleteFixture : ::testing::Test {
  TempDir dir;
  CacheBuilder cb{dir.path()};
  std::string c1 = commit_id(1), c2 = commit_id(2), c3 = commit_id(3);

  HFCacheInfo scan() {
    auto r = scan_cache(dir.path());
    EXPECT_TRUE(r) << r.error().message;
    return std::move(r).value();
  }
  DeletePlan plan(const std::vector<std::string>& targets) {
    auto p = plan_delete(scan(), targets);
    EXPECT_TRUE(p) << p.error().message;
    return std::move(p).value();
  }
  bool exists(const std::string& p) const { return test::exists(p); }
};

}  // namespace hubcache::test

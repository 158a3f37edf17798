#pragma once
// Small helpers shared by the test_manage_* component tests.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <tuple>
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

/// A scan without file lists: what `cache rm`, `cache prune` and `cache gc` plan from.
inline ScanOptions blobs_only() {
  ScanOptions o;
  o.collect_files = false;
  return o;
}

/// Checks a scan's blob tables against its file lists (`full` collected both) and against a scan
/// of the same cache that collected blobs only: each repo's table holds every blob its files name,
/// once, with the files' figures; each revision's blob_ids are exactly its files' blobs.
inline void expect_blob_tables_match_files(const HFCacheInfo& full, const HFCacheInfo& blobs) {
  ASSERT_TRUE(full.has_files && full.has_blobs);
  ASSERT_TRUE(blobs.has_blobs);
  EXPECT_FALSE(blobs.has_files);
  ASSERT_EQ(full.repos.size(), blobs.repos.size());
  for (std::size_t r = 0; r < full.repos.size(); ++r) {
    const CachedRepoInfo& repo = full.repos[r];
    EXPECT_EQ(repo.blobs.size(), repo.nb_files) << repo.label();
    std::map<std::string, const CachedBlobInfo*> by_path;
    for (const auto& b : repo.blobs) {
      EXPECT_TRUE(by_path.emplace(b.path, &b).second) << "twice: " << b.path;
      // Named straight in the repo's own blobs/ (or a moved repo's home's), whatever the pointer's spelling.
      const std::string dir = std::filesystem::path(b.path).parent_path().string();
      EXPECT_EQ(b.in_repo_blobs, dir == repo.path + "/blobs" || (!repo.moved_to.empty() && dir == repo.moved_to + "/blobs"))
          << b.path;
    }
    std::set<std::string> named;
    ASSERT_EQ(repo.revisions.size(), blobs.repos[r].revisions.size());
    for (std::size_t v = 0; v < repo.revisions.size(); ++v) {
      const CachedRevisionInfo& rev = repo.revisions[v];
      std::set<std::string> of_files, of_ids;
      for (const auto& f : rev.files) {
        of_files.insert(f.blob_path);
        const auto it = by_path.find(f.blob_path);
        ASSERT_NE(it, by_path.end()) << "not in the table: " << f.blob_path;
        const CachedBlobInfo& b = *it->second;
        EXPECT_EQ(std::tie(b.size, b.atime, b.mtime, b.shared_hash, b.dev, b.ino, b.nlink),
                  std::tie(f.size, f.atime, f.mtime, f.shared_hash, f.blob_dev, f.blob_ino, f.blob_nlink))
            << f.blob_path;
      }
      EXPECT_TRUE(std::is_sorted(rev.blob_ids.begin(), rev.blob_ids.end()));
      EXPECT_EQ(std::adjacent_find(rev.blob_ids.begin(), rev.blob_ids.end()), rev.blob_ids.end());
      for (const auto id : rev.blob_ids) of_ids.insert(repo.blobs.at(id).path);
      EXPECT_EQ(of_files, of_ids) << rev.snapshot_path;
      named.insert(of_files.begin(), of_files.end());
      // The scan without files: the same blobs for the same revision.
      const CachedRevisionInfo& other = blobs.repos[r].revisions[v];
      EXPECT_TRUE(other.files.empty());
      std::set<std::string> other_ids;
      for (const auto id : other.blob_ids) other_ids.insert(blobs.repos[r].blobs.at(id).path);
      EXPECT_EQ(of_ids, other_ids) << rev.snapshot_path;
    }
    EXPECT_EQ(named.size(), repo.blobs.size()) << repo.label() << ": a blob no file names";
  }
}

/// A temp cache with a builder, scanned and planned on demand (delete and prune tests).
struct DeleteFixture : ::testing::Test {
  TempDir dir;
  CacheBuilder cb{dir.path()};
  std::string c1 = commit_id(1), c2 = commit_id(2), c3 = commit_id(3);

  HFCacheInfo scan(const ScanOptions& o = {}) {
    auto r = scan_cache(dir.path(), o);
    EXPECT_TRUE(r) << r.error().message;
    return std::move(r).value();
  }
  /// The plan from a scan without files, as `cache rm` makes it, checked against the plan from a
  /// scan with files.
  DeletePlan plan(const std::vector<std::string>& targets) {
    auto full = plan_delete(scan(), targets);
    auto p = plan_delete(scan(blobs_only()), targets);
    EXPECT_TRUE(p) << p.error().message;
    EXPECT_TRUE(full) << full.error().message;
    if (p && full) expect_same_plan(*full, *p);
    return std::move(p).value();
  }
  static void expect_same_plan(const DeletePlan& a, const DeletePlan& b) {
    EXPECT_EQ(a.blob_files(), b.blob_files());
    EXPECT_EQ(a.snapshot_dirs(), b.snapshot_dirs());
    EXPECT_EQ(a.ref_files(), b.ref_files());
    EXPECT_EQ(a.repo_dirs(), b.repo_dirs());
    EXPECT_EQ(a.freed_bytes(), b.freed_bytes());
  }
  bool exists(const std::string& p) const { return test::exists(p); }
};

}  // namespace hubcache::test

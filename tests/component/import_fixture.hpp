#pragma once
// Shared fixture of the import component tests: a source folder and a cache in one temp dir.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "hubcache/cache/layout.hpp"
#include "hubcache/manage/import.hpp"
#include "hubcache/resolve/offline.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {

struct ImportFixture : ::testing::Test {
  TempDir dir;
  std::string src = dir / "src";
  std::string cache = dir / "cache";
  RepoRef repo{RepoType::Model, "org/name"};

  void SetUp() override { std::filesystem::create_directories(src); }

  ImportOptions opts(ImportMode mode = ImportMode::Copy) const {
    ImportOptions o;
    o.source_dir = src;
    o.repo = repo;
    o.cache_dir = cache;
    o.mode = mode;
    o.threads = 2;
    return o;
  }
  RepoLayout layout() const { return RepoLayout(cache, repo); }
  void put(const std::string& rel, const std::string& content) const { write_file(src + "/" + rel, content); }

  /// Every file of `result` is found by try_to_load_from_cache at `revision` and has its bytes.
  void expect_resolvable(const ImportResult& result, const std::string& revision = "main") const {
    for (const auto& f : result.plan.files) {
      auto r = try_to_load_from_cache(repo.id, f.path, {revision, repo.type, cache});
      ASSERT_TRUE(r) << f.path;
      EXPECT_EQ(r->kind, CacheLookup::Kind::Found) << f.path;
      EXPECT_EQ(r->path, layout().pointer_path(result.plan.commit, f.path));
      EXPECT_EQ(r->commit, result.plan.commit);
    }
  }
};

inline ino_t inode_of(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

/// A sparse file of `size` bytes (zeros) without writing them.
inline void make_sparse(const std::string& path, off_t size) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, size), 0);
  ::close(fd);
}

}  // namespace hubcache::test

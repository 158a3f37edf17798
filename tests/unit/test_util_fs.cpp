#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "hubcache/util/fs.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

TEST(Fs, NormalizeAndWithin) {
  EXPECT_EQ(fs::normalize("a/./b/../c"), "a/c");
  EXPECT_EQ(fs::normalize("/a/b/../../.."), "/");
  EXPECT_EQ(fs::normalize("../x"), "../x");
  EXPECT_TRUE(fs::is_within("/c", "/c/x/y"));
  EXPECT_TRUE(fs::is_within("/c", "/c"));
  EXPECT_FALSE(fs::is_within("/c", "/c/../d"));
  EXPECT_FALSE(fs::is_within("/c", "/cd/x"));
  EXPECT_EQ(fs::parent("/a/b"), "/a");
  EXPECT_EQ(fs::parent("b"), "");
  EXPECT_EQ(fs::join("/a/", "/b"), "/a/b");
}

TEST(Fs, AtomicWriteReplacesAndLeavesNoTemp) {
  test::TempDir dir;
  ASSERT_TRUE(fs::write_file_atomic(dir / "x", "one"));
  ASSERT_TRUE(fs::write_file_atomic(dir / "x", "two"));
  EXPECT_EQ(test::read_file(dir / "x"), "two");
  ASSERT_TRUE(fs::write_file_atomic(dir / "x", "three", 0644, fs::Durability::AtomicOnly));
  EXPECT_EQ(test::read_file(dir / "x"), "three");
  EXPECT_FALSE(fs::write_file_atomic(dir / "missing/x", "four", 0644, fs::Durability::AtomicOnly));
  auto r = fs::read_file(dir.path());
  EXPECT_FALSE(r);  // a directory is not a file
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(Fs, CreateExclusiveDoesNotOverwrite) {
  test::TempDir dir;
  auto a = fs::create_file_exclusive(dir / "t", "first");
  ASSERT_TRUE(a);
  EXPECT_TRUE(*a);
  auto b = fs::create_file_exclusive(dir / "t", "second");
  ASSERT_TRUE(b);
  EXPECT_FALSE(*b);
  EXPECT_EQ(test::read_file(dir / "t"), "first");
}

TEST(Fs, MakeDirsOverAFileFails) {
  test::TempDir dir;
  test::write_file(dir / "file", "x");
  auto r = fs::make_dirs(dir / "file/sub");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("file"), std::string::npos);
}

TEST(FsReadRegularFile, ReadsRegularFilesOnlyAndNeverFollowsAFinalSymlink) {
  test::TempDir dir;
  test::write_file(dir / "plain", "bytes");
  auto ok = fs::read_regular_file(dir / "plain");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, "bytes");
  ASSERT_EQ(::symlink((dir / "plain").c_str(), (dir / "link").c_str()), 0);
  auto link = fs::read_regular_file(dir / "link");
  ASSERT_FALSE(link);
  EXPECT_NE(link.error().code, ErrorCode::CacheCorrupted);  // ELOOP from O_NOFOLLOW
  EXPECT_TRUE(fs::read_file(dir / "link"));                 // read_file follows it
  ASSERT_EQ(::mkdir((dir / "sub").c_str(), 0755), 0);
  auto sub = fs::read_regular_file(dir / "sub");
  ASSERT_FALSE(sub);
  EXPECT_EQ(sub.error().code, ErrorCode::CacheCorrupted);
  EXPECT_FALSE(fs::read_regular_file(dir / "plain", 3));  // over the size limit
}

TEST(Fs, NearestExistingClimbsToAnAncestorThatExists) {
  test::TempDir d;
  EXPECT_EQ(fs::nearest_existing(d.path()), d.path());
  EXPECT_EQ(fs::nearest_existing(d.path() + "/a/b/c"), d.path());
  test::write_file(d.path() + "/f", "x");
  EXPECT_EQ(fs::nearest_existing(d.path() + "/f"), d.path() + "/f");
  EXPECT_EQ(fs::nearest_existing(d.path() + "/f/under-a-file"), d.path() + "/f");
  EXPECT_EQ(fs::nearest_existing("/no-such-top-level-folder/x"), "/");
}

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "hubcache/util/dir_walk.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

namespace {

struct Seen {
  std::vector<std::string> visited;  // "rel:kind" in visit order
  std::vector<std::string> entered;
  std::vector<std::pair<std::string, std::string>> errors;  // path, what
};

Seen walk(const std::string& root, std::function<bool(const std::string&, const std::string&)> enter = nullptr) {
  Seen s;
  fs::walk_folder(
      root,
      [&](const std::string& rel, const std::string& name) {
        s.entered.push_back(rel);
        return enter ? enter(rel, name) : true;
      },
      [&](const fs::FolderEntry& e) {
        const char* kind = S_ISREG(e.lst.st_mode) ? "file" : S_ISLNK(e.lst.st_mode) ? "link" : "other";
        EXPECT_EQ(e.path, root + "/" + e.rel);
        EXPECT_EQ(e.rel.substr(e.rel.size() - e.name.size()), e.name);
        s.visited.push_back(e.rel + ":" + kind);
      },
      [&](const std::string& path, int err, fs::WalkFailure failure) {
        EXPECT_NE(err, 0);
        s.errors.emplace_back(path, fs::to_string(failure));
      });
  return s;
}

}  // namespace

TEST(DirWalk, VisitsEveryNonDirectoryDepthFirstInNameOrder) {
  test::TempDir dir;
  test::write_file(dir / "b.txt", "b");
  test::write_file(dir / "a/z", "z");
  test::write_file(dir / "a/c/d", "d");
  test::write_file(dir / "a.txt", "a");
  const Seen s = walk(dir.path());
  // Byte order within each folder: "a" < "a.txt" < "b.txt", and "a/c" < "a/z".
  EXPECT_EQ(s.visited, (std::vector<std::string>{"a/c/d:file", "a/z:file", "a.txt:file", "b.txt:file"}));
  EXPECT_EQ(s.entered, (std::vector<std::string>{"a", "a/c"}));
  EXPECT_TRUE(s.errors.empty());
}

TEST(DirWalk, ReportsSymlinksAndSpecialFilesWithoutFollowingADirectoryLink) {
  test::TempDir dir;
  test::TempDir outside;
  test::write_file(outside / "secret", "s");
  test::write_file(dir / "real/f", "f");
  ASSERT_EQ(::symlink(outside.path().c_str(), (dir / "out").c_str()), 0);
  ASSERT_EQ(::symlink("real/f", (dir / "to_f").c_str()), 0);
  ASSERT_EQ(::symlink("missing", (dir / "dangling").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0);
  const Seen s = walk(dir.path());
  EXPECT_EQ(s.visited, (std::vector<std::string>{"dangling:link", "out:link", "pipe:other", "real/f:file", "to_f:link"}));
  EXPECT_EQ(s.entered, (std::vector<std::string>{"real"}));  // never "out": the walk stays inside
}

TEST(DirWalk, EnterFalseSkipsAFolderAndAllBelowIt) {
  test::TempDir dir;
  test::write_file(dir / ".git/objects/x", "x");
  test::write_file(dir / "keep/.git/y", "y");
  test::write_file(dir / "keep/file", "f");
  const Seen s = walk(dir.path(), [](const std::string&, const std::string& name) { return name != ".git"; });
  EXPECT_EQ(s.visited, (std::vector<std::string>{"keep/file:file"}));
  EXPECT_EQ(s.entered, (std::vector<std::string>{".git", "keep", "keep/.git"}));
}

TEST(DirWalk, AMissingOrNonFolderRootIsOneErrorAndNoVisit) {
  test::TempDir dir;
  Seen s = walk(dir / "missing");
  EXPECT_TRUE(s.visited.empty());
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0], std::make_pair(dir / "missing", std::string("cannot read folder")));
  test::write_file(dir / "file", "x");
  s = walk(dir / "file");
  EXPECT_TRUE(s.visited.empty());
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].first, dir / "file");
}

TEST(DirWalk, ASymlinkedRootIsFollowed) {
  test::TempDir dir;
  test::write_file(dir / "real/f", "f");
  ASSERT_EQ(::symlink("real", (dir / "alias").c_str()), 0);
  const Seen s = walk(dir / "alias");
  EXPECT_EQ(s.visited, (std::vector<std::string>{"f:file"}));
  EXPECT_TRUE(s.errors.empty());
}

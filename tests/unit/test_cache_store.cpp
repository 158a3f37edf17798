#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cache_builder.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

namespace {
const RepoRef k_repo{RepoType::Model, "org/name"};
}

TEST(Store, RefWrittenWithoutNewlineReadTolerantly) {
  test::TempDir dir;
  RepoLayout l(dir.path(), k_repo);
  const std::string c = test::commit_id(1);
  ASSERT_TRUE(write_ref(l, "refs/pr/1", c));
  EXPECT_EQ(test::read_file(l.ref_path("refs/pr/1")), c);  // exactly 40 bytes (vector 3)
  test::write_file(l.ref_path("main"), c + "\n");          // foreign ref with newline (vector 25)
  auto r = read_ref(l, "main");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, c);
  auto none = read_ref(l, "nope");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  test::write_file(l.ref_path("bad"), "not a commit");
  auto bad = read_ref(l, "bad");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::CacheCorrupted);
  EXPECT_FALSE(write_ref(l, "main", "../../x"));  // vector 39
  EXPECT_FALSE(write_ref(l, "../escape", c));
}

TEST(Store, PointerIsRelativeSymlinkAndRaceTolerant) {
  test::TempDir dir;
  RepoLayout l(dir.path(), k_repo);
  test::write_file(l.blob_path("E"), "data");
  const std::string c = test::commit_id(2);
  ASSERT_TRUE(create_pointer(l, c, "a/b/c.bin", "E", LinkMode::Symlink));
  EXPECT_EQ(test::read_link(l.pointer_path(c, "a/b/c.bin")), "../../../../blobs/E");
  EXPECT_EQ(test::read_file(l.pointer_path(c, "a/b/c.bin")), "data");
  ASSERT_TRUE(create_pointer(l, c, "a/b/c.bin", "E", LinkMode::Symlink));  // idempotent
  EXPECT_FALSE(create_pointer(l, c, "../x", "E", LinkMode::Symlink));
  EXPECT_FALSE(create_pointer(l, c, "x", "../E", LinkMode::Symlink));
  EXPECT_FALSE(create_pointer(l, "main", "x", "E", LinkMode::Symlink));
  ASSERT_TRUE(create_pointer(l, c, "copy.bin", "E", LinkMode::Copy));
  EXPECT_EQ(test::read_link(l.pointer_path(c, "copy.bin")), "");
  EXPECT_EQ(test::read_file(l.pointer_path(c, "copy.bin")), "data");
}

TEST(Store, PointerAlreadyRightIsLeftAlone) {
  test::TempDir dir;
  RepoLayout l(dir.path(), k_repo);
  test::write_file(l.blob_path("E"), "data");
  test::write_file(l.blob_path("F"), "other");
  const std::string c = test::commit_id(3);
  const std::string p = l.pointer_path(c, "d/x.bin");
  auto inode = [&] {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0);
    return st.st_ino;
  };
  auto first = create_pointer(l, c, "d/x.bin", "E", LinkMode::Symlink);
  ASSERT_TRUE(first);
  EXPECT_TRUE(*first);
  const auto ino = inode();
  auto second = create_pointer(l, c, "d/x.bin", "E", LinkMode::Symlink);
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second);    // nothing written
  EXPECT_EQ(inode(), ino);  // the very same symlink, not a replacement
  auto retarget = create_pointer(l, c, "d/x.bin", "F", LinkMode::Symlink);
  ASSERT_TRUE(retarget);
  EXPECT_TRUE(*retarget);
  EXPECT_EQ(test::read_link(p), "../../../blobs/F");
  EXPECT_EQ(test::read_file(p), "other");
}

TEST(Store, CachedirTagCreatedOnceNeverRewritten) {
  test::TempDir dir;
  ASSERT_TRUE(ensure_cachedir_tag(dir.path()));
  EXPECT_EQ(test::read_file(dir / "CACHEDIR.TAG"), std::string(cachedir_tag_content()));
  test::write_file(dir / "CACHEDIR.TAG", "custom");
  ASSERT_TRUE(ensure_cachedir_tag(dir.path()));
  EXPECT_EQ(test::read_file(dir / "CACHEDIR.TAG"), "custom");
}

TEST(Store, NoExistMarkerIsEmptyFile) {
  test::TempDir dir;
  RepoLayout l(dir.path(), k_repo);
  const std::string c = test::commit_id(3);
  ASSERT_TRUE(write_no_exist(l, c, "sub/generation_config.json"));
  ASSERT_TRUE(write_no_exist(l, c, "sub/generation_config.json"));
  EXPECT_EQ(test::read_file(l.no_exist_path(c, "sub/generation_config.json")), "");
}

TEST(Store, TreeFileRoundTripAndMalformed) {
  test::TempDir dir;
  RepoLayout l(dir.path(), k_repo);
  const std::string c = test::commit_id(4);
  std::vector<TreeFileEntry> entries(2);
  entries[0].path = "z.txt";
  entries[0].size = 5;
  entries[0].blob_id = git_blob_sha1_hex("hello");
  entries[1].path = "a/model.safetensors";
  entries[1].size = 100;
  entries[1].blob_id = std::string(40, 'b');
  entries[1].lfs_sha256 = std::string(64, 'c');
  entries[1].lfs_size = 100;
  ASSERT_TRUE(write_tree_file(l, c, entries));
  const std::string text = test::read_file(l.tree_path(c));
  EXPECT_EQ(text.rfind("{\n \"files\": {\n  \"a/model.safetensors\": {", 0), 0u) << text;
  EXPECT_NE(text.back(), '\n');
  auto back = read_tree_file(l, c);
  ASSERT_TRUE(back && back->has_value());
  ASSERT_EQ((*back)->size(), 2u);
  EXPECT_EQ((**back)[0].path, "a/model.safetensors");
  EXPECT_EQ((**back)[0].etag(), std::string(64, 'c'));
  EXPECT_EQ((**back)[1].etag(), git_blob_sha1_hex("hello"));
  test::write_file(l.tree_path(c), "{\"format_version\": 2, \"files\": {}}");
  auto bad = read_tree_file(l, c);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::CacheCorrupted);
}

TEST(Store, PublishBlobAndLock) {
  test::TempDir dir;
  RepoLayout l(dir.path(), k_repo);
  test::write_file(dir / "tmpfile", "content");
  ASSERT_TRUE(publish_blob(l, dir / "tmpfile", "E1"));
  EXPECT_EQ(test::read_file(l.blob_path("E1")), "content");
  EXPECT_FALSE(test::exists(dir / "tmpfile"));
  EXPECT_FALSE(publish_blob(l, dir / "tmpfile", "../evil"));
  auto lock = lock_blob(l, "E1");
  ASSERT_TRUE(lock && lock->held());
  EXPECT_TRUE(test::exists(dir / ".locks/models--org--name/E1.lock"));
}

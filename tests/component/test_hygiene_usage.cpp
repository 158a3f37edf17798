// Disk usage across stores: each inode counted once, copies (same identity, other inode) counted
// as held twice, hardlinks not, partial downloads apart; figures checked against stat.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "cache_builder.hpp"
#include "hubcache/hygiene/usage.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

namespace hubcache::hygiene {
namespace {

namespace sfs = std::filesystem;

std::uint64_t blocks(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<std::uint64_t>(st.st_blocks) * 512u;
}

struct Usage : ::testing::Test {
  test::TempDir dir;
  std::string hub = dir / "hub", ollama = dir / "ollama";
  test::CacheBuilder cb{hub};
  const RepoRef a{RepoType::Model, "org/a"}, b{RepoType::Model, "org/b"};
  const std::string copied = std::string(200000, 'c'), linked = std::string(90000, 'l');
  std::string copied_blob, linked_blob, partial, config_blob;

  void SetUp() override {
    const std::string c = test::commit_id(1);
    copied_blob = hub + "/models--org--a/blobs/" + cb.add_file(a, c, "copied.gguf", copied, true);
    config_blob = hub + "/models--org--a/blobs/" + cb.add_file(a, c, "config.json", "{}");
    linked_blob = hub + "/models--org--b/blobs/" + cb.add_file(b, c, "linked.gguf", linked, true);
    partial = hub + "/models--org--b/blobs/" + std::string(64, 'e') + ".incomplete";
    cb.write_raw("models--org--b/blobs/" + std::string(64, 'e') + ".incomplete", std::string(50000, 'p'));
    sfs::create_directories(ollama + "/blobs");
    sfs::create_directories(ollama + "/manifests");
    ASSERT_TRUE(fs::write_file_atomic(ollama + "/blobs/sha256-" + sha256_hex(copied), copied));           // a copy
    ASSERT_EQ(::link(linked_blob.c_str(), (ollama + "/blobs/sha256-" + sha256_hex(linked)).c_str()), 0);  // a hardlink
  }
  DiskUsage measure() {
    auto h = stores::open_hub_cache(hub)->list();
    auto o = stores::open_ollama(ollama)->list();
    EXPECT_TRUE(h && o);
    return disk_usage({*h, *o});
  }
};

TEST_F(Usage, EachInodeOnceCopiesHeldTwiceHardlinksNot) {
  const DiskUsage u = measure();
  ASSERT_EQ(u.stores.size(), 2u);
  const StoreUsage& h = u.stores[0];
  EXPECT_EQ(h.kind, stores::StoreKind::HubCache);
  EXPECT_EQ(h.files, 3u);
  EXPECT_EQ(h.apparent_bytes, copied.size() + linked.size() + 2);
  EXPECT_EQ(h.partial_files, 1u);
  EXPECT_EQ(h.partial_bytes, blocks(partial));
  EXPECT_EQ(h.disk_bytes, blocks(copied_blob) + blocks(linked_blob) + blocks(config_blob) + blocks(partial));
  ASSERT_EQ(h.models.size(), 2u);
  EXPECT_EQ(h.models[0].model, "model/org/a") << "largest first";
  EXPECT_EQ(h.models[0].disk_bytes, blocks(copied_blob) + blocks(config_blob));
  EXPECT_EQ(h.models[1].model, "model/org/b");
  EXPECT_EQ(h.models[1].files, 1u) << "the partial is not a file of the model";

  const StoreUsage& o = u.stores[1];
  EXPECT_EQ(o.files, 2u);
  EXPECT_EQ(o.disk_bytes, blocks(ollama + "/blobs/sha256-" + sha256_hex(copied)) + blocks(linked_blob));
  // Across stores the hardlinked file counts once, the copy twice.
  EXPECT_EQ(u.disk_bytes, h.disk_bytes + blocks(ollama + "/blobs/sha256-" + sha256_hex(copied)));
  EXPECT_EQ(u.duplicate_groups, 1u);
  EXPECT_EQ(u.duplicate_bytes, blocks(copied_blob));
  ASSERT_EQ(u.filesystems.size(), 1u);
  EXPECT_EQ(u.filesystems[0].path, hub);
  EXPECT_GT(u.filesystems[0].total_bytes, 0u);
  EXPECT_LE(u.filesystems[0].free_bytes, u.filesystems[0].total_bytes);
}

TEST_F(Usage, LinkingTheCopyRemovesTheDuplicate) {
  const std::string copy = ollama + "/blobs/sha256-" + sha256_hex(copied);
  ASSERT_EQ(::unlink(copy.c_str()), 0);
  ASSERT_EQ(::link(copied_blob.c_str(), copy.c_str()), 0);
  const DiskUsage u = measure();
  EXPECT_EQ(u.duplicate_groups, 0u);
  EXPECT_EQ(u.duplicate_bytes, 0u);
  EXPECT_EQ(u.disk_bytes, u.stores[0].disk_bytes) << "everything in Ollama's store is a link of a Hub blob";
}

TEST(UsageEmpty, NoListingsNoFigures) {
  const DiskUsage u = disk_usage({});
  EXPECT_TRUE(u.stores.empty());
  EXPECT_EQ(u.disk_bytes, 0u);
  EXPECT_EQ(u.duplicate_groups, 0u);
  EXPECT_TRUE(u.filesystems.empty());
}

}  // namespace
}  // namespace hubcache::hygiene

// `hubcache link`: a cached snapshot as a folder of links of the cache's blobs, and LM Studio's place.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cache_builder.hpp"
#include "exit_codes.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace sfs = std::filesystem;

namespace {

struct CliLink : ::testing::Test {
  test::TempDir dir;
  std::string hub = dir / "hub", home = dir / "home";
  const RepoRef repo{RepoType::Model, "org/gguf"};
  std::string gguf_blob, cfg_blob, sub_blob;

  void SetUp() override {
    test::CacheBuilder cb(hub);
    gguf_blob = hub + "/models--org--gguf/blobs/" + cb.add_file(repo, test::commit_id(1), "m.gguf", std::string(5000, 'g'), true);
    cfg_blob = hub + "/models--org--gguf/blobs/" + cb.add_file(repo, test::commit_id(1), "config.json", "{}");
    sub_blob = hub + "/models--org--gguf/blobs/" + cb.add_file(repo, test::commit_id(1), "sub/t.json", "[1]");
    cb.add_ref(repo, "main", test::commit_id(1));
    sfs::create_directories(home);
  }
  test::ProcessResult link(std::vector<std::string> args) {
    args.insert(args.begin(), {test::hubcache_bin(), "link"});
    return test::run_process(args, {"HOME=" + home, "HF_HUB_CACHE=" + hub, "-HF_HOME", "-HUGGINGFACE_HUB_CACHE"});
  }
  static ino_t inode(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
  }
};

TEST_F(CliLink, AFolderOfLinksOfTheBlobsNoSecondCopy) {
  const std::string dest = dir / "view";
  auto r = link({"org/gguf", dest, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["linked"], 3);
  EXPECT_EQ(j["commit"], test::commit_id(1));
  EXPECT_EQ(inode(dest + "/m.gguf"), inode(gguf_blob)) << "a hardlink on this filesystem (no reflinks)";
  EXPECT_EQ(inode(dest + "/sub/t.json"), inode(sub_blob));
  EXPECT_TRUE(sfs::is_regular_file(sfs::symlink_status(dest + "/config.json"))) << "a plain folder: no symlinks";
  EXPECT_EQ(*fs::read_file(dest + "/m.gguf"), std::string(5000, 'g'));
  // Again: nothing to do.
  auto again = link({"org/gguf", dest, "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["already"], 3);
  // --include selects.
  auto some = link({"org/gguf", dir / "some", "--include", "*.gguf", "--json"});
  ASSERT_EQ(some.exit_code, 0) << some.err;
  EXPECT_EQ(nlohmann::json::parse(some.out)["linked"], 1);
  EXPECT_FALSE(sfs::exists(dir / "some/config.json"));
}

TEST_F(CliLink, NeverReplacesAFileItDidNotMakeNorWritesThroughASymlinkedFolder) {
  const std::string dest = dir / "view";
  sfs::create_directories(dest);
  ASSERT_TRUE(fs::write_file_atomic(dest + "/config.json", "my own edit"));
  auto r = link({"org/gguf", dest});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(dest + "/config.json"), std::string::npos) << r.err;
  EXPECT_EQ(*fs::read_file(dest + "/config.json"), "my own edit");

  const std::string dest2 = dir / "view2", outside = dir / "outside";
  sfs::create_directories(dest2);
  sfs::create_directories(outside);
  sfs::create_directory_symlink(outside, dest2 + "/sub");
  auto r2 = link({"org/gguf", dest2});
  EXPECT_NE(r2.exit_code, 0);
  EXPECT_NE(r2.err.find("in the way"), std::string::npos) << r2.err;
  EXPECT_TRUE(sfs::is_empty(outside)) << "nothing written outside the view";
}

TEST_F(CliLink, LmStudioGetsTheGgufTwoFoldersDeep) {
  auto r = link({"org/gguf", "--lmstudio", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string placed = home + "/.lmstudio/models/org/gguf/m.gguf";
  EXPECT_EQ(inode(placed), inode(gguf_blob));
  EXPECT_FALSE(sfs::exists(home + "/.lmstudio/models/org/gguf/config.json")) << "GGUF files only, unless --include";
  EXPECT_EQ(link({"org/gguf", dir / "x", "--lmstudio"}).exit_code, exit_code::usage);
}

TEST_F(CliLink, AcrossFilesystemsOnlySymlinks) {
  const std::string mnt = dir / "tmpfs";
  sfs::create_directories(mnt);
  ASSERT_EQ(::mount("none", mnt.c_str(), "tmpfs", 0, "size=8m"), 0) << "the tests run as root";
  auto hard = link({"org/gguf", mnt + "/view"});
  EXPECT_EQ(hard.exit_code, exit_code::usage) << hard.err;
  EXPECT_NE(hard.err.find("cannot cross filesystems"), std::string::npos) << hard.err;
  auto sym = link({"org/gguf", mnt + "/view", "--link", "symlink"});
  EXPECT_EQ(sym.exit_code, 0) << sym.err;
  EXPECT_EQ(sfs::read_symlink(mnt + "/view/m.gguf").string(), gguf_blob);
  ::umount2(mnt.c_str(), MNT_DETACH);
}

TEST_F(CliLink, AnUncachedRepoSaysSo) {
  auto r = link({"org/absent", dir / "v"});
  EXPECT_EQ(r.exit_code, exit_code::not_cached) << r.err;
  EXPECT_FALSE(sfs::exists(dir / "v"));
}

}  // namespace

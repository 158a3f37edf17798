// The cache's one folder rule (cache/folders.hpp) in every manage command: a repo folder,
// snapshots/ or snapshots/<commit> that is a symlink out of the cache is refused by verify
// (never "all checksums match"), skipped by scan, and never followed by rm and prune.
#include <gtest/gtest.h>

#include <filesystem>

#include "folder_symlinks.hpp"
#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/manage/verify.hpp"
#include "hubcache/util/hash.hpp"
#include "manage_helpers.hpp"

using namespace hubcache;

namespace {

const RepoRef k_repo{RepoType::Model, "org/linked"};

struct FolderSymlinks : ::testing::TestWithParam<test::LinkedFolder> {
  test::TempDir dir;
  test::TempDir outside;
  std::string cache = dir / "cache";
  std::string c1 = test::commit_id(7);
  std::string link;
  void SetUp() override { link = test::link_folder_out(cache, outside.path(), k_repo, c1, GetParam()); }
};

TEST_P(FolderSymlinks, VerifyRefusesTheFolderInsteadOfVouchingForIt) {
  // Followed, the outside copy is healthy: every checksum would match.
  ASSERT_TRUE(verify_repo(outside.path(), k_repo, std::nullopt));
  ASSERT_TRUE(verify_repo(outside.path(), k_repo, std::nullopt)->ok());
  for (const auto& rev : {std::optional<std::string>{}, std::optional<std::string>{"main"}, std::optional<std::string>{c1}}) {
    auto r = verify_repo(cache, k_repo, rev);
    ASSERT_FALSE(r) << test::to_string(GetParam()) << ": verified " << r->checked << " files";
    EXPECT_EQ(r.error().code, ErrorCode::CacheCorrupted);
    EXPECT_EQ(r.error().path, link);
    EXPECT_NE(r.error().message.find(link + " is a symlink to "), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("not followed"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("rm " + link), std::string::npos) << r.error().message;  // what to do
  }
}

TEST_P(FolderSymlinks, ScanSkipsTheRepoAndNamesTheFolder) {
  auto info = scan_cache(cache);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(info->repos.empty());
  bool named = false;
  for (const auto& w : info->warnings) named = named || w.path == link;
  EXPECT_TRUE(named) << ::testing::PrintToString(info->warnings.size());
}

TEST_P(FolderSymlinks, RmAndPruneNeverReachOutside) {
  const std::string before = test::tree_fingerprint(outside.path());
  auto info = scan_cache(cache);
  ASSERT_TRUE(info);
  auto prune = plan_prune(*info);
  ASSERT_TRUE(prune) << prune.error().message;
  EXPECT_TRUE(prune->execute().problems.empty());
  auto rm = plan_delete(*info, {k_repo.id});
  ASSERT_TRUE(rm) << rm.error().message;
  rm->execute();
  EXPECT_EQ(test::tree_fingerprint(outside.path()), before);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(link)));  // the link itself went
}

TEST_P(FolderSymlinks, TheCacheRulesRefuseIt) {
  const RepoLayout l(cache, k_repo);
  auto snap = check_snapshot_folder(l, c1);
  ASSERT_FALSE(snap);
  EXPECT_EQ(snap.error().path, link);
  EXPECT_TRUE(cached_commits(l).empty());  // no commit is offered from behind the link
  auto init = init_repo_folder(l);
  if (GetParam() == test::LinkedFolder::Snapshot) {
    EXPECT_TRUE(init) << init.error().message;  // the snapshot itself is checked where it is used
  } else {
    ASSERT_FALSE(init);
    EXPECT_EQ(init.error().code, ErrorCode::CacheCorrupted);
  }
  auto ptr = create_pointer(l, c1, "new.txt", git_blob_sha1_hex("x"), LinkMode::Symlink);
  ASSERT_FALSE(ptr);
  EXPECT_EQ(ptr.error().code, ErrorCode::CacheCorrupted);
  EXPECT_FALSE(std::filesystem::exists(outside.path() + "/models--org--linked/snapshots/" + c1 + "/new.txt"));
}

INSTANTIATE_TEST_SUITE_P(Linked, FolderSymlinks, ::testing::ValuesIn(test::k_linked_folders), [](const auto& p) {
  return std::string(p.param == test::LinkedFolder::Repo        ? "RepoFolder"
                     : p.param == test::LinkedFolder::Snapshots ? "Snapshots"
                                                                : "Snapshot");
});

TEST(FolderRule, ACacheRootThatIsASymlinkIsFine) {
  test::TempDir dir;
  const std::string c1 = test::commit_id(8);
  test::CacheBuilder cb(dir / "real");
  cb.add_file(k_repo, c1, "config.json", "{}");
  cb.add_ref(k_repo, "main", c1);
  std::filesystem::create_directory_symlink(dir / "real", dir / "link");
  auto r = verify_repo(dir / "link", k_repo, std::nullopt);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->checked, 1u);
  const RepoLayout l(dir / "link", k_repo);
  EXPECT_EQ(check_snapshot_folder(l, c1).value_or(false), true);
  EXPECT_EQ(cached_commits(l), std::vector<std::string>{c1});
  EXPECT_EQ(check_repo_folder(RepoLayout(dir / "link", RepoRef{RepoType::Model, "org/absent"})).value_or(true), false);
}

}  // namespace

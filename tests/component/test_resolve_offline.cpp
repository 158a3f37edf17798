#include <gtest/gtest.h>

#include <filesystem>

#include "hubcache/util/hash.hpp"

#include "cache_builder.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/resolve/offline.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

namespace {
const RepoRef k_repo{RepoType::Model, "org/name"};

struct Fixture : ::testing::Test {
  test::TempDir dir;
  test::CacheBuilder cb{dir.path()};
  std::string c1 = test::commit_id(1);
  CacheLookupOptions opts(std::string rev = "main") { return {rev, RepoType::Model, dir.path()}; }
};
}  // namespace

TEST_F(Fixture, TryToLoadFoundNoExistNotCached) {
  cb.add_file(k_repo, c1, "config.json", "{}");
  cb.add_file(k_repo, c1, "sub/dir/w.bin", "weights", true);
  cb.add_ref(k_repo, "main", c1);
  test::write_file(cb.layout(k_repo).no_exist_path(c1, "generation_config.json"), "");

  auto f = try_to_load_from_cache("org/name", "config.json", opts());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, CacheLookup::Kind::Found);
  EXPECT_EQ(f->path, dir.path() + "/models--org--name/snapshots/" + c1 + "/config.json");  // snapshot path, not blob
  auto nested = try_to_load_from_cache("org/name", "sub/dir/w.bin", opts(c1));
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->kind, CacheLookup::Kind::Found);
  // vector 15: NO_EXIST for both the branch and the commit
  EXPECT_EQ(try_to_load_from_cache("org/name", "generation_config.json", opts())->kind, CacheLookup::Kind::NoExist);
  EXPECT_EQ(try_to_load_from_cache("org/name", "generation_config.json", opts(c1))->kind, CacheLookup::Kind::NoExist);
  EXPECT_EQ(try_to_load_from_cache("org/name", "missing.txt", opts())->kind, CacheLookup::Kind::NotCached);
  EXPECT_EQ(try_to_load_from_cache("org/name", "config.json", opts("v2"))->kind, CacheLookup::Kind::NotCached);
  EXPECT_EQ(try_to_load_from_cache("other/repo", "config.json", opts())->kind, CacheLookup::Kind::NotCached);
  CacheLookupOptions ds = opts();
  ds.repo_type = RepoType::Dataset;
  EXPECT_EQ(try_to_load_from_cache("org/name", "config.json", ds)->kind, CacheLookup::Kind::NotCached);
}

TEST_F(Fixture, TryToLoadRejectsBadInput) {
  EXPECT_EQ(try_to_load_from_cache("org/../x", "a", opts()).error().code, ErrorCode::InvalidRepoId);
  EXPECT_EQ(try_to_load_from_cache("org/name", "../../etc/passwd", opts()).error().code, ErrorCode::InvalidPath);
  EXPECT_EQ(try_to_load_from_cache("org/name", "a", opts("../x")).error().code, ErrorCode::InvalidRevision);
}

TEST_F(Fixture, AnEmptyCacheDirIsAnErrorNotTheWorkingDirectory) {
  cb.add_file(k_repo, c1, "config.json", "{}");
  cb.add_ref(k_repo, "main", c1);
  // The working directory holds the repo folder: an empty cache_dir must still not find it there.
  const std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  auto file = try_to_load_from_cache("org/name", "config.json", {"main", RepoType::Model, ""});
  SnapshotLookupOptions so;
  auto snapshot = resolve_snapshot("org/name", so);
  std::filesystem::current_path(cwd);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(file.error().message.find("no cache directory"), std::string::npos) << file.error().message;
  ASSERT_FALSE(snapshot);
  EXPECT_EQ(snapshot.error().code, ErrorCode::InvalidArgument);
}

TEST_F(Fixture, BrokenLinkCountsAsAbsentAndRefNewlineTolerated) {
  cb.add_file(k_repo, c1, "a.txt", "A");
  cb.add_ref(k_repo, "main", c1 + "\n");
  std::filesystem::remove(cb.layout(k_repo).blob_path(git_blob_sha1_hex("A")));
  EXPECT_EQ(try_to_load_from_cache("org/name", "a.txt", opts())->kind, CacheLookup::Kind::NotCached);
}

TEST_F(Fixture, PrRevision) {  // vector 3
  cb.add_file(k_repo, c1, "a.txt", "A");
  cb.add_ref(k_repo, "refs/pr/1", c1);
  auto r = try_to_load_from_cache("org/name", "a.txt", opts("refs/pr/1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, CacheLookup::Kind::Found);
}

TEST_F(Fixture, SnapshotWithTreeFileListsEveryMissingFile) {  // vector 28
  cb.add_file(k_repo, c1, "config.json", "{}");
  cb.add_ref(k_repo, "main", c1);
  SnapshotLookupOptions so;
  so.cache_dir = dir.path();
  auto ok = resolve_snapshot("org/name", so);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->snapshot_dir, dir.path() + "/models--org--name/snapshots/" + c1);
  EXPECT_FALSE(ok->verified_complete);
  EXPECT_EQ(ok->files, std::vector<std::string>{"config.json"});

  std::vector<TreeFileEntry> tree(3);
  tree[0].path = "config.json";
  tree[1].path = "model.safetensors";
  tree[2].path = "tok/vocab.txt";
  ASSERT_TRUE(write_tree_file(cb.layout(k_repo), c1, tree));
  auto inc = resolve_snapshot("org/name", so);
  ASSERT_FALSE(inc);
  EXPECT_EQ(inc.error().code, ErrorCode::IncompleteSnapshot);
  EXPECT_EQ(inc.error().missing, (std::vector<std::string>{"model.safetensors", "tok/vocab.txt"}));
  EXPECT_EQ(inc.error().remedy, Remedy::Download);  // the CLI names the command (CliResolve)
  EXPECT_EQ(inc.error().remedy_value, "main");

  so.filter = PathFilter::make(std::vector<std::string>{"*.json"}, {});
  auto filtered = resolve_snapshot("org/name", so);
  ASSERT_TRUE(filtered);
  EXPECT_TRUE(filtered->verified_complete);
}

TEST_F(Fixture, SnapshotMissingRepoRefOrSnapshot) {
  SnapshotLookupOptions so;
  so.cache_dir = dir.path();
  EXPECT_EQ(resolve_snapshot("org/name", so).error().code, ErrorCode::LocalEntryNotFound);
  cb.add_file(k_repo, c1, "a", "A");
  EXPECT_EQ(resolve_snapshot("org/name", so).error().code, ErrorCode::LocalEntryNotFound);  // no refs/main
  cb.add_ref(k_repo, "main", test::commit_id(2));
  auto e = resolve_snapshot("org/name", so);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, ErrorCode::LocalEntryNotFound);
  EXPECT_NE(e.error().message.find(test::commit_id(2)), std::string::npos);
  so.revision = c1;
  EXPECT_TRUE(resolve_snapshot("org/name", so));
}

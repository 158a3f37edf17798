// A lockfile against a Hub cache: a cached snapshot as a lock, and a cache checked against one.
#include <gtest/gtest.h>

#include <filesystem>

#include "cache_builder.hpp"
#include "hubcache/cache/lfs_pointer.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/lock/cache_check.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

using lock::FileCheck;

const RepoRef k_repo{RepoType::Model, "org/tiny"};
const std::string k_config = "{\"hidden\": 8}\n";
const std::string k_weights(5000, 'w');

class LockCache : public ::testing::Test {
 protected:
  TempDir tmp;
  CacheBuilder cache{tmp.path() + "/cache"};
  std::string commit = std::string(40, '1');
  void SetUp() override {
    cache.add_file(k_repo, commit, "config.json", k_config);
    cache.add_file(k_repo, commit, "model.safetensors", k_weights, true);
    cache.add_file(k_repo, commit, "sub/a.txt", "A");
    cache.add_ref(k_repo, "main", commit);
  }
  lock::Lockfile lock_of_cache() {
    auto repo = lock::locked_repo_from_cache(cache.root(), k_repo, "main");
    EXPECT_TRUE(repo.has_value()) << repo.error().message;
    lock::Lockfile l;
    l.endpoint = "https://huggingface.co";
    if (repo) l.repos.push_back(*repo);
    return l;
  }
  std::string blob(const std::string& name) { return cache.layout(k_repo).blobs_dir() + "/" + name; }
};

TEST_F(LockCache, ACachedSnapshotLocksWithTheHubsIdentities) {
  auto repo = lock::locked_repo_from_cache(cache.root(), k_repo, "main");
  ASSERT_TRUE(repo.has_value()) << repo.error().message;
  EXPECT_EQ(repo->commit, commit);
  EXPECT_EQ(repo->revision, "main");
  ASSERT_EQ(repo->files.size(), 3u);
  EXPECT_EQ(repo->files[0].path, "config.json");
  EXPECT_EQ(repo->files[0].git_oid, git_blob_sha1_hex(k_config));
  EXPECT_FALSE(repo->files[0].lfs_sha256.has_value());
  EXPECT_EQ(repo->files[0].size, k_config.size());
  EXPECT_EQ(repo->files[1].path, "model.safetensors");
  EXPECT_EQ(repo->files[1].lfs_sha256, sha256_hex(k_weights));
  // The Hub's git oid of an LFS file is that of its pointer.
  EXPECT_EQ(repo->files[1].git_oid, git_blob_sha1_hex(lfs_pointer_text(sha256_hex(k_weights), k_weights.size())));
  EXPECT_EQ(repo->files[1].size, k_weights.size());
  EXPECT_EQ(repo->files[2].path, "sub/a.txt");
  // Patterns as download's.
  auto json_only = lock::locked_repo_from_cache(cache.root(), k_repo, commit, {"*.json"}, {});
  ASSERT_TRUE(json_only.has_value());
  ASSERT_EQ(json_only->files.size(), 1u);
  EXPECT_EQ(json_only->include, std::vector<std::string>{"*.json"});
  auto no_sub = lock::locked_repo_from_cache(cache.root(), k_repo, "main", {}, {"sub/*"});
  ASSERT_TRUE(no_sub.has_value());
  EXPECT_EQ(no_sub->files.size(), 2u);
}

TEST_F(LockCache, TheTreeRecordGivesTheIdentitiesWhenTheCacheHoldsIt) {
  // A tree record (as the newest clients write) is what the Hub listed: it wins over guessing.
  std::vector<TreeFileEntry> entries;
  entries.push_back({"config.json", k_config.size(), git_blob_sha1_hex(k_config), std::nullopt, std::nullopt, std::nullopt});
  entries.push_back({"model.safetensors", 132, std::string(40, 'e'), sha256_hex(k_weights), k_weights.size(), std::nullopt});
  entries.push_back({"sub/a.txt", 1, git_blob_sha1_hex("A"), std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(write_tree_file(cache.layout(k_repo), commit, entries).has_value());
  auto repo = lock::locked_repo_from_cache(cache.root(), k_repo, "main");
  ASSERT_TRUE(repo.has_value());
  EXPECT_EQ(repo->files[1].git_oid, std::string(40, 'e'));
  EXPECT_EQ(repo->files[1].size, k_weights.size());  // the bytes' size, not the pointer's
}

TEST_F(LockCache, UnknownRevisionsAndReposAreNamed) {
  auto r = lock::locked_repo_from_cache(cache.root(), k_repo, "v2");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::RevisionNotFound);
  EXPECT_NE(r.error().message.find("no ref 'v2'"), std::string::npos);
  auto other = lock::locked_repo_from_cache(cache.root(), {RepoType::Model, "org/absent"}, "main");
  ASSERT_FALSE(other.has_value());
  EXPECT_NE(other.error().message.find("download it first"), std::string::npos);
}

TEST_F(LockCache, ACacheHoldingTheLockedFilesPasses) {
  auto check = lock::check_cache_against_lock(cache.root(), lock_of_cache(), true);
  ASSERT_TRUE(check.has_value());
  EXPECT_TRUE(check->ok());
  EXPECT_EQ(check->files.size(), 3u);
}

TEST_F(LockCache, ACorruptedBlobIsFoundByHashingOnly) {
  const auto l = lock_of_cache();
  std::string bad = k_weights;
  bad[100] = 'x';
  std::filesystem::permissions(blob(sha256_hex(k_weights)), std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  write_file(blob(sha256_hex(k_weights)), bad);
  auto cheap = lock::check_cache_against_lock(cache.root(), l, false);
  ASSERT_TRUE(cheap.has_value());
  EXPECT_TRUE(cheap->ok()) << "same name and size: only the bytes tell";
  auto hashed = lock::check_cache_against_lock(cache.root(), l, true);
  ASSERT_TRUE(hashed.has_value());
  EXPECT_EQ(hashed->mismatched, 1u);
  EXPECT_EQ(hashed->files[1].state, FileCheck::State::Mismatched);
  EXPECT_EQ(hashed->files[1].path, "model.safetensors");
  EXPECT_NE(hashed->files[1].why.find("corrupted"), std::string::npos) << hashed->files[1].why;
}

TEST_F(LockCache, MissingFilesBlobsAndOtherBlobsAreTold) {
  auto l = lock_of_cache();
  l.repos[0].files.push_back({"zz/not-cached.bin", 3, std::string(40, 'f'), std::nullopt});
  std::filesystem::remove(blob(git_blob_sha1_hex("A")));
  // The snapshot's config.json now leads to another blob than the lock names.
  l.repos[0].files[0].git_oid = std::string(40, '0');
  auto check = lock::check_cache_against_lock(cache.root(), l, false);
  ASSERT_TRUE(check.has_value());
  EXPECT_FALSE(check->ok());
  EXPECT_EQ(check->missing, 2u);
  EXPECT_EQ(check->mismatched, 1u);
  EXPECT_EQ(check->files[0].state, FileCheck::State::Mismatched);
  EXPECT_NE(check->files[0].why.find("leads to blob"), std::string::npos);
  EXPECT_EQ(check->files[2].state, FileCheck::State::Missing);
  EXPECT_EQ(check->files[3].state, FileCheck::State::Missing);
  EXPECT_EQ(check->files[3].why, "not in the cache");
}

}  // namespace
}  // namespace hubcache::test

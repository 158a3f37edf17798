#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>

#include "hubcache/util/hash.hpp"

#include "cache_builder.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/cache/use_records.hpp"
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

// A found file and a resolved snapshot record their use (cache gc's LRU order); a miss does not,
// and a cache this user cannot write still resolves.
TEST_F(Fixture, LookupsRecordTheirUse) {
  cb.add_file(k_repo, c1, "config.json", "{}");
  cb.add_ref(k_repo, "main", c1);
  const RepoLayout l = cb.layout(k_repo);
  ASSERT_EQ(try_to_load_from_cache("org/name", "missing.txt", opts())->kind, CacheLookup::Kind::NotCached);
  EXPECT_TRUE(read_use_records(l).empty());
  const double before = static_cast<double>(::time(nullptr)) - 1;
  ASSERT_EQ(try_to_load_from_cache("org/name", "config.json", opts())->kind, CacheLookup::Kind::Found);
  auto records = read_use_records(l);
  ASSERT_EQ(records.count(c1), 1u);
  EXPECT_GE(records[c1], before);
  // An older record is brought forward by the next resolution.
  const timespec old[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, l.use_record_path(c1).c_str(), old, 0), 0);
  SnapshotLookupOptions so;
  so.cache_dir = dir.path();
  ASSERT_TRUE(resolve_snapshot("org/name", so));
  EXPECT_GE(read_use_records(l)[c1], before);

  // Read-only for this user (root ignores modes: make the folder immutable for writes by mode 0555
  // and run the lookup as nobody).
  std::filesystem::remove_all(l.records_dir());
  ::chmod(dir.path().c_str(), 0755);
  for (auto& e : std::filesystem::recursive_directory_iterator(dir.path()))
    if (!e.is_symlink()) ::chmod(e.path().c_str(), e.is_directory() ? 0555 : 0444);
  ::chmod(l.folder().c_str(), 0555);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(99);
    auto f = try_to_load_from_cache("org/name", "config.json", opts());
    ::_exit(f && f->kind == CacheLookup::Kind::Found ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(std::filesystem::exists(l.records_dir()));
}

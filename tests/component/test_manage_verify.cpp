// verify_repo on real temp caches: healthy, corrupted, missing and dangling, tree files, revisions.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include "hubcache/cache/store.hpp"
#include "hubcache/manage/scan.hpp"
#include "hubcache/manage/verify.hpp"
#include "hubcache/util/hash.hpp"
#include "manage_helpers.hpp"

using namespace hubcache;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_repo{RepoType::Model, "org/name"};

struct Verify : ::testing::Test {
  test::TempDir dir;
  test::CacheBuilder cb{dir.path()};
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2);
  RepoLayout l = cb.layout(k_repo);
  std::string lfs, git;

  void SetUp() override {
    lfs = cb.add_file(k_repo, c1, "model.safetensors", std::string(300000, 'm'), true);
    git = cb.add_file(k_repo, c1, "config.json", "{\"x\": 1}");
    cb.add_file(k_repo, c1, "nested/dir/copy.json", "{\"x\": 1}");
    cb.add_file(k_repo, c1, "empty.txt", "");
    cb.add_ref(k_repo, "main", c1);
  }
  VerifyReport run(const std::optional<std::string>& rev = std::nullopt) {
    auto r = verify_repo(dir.path(), k_repo, rev);
    EXPECT_TRUE(r) << r.error().message;
    return std::move(r).value();
  }
};

TEST_F(Verify, HealthySnapshotPasses) {
  const VerifyReport r = run();
  EXPECT_TRUE(r.ok()) << r.problems.front().path;
  EXPECT_EQ(r.commit, c1);
  EXPECT_EQ(r.snapshot_path, l.snapshot_dir(c1));
  EXPECT_EQ(r.checked, 4u);
  EXPECT_TRUE(r.unverified.empty());
  EXPECT_FALSE(r.tree_file_used);
  EXPECT_EQ(r.bytes_hashed, 300000u + 8u);  // the shared blob is read once
}

TEST_F(Verify, CorruptedBlobIsAMismatchOnEveryPathUsingIt) {
  test::write_file(l.blob_path(git), "{\"x\": 2}");
  test::write_file(l.blob_path(lfs), std::string(300000, 'M'));
  const VerifyReport r = run();
  ASSERT_EQ(r.problems.size(), 3u);
  EXPECT_EQ(r.problems[0].path, "config.json");
  EXPECT_EQ(r.problems[0].kind, VerifyProblemKind::Mismatch);
  EXPECT_EQ(r.problems[0].algorithm, "git-sha1");
  EXPECT_EQ(r.problems[0].expected, git);
  EXPECT_EQ(r.problems[0].got, git_blob_sha1_hex("{\"x\": 2}"));
  EXPECT_EQ(r.problems[1].path, "model.safetensors");
  EXPECT_EQ(r.problems[1].algorithm, "sha256");
  EXPECT_EQ(r.problems[1].got, sha256_hex(std::string(300000, 'M')));
  EXPECT_EQ(r.problems[2].path, "nested/dir/copy.json");
  EXPECT_EQ(r.checked, 4u);
}

TEST_F(Verify, MissingBlobAndDanglingPointerAreReported) {
  stdfs::remove(l.blob_path(lfs));
  stdfs::remove(l.pointer_path(c1, "empty.txt"));
  test::make_symlink("../../nowhere/at/all", l.pointer_path(c1, "empty.txt"));
  test::TempDir outside;
  test::write_file(outside / "f", "f");
  test::make_symlink(outside / "f", l.pointer_path(c1, "outside.bin"));
  const VerifyReport r = run();
  ASSERT_EQ(r.problems.size(), 3u);
  EXPECT_EQ(r.problems[0].path, "empty.txt");
  EXPECT_EQ(r.problems[0].kind, VerifyProblemKind::DanglingPointer);
  EXPECT_NE(r.problems[0].detail.find("../../nowhere/at/all"), std::string::npos);
  EXPECT_EQ(r.problems[1].path, "model.safetensors");
  EXPECT_EQ(r.problems[1].kind, VerifyProblemKind::MissingBlob);
  EXPECT_NE(r.problems[1].detail.find(l.blob_path(lfs)), std::string::npos);
  EXPECT_EQ(r.problems[2].path, "outside.bin");
  EXPECT_EQ(r.problems[2].kind, VerifyProblemKind::DanglingPointer);
  EXPECT_NE(r.problems[2].detail.find("outside the cache"), std::string::npos);
  EXPECT_EQ(r.checked, 2u);
}

TEST_F(Verify, TreeFileGivesExpectationsAndMissingFiles) {
  std::vector<TreeFileEntry> tree = {
      {"config.json", 8, git, std::nullopt, std::nullopt, std::nullopt},
      {"model.safetensors", 300000, std::string(40, '0'), lfs, 300000, std::nullopt},
      {"never/downloaded.bin", 5, std::string(40, '1'), std::string(64, 'a'), 5, std::nullopt},
  };
  ASSERT_TRUE(write_tree_file(l, c1, tree));
  // A no-symlink copy has no hash-named blob: only the tree can vouch for it.
  test::write_file(l.pointer_path(c1, "copied.txt"), "copied");
  VerifyReport r = run(c1);
  EXPECT_TRUE(r.tree_file_used);
  EXPECT_TRUE(r.ok());  // a partial snapshot: the missing file is a warning by default
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.missing_files, std::vector<std::string>{"never/downloaded.bin"});
  EXPECT_EQ(r.unverified, std::vector<std::string>{"copied.txt"});
  VerifyOptions strict;
  strict.fail_on_missing_files = true;
  auto s = verify_repo(dir.path(), k_repo, c1, strict);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->ok());
  ASSERT_EQ(s->problems.size(), 1u);
  EXPECT_EQ(s->problems[0].kind, VerifyProblemKind::MissingFile);
  EXPECT_EQ(s->problems[0].path, "never/downloaded.bin");
  EXPECT_NE(s->problems[0].detail.find(l.tree_path(c1)), std::string::npos);
  EXPECT_TRUE(s->missing_files.empty());
  EXPECT_EQ(s->unverified, std::vector<std::string>{"copied.txt"});

  tree.push_back({"copied.txt", 6, git_blob_sha1_hex("copied"), std::nullopt, std::nullopt, std::nullopt});
  tree.erase(tree.begin() + 2);
  ASSERT_TRUE(write_tree_file(l, c1, tree));
  test::write_file(l.pointer_path(c1, "copied.txt"), "tampered");
  r = run(c1);
  EXPECT_TRUE(r.missing_files.empty());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "copied.txt");
  EXPECT_EQ(r.problems[0].kind, VerifyProblemKind::Mismatch);
  EXPECT_TRUE(r.unverified.empty());

  test::write_file(l.tree_path(c1), "{not json");
  r = run(c1);
  EXPECT_FALSE(r.tree_file_used);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("ignoring tree file"), std::string::npos);
}

TEST_F(Verify, RevisionResolution) {
  cb.add_file(k_repo, c2, "other.txt", "other");
  cb.add_ref(k_repo, "refs/pr/1", c2 + "\n");
  EXPECT_EQ(run().commit, c1);             // refs/main
  EXPECT_EQ(run(c2).commit, c2);           // a hash as is
  EXPECT_EQ(run("refs/pr/1").commit, c2);  // a ref, stripped
  auto missing = verify_repo(dir.path(), k_repo, std::string("v9"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::RevisionNotFound);
  EXPECT_NE(missing.error().message.find("Revision 'v9' could not be resolved in cache"), std::string::npos);
  auto bad = verify_repo(dir.path(), k_repo, std::string("../../x"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidRevision);
  auto absent = verify_repo(dir.path(), k_repo, std::string(40, 'a'));
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::NotFound);

  stdfs::remove(l.ref_path("main"));
  auto ambiguous = verify_repo(dir.path(), k_repo, std::nullopt);
  ASSERT_FALSE(ambiguous);
  EXPECT_NE(ambiguous.error().message.find("Ambiguous cached revision"), std::string::npos);
  stdfs::remove_all(l.snapshot_dir(c2));
  EXPECT_EQ(run().commit, c1);  // the only snapshot

  auto no_repo = verify_repo(dir.path(), {RepoType::Dataset, "org/name"}, std::nullopt);
  ASSERT_FALSE(no_repo);
  EXPECT_EQ(no_repo.error().code, ErrorCode::NotFound);
  EXPECT_FALSE(verify_repo(dir.path(), {RepoType::Model, "bad--id"}, std::nullopt));
}

TEST_F(Verify, ARefHoldingGarbageIsACorruptedCache) {
  test::write_file(l.ref_path("refs/pr/2"), "../../../etc\n");
  auto bad = verify_repo(dir.path(), k_repo, std::string("refs/pr/2"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::CacheCorrupted);
  EXPECT_NE(bad.error().message.find(l.ref_path("refs/pr/2")), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("40-hex commit"), std::string::npos) << bad.error().message;

  test::write_file(l.ref_path("main"), "");  // an empty refs/main is not "no refs/main"
  auto empty_main = verify_repo(dir.path(), k_repo, std::nullopt);
  ASSERT_FALSE(empty_main);
  EXPECT_EQ(empty_main.error().code, ErrorCode::CacheCorrupted);
  EXPECT_NE(empty_main.error().message.find(l.ref_path("main")), std::string::npos);
}

TEST_F(Verify, ASymlinkToAFifoIsReportedNotOpened) {
  const std::string fifo = l.blobs_dir() + "/" + std::string(64, 'f');
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  test::make_symlink("../../blobs/" + std::string(64, 'f'), l.pointer_path(c1, "pipe.bin"));
  const VerifyReport r = run();  // would block forever if the fifo were opened
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "pipe.bin");
  EXPECT_EQ(r.problems[0].kind, VerifyProblemKind::Unreadable);
  auto c = scan_cache(dir.path());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->repos[0].revisions[0].nb_files, 4u);  // the fifo is not a file of the revision
}

TEST_F(Verify, SingleThreadGivesTheSameReport) {
  test::write_file(l.blob_path(git), "tampered");
  VerifyOptions one;
  one.threads = 1;
  auto a = verify_repo(dir.path(), k_repo, std::nullopt, one);
  auto b = verify_repo(dir.path(), k_repo, std::nullopt);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->problems.size(), b->problems.size());
  for (std::size_t i = 0; i < a->problems.size(); ++i) EXPECT_EQ(a->problems[i].got, b->problems[i].got);
  EXPECT_EQ(a->bytes_hashed, b->bytes_hashed);
}

}  // namespace

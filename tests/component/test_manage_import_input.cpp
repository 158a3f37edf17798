// Import input handling: bad folders, repo ids, unsafe names, symlinks, special files, skips.
// Every refusal leaves the cache exactly as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "folder_symlinks.hpp"
#include "import_fixture.hpp"

using namespace hubcache;

namespace {

struct ImportInput : test::ImportFixture {
  std::string before;
  void SetUp() override {
    ImportFixture::SetUp();
    // An existing cache with one imported repo, to prove refusals do not touch it.
    const std::string seed = dir / "seed";
    test::write_file(seed + "/a.json", "seed");
    auto o = opts();
    o.source_dir = seed;
    o.repo.id = "org/seed";
    ASSERT_TRUE(import_folder(o));
    before = test::tree_fingerprint(cache);
  }
  // Plans and imports must both fail with `code`, mentioning `needle`, and change nothing.
  void expect_refused(const ImportOptions& o, ErrorCode code, const std::string& needle) {
    auto r = import_folder(o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
    EXPECT_EQ(test::tree_fingerprint(cache), before);
  }
};

}  // namespace

TEST_F(ImportInput, MissingFolderOrAFile) {
  auto o = opts();
  o.source_dir = dir / "nope";
  expect_refused(o, ErrorCode::NotFound, "does not exist");
  test::write_file(dir / "file.txt", "x");
  o.source_dir = dir / "file.txt";
  expect_refused(o, ErrorCode::NotADirectory, "is not a folder");
  o.source_dir = src;  // empty
  expect_refused(o, ErrorCode::InvalidArgument, "nothing to import");
}

TEST_F(ImportInput, InvalidRepoIdsAndRevisions) {
  put("a.json", "A");
  for (const char* id : {"foo--bar", "../x", "a/b/c", "", "x.git"}) {
    auto o = opts();
    o.repo.id = id;
    expect_refused(o, ErrorCode::InvalidRepoId, "");
  }
  auto o = opts();
  o.revision = "../main";
  expect_refused(o, ErrorCode::InvalidRevision, "");
}

TEST_F(ImportInput, UnsafeNamesAreRefusedByName) {
  put("ok.json", "fine");
  put("C:evil", "drive-relative on Windows");
  put("a\\..\\..\\b", "backslash traversal");
  auto r = plan_import(opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidPath);
  EXPECT_NE(r.error().message.find("'C:evil'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("'a\\..\\..\\b'"), std::string::npos);  // every problem is listed
  expect_refused(opts(), ErrorCode::InvalidPath, "C:evil");
}

TEST_F(ImportInput, SymlinksLeavingTheFolderAreRefused) {
  put("a.json", "A");
  test::write_file(dir / "outside.txt", "secret");
  ASSERT_EQ(::symlink((dir / "outside.txt").c_str(), (src + "/escape.txt").c_str()), 0);
  expect_refused(opts(), ErrorCode::InvalidPath, "'escape.txt' is a symlink to");
  std::filesystem::remove(src + "/escape.txt");
  ASSERT_EQ(::symlink("../outside.txt", (src + "/rel.txt").c_str()), 0);  // relative escape
  expect_refused(opts(), ErrorCode::InvalidPath, "rel.txt");
  std::filesystem::remove(src + "/rel.txt");
  ASSERT_EQ(::symlink("missing.txt", (src + "/dangling.txt").c_str()), 0);
  expect_refused(opts(), ErrorCode::NotFound, "'dangling.txt' is a dangling symlink");
  std::filesystem::remove(src + "/dangling.txt");
  std::filesystem::create_directories(src + "/real");
  put("real/r.json", "R");
  ASSERT_EQ(::symlink("real", (src + "/alias").c_str()), 0);
  expect_refused(opts(), ErrorCode::InvalidArgument, "symlink to a directory");
}

// A symlink to a blob of the destination cache (what `hubcache link` and `migrate --leave-link`
// leave) is read as a file; one to anything else in the cache (a snapshot entry, a ref, a blob of
// another cache) is still refused.
TEST_F(ImportInput, SymlinkToABlobOfTheCacheIsAFile) {
  const RepoLayout seed(cache, RepoRef{RepoType::Model, "org/seed"});
  std::string blob;
  for (const auto& e : std::filesystem::directory_iterator(seed.blobs_dir())) blob = e.path().string();
  ASSERT_FALSE(blob.empty());
  put("b.json", "B");
  ASSERT_EQ(::symlink(blob.c_str(), (src + "/a.json").c_str()), 0);
  auto p = plan_import(opts(ImportMode::Link));
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->files.size(), 2u);
  EXPECT_EQ(p->files[0].read_from, blob);
  EXPECT_EQ(p->files[0].blob, git_blob_sha1_hex("seed"));
  auto r = execute_import(*p);
  ASSERT_TRUE(r) << r.error().message;
  expect_resolvable(*r);
  EXPECT_EQ(std::filesystem::hard_link_count(layout().blob_path(git_blob_sha1_hex("seed"))), 2u)
      << "the seed's blob, linked: no copy";
  before = test::tree_fingerprint(cache);

  std::filesystem::remove(src + "/a.json");
  const std::string seed_commit = test::read_file(seed.ref_path("main"));
  for (const std::string& target : {seed.pointer_path(seed_commit, "a.json"), seed.ref_path("main")}) {
    ASSERT_EQ(::symlink(target.c_str(), (src + "/a.json").c_str()), 0);
    // A snapshot pointer resolves to the blob itself: a file read through the cache's own link.
    if (target == seed.ref_path("main")) {
      expect_refused(opts(), ErrorCode::InvalidPath, "'a.json' is a symlink to");
    } else {
      auto q = plan_import(opts());
      ASSERT_TRUE(q) << q.error().message;
      EXPECT_EQ(q->files[0].read_from, blob);
    }
    std::filesystem::remove(src + "/a.json");
  }
  test::write_file(dir / "other/models--org--x/blobs/abc", "other cache");
  ASSERT_EQ(::symlink((dir / "other/models--org--x/blobs/abc").c_str(), (src + "/a.json").c_str()), 0);
  expect_refused(opts(), ErrorCode::InvalidPath, "'a.json' is a symlink to");
}

TEST_F(ImportInput, SpecialFilesAreRefused) {
  put("a.json", "A");
  ASSERT_EQ(::mkfifo((src + "/pipe").c_str(), 0644), 0);
  expect_refused(opts(), ErrorCode::InvalidArgument, "'pipe' is a named pipe");
}

TEST_F(ImportInput, SymlinkInsideTheFolderImportsItsTarget) {
  put("data/real.bin", "REAL");
  ASSERT_EQ(::symlink("data/real.bin", (src + "/alias.bin").c_str()), 0);
  auto r = import_folder(opts(ImportMode::Link));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->plan.files.size(), 2u);
  const ImportFile& alias = r->plan.files[0];
  EXPECT_EQ(alias.path, "alias.bin");
  EXPECT_EQ(alias.read_from, src + "/data/real.bin");
  EXPECT_EQ(alias.blob, sha256_hex("REAL"));
  EXPECT_EQ(test::inode_of(layout().blob_path(alias.blob)), test::inode_of(src + "/data/real.bin"));
  expect_resolvable(*r);
}

TEST_F(ImportInput, GitAndLocalDirCacheAreSkipped) {
  put("a.json", "A");
  put(".git/config", "[core]");
  put("sub/.git", "gitdir: ../.git/modules/sub");  // a submodule's .git file
  put(".cache/huggingface/.gitignore", "*");
  put(".cache/other/kept.txt", "kept");
  auto p = plan_import(opts());
  ASSERT_TRUE(p) << p.error().message;
  std::vector<std::string> paths;
  for (const auto& f : p->files) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{".cache/other/kept.txt", "a.json"}));
}

TEST_F(ImportInput, CacheAndFolderMustNotNest) {
  put("a.json", "A");
  auto o = opts();
  o.cache_dir = src + "/cache";
  auto inside = plan_import(o);
  ASSERT_FALSE(inside);
  EXPECT_NE(inside.error().message.find("is inside the folder to import"), std::string::npos);
  o = opts();
  o.source_dir = layout().folder() + "/snapshots";  // cache data; only local-dir folders are imported in place
  ASSERT_TRUE(fs::make_dirs(o.source_dir));
  test::write_file(o.source_dir + "/x.json", "X");
  before = test::tree_fingerprint(cache);
  expect_refused(o, ErrorCode::InvalidArgument, "is inside the cache");
}

// The cache's one folder rule (cache/folders.hpp): an import never writes through a repo folder,
// snapshots/ or snapshot of the destination that is a symlink out of the cache.
TEST_F(ImportInput, NeverWritesThroughASymlinkedFolderOfTheDestination) {
  put("a.json", "A");
  const std::string c = test::commit_id(5);
  for (const auto which : test::k_linked_folders) {
    test::TempDir outside;
    const std::string link = test::link_folder_out(cache, outside.path(), repo, c, which);
    const std::string outside_before = test::tree_fingerprint(outside.path());
    before = test::tree_fingerprint(cache);
    auto o = opts();
    o.commit = c;
    auto plan = plan_import(o);
    ASSERT_FALSE(plan) << test::to_string(which);
    EXPECT_EQ(plan.error().path, link);
    expect_refused(o, ErrorCode::CacheCorrupted, link + " is a symlink to " + outside.path());
    EXPECT_EQ(test::tree_fingerprint(outside.path()), outside_before) << test::to_string(which);
    std::filesystem::remove_all(layout().folder());
  }
}

TEST_F(ImportInput, AFileListImportsEachFileUnderItsRepoPathAndRefusesBadEntries) {
  test::write_file(src + "/sha256-one", "weights");
  test::write_file(src + "/other", "projector");
  test::write_file(dir / "outside", "x");
  auto o = opts();
  o.files = {{"m.gguf", src + "/sha256-one"}, {"../m.gguf", src + "/other"}};
  expect_refused(o, ErrorCode::InvalidPath, "cannot be a file name in a Hub repo");
  o.files = {{"m.gguf", src + "/sha256-one"}, {"m.gguf", src + "/other"}};
  expect_refused(o, ErrorCode::InvalidArgument, "named twice");
  o.files = {{"m.gguf", dir / "outside"}};
  expect_refused(o, ErrorCode::InvalidPath, "is outside");
  o.files = {{"m.gguf", src + "/missing"}};
  expect_refused(o, ErrorCode::NotFound, "cannot read");
  o.files = {{"m.gguf", src + "/sha256-one"}};
  o.mode = ImportMode::Move;
  expect_refused(o, ErrorCode::InvalidArgument, "never moved");

  o.mode = ImportMode::Link;
  o.files = {{"sub/m.gguf", src + "/sha256-one"}};
  auto r = import_folder(o);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->plan.files.size(), 1u) << "only the listed file, not the folder's other one";
  EXPECT_EQ(r->plan.files[0].blob, sha256_hex("weights")) << "*.gguf is LFS: named by SHA-256";
  EXPECT_EQ(*fs::read_file(r->plan.snapshot_dir + "/sub/m.gguf"), "weights");
  struct stat a {
  }, b{};
  ::stat((r->plan.snapshot_dir + "/sub/m.gguf").c_str(), &a);
  ::stat((src + "/sha256-one").c_str(), &b);
  EXPECT_EQ(a.st_ino, b.st_ino) << "linked, not copied";
  EXPECT_TRUE(std::filesystem::exists(src + "/sha256-one")) << "the source stays";
}

// scan_cache on real temp caches: PY's numbers on healthy caches, and every malformed case.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "hubcache/manage/scan.hpp"
#include "hubcache/util/hash.hpp"
#include "manage_helpers.hpp"

using namespace hubcache;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_repo{RepoType::Model, "org/name"};

struct Scan : ::testing::Test {
  test::TempDir dir;
  test::CacheBuilder cb{dir.path()};
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2), c3 = test::commit_id(3);

  /// Every scan with files is also checked against its blob tables and a scan of blobs only.
  HFCacheInfo scan(ScanOptions o = {}) {
    auto r = scan_cache(dir.path(), o);
    EXPECT_TRUE(r) << r.error().message;
    if (r && o.collect_files) {
      auto blobs = scan_cache(dir.path(), test::blobs_only());
      EXPECT_TRUE(blobs);
      if (blobs) test::expect_blob_tables_match_files(*r, *blobs);
    }
    return std::move(r).value();
  }
  static const CachedRepoInfo* find(const HFCacheInfo& c, const std::string& label) {
    for (const auto& r : c.repos)
      if (r.label() == label) return &r;
    return nullptr;
  }
  static const ScanWarning* warning_about(const HFCacheInfo& c, const std::string& path) {
    for (const auto& w : c.warnings)
      if (w.path == path || w.message.find(path) != std::string::npos) return &w;
    return nullptr;
  }
};

TEST_F(Scan, HealthyRepoNumbersMatchScanCacheDir) {
  const RepoLayout l = cb.layout(k_repo);
  // vector 31: one blob shared by 3 files across 2 revisions is counted once.
  const std::string shared = cb.add_file(k_repo, c1, "config.json", "{\"a\":1}");
  cb.add_file(k_repo, c1, "copy/of/config.json", "{\"a\":1}");
  cb.add_file(k_repo, c2, "config.json", "{\"a\":1}");
  const std::string big = cb.add_file(k_repo, c1, "sub/dir/model.bin", std::string(1000, 'w'), true);
  const std::string small = cb.add_file(k_repo, c2, "tok.json", "tok");
  cb.add_ref(k_repo, "main", c1);
  cb.add_ref(k_repo, "refs/pr/1", c2);                                                      // vector 3: ref name "refs/pr/1"
  cb.write_raw("models--org--name/blobs/" + std::string(40, 'f'), std::string(5000, 'o'));  // orphan blob
  cb.write_raw("models--org--name/blobs/" + std::string(64, 'e') + ".incomplete", std::string(77, 'i'));
  cb.write_raw("models--org--name/.no_exist/" + c1 + "/missing.txt", "");
  cb.write_raw("models--org--name/trees/" + c1 + ".json", std::string(300, ' '));
  cb.write_raw(".locks/models--org--name/" + shared + ".lock", "");
  cb.write_raw("CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
  cb.write_raw(".DS_Store", "junk");
  cb.write_raw("models--org--name/snapshots/.DS_Store", "junk");
  test::set_times(l.blob_path(shared), 1'000'000'000.5, 1'100'000'000.25);
  test::set_times(l.blob_path(big), 1'300'000'000, 1'200'000'000);
  test::set_times(l.blob_path(small), 1'250'000'000, 1'050'000'000);

  const HFCacheInfo c = scan();
  EXPECT_EQ(c.cache_dir, dir.path());
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front().message;
  ASSERT_EQ(c.repos.size(), 1u);
  const CachedRepoInfo& r = c.repos[0];
  EXPECT_EQ(r.label(), "model/org/name");
  EXPECT_EQ(r.path, l.folder());
  EXPECT_EQ(r.nb_files, 3u);  // distinct blobs
  EXPECT_EQ(r.size_on_disk, 7u + 1000u + 3u);
  EXPECT_EQ(c.size_on_disk, r.size_on_disk);
  EXPECT_DOUBLE_EQ(r.last_accessed, 1'300'000'000);
  EXPECT_DOUBLE_EQ(r.last_modified, 1'200'000'000);
  EXPECT_EQ(r.refs, (std::vector<std::string>{"main", "refs/pr/1"}));
  ASSERT_EQ(r.revisions.size(), 2u);
  const CachedRevisionInfo& r1 = r.revisions[0];
  EXPECT_EQ(r1.commit, c1);
  EXPECT_EQ(r1.snapshot_path, l.snapshot_dir(c1));
  EXPECT_EQ(r1.nb_files, 3u);
  EXPECT_EQ(r1.size_on_disk, 1007u);  // the two config.json pointers share one blob
  EXPECT_EQ(r1.refs, std::vector<std::string>{"main"});
  EXPECT_DOUBLE_EQ(r1.last_modified, 1'200'000'000);
  ASSERT_EQ(r1.files.size(), 3u);
  EXPECT_EQ(r1.files[0].path, "config.json");
  EXPECT_EQ(r1.files[0].blob_path, l.blob_path(shared));
  EXPECT_EQ(r1.files[0].size, 7u);
  EXPECT_DOUBLE_EQ(r1.files[0].atime, 1'000'000'000.5);
  EXPECT_EQ(r1.files[1].path, "copy/of/config.json");
  EXPECT_EQ(r1.files[2].path, "sub/dir/model.bin");
  const CachedRevisionInfo& r2 = r.revisions[1];
  EXPECT_EQ(r2.nb_files, 2u);
  EXPECT_EQ(r2.size_on_disk, 10u);
  EXPECT_EQ(r2.refs, std::vector<std::string>{"refs/pr/1"});
  EXPECT_DOUBLE_EQ(r2.last_modified, 1'100'000'000.25);
  // vector 31: the .incomplete file is listed with its size.
  ASSERT_EQ(c.incomplete_files.size(), 1u);
  EXPECT_EQ(c.incomplete_files[0].path, l.blobs_dir() + "/" + std::string(64, 'e') + ".incomplete");
  EXPECT_EQ(c.incomplete_files[0].etag, std::string(64, 'e'));
  EXPECT_EQ(c.incomplete_files[0].repo_folder, "models--org--name");
  EXPECT_EQ(c.incomplete_size(), 77u);
}

TEST_F(Scan, EmptyRevisionAndRepoWithoutBlobsTakeFolderTimes) {
  const RepoLayout l = cb.layout(k_repo);
  stdfs::create_directories(l.snapshot_dir(c1));
  stdfs::create_directories(l.refs_dir());
  test::set_times(l.snapshot_dir(c1), 1'400'000'000, 1'400'000'001);
  test::set_times(l.folder(), 1'500'000'000, 1'500'000'002);
  const HFCacheInfo c = scan();
  ASSERT_EQ(c.repos.size(), 1u);
  EXPECT_EQ(c.repos[0].nb_files, 0u);
  EXPECT_EQ(c.repos[0].size_on_disk, 0u);
  EXPECT_DOUBLE_EQ(c.repos[0].last_accessed, 1'500'000'000);
  EXPECT_DOUBLE_EQ(c.repos[0].last_modified, 1'500'000'002);
  ASSERT_EQ(c.repos[0].revisions.size(), 1u);
  EXPECT_DOUBLE_EQ(c.repos[0].revisions[0].last_modified, 1'400'000'001);
}

TEST_F(Scan, NoSymlinkModeFilesAreTheirOwnBlobs) {
  // vector 32: snapshot entries are regular files and no blobs/X remains.
  const RepoLayout l = cb.layout(k_repo);
  test::write_file(l.pointer_path(c1, "a.bin"), std::string(100, 'a'));
  test::write_file(l.pointer_path(c1, "d/b.bin"), std::string(20, 'b'));
  test::write_file(l.pointer_path(c2, "a.bin"), std::string(100, 'a'));  // a copy per revision
  stdfs::create_directories(l.refs_dir());
  const HFCacheInfo c = scan();
  ASSERT_EQ(c.repos.size(), 1u);
  EXPECT_EQ(c.repos[0].nb_files, 3u);
  EXPECT_EQ(c.repos[0].size_on_disk, 220u);
  EXPECT_EQ(c.repos[0].revisions[0].size_on_disk, 120u);
  EXPECT_EQ(c.repos[0].revisions[0].files[1].blob_path, l.pointer_path(c1, "d/b.bin"));
}

TEST_F(Scan, RefWithTrailingNewlineIsStrippedSilently) {
  cb.add_file(k_repo, c1, "a.txt", "A");
  cb.add_ref(k_repo, "main", c1 + "\n");  // vector 25: a foreign ref
  const HFCacheInfo c = scan();
  EXPECT_TRUE(c.warnings.empty());
  ASSERT_EQ(c.repos.size(), 1u);
  EXPECT_EQ(c.repos[0].revisions[0].refs, std::vector<std::string>{"main"});
}

TEST_F(Scan, KernelsAndDatasetsAndSpacesAreListedInLabelOrder) {
  cb.add_file({RepoType::Space, "s/x"}, c1, "app.py", "print()");
  cb.add_file({RepoType::Kernel, "k/x"}, c1, "k.cu", "//");
  cb.add_file({RepoType::Dataset, "glue"}, c1, "d.csv", "a,b");
  cb.add_file({RepoType::Model, "Zed"}, c1, "m", "m");
  cb.add_file({RepoType::Model, "abc"}, c1, "m", "m");
  const HFCacheInfo c = scan();
  std::vector<std::string> labels;
  for (const auto& r : c.repos) labels.push_back(r.label());
  EXPECT_EQ(labels, (std::vector<std::string>{"dataset/glue", "kernel/k/x", "model/Zed", "model/abc", "space/s/x"}));
}

TEST_F(Scan, EveryMalformedEntryWarnsWithItsPathAndTheScanGoesOn) {
  const RepoRef good{RepoType::Model, "good/repo"};
  cb.add_file(good, c1, "w.bin", "weights", true);
  cb.add_ref(good, "main", c1);
  const std::string root = dir.path();

  cb.write_raw("version.txt", "1");                                 // 1. not a directory
  stdfs::create_directories(root + "/nodashes");                    // 2. no "--"
  stdfs::create_directories(root + "/buckets--b/snapshots");        // 3. unknown type
  stdfs::create_directories(root + "/models--no--snapshots/refs");  // 4. snapshots/ missing
  cb.add_file({RepoType::Model, "refs/file"}, c1, "a", "a");        // 5. refs is a file
  stdfs::remove_all(root + "/models--refs--file/refs");
  cb.write_raw("models--refs--file/refs", c1);
  cb.add_file({RepoType::Model, "snap/file"}, c1, "a", "a");  // 6. a file in snapshots/
  cb.write_raw("models--snap--file/snapshots/README", "x");
  cb.add_file({RepoType::Model, "bad/ref"}, c1, "a", "a");  // 8. ref to a missing commit
  cb.add_ref({RepoType::Model, "bad/ref"}, "main", c2);
  test::make_symlink(root + "/models--good--repo", root + "/models--alias--repo");  // repo folder symlink

  // Kept with a warning: a dangling pointer, an escaping pointer, refs/ missing.
  const RepoRef dangling{RepoType::Model, "dang/ling"};
  cb.add_file(dangling, c1, "ok.txt", "ok");
  test::make_symlink("../../blobs/" + std::string(40, 'd'), cb.layout(dangling).pointer_path(c1, "gone.txt"));
  const RepoRef escaping{RepoType::Model, "esc/aping"};
  cb.add_file(escaping, c1, "ok.txt", "ok!");
  test::TempDir outside;
  test::write_file(outside / "secret.bin", std::string(4096, 's'));
  test::make_symlink(outside / "secret.bin", cb.layout(escaping).pointer_path(c1, "abs.bin"));
  test::make_symlink("../../../../../../../../../../../.." + outside.path() + "/secret.bin",
                     cb.layout(escaping).pointer_path(c1, "rel.bin"));
  const RepoRef norefs{RepoType::Dataset, "no/refs"};
  cb.add_file(norefs, c1, "d.csv", "1,2");
  stdfs::remove_all(cb.layout(norefs).refs_dir());

  const HFCacheInfo c = scan();
  const CachedRepoInfo* g = find(c, "model/good/repo");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->size_on_disk, 7u);

  struct Case {
    std::string path;
    std::string words;
    bool skipped;
  };
  const std::vector<Case> cases = {
      {root + "/version.txt", "Repo path is not a directory", true},
      {root + "/nodashes", "not a valid HuggingFace cache directory", true},
      {root + "/buckets--b", "Repo type must be `dataset`, `model` or `space`, found `bucket`", true},
      {root + "/models--no--snapshots/snapshots", "Snapshots dir doesn't exist", true},
      {root + "/models--refs--file/refs", "Refs directory cannot be a file", true},
      {root + "/models--snap--file/snapshots/README", "Snapshots folder corrupted. Found a file", true},
      {root + "/models--bad--ref", "Reference(s) refer to missing commit hashes: {'" + c2 + "': {'main'}}", true},
      {root + "/models--alias--repo", "symlink, not followed", true},
      {cb.layout(dangling).blob_path(std::string(40, 'd')), "Blob missing (broken symlink)", false},
      {cb.layout(escaping).pointer_path(c1, "abs.bin"), "points outside the cache, not followed", false},
      {cb.layout(norefs).refs_dir(), "Refs dir doesn't exist", false},
  };
  for (const auto& k : cases) {
    const ScanWarning* w = warning_about(c, k.path);
    ASSERT_NE(w, nullptr) << "no warning for " << k.path;
    EXPECT_NE(w->message.find(k.words), std::string::npos) << w->message;
    EXPECT_NE(w->message.find(k.path), std::string::npos) << w->message;
    EXPECT_EQ(w->repo_skipped, k.skipped) << w->message;
    EXPECT_NE(w->message.back(), '.') << w->message;  // the caller ends the sentence
  }
  EXPECT_EQ(c.warnings.size(), cases.size());
  // Both escaping links give one warning; the dangling one names its pointer too.
  EXPECT_NE(warning_about(c, cb.layout(escaping).pointer_path(c1, "abs.bin"))->message.find("(and 1 more)"), std::string::npos);
  EXPECT_NE(warning_about(c, cb.layout(dangling).blob_path(std::string(40, 'd')))
                ->message.find(cb.layout(dangling).pointer_path(c1, "gone.txt")),
            std::string::npos);

  std::vector<std::string> labels;
  for (const auto& r : c.repos) labels.push_back(r.label());
  EXPECT_EQ(labels, (std::vector<std::string>{"dataset/no/refs", "model/dang/ling", "model/esc/aping", "model/good/repo"}));
  const CachedRepoInfo* d = find(c, "model/dang/ling");
  EXPECT_EQ(d->nb_files, 1u);
  EXPECT_EQ(d->size_on_disk, 2u);
  EXPECT_EQ(d->revisions[0].nb_files, 1u);
  EXPECT_EQ(d->revisions[0].dangling, std::vector<std::string>{"gone.txt"});
  const CachedRepoInfo* e = find(c, "model/esc/aping");
  EXPECT_EQ(e->size_on_disk, 3u);  // the 4096-byte outside file is never counted
  EXPECT_EQ(e->revisions[0].nb_files, 1u);
  // Skipped repos whose folder name parses stay deletable.
  std::vector<std::string> skipped;
  for (const auto& s : c.skipped_repos) skipped.push_back(s.repo.label());
  std::sort(skipped.begin(), skipped.end());
  EXPECT_EQ(skipped, (std::vector<std::string>{"model/alias/repo", "model/bad/ref", "model/no/snapshots", "model/refs/file",
                                               "model/snap/file"}));
}

TEST_F(Scan, SymlinkedBlobsDirOutsideTheCacheIsNotFollowed) {
  cb.add_file(k_repo, c1, "a.txt", "AAAA");
  test::TempDir outside;
  const RepoLayout l = cb.layout(k_repo);
  stdfs::rename(l.blobs_dir(), outside / "blobs");
  test::make_symlink(outside / "blobs", l.blobs_dir());
  const HFCacheInfo c = scan();
  ASSERT_EQ(c.repos.size(), 1u);
  EXPECT_EQ(c.repos[0].size_on_disk, 0u);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].message.find("outside the cache"), std::string::npos);
}

TEST_F(Scan, UnreadableFolderSkipsOnlyThatRepo) {
  cb.add_file(k_repo, c1, "a.txt", "A");
  cb.add_file({RepoType::Model, "locked/out"}, c1, "b.txt", "B");
  cb.add_ref({RepoType::Model, "locked/out"}, "main", c1);
  test::open_up(dir.path());
  const std::string locked = cb.layout({RepoType::Model, "locked/out"}).snapshot_dir(c1);
  ::chmod(locked.c_str(), 0);
  const std::string root = dir.path();
  const int rc = test::run_unprivileged([&] {
    auto c = scan_cache(root);
    if (!c || c->repos.size() != 1 || c->repos[0].label() != "model/org/name") return 1;
    if (c->warnings.size() != 1 || !c->warnings[0].repo_skipped) return 2;
    if (c->warnings[0].message.find(locked) == std::string::npos) return 3;
    if (c->warnings[0].message.find("Permission denied") == std::string::npos) return 4;
    return 0;
  });
  ::chmod(locked.c_str(), 0755);
  EXPECT_EQ(rc, 0);
}

TEST_F(Scan, RootMissingOrAFileIsAClearError) {
  auto missing = scan_cache(dir / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_NE(missing.error().message.find("Cache directory not found: " + dir.path() + "/nope"), std::string::npos);
  test::write_file(dir / "file", "x");
  auto file = scan_cache(dir / "file");
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, ErrorCode::NotADirectory);
  EXPECT_NE(file.error().message.find("expects a directory but found a file"), std::string::npos);
}

TEST_F(Scan, RootGivenThroughASymlinkIsResolved) {
  cb.add_file(k_repo, c1, "a.txt", "A");
  test::TempDir other;
  test::make_symlink(dir.path(), other / "link");
  const auto c = scan_cache(other / "link");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->cache_dir, dir.path());
  ASSERT_EQ(c->repos.size(), 1u);
  EXPECT_EQ(c->repos[0].path, cb.layout(k_repo).folder());
}

TEST_F(Scan, ParallelAndSequentialScansAgree) {
  for (int i = 0; i < 40; ++i) {
    const RepoRef r{RepoType::Model, "org/r" + std::to_string(i)};
    for (int f = 0; f <= i % 5; ++f) cb.add_file(r, c1, "f" + std::to_string(f), std::string(i * 10 + f, 'x'));
    cb.add_file(r, c2, "shared", "s" + std::to_string(i));
    cb.add_ref(r, "main", c2);
  }
  ScanOptions one;
  one.threads = 1;
  ScanOptions two;
  two.threads = 2;
  two.collect_files = false;
  const HFCacheInfo a = scan(one), b = scan(two);
  ASSERT_EQ(a.repos.size(), 40u);
  ASSERT_EQ(b.repos.size(), 40u);
  EXPECT_EQ(a.size_on_disk, b.size_on_disk);
  for (std::size_t i = 0; i < a.repos.size(); ++i) {
    EXPECT_EQ(a.repos[i].label(), b.repos[i].label());
    EXPECT_EQ(a.repos[i].size_on_disk, b.repos[i].size_on_disk);
    EXPECT_EQ(a.repos[i].nb_files, b.repos[i].nb_files);
    EXPECT_EQ(a.repos[i].revisions[0].nb_files, b.repos[i].revisions[0].nb_files);
    EXPECT_TRUE(b.repos[i].revisions[0].files.empty());
    EXPECT_FALSE(a.repos[i].revisions[0].files.empty());
  }
  EXPECT_FALSE(b.has_files);
  EXPECT_TRUE(b.has_blobs);
  ScanOptions numbers;
  numbers.collect_files = false;
  numbers.collect_blobs = false;
  const HFCacheInfo n = scan(numbers);
  EXPECT_FALSE(n.has_blobs);
  for (std::size_t i = 0; i < n.repos.size(); ++i) {
    EXPECT_TRUE(n.repos[i].blobs.empty());
    EXPECT_TRUE(n.repos[i].revisions[0].blob_ids.empty());
    EXPECT_EQ(n.repos[i].size_on_disk, a.repos[i].size_on_disk);
    EXPECT_EQ(a.repos[i].blobs.size(), a.repos[i].nb_files);
  }
}

}  // namespace

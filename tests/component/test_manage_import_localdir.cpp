// Import of folders made by `hf download --local-dir` (docs/cache-format.md#local-dir): recorded commit and ETags.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "cache_builder.hpp"
#include "hubcache/util/hash.hpp"
#include "import_fixture.hpp"

using namespace hubcache;
using test::ImportFixture;

namespace {

struct LocalDir : ImportFixture {
  std::string c1 = test::commit_id(1);
  std::string c2 = test::commit_id(2);

  // What `hf download --local-dir` leaves: the file, its metadata (commit, ETag, time.time()),
  // the .gitignore and CACHEDIR.TAG of .cache/huggingface, and a lock file next to the metadata.
  void download(const std::string& path, const std::string& content, bool lfs, const std::string& commit,
                const std::string& ts = "1712656091.123456") {
    put(path, content);
    const std::string etag = lfs ? sha256_hex(content) : git_blob_sha1_hex(content);
    const std::string meta = src + "/.cache/huggingface/download/" + path;
    test::write_file(meta + ".metadata", commit + "\n" + etag + "\n" + ts + "\n");
    test::write_file(meta + ".lock", "");
    test::write_file(src + "/.cache/huggingface/.gitignore", "*");
    test::write_file(src + "/.cache/huggingface/CACHEDIR.TAG", std::string(cachedir_tag_content()));
  }
  void standard_download() {
    download("config.json", "{\"a\": 1}", false, c1);
    download("model.safetensors", "weights", true, c1, "0.5");  // stale timestamp: content still matches
    download("sub/x.txt", "nested", false, c1);
    download(".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n", false, c1);
  }
};

}  // namespace

TEST_F(LocalDir, ResultIsExactlyWhatHfDownloadMakes) {
  ::umask(022);
  standard_download();
  auto r = import_folder(opts());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->plan.commit, c1);
  EXPECT_EQ(r->plan.commit_source, CommitSource::LocalDirMetadata);
  EXPECT_EQ(r->plan.files.size(), 4u);  // nothing from .cache/huggingface
  EXPECT_TRUE(r->plan.warnings.empty());

  // The same files downloaded into a cache by huggingface_hub: blob names = ETags, relative
  // symlinks, refs/main = commit without newline.
  test::CacheBuilder expected(dir / "expected");
  const RepoRef rr = repo;
  expected.add_file(rr, c1, "config.json", "{\"a\": 1}");
  expected.add_file(rr, c1, "model.safetensors", "weights", true);
  expected.add_file(rr, c1, "sub/x.txt", "nested");
  expected.add_file(rr, c1, ".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n");
  expected.add_ref(rr, "main", c1);
  EXPECT_EQ(test::tree_fingerprint(layout().folder()), test::tree_fingerprint(expected.layout(rr).folder()));
  expect_resolvable(*r);
}

TEST_F(LocalDir, EtagMismatchIsRefusedNamingTheFile) {
  standard_download();
  put("sub/x.txt", "edited after download");
  put("model.safetensors", "other weights");
  auto r = import_folder(opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Conflict);
  EXPECT_NE(r.error().message.find("'sub/x.txt'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("'model.safetensors'"), std::string::npos);
  EXPECT_NE(r.error().message.find(sha256_hex("weights")), std::string::npos);  // the recorded ETag
  EXPECT_NE(r.error().message.find("hubcache import --ignore-metadata"), std::string::npos);
  EXPECT_EQ(r.error().remedy, Remedy::IgnoreMetadata);
  EXPECT_FALSE(test::exists(cache));
  // The explicit way out: plain files under a derived commit.
  auto o = opts();
  o.metadata = MetadataPolicy::Ignore;
  auto plain = import_folder(o);
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->plan.commit_source, CommitSource::Derived);
  EXPECT_EQ(plain->plan.files.size(), 4u);
}

TEST_F(LocalDir, UntrackedFilesRefusedUnlessSkipped) {
  standard_download();
  put("notes.md", "mine");
  auto r = import_folder(opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Conflict);
  EXPECT_NE(r.error().message.find("notes.md"), std::string::npos);
  EXPECT_NE(r.error().message.find("UntrackedPolicy::Skip"), std::string::npos);
  EXPECT_EQ(r.error().remedy_value, "untracked");  // the CLI: --untracked skip (CliImport)
  EXPECT_FALSE(test::exists(cache));
  auto o = opts();
  o.untracked = UntrackedPolicy::Skip;
  auto skipped = import_folder(o);
  ASSERT_TRUE(skipped) << skipped.error().message;
  EXPECT_EQ(skipped->plan.skipped, std::vector<std::string>{"notes.md"});
  EXPECT_EQ(skipped->plan.files.size(), 4u);
  EXPECT_EQ(skipped->plan.commit, c1);
  EXPECT_FALSE(test::exists(layout().pointer_path(c1, "notes.md")));
}

TEST_F(LocalDir, MixedCommitsRefusedUnlessMetadataIgnored) {
  standard_download();
  download("later.json", "{}", false, c2);
  auto r = import_folder(opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Conflict);
  EXPECT_NE(r.error().message.find(c1), std::string::npos);
  EXPECT_NE(r.error().message.find(c2 + ": 1 file(s), e.g. 'later.json'"), std::string::npos) << r.error().message;
  EXPECT_FALSE(test::exists(cache));
  auto o = opts();
  o.metadata = MetadataPolicy::Ignore;
  auto plain = import_folder(o);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->plan.files.size(), 5u);
  EXPECT_NE(plain->plan.commit, c1);
  EXPECT_NE(plain->plan.commit, c2);
}

TEST_F(LocalDir, UnreadableOrOrphanMetadata) {
  standard_download();
  download("gone.json", "{}", false, c1);
  std::filesystem::remove(src + "/gone.json");  // metadata without its file: ignored, with a warning
  auto ok = plan_import(opts());
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->warnings.size(), 1u);
  EXPECT_NE(ok->warnings[0].find("gone.json"), std::string::npos);

  put("junk.json", "{}");
  test::write_file(src + "/.cache/huggingface/download/junk.json.metadata", "not a commit\nnope\n");
  auto bad = plan_import(opts());
  ASSERT_FALSE(bad);  // its file counts as untracked
  EXPECT_NE(bad.error().message.find("junk.json"), std::string::npos);
  auto o = opts();
  o.untracked = UntrackedPolicy::Skip;
  auto skipped = plan_import(o);
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->skipped, std::vector<std::string>{"junk.json"});
  bool warned = false;
  for (const auto& w : skipped->warnings) warned |= w.find("junk.json.metadata") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST_F(LocalDir, GivenCommitMustAgreeWithMetadata) {
  standard_download();
  auto o = opts();
  o.commit = c2;
  auto r = plan_import(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Conflict);
  o.commit = c1;
  auto same = plan_import(o);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->commit_source, CommitSource::LocalDirMetadata);
  o.commit.reset();
  o.revision = c1;  // a commit revision equal to the metadata commit: no ref
  auto by_rev = import_folder(o);
  ASSERT_TRUE(by_rev);
  EXPECT_FALSE(by_rev->plan.writes_ref());
  EXPECT_FALSE(test::exists(layout().ref_path("main")));
}

TEST_F(LocalDir, LinkModeKeepsTheLocalDirIntact) {
  standard_download();
  auto r = import_folder(opts(ImportMode::Link));
  ASSERT_TRUE(r);
  for (const auto& f : r->plan.files) {
    EXPECT_EQ(test::inode_of(layout().blob_path(f.blob)), test::inode_of(f.source));
    EXPECT_TRUE(test::exists(src + "/.cache/huggingface/download/" + f.path + ".metadata"));
  }
  // Re-import after `hf download --local-dir` refreshed the same files at a new commit.
  for (const auto& f : r->plan.files) {
    const std::string meta = src + "/.cache/huggingface/download/" + f.path + ".metadata";
    test::write_file(meta, c2 + "\n" + f.blob + "\n1712656099.5\n");
  }
  auto again = import_folder(opts(ImportMode::Link));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->plan.commit, c2);
  EXPECT_EQ(again->blobs_written, 0u);  // same contents: blobs shared across the two snapshots
  EXPECT_TRUE(test::exists(layout().snapshot_dir(c2) + "/config.json"));
  // c1's snapshot is complete: the ref is not moved without --force (an older copy could be next)
  EXPECT_EQ(test::read_file(layout().ref_path("main")), c1);
  auto o = opts(ImportMode::Link);
  o.force = true;
  ASSERT_TRUE(import_folder(o));
  EXPECT_EQ(test::read_file(layout().ref_path("main")), c2);
  EXPECT_TRUE(test::exists(layout().snapshot_dir(c1)));
}

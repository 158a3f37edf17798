// Pure parts of the import: LFS decisions, .gitattributes matching, the derived commit id.
#include <gtest/gtest.h>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/manage/import.hpp"
#include "hubcache/cache/lfs_pointer.hpp"
#include "hubcache/util/hash.hpp"

using namespace hubcache;

TEST(ImportLfsRules, HubDefaultPatterns) {
  const LfsRules r = LfsRules::hub_defaults();
  for (const char* p : {"model.safetensors", "pytorch_model.bin", "sub/dir/w.bin", "x.gguf", "a.tar.gz", "data.parquet",
                        "events.out.tfevents.1234.host", "saved_model/variables/v.data", "saved_model/x", "m.onnx", "t.model",
                        "arch.zst", "a.7z"})
    EXPECT_TRUE(r.is_lfs(p, 10)) << p;
  for (const char* p : {"config.json", "README.md", "tokenizer.json", "sub/saved_model/x", "saved_model", "bin", "a.binx",
                        "vocab.txt", ".gitattributes", "a.tar"})
    EXPECT_FALSE(r.is_lfs(p, 10)) << p;
}

TEST(ImportLfsRules, SizeOverTenMiBIsAlwaysLfs) {
  const LfsRules r = LfsRules::hub_defaults();
  EXPECT_FALSE(r.is_lfs("notes.txt", LfsRules::k_size_threshold));
  EXPECT_TRUE(r.is_lfs("notes.txt", LfsRules::k_size_threshold + 1));
}

TEST(ImportLfsRules, RepoGitattributesAddAndClear) {
  LfsRules r = LfsRules::hub_defaults();
  r.add_gitattributes(
      "# comment\n"
      "*.txt filter=lfs diff=lfs merge=lfs -text\r\n"
      "keep.txt -filter\n"
      "/top/*.csv filter=lfs\n"
      "docs/ filter=lfs\n"  // directory-only: ignored
      "!neg.bin -filter\n"  // negated patterns are not allowed in gitattributes: ignored
      "*.bin filter=other\n"
      "\n");
  EXPECT_TRUE(r.is_lfs("a.txt", 1));
  EXPECT_TRUE(r.is_lfs("deep/b.txt", 1));
  EXPECT_FALSE(r.is_lfs("keep.txt", 1));      // later line wins
  EXPECT_FALSE(r.is_lfs("sub/keep.txt", 1));  // a pattern without "/" matches at any depth
  EXPECT_TRUE(r.is_lfs("top/x.csv", 1));
  EXPECT_FALSE(r.is_lfs("other/top/x.csv", 1));  // anchored at the repo root
  EXPECT_FALSE(r.is_lfs("top/sub/x.csv", 1));    // '*' does not cross '/'
  EXPECT_FALSE(r.is_lfs("docs/readme.md", 1));
  EXPECT_FALSE(r.is_lfs("w.bin", 1));  // filter=other clears the default
  EXPECT_TRUE(r.is_lfs("w.safetensors", 1));
}

TEST(ImportLfsRules, WildmatchSemantics) {
  EXPECT_TRUE(gitattributes_match("saved_model/**/*", "saved_model/a"));
  EXPECT_TRUE(gitattributes_match("saved_model/**/*", "saved_model/a/b/c"));
  EXPECT_FALSE(gitattributes_match("saved_model/**/*", "x/saved_model/a"));
  EXPECT_TRUE(gitattributes_match("**/x.bin", "x.bin"));
  EXPECT_TRUE(gitattributes_match("**/x.bin", "a/b/x.bin"));
  EXPECT_TRUE(gitattributes_match("a/**", "a/b/c"));
  EXPECT_TRUE(gitattributes_match("a/**/b", "a/b"));
  EXPECT_TRUE(gitattributes_match("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(gitattributes_match("a/*", "a/b/c"));
  EXPECT_TRUE(gitattributes_match("file?.[ch]", "file1.c"));
  EXPECT_FALSE(gitattributes_match("file?.[ch]", "file1.o"));
  EXPECT_TRUE(gitattributes_match("x[!0-9]", "xa"));
  EXPECT_FALSE(gitattributes_match("x[!0-9]", "x5"));
  EXPECT_TRUE(gitattributes_match("\\*lit", "*lit"));
  EXPECT_FALSE(gitattributes_match("\\*lit", "alit"));
  EXPECT_TRUE(gitattributes_match("[abc", "[abc"));  // unclosed bracket is literal
  EXPECT_TRUE(gitattributes_match("*tfevents*", "events.out.tfevents.1"));
}

TEST(ImportLfsRules, HostilePatternStaysFast) {
  // Naive backtracking would try ~C(400, 12) splits here; a repo's .gitattributes must not hang import.
  const std::string path(400, 'a');
  EXPECT_FALSE(gitattributes_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", path));
  EXPECT_TRUE(gitattributes_match("*a*a*a*a*a*a*a*a*a*a*a*a*", path));
  EXPECT_FALSE(gitattributes_match("**/**/**/**/**/**/**/**/x", std::string(200, '/') + "y"));
}

TEST(ImportDerivedCommit, GitTreeIdVectors) {
  // The empty tree id every git knows.
  EXPECT_EQ(derive_commit_id({}), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
  // A one-file tree: `printf 'Hello, World!' > a.txt; git add a.txt; git write-tree`.
  const std::string hello = git_blob_sha1_hex("Hello, World!");
  EXPECT_EQ(derive_commit_id({{"a.txt", 13, hello, false}}), "db6ddd165e2983e616fb81989a0ebce074147e99");
}

TEST(ImportDerivedCommit, DeterministicAndContentSensitive) {
  const std::string a = git_blob_sha1_hex("A"), b = git_blob_sha1_hex("B");
  const std::string c1 = derive_commit_id({{"x/a", 1, a, false}, {"b", 1, b, false}});
  EXPECT_TRUE(is_lower_hex(c1, 40));
  EXPECT_EQ(c1, derive_commit_id({{"b", 1, b, false}, {"x/a", 1, a, false}}));  // order of input is irrelevant
  EXPECT_NE(c1, derive_commit_id({{"x/a", 1, b, false}, {"b", 1, a, false}}));  // contents swapped
  EXPECT_NE(c1, derive_commit_id({{"y/a", 1, a, false}, {"b", 1, b, false}}));  // path renamed
  // An LFS file enters the tree as its pointer text.
  const std::string sha = sha256_hex("weights");
  const std::string lfs = derive_commit_id({{"w.bin", 7, sha, true}});
  EXPECT_EQ(lfs, derive_commit_id({{"w.bin", 41, git_blob_sha1_hex(lfs_pointer_text(sha, 7)), false}}));
  EXPECT_EQ(lfs_pointer_text(sha, 7), "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha + "\nsize 7\n");
}

TEST(ImportMode, Names) {
  for (auto m : {ImportMode::Auto, ImportMode::Link, ImportMode::Copy, ImportMode::Move})
    EXPECT_EQ(parse_import_mode(to_string(m)), m);
  EXPECT_FALSE(parse_import_mode("hardlink"));
  EXPECT_STREQ(to_string(CommitSource::Derived), "derived");
  EXPECT_STREQ(to_string(CommitSource::LocalDirMetadata), "local_dir_metadata");
}

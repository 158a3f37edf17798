#include <gtest/gtest.h>

#include "hubcache/core/repo_id.hpp"

using namespace hubcache;

TEST(RepoId, SpecValidAndInvalid) {  // docs/hub-protocol.md#identifiers
  for (const char* ok : {"foo", "foo/bar", "123", "Foo-BAR_foo.bar123", "_x"}) EXPECT_TRUE(validate_repo_id(ok)) << ok;
  for (const char* bad : {"datasets/foo/bar", ".repo_id", "-foo", "foo--bar", "foo.git", "a..b", "foo/", "", "/foo", "foo bar",
                          "foo/../bar", "fo\no"})
    EXPECT_FALSE(validate_repo_id(bad)) << bad;
  EXPECT_TRUE(validate_repo_id(std::string(96, 'a')));
  auto r = validate_repo_id(std::string(97, 'a'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidRepoId);
  EXPECT_NE(r.error().message.find("96"), std::string::npos);
}

TEST(RepoId, ATypePrefixPointsAtRepoTypeAndTheUri) {
  auto d = validate_repo_id("datasets/org/ds");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("Use 'org/ds' as a dataset id, or the URI 'hf://datasets/org/ds'"), std::string::npos)
      << d.error().message;
  EXPECT_EQ(d.error().remedy, Remedy::UseRepoType);
  EXPECT_EQ(d.error().remedy_value, "dataset");
  auto m = validate_repo_id("models/org/m");
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("Use 'org/m', or the URI 'hf://org/m'"), std::string::npos) << m.error().message;
  auto other = validate_repo_id("a/b/c");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("more than one '/'"), std::string::npos);
}

TEST(Revision, Validation) {
  for (const char* ok : {"main", "v1.0", "refs/pr/1", "refs/convert/parquet", "abc1234"})
    EXPECT_TRUE(validate_revision(ok)) << ok;
  EXPECT_TRUE(validate_revision(std::string(40, 'A')));  // an upper-case hash is a ref name
  for (const char* bad : {"", "/main", "a//b", "a/./b", "..", "a/..", "a\\b", "a\nb"})
    EXPECT_FALSE(validate_revision(bad)) << bad;
  EXPECT_FALSE(validate_revision(std::string("a\0b", 3)));
}

TEST(RepoPath, SpecVectors) {  // vector 26
  for (const char* bad : {"folder/..\\..\\..\\file", "../x", "/etc/passwd", "C:\\x", "a/C:b", "a/\\\\h\\s\\f", "\\x", "", "a//b",
                          "./a", "a/.", "a/../b"})
    EXPECT_FALSE(validate_repo_path(bad)) << bad;
  EXPECT_TRUE(validate_repo_path("foo:bar/ok.txt"));
  EXPECT_TRUE(validate_repo_path("a/b/c.bin"));
  EXPECT_FALSE(validate_repo_path(std::string("a\0b", 3)));
  auto r = validate_repo_path("../x");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'..'"), std::string::npos);
}

TEST(Etag, NormalizeAndValidate) {  // vectors 5, 39
  EXPECT_EQ(normalize_etag("\"a16a55fda99d2f2e7b69cce5cf93ff4ad3049930\""), "a16a55fda99d2f2e7b69cce5cf93ff4ad3049930");
  EXPECT_EQ(normalize_etag("W/\"a16a55fda99d2f2e7b69cce5cf93ff4ad3049930\""), "a16a55fda99d2f2e7b69cce5cf93ff4ad3049930");
  EXPECT_FALSE(validate_etag("../x"));
  EXPECT_FALSE(validate_etag(".."));
  EXPECT_FALSE(validate_etag(""));
  EXPECT_FALSE(validate_etag("a\\b"));
  EXPECT_TRUE(validate_etag("a16a55fda99d2f2e7b69cce5cf93ff4ad3049930"));
}

TEST(RepoType, ParseAndPrefixes) {
  EXPECT_EQ(parse_repo_type("dataset"), RepoType::Dataset);
  EXPECT_EQ(parse_repo_type("spaces"), RepoType::Space);
  EXPECT_FALSE(parse_repo_type("Model"));
  EXPECT_STREQ(url_prefix(RepoType::Model), "");
  EXPECT_STREQ(url_prefix(RepoType::Dataset), "datasets/");
  EXPECT_TRUE(is_commit_hash(std::string(40, 'a')));
  EXPECT_FALSE(is_commit_hash(std::string(40, 'A')));
  EXPECT_FALSE(is_commit_hash("abc1234"));
}

#include <gtest/gtest.h>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

TEST(Hash, SpecVectors) {  // vector 8
  EXPECT_EQ(git_blob_sha1_hex("Hello, World!"), "b45ef6fec89518d314f546fd6c3025367b721684");
  EXPECT_EQ(sha256_hex("Hello, World!"), "dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f");
  EXPECT_EQ(git_blob_sha1_hex(""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Hash, FileHashMatchesInMemoryAndIncremental) {
  test::TempDir dir;
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  test::write_file(dir / "f", big);
  auto h = hash_file(dir / "f", HashWhat::Both);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->size, big.size());
  EXPECT_EQ(h->sha256, sha256_hex(big));
  EXPECT_EQ(h->git_sha1, git_blob_sha1_hex(big));
  Hasher inc(Hasher::Kind::Sha256);
  inc.update(big.substr(0, 1000));
  inc.update(big.substr(1000));
  EXPECT_EQ(inc.hex_digest(), h->sha256);
}

TEST(Hash, MissingFileIsAClearError) {
  auto h = hash_file("/nonexistent/hubcache/file", HashWhat::Sha256);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, ErrorCode::NotFound);
  EXPECT_NE(h.error().message.find("/nonexistent/hubcache/file"), std::string::npos);
}

TEST(Hash, IsLowerHex) {
  EXPECT_TRUE(is_lower_hex(std::string(40, 'a'), 40));
  EXPECT_FALSE(is_lower_hex(std::string(40, 'A'), 40));
  EXPECT_FALSE(is_lower_hex(std::string(39, 'a'), 40));
  EXPECT_FALSE(is_lower_hex(std::string(39, 'a') + "g", 40));
}

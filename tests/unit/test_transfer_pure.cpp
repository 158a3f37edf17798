#include <gtest/gtest.h>

#include "hubcache/transfer/engine.hpp"

using namespace hubcache;
using namespace hubcache::transfer;

TEST(TransferRange, AdjustmentVector13_21) {
  EXPECT_EQ(*adjust_range_header("bytes=15-", 20), "bytes=35-");
  EXPECT_EQ(*adjust_range_header("bytes=15-114", 20), "bytes=35-114");
  EXPECT_EQ(*adjust_range_header("bytes=-100", 20), "bytes=-80");
  EXPECT_EQ(*adjust_range_header("bytes=0-", 0), "bytes=0-");
}

TEST(TransferRange, InvalidAdjustments) {
  EXPECT_FALSE(adjust_range_header("bytes=0-10,20-30", 1));  // multi-range
  EXPECT_FALSE(adjust_range_header("bytes=-10", 10));        // becomes empty
  EXPECT_FALSE(adjust_range_header("bytes=5-10", 7));        // past the end
  EXPECT_FALSE(adjust_range_header("items=0-", 1));
  EXPECT_FALSE(adjust_range_header("bytes=x-", 1));
  EXPECT_EQ(*adjust_range_header("bytes=5-10", 5), "bytes=10-10");  // one byte left
  EXPECT_FALSE(adjust_range_header("bytes=5-10", 6));
}

TEST(TransferHash, KindFromEtag) {
  EXPECT_EQ(digest_kind_of("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), DigestKind::Sha256);
  EXPECT_EQ(digest_kind_of("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"), DigestKind::GitSha1);
  EXPECT_EQ(digest_kind_of("E69DE29BB2D1D6434B8B29AE775AD8C2E48C5391"), DigestKind::None);
  EXPECT_EQ(digest_kind_of("abc"), DigestKind::None);
  EXPECT_EQ(digest_kind_of(std::string(64, 'a') + "/"), DigestKind::None);
  EXPECT_EQ(digest_kind_of("../x"), DigestKind::None);
  EXPECT_STREQ(to_string(DigestKind::Sha256), "sha256");
  EXPECT_STREQ(to_string(DigestKind::GitSha1), "git-sha1");
}

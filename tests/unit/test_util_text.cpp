// util/text.hpp: the ASCII helpers and the one URL escaper.
#include <gtest/gtest.h>

#include "hubcache/util/text.hpp"

namespace hubcache {
namespace {

TEST(Text, PercentEncodeIsUrllibQuote) {
  // urllib.parse.quote(s, safe=""): '/' too; quote(s, safe="/") keeps it.
  EXPECT_EQ(percent_encode("refs/pr/1"), "refs%2Fpr%2F1");
  EXPECT_EQ(percent_encode("a b+c#d~e_f.g-h/i", "/"), "a%20b%2Bc%23d~e_f.g-h/i");
  EXPECT_EQ(percent_encode("\xc3\xa9\x7f%"), "%C3%A9%7F%25");
  EXPECT_EQ(percent_encode("AZaz09"), "AZaz09");
  EXPECT_EQ(percent_encode(""), "");
}

TEST(Text, PercentDecodeIsStrictAndInvertsEncode) {
  EXPECT_EQ(percent_decode("refs%2Fpr%2f1"), "refs/pr/1");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_FALSE(percent_decode("50%"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("%zz"));
  const std::string all = [] {
    std::string s;
    for (int c = 0; c < 256; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  EXPECT_EQ(percent_decode(percent_encode(all)), all);
  EXPECT_EQ(percent_decode(percent_encode(all, "/")), all);
}

TEST(Text, TrimLowerAndNumbers) {
  EXPECT_EQ(trim(" \t abc\r\n"), "abc");
  EXPECT_EQ(to_lower("ETag"), "etag");
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_EQ(parse_u64("18446744073709551615"), 18446744073709551615ull);
  EXPECT_FALSE(parse_u64("18446744073709551616"));
  EXPECT_FALSE(parse_u64("-1"));
  EXPECT_FALSE(parse_u64(""));
}

}  // namespace
}  // namespace hubcache

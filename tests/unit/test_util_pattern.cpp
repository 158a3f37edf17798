#include <gtest/gtest.h>

#include "hubcache/util/pattern.hpp"

using namespace hubcache;

TEST(Pattern, FnmatchcaseSemantics) {
  EXPECT_TRUE(fnmatch_case("*.json", "sub/dir/x.json"));  // '*' crosses '/'
  EXPECT_FALSE(fnmatch_case("*.JSON", "x.json"));         // case-sensitive
  EXPECT_TRUE(fnmatch_case("art/**", "art/a/b.png"));
  EXPECT_TRUE(fnmatch_case("file[1].txt", "file1.txt"));
  EXPECT_FALSE(fnmatch_case("file[1].txt", "file[1].txt"));
  EXPECT_TRUE(fnmatch_case("a?c", "abc"));
  EXPECT_FALSE(fnmatch_case("a?c", "ac"));
  EXPECT_TRUE(fnmatch_case("[!a]x", "bx"));
  EXPECT_FALSE(fnmatch_case("[!a]x", "ax"));
  EXPECT_TRUE(fnmatch_case("[a-c]", "b"));
  EXPECT_TRUE(fnmatch_case("[]]", "]"));
  EXPECT_TRUE(fnmatch_case("[x", "[x"));  // unterminated class is literal
  EXPECT_TRUE(fnmatch_case("*", ""));
  EXPECT_FALSE(fnmatch_case("x", "xy"));  // whole-string match
}

TEST(Pattern, FilterSpecVectors) {  // vector 27
  EXPECT_TRUE(PathFilter::make(std::vector<std::string>{"*.json"}, {}).selects("sub/dir/x.json"));
  EXPECT_TRUE(PathFilter::make(std::vector<std::string>{"data/"}, {}).selects("data/a/b.csv"));
  EXPECT_TRUE(PathFilter::make(std::vector<std::string>{"art/**"}, {}).selects("art/a/b.png"));
  EXPECT_FALSE(PathFilter::make(std::vector<std::string>{"*.JSON"}, {}).selects("x.json"));
  EXPECT_FALSE(PathFilter::make(std::vector<std::string>{}, {}).selects("x.json"));                  // empty allow list
  EXPECT_TRUE(PathFilter::make(std::nullopt, {}).selects("x.json"));                                 // no allow list
  EXPECT_FALSE(PathFilter::make(std::vector<std::string>{"*.json"}, {"x.json"}).selects("x.json"));  // ignore wins
  EXPECT_TRUE(PathFilter::make(std::vector<std::string>{"a\\*.txt"}, {}).selects("a\\b.txt"));       // '\' normalized
}

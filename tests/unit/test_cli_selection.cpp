// parse_selection: what a user types at `hubcache cache rm`'s selection list.
#include <gtest/gtest.h>

#include "selection.hpp"

using hubcache::cli::parse_selection;
using V = std::vector<std::size_t>;

namespace {

std::string error_of(std::string_view text, std::size_t count) {
  auto r = parse_selection(text, count);
  EXPECT_FALSE(r) << "'" << text << "' was accepted";
  return r ? std::string() : r.error().message;
}

}  // namespace

TEST(CliSelection, NumbersAndRanges) {
  EXPECT_EQ(*parse_selection("1 3 5-7", 7), (V{1, 3, 5, 6, 7}));
  EXPECT_EQ(*parse_selection("2", 2), (V{2}));
  EXPECT_EQ(*parse_selection("4-4", 5), (V{4}));
  EXPECT_EQ(*parse_selection("1-3", 3), (V{1, 2, 3}));
}

TEST(CliSelection, SeparatorsAndSpacing) {
  EXPECT_EQ(*parse_selection("  1,3  ,5 - 6\t", 7), (V{1, 3, 5, 6}));
  EXPECT_EQ(*parse_selection("1,2", 2), (V{1, 2}));
  EXPECT_EQ(*parse_selection("3 -4", 4), (V{3, 4}));
}

TEST(CliSelection, DuplicatesAndOverlapsCountOnce) { EXPECT_EQ(*parse_selection("3 1 3 2-3 1-2", 5), (V{1, 2, 3})); }

TEST(CliSelection, BlankInputSelectsNothing) {
  EXPECT_EQ(*parse_selection("", 3), V{});
  EXPECT_EQ(*parse_selection("   \t ", 3), V{});
  EXPECT_EQ(*parse_selection(" , ", 3), V{});
}

TEST(CliSelection, OutOfRangeNamesTheNumberAndTheBounds) {
  EXPECT_EQ(error_of("0", 3), "0 is not in the list: pick from 1 to 3");
  EXPECT_EQ(error_of("1 4", 3), "4 is not in the list: pick from 1 to 3");
  EXPECT_EQ(error_of("2-9", 3), "9 is not in the list: pick from 1 to 3");
  EXPECT_EQ(error_of("1", 0), "1 is not in the list: the list is empty");
  // Far beyond 64 bits: still an out-of-range answer, never a wrap-around to a valid number.
  EXPECT_NE(error_of("18446744073709551617", 3).find("is not in the list: pick from 1 to 3"), std::string::npos);
  EXPECT_NE(error_of("1-99999999999999999999", 3).find("is not in the list"), std::string::npos);
}

TEST(CliSelection, ReversedRangeSaysHowToWriteIt) { EXPECT_EQ(error_of("3-1", 3), "range '3-1' is reversed: write 1-3"); }

TEST(CliSelection, GarbageIsNamed) {
  const std::string hint = " is not a number or a range: type numbers from the list, like 3, or ranges, like 5-7";
  EXPECT_EQ(error_of("abc", 3), "'abc'" + hint);
  EXPECT_EQ(error_of("1 x2", 3), "'x2'" + hint);
  EXPECT_EQ(error_of("1-", 3), "'1-'" + hint);
  EXPECT_EQ(error_of("-2", 3), "'-2'" + hint);
  EXPECT_EQ(error_of("1-2-3", 3), "'1-2-3'" + hint);
  EXPECT_EQ(error_of("1.5", 3), "'1.5'" + hint);
  EXPECT_EQ(error_of("+1", 3), "'+1'" + hint);
  EXPECT_EQ(error_of("y", 3), "'y'" + hint);
}

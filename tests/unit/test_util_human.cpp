#include <gtest/gtest.h>

#include "hubcache/util/human.hpp"

using namespace hubcache;

TEST(Human, FormatSize) {
  EXPECT_EQ(format_size(0), "0.0");
  EXPECT_EQ(format_size(999), "999.0");
  EXPECT_EQ(format_size(1000), "1.0K");
  EXPECT_EQ(format_size(3398085269.0), "3.4G");
  EXPECT_EQ(format_size(1.5e6), "1.5M");
}

TEST(Human, FormatAge) {
  EXPECT_EQ(format_age(5), "a few seconds ago");
  EXPECT_EQ(format_age(45), "45 seconds ago");
  EXPECT_EQ(format_age(120), "2 minutes ago");
  EXPECT_EQ(format_age(3600), "60 minutes ago");  // PY: the minute cap is inclusive
  EXPECT_EQ(format_age(7200), "2 hours ago");
  EXPECT_EQ(format_age(3 * 86400), "3 days ago");
  EXPECT_EQ(format_age(14 * 86400), "2 weeks ago");
  EXPECT_EQ(format_age(400 * 86400), "1 year ago");
}

TEST(Human, ParseSize) {
  EXPECT_EQ(parse_size("1000"), 1000u);
  EXPECT_EQ(parse_size("1GB"), 1000000000u);
  EXPECT_EQ(parse_size("10kb"), 10000u);
  EXPECT_EQ(parse_size("2M"), 2000000u);
  EXPECT_FALSE(parse_size("1.5GB"));
  EXPECT_FALSE(parse_size("GB"));
  EXPECT_FALSE(parse_size("5 parsecs"));
  // A value whose bytes do not fit 64 bits is refused, not wrapped around (24496081740101 PB
  // would wrap to 32.8 kB and make `cache gc --max-size` remove everything).
  EXPECT_FALSE(parse_size("24496081740101pb"));
  EXPECT_EQ(parse_size("18446pb"), 18446000000000000000u);
}

TEST(Human, ParseDuration) {
  EXPECT_EQ(parse_duration("30"), 30u);
  EXPECT_EQ(parse_duration("7d"), 7u * 86400);
  EXPECT_EQ(parse_duration("2w"), 14u * 86400);
  EXPECT_EQ(parse_duration("3mo"), 90u * 86400);
  EXPECT_FALSE(parse_duration("584942417356y"));  // would wrap to about 339 days
  EXPECT_EQ(parse_duration("1y"), 365u * 86400);
  EXPECT_EQ(parse_duration("5m"), 300u);
  EXPECT_FALSE(parse_duration("1.5d"));
  EXPECT_FALSE(parse_duration("3 fortnights"));
}

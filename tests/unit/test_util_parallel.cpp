#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "hubcache/util/parallel.hpp"

using namespace hubcache;
using std::chrono::microseconds;

TEST(ParallelForAdaptive, RunsEveryItemOnceWithinTheLimit) {
  constexpr std::size_t n = 200;
  std::vector<std::atomic<int>> runs(n);
  std::atomic<unsigned> inside{0}, peak{0};
  parallel_for_adaptive(n, 16, [] { return 3u; }, [&](std::size_t i) {
    const unsigned now = ++inside;
    for (unsigned p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
    }
    ++runs[i];
    --inside;
  });
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << i;
  EXPECT_LE(peak.load(), 3u);
}

TEST(ParallelForAdaptive, StartsThreadsWhenTheLimitGrows) {
  // Items 1-4 each wait until four are running at once: that only ends if finishing item 0
  // (which raises the limit from 1 to 4) made the pool grow.
  std::atomic<bool> grown{false};
  std::atomic<unsigned> waiting{0};
  std::atomic<int> done{0};
  parallel_for_adaptive(5, 8, [&] { return grown ? 4u : 1u; }, [&](std::size_t i) {
    if (i == 0) {
      grown = true;
    } else {
      ++waiting;
      while (waiting.load() < 4) std::this_thread::yield();
    }
    ++done;
  });
  EXPECT_EQ(done.load(), 5);
}

TEST(InFlightLimit, GrowsFourfoldWhileItemTimesStayFlat) {
  InFlightLimit l(8, 512);
  auto round = [&](microseconds each) {
    const unsigned e = l.epoch();
    const unsigned n = l.limit();
    for (unsigned i = 0; i < n; ++i) l.sample(e, each);
  };
  round(microseconds{60'000});
  EXPECT_EQ(l.limit(), 32u);
  EXPECT_FALSE(l.settled());
  round(microseconds{62'000});
  EXPECT_EQ(l.limit(), 128u);
  round(microseconds{61'000});
  EXPECT_EQ(l.limit(), 512u);
  EXPECT_TRUE(l.settled());
  round(microseconds{500});
  EXPECT_EQ(l.limit(), 512u);  // the cap holds
}

TEST(InFlightLimit, TheCapIsReachedEvenWhenNotAPowerOfTheGrowth) {
  InFlightLimit l(8, 100);
  for (int round = 0; round < 2; ++round) {
    const unsigned e = l.epoch();
    const unsigned n = l.limit();
    for (unsigned i = 0; i < n; ++i) l.sample(e, microseconds{1'000});
  }
  EXPECT_EQ(l.limit(), 100u);
  EXPECT_TRUE(l.settled());
}

TEST(InFlightLimit, StepsHalfwayBackOnceItemTimesStretch) {
  InFlightLimit l(8, 128);
  const unsigned e0 = l.epoch();
  for (int i = 0; i < 8; ++i) l.sample(e0, microseconds{1'000});
  ASSERT_EQ(l.limit(), 32u);
  // A late sample of the old epoch does not count towards the new round.
  l.sample(e0, microseconds{90'000});
  const unsigned e1 = l.epoch();
  for (int i = 0; i < 31; ++i) l.sample(e1, microseconds{4'100});
  EXPECT_EQ(l.limit(), 32u);  // round not complete yet
  l.sample(e1, microseconds{4'100});
  EXPECT_EQ(l.limit(), 16u);  // four times as many in flight, four times as slow each: halfway back
  EXPECT_TRUE(l.settled());
  for (int i = 0; i < 16; ++i) l.sample(l.epoch(), microseconds{10});
  EXPECT_EQ(l.limit(), 16u);
}

TEST(InFlightLimit, AFixedLimitNeverMoves) {
  InFlightLimit l(4, 4);
  EXPECT_TRUE(l.settled());
  for (int i = 0; i < 20; ++i) l.sample(l.epoch(), microseconds{100});
  EXPECT_EQ(l.limit(), 4u);
}

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "hubcache/util/parallel.hpp"

using namespace hubcache;
using std::chrono::microseconds;

namespace {

// Records what parallel_pipeline does: items in flight (started, finish not yet returned), per
// thread and over all, and the order of starts and finishes on each thread.
struct PipelineProbe {
  std::mutex mutex;
  std::condition_variable grew;
  std::size_t in_flight = 0, peak = 0;
  std::map<std::thread::id, std::size_t> held;  // per thread
  std::map<std::thread::id, std::vector<std::size_t>> started, finished;
  std::vector<int> finishes;
  std::vector<std::size_t> alone_with_held;  // items started "alone" while their thread held some

  explicit PipelineProbe(std::size_t n) : finishes(n, 0) {}
  // Returns the items in flight right after this start.
  std::size_t start(std::size_t i, bool alone) {
    std::lock_guard lock(mutex);
    const auto me = std::this_thread::get_id();
    if (alone && held[me] > 0) alone_with_held.push_back(i);
    ++held[me];
    started[me].push_back(i);
    peak = std::max(peak, ++in_flight);
    grew.notify_all();
    return in_flight;
  }
  // Until `k` items are in flight at once (or 10 s): a first finish that waits here lets every
  // start the pipeline has already admitted be counted before any item ends.
  void wait_for_peak(std::size_t k) {
    std::unique_lock lock(mutex);
    grew.wait_for(lock, std::chrono::seconds(10), [&] { return peak >= k; });
  }
  void finish(std::size_t i, std::thread::id starter) {
    std::lock_guard lock(mutex);
    const auto me = std::this_thread::get_id();
    EXPECT_EQ(me, starter) << "item " << i << " finished on another thread";
    --held[me];
    --in_flight;
    ++finishes[i];
    finished[me].push_back(i);
  }
};

}  // namespace

TEST(ParallelPipeline, KeepsMoreItemsInFlightThanThreadsUpToTheLimit) {
  constexpr std::size_t n = 300;
  PipelineProbe probe(n);
  parallel_pipeline(
      n, 4, [] { return 10u; },
      [&](std::size_t i, bool alone) {
        probe.start(i, alone);
        const auto me = std::this_thread::get_id();
        // A thread finishes only once the limit is reached, so 10 starts are admitted by then.
        return PipelineStep::started([&probe, i, me] {
          probe.wait_for_peak(10);
          probe.finish(i, me);
        });
      });
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(probe.finishes[i], 1) << i;
  EXPECT_EQ(probe.peak, 10u);  // 4 threads, 10 in flight: a thread holds several
  EXPECT_EQ(probe.in_flight, 0u);
  for (auto& [thread, order] : probe.started) EXPECT_EQ(order, probe.finished[thread]) << "finishes follow starts";
}

TEST(ParallelPipeline, ItemsDoneAtOnceFreeTheirSlotAtOnce) {
  constexpr std::size_t n = 100;
  PipelineProbe probe(n);
  parallel_pipeline(
      n, 3, [] { return 2u; },
      [&](std::size_t i, bool alone) {
        probe.start(i, alone);
        if (i % 2 == 0) {
          probe.finish(i, std::this_thread::get_id());
          return PipelineStep::done();
        }
        const auto me = std::this_thread::get_id();
        return PipelineStep::started([&probe, i, me] { probe.finish(i, me); });
      });
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(probe.finishes[i], 1) << i;
  EXPECT_LE(probe.peak, 2u);
  EXPECT_EQ(probe.in_flight, 0u);
}

TEST(ParallelPipeline, AnItemThatNeedsItsThreadAloneStartsOnlyWhenTheThreadHoldsNothing) {
  constexpr std::size_t n = 200;
  PipelineProbe probe(n);
  std::atomic<int> declined{0};
  parallel_pipeline(
      n, 4, [] { return 16u; },
      [&](std::size_t i, bool alone) {
        if (i % 7 == 0 && !alone) {
          ++declined;
          return PipelineStep::needs_alone();
        }
        probe.start(i, alone);
        const auto me = std::this_thread::get_id();
        return PipelineStep::started([&probe, i, me] { probe.finish(i, me); });
      });
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(probe.finishes[i], 1) << i;
  EXPECT_GT(declined.load(), 0);  // threads did hold items when those came up
  EXPECT_TRUE(probe.alone_with_held.empty()) << probe.alone_with_held.size() << " items started alone beside others";
  EXPECT_LE(probe.peak, 16u);
}

TEST(ParallelPipeline, FollowsAGrowingLimit) {
  constexpr std::size_t n = 400;
  PipelineProbe probe(n);
  std::atomic<std::size_t> starts{0};
  std::size_t peak_before = 0;  // items in flight seen by the first 50 starts (limit 2)
  parallel_pipeline(
      n, 4, [&] { return starts.load() < 50 ? 2u : 24u; },
      [&](std::size_t i, bool alone) {
        const std::size_t seen = probe.start(i, alone);
        if (starts++ < 50) {  // counted after the start, so a start seen here was admitted under limit 2
          std::lock_guard lock(probe.mutex);
          peak_before = std::max(peak_before, seen);
        }
        const auto me = std::this_thread::get_id();
        // Once the limit is 24, a thread finishes only when 24 are admitted (or at the end).
        return PipelineStep::started([&probe, &starts, i, me] {
          if (starts.load() > 50) probe.wait_for_peak(24);
          probe.finish(i, me);
        });
      });
  // At most the limit, plus one for each other thread admitted just before the limit changed.
  EXPECT_LE(peak_before, 2u + 3u);
  EXPECT_EQ(probe.peak, 24u);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(probe.finishes[i], 1) << i;
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

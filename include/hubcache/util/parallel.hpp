#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <utility>
#include <functional>
#include <mutex>
#include <vector>

namespace hubcache {

/// Runs fn(i) for i in [0, n) on up to `threads` threads (0 = hardware concurrency).
/// Work is handed out one index at a time, so uneven items balance. fn must not throw.
void parallel_for(std::size_t n, unsigned threads, const std::function<void(std::size_t)>& fn);

/// What start(i, alone) of parallel_pipeline did with item i.
struct PipelineStep {
  enum class Kind { Done, Started, NeedsAlone };
  Kind kind = Kind::Done;
  std::function<void()> finish;  // Started: completes the item

  static PipelineStep done() { return {}; }
  static PipelineStep started(std::function<void()> finish) { return {Kind::Started, std::move(finish)}; }
  static PipelineStep needs_alone() { return {Kind::NeedsAlone, {}}; }
};

/// Runs items [0, n) on up to `threads` threads (the caller's among them), each thread keeping
/// several items in flight, for items that mostly wait on something else (a transfer): many
/// items need few threads. start(i, alone) either does item i (Done), or begins it and returns
/// what completes it (Started), or, only when `alone` is false, declines (NeedsAlone) because
/// it would block (a lock another item may hold) or keep the thread busy for long (a large
/// file): the thread then finishes every item it has in flight and calls start(i, true), which
/// must not decline. So a thread only ever blocks in start while it holds nothing in flight.
/// At most limit() items (read before each start; at least 1) are in flight at once over all
/// threads, an item counting from its start until its finish returns: a thread at the limit
/// finishes its oldest item before starting another; one with nothing in flight waits for a
/// free slot. Each finish runs once, on the thread that started the item, in start order. All
/// items are started and finished, and all threads joined, before the call returns.
/// limit(), start and the finishes must not throw.
void parallel_pipeline(std::size_t n, unsigned threads, const std::function<unsigned()>& limit,
                       const std::function<PipelineStep(std::size_t i, bool alone)>& start);

/// How many items to keep in flight when each item's time may be bound by latency (round
/// trips) rather than by bandwidth or CPU. Starts at `start`; after every full round (as many
/// samples as the current limit, all of items started at that limit) it compares the round's
/// median item time with the fastest round's so far: while more items in flight leave it within
/// k_stretch of that, latency bounds the rate and the limit grows k_growth-fold (up to `cap`);
/// once it stretches beyond, bandwidth or CPU bounds it, so the limit steps back to half its
/// value (not to the previous one: the last step may have overshot only a little) and stays
/// there, as it does once `cap` is reached. Fourfold steps reach 8 -> 128 in two rounds (each
/// a round trip or two) where doubling took four. Callers sample only items whose
/// time is not explained by their size (small files). Thread-safe; limit() is lock-free.
class InFlightLimit {
 public:
  static constexpr double k_stretch = 1.5;
  static constexpr unsigned k_growth = 4;

  InFlightLimit(unsigned start, unsigned cap);
  unsigned limit() const { return m_limit.load(std::memory_order_relaxed); }
  /// Changes with every new limit; an item records it when it starts and passes it to sample().
  unsigned epoch() const { return m_epoch.load(std::memory_order_relaxed); }
  /// An item started at `epoch` took `elapsed`. Items of earlier epochs are ignored.
  void sample(unsigned epoch, std::chrono::microseconds elapsed);
  /// True once the limit no longer changes.
  bool settled() const;

 private:
  const unsigned m_start;
  const unsigned m_cap;
  std::atomic<unsigned> m_limit;
  std::atomic<unsigned> m_epoch{0};
  mutable std::mutex m_mutex;
  std::vector<std::chrono::microseconds> m_round;
  std::chrono::microseconds m_reference{0};
  bool m_settled = false;
};

}  // namespace hubcache

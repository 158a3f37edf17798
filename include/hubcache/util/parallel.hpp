#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

namespace hubcache {

/// Runs fn(i) for i in [0, n) on up to `threads` threads (0 = hardware concurrency).
/// Work is handed out one index at a time, so uneven items balance. fn must not throw.
void parallel_for(std::size_t n, unsigned threads, const std::function<void(std::size_t)>& fn);

/// Like parallel_for, but the number of threads follows `limit()` (clamped to [1, max_threads]),
/// read after every item: a thread that finishes an item starts more threads while the limit is
/// above the running count and items remain, or exits if the count is above the limit. The
/// calling thread works too and never exits early. Threads are only started, never pooled
/// beyond the call; all are joined before it returns. limit() and fn must not throw.
void parallel_for_adaptive(std::size_t n, unsigned max_threads, const std::function<unsigned()>& limit,
                           const std::function<void(std::size_t)>& fn);

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

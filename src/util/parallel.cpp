#include "hubcache/util/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace hubcache {

void parallel_for(std::size_t n, unsigned threads, const std::function<void(std::size_t)>& fn) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, n));
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

}  // namespace hubcache

namespace hubcache {

void parallel_pipeline(std::size_t n, unsigned threads, const std::function<unsigned()>& limit,
                       const std::function<PipelineStep(std::size_t, bool)>& start) {
  threads = static_cast<unsigned>(std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(n, 1)));
  std::mutex mutex;
  std::condition_variable slot_free;
  std::size_t next = 0;       // guarded by mutex
  std::size_t in_flight = 0;  // guarded by mutex
  auto wanted = [&] { return static_cast<std::size_t>(std::max(1u, limit())); };
  auto worker = [&] {
    std::deque<std::function<void()>> mine;  // this thread's items in flight, oldest first
    auto release = [&] {
      {
        std::lock_guard lock(mutex);
        --in_flight;
      }
      slot_free.notify_all();
    };
    auto finish_oldest = [&] {
      auto finish = std::move(mine.front());
      mine.pop_front();
      finish();
      release();
    };
    for (;;) {
      std::size_t i;
      {
        std::unique_lock lock(mutex);
        if (!mine.empty() && in_flight >= wanted()) {
          lock.unlock();
          finish_oldest();
          continue;
        }
        // Here either a slot is free or this thread holds nothing: wait for a slot.
        slot_free.wait(lock, [&] { return next >= n || in_flight < wanted(); });
        if (next >= n) break;
        i = next++;
        ++in_flight;
      }
      PipelineStep step = start(i, mine.empty());
      if (step.kind == PipelineStep::Kind::NeedsAlone) {
        while (!mine.empty()) finish_oldest();
        step = start(i, true);
      }
      if (step.kind == PipelineStep::Kind::Started && step.finish)
        mine.push_back(std::move(step.finish));
      else
        release();
    }
    while (!mine.empty()) finish_oldest();
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

}  // namespace hubcache

namespace hubcache {

InFlightLimit::InFlightLimit(unsigned start, unsigned cap)
    : m_start(std::max(1u, start)), m_cap(std::max(std::max(1u, start), cap)), m_limit(m_start) {
  m_settled = m_start >= m_cap;
}

bool InFlightLimit::settled() const {
  std::lock_guard lock(m_mutex);
  return m_settled;
}

void InFlightLimit::sample(unsigned epoch, std::chrono::microseconds elapsed) {
  std::lock_guard lock(m_mutex);
  if (m_settled || epoch != m_epoch.load()) return;
  m_round.push_back(elapsed);
  const unsigned current = m_limit.load();
  if (m_round.size() < current) return;
  auto mid = m_round.begin() + static_cast<std::ptrdiff_t>(m_round.size() / 2);
  std::nth_element(m_round.begin(), mid, m_round.end());
  const auto median = *mid;
  m_round.clear();
  // The fastest round so far is the reference: the first one also pays for connection set-up.
  const auto floor = std::max(median, std::chrono::microseconds{1});
  m_reference = m_reference.count() == 0 ? floor : std::min(m_reference, floor);
  unsigned next;
  if (static_cast<double>(median.count()) <= k_stretch * static_cast<double>(m_reference.count())) {
    next = std::min(m_cap, current * k_growth);
    m_settled = next == m_cap;
  } else {
    next = std::max(m_start, current / 2);  // halfway back: the step that stretched may have overshot only a little
    m_settled = true;
  }
  m_limit = next;
  ++m_epoch;
}

}  // namespace hubcache

#pragma once
// The proxy's size cap (`serve --upstream --max-size SIZE`): after fills, `cache gc`'s plan with
// max_size runs in a background thread, removing the least recently served revisions (the
// proxy's use records) until the cache fits. gc's rules hold: pinned revisions and repos with a
// download running (a blob lock held: every fill in flight) are never selected, and a blob being
// sent stays readable to its open descriptor after it is unlinked.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace hubcache::proxy {

class Evictor {
 public:
  /// Starts the thread. `log` gets one line per eviction round that removed something or failed.
  Evictor(std::string cache_dir, std::uint64_t max_size, std::function<void(std::string_view)> log);
  ~Evictor();  // stops and joins
  Evictor(const Evictor&) = delete;
  Evictor& operator=(const Evictor&) = delete;

  /// The cache grew: check it soon (rounds are at least `k_min_gap` apart).
  void poke();
  std::uint64_t revisions_evicted() const { return m_evicted.load(); }
  std::uint64_t rounds() const { return m_rounds.load(); }

 private:
  void run();
  void round();

  std::string m_cache;
  std::uint64_t m_max_size;
  std::function<void(std::string_view)> m_log;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_dirty = true;  // one round at start
  bool m_stop = false;
  std::atomic<std::uint64_t> m_evicted{0}, m_rounds{0};
  std::thread m_thread;
};

}  // namespace hubcache::proxy

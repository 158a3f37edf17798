// The proxy's size cap: cache gc's LRU plan after fills.
#include "evictor.hpp"

#include <chrono>
#include <ctime>

#include "hubcache/manage/gc.hpp"
#include "hubcache/manage/scan.hpp"

namespace hubcache::proxy {
namespace {
constexpr std::chrono::milliseconds k_min_gap{500};
}

Evictor::Evictor(std::string cache_dir, std::uint64_t max_size, std::function<void(std::string_view)> log)
    : m_cache(std::move(cache_dir)), m_max_size(max_size), m_log(std::move(log)), m_thread([this] { run(); }) {}

Evictor::~Evictor() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_cv.notify_all();
  m_thread.join();
}

void Evictor::poke() {
  {
    std::lock_guard lock(m_mutex);
    m_dirty = true;
  }
  m_cv.notify_all();
}

void Evictor::run() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_cv.wait(lock, [this] { return m_stop || m_dirty; });
    if (m_stop) return;
    m_dirty = false;
    lock.unlock();
    round();
    lock.lock();
    m_cv.wait_for(lock, k_min_gap, [this] { return m_stop; });
  }
}

void Evictor::round() {
  ++m_rounds;
  ScanOptions blobs_only;  // gc works from each repo's blobs, not its files
  blobs_only.collect_files = false;
  auto scan = scan_cache(m_cache, blobs_only);
  if (!scan) {
    if (m_log) m_log("evict: cannot scan the cache: " + scan.error().message);
    return;
  }
  GcOptions o;
  o.max_size = m_max_size;
  o.now = static_cast<double>(std::time(nullptr));
  auto plan = plan_gc(*scan, o);
  if (!plan) {
    if (m_log) m_log("evict: " + plan.error().message);
    return;
  }
  if (plan->selected.empty()) return;
  const DeleteReport report = plan->execute();
  m_evicted += plan->selected.size();
  if (m_log)
    m_log("evict: removed " + std::to_string(plan->selected.size()) + " least recently served revision(s), freed " +
          std::to_string(report.freed_bytes) + " bytes (--max-size " + std::to_string(m_max_size) + ")" +
          (plan->target_met ? "" : "; still above the cap: the rest is pinned or being fetched"));
}

}  // namespace hubcache::proxy

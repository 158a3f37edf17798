#pragma once
// Cancellation shared by every long call (downloads, scans, serving): one flag a caller sets.
#include <atomic>

namespace hubcache {

/// Shared cancellation flag: a caller (a signal handler, another thread) sets it; running
/// requests stop within about a second and long walks at their next step. Thread-safe,
/// async-signal-safe to set (a lock-free atomic).
class CancelToken {
 public:
  void cancel() { m_flag.store(true); }
  bool cancelled() const { return m_flag.load(); }

 private:
  std::atomic<bool> m_flag{false};
};

}  // namespace hubcache

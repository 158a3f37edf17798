#pragma once
// Fault injection for tests of retries: not part of the public API (never installed).
#include <chrono>
#include <functional>
#include <utility>

namespace hubcache::http::detail {

/// Maps a delay the retry rules ask for to the one actually waited.
using RetryDelayMap = std::function<std::chrono::milliseconds(std::chrono::milliseconds)>;

/// Installs `map` for every wait_before_retry in this process (tests shrink the waits and record what
/// was asked); an empty map restores the identity. The map may be called from any thread at once.
/// Returns the map it replaces.
RetryDelayMap set_retry_delay_map(RetryDelayMap map);

/// Installs a map for its lifetime, then puts back the one it replaced.
class ScopedRetryDelayMap {
 public:
  explicit ScopedRetryDelayMap(RetryDelayMap map) : m_previous(set_retry_delay_map(std::move(map))) {}
  ~ScopedRetryDelayMap() { set_retry_delay_map(std::move(m_previous)); }
  ScopedRetryDelayMap(const ScopedRetryDelayMap&) = delete;
  ScopedRetryDelayMap& operator=(const ScopedRetryDelayMap&) = delete;

 private:
  RetryDelayMap m_previous;
};

}  // namespace hubcache::http::detail

#pragma once
#include <cstddef>
#include <functional>

namespace hubcache {

/// Runs fn(i) for i in [0, n) on up to `threads` threads (0 = hardware concurrency).
/// Work is handed out one index at a time, so uneven items balance. fn must not throw.
void parallel_for(std::size_t n, unsigned threads, const std::function<void(std::size_t)>& fn);

}  // namespace hubcache

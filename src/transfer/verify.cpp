#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "prefix_hasher.hpp"
#include "task.hpp"

namespace hubcache::transfer::detail {
namespace {

constexpr std::chrono::milliseconds k_checkpoint_every{250};

}  // namespace

std::string follow_and_hash(Task& t) {
  PrefixHasher hasher(t.fd.get(), t.job.hash, t.job.size);
  unsigned generation = 0;
  auto last_checkpoint = std::chrono::steady_clock::now();
  for (;;) {
    std::uint64_t avail;
    bool finished;
    std::vector<Range> snapshot;
    {
      std::unique_lock lock(t.mutex);
      t.cv.wait_for(lock, std::chrono::milliseconds(250), [&] {
        return t.finished() || t.generation != generation || (hasher.active() && t.prefix() > hasher.hashed());
      });
      if (t.generation != generation) {
        generation = t.generation;
        hasher.reset();
      }
      avail = hasher.active() ? t.prefix() : 0;
      finished = t.finished();
      const auto now = std::chrono::steady_clock::now();
      // A completed task needs no record: it is verified and published, or discarded.
      if (t.split && ((finished && !t.complete) || now - last_checkpoint >= k_checkpoint_every)) {
        snapshot = t.ranges;
        last_checkpoint = now;
      }
    }
    if (!snapshot.empty()) save_state(t, snapshot);
    hasher.advance(avail);
    if (finished) {
      hasher.flush();
      std::lock_guard lock(t.mutex);
      if (t.failed || t.generation != generation) return {};
      if (!hasher.active()) return {};
      return hasher.hashed() == t.job.size ? hasher.digest() : std::string("incomplete");
    }
  }
}

}  // namespace hubcache::transfer::detail

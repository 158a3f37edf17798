#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "prefix_hasher.hpp"
#include "task.hpp"
#include "writeback.hpp"

namespace hubcache::transfer::detail {
namespace {

constexpr std::chrono::milliseconds k_checkpoint_every{250};
// Ranges ahead of a stalled prefix still wake this thread, for their writeback.
constexpr std::uint64_t k_writeback_wake = 8u << 20;
constexpr std::uint64_t k_hash_step = 32u << 20;

}  // namespace

std::string follow_and_hash(Task& t, const EngineOptions& options) {
  PrefixHasher hasher(t.fd.get(), t.job.hash, t.job.size);
  Writeback writeback(t.fd.get(), t.job.size, options);
  std::vector<Range> written;  // each range as of the last wake-up
  std::uint64_t seen = 0;      // bytes present at the last wake-up
  unsigned generation = 0;
  auto last_checkpoint = std::chrono::steady_clock::now();
  for (;;) {
    std::uint64_t avail;
    bool finished;
    std::vector<Range> snapshot;
    {
      std::unique_lock lock(t.mutex);
      std::uint64_t present = 0;
      t.cv.wait_for(lock, std::chrono::milliseconds(250), [&] {
        present = t.present();
        return t.finished() || t.generation != generation || (hasher.active() && t.prefix() > hasher.hashed()) ||
               present >= seen + k_writeback_wake;
      });
      seen = present;
      if (t.generation != generation) {
        generation = t.generation;
        hasher.reset();
        writeback.reset();
      }
      written = t.ranges;
      finished = t.finished();
      // A step at a time: between steps the loop hands new bytes to writeback (a prefix that
      // jumps by hundreds of MiB when a slow range ends would otherwise keep it waiting).
      avail = !hasher.active() ? 0 : finished ? t.prefix() : std::min(t.prefix(), hasher.hashed() + k_hash_step);
      const auto now = std::chrono::steady_clock::now();
      // A completed task needs no record: it is verified and published, or discarded.
      if (t.split && ((finished && !t.complete) || now - last_checkpoint >= k_checkpoint_every)) {
        snapshot = t.ranges;
        last_checkpoint = now;
      }
    }
    if (!snapshot.empty()) save_state(t, snapshot);
    // Every range's new bytes go to writeback before the prefix is hashed (the hash reads them
    // from the page cache either way), so the disk is busy while the prefix waits for a range.
    for (const auto& r : written) writeback.note(r.start, r.pos, finished || r.done());
    hasher.advance(avail);
    if (finished) {
      std::lock_guard lock(t.mutex);
      if (t.failed || t.generation != generation) return {};
      if (!hasher.active()) return {};
      return hasher.hashed() == t.job.size ? hasher.digest() : std::string("incomplete");
    }
  }
}

}  // namespace hubcache::transfer::detail

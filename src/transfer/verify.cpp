#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <variant>

#include "hubcache/util/hash.hpp"
#include "task.hpp"

namespace hubcache::transfer::detail {
namespace {

constexpr std::uint64_t k_writeback_step = 8u << 20;
constexpr std::chrono::milliseconds k_checkpoint_every{250};

class AnyHasher {
 public:
  AnyHasher(DigestKind kind, std::uint64_t size) : m_kind(kind), m_size(size) { reset(); }
  void reset() {
    if (m_kind == DigestKind::Sha256)
      m_h.emplace<Hasher>(Hasher::Kind::Sha256);
    else if (m_kind == DigestKind::GitSha1)
      m_h.emplace<GitBlobHasher>(m_size);
  }
  void update(const char* d, std::size_t n) {
    if (auto* a = std::get_if<Hasher>(&m_h))
      a->update(d, n);
    else if (auto* b = std::get_if<GitBlobHasher>(&m_h))
      b->update(d, n);
  }
  std::string digest() {
    if (auto* a = std::get_if<Hasher>(&m_h)) return a->hex_digest();
    if (auto* b = std::get_if<GitBlobHasher>(&m_h)) return b->hex_digest();
    return {};
  }
  bool active() const { return m_kind != DigestKind::None; }

 private:
  DigestKind m_kind;
  std::uint64_t m_size;
  std::variant<std::monostate, Hasher, GitBlobHasher> m_h;
};

}  // namespace

std::string follow_and_hash(Task& t) {
  AnyHasher hasher(t.job.hash, t.job.size);
  std::vector<char> buf(hasher.active() ? static_cast<std::size_t>(std::clamp<std::uint64_t>(t.job.size, 1, 1u << 20)) : 0);
  std::uint64_t hashed = 0;
  std::uint64_t flushed = 0;
  unsigned generation = 0;
  auto last_checkpoint = std::chrono::steady_clock::now();
  for (;;) {
    std::uint64_t avail;
    bool finished;
    std::vector<Range> snapshot;
    {
      std::unique_lock lock(t.mutex);
      t.cv.wait_for(lock, std::chrono::milliseconds(250),
                    [&] { return t.finished() || t.generation != generation || (hasher.active() && t.prefix() > hashed); });
      if (t.generation != generation) {
        generation = t.generation;
        hashed = 0;
        flushed = 0;
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
    while (hashed < avail) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), avail - hashed));
      const ssize_t r = ::pread(t.fd.get(), buf.data(), n, static_cast<off_t>(hashed));
      if (r <= 0) break;  // the final check below catches a short read
      hasher.update(buf.data(), static_cast<std::size_t>(r));
      hashed += static_cast<std::uint64_t>(r);
    }
    // Start writeback of what is verified so far: the fsync before publishing then only waits
    // for the tail instead of writing the whole file while the caller waits.
    if (hashed >= flushed + k_writeback_step || (finished && flushed > 0 && hashed > flushed)) {
      (void)::sync_file_range(t.fd.get(), static_cast<off_t>(flushed), static_cast<off_t>(hashed - flushed),
                              SYNC_FILE_RANGE_WRITE);
      flushed = hashed;
    }
    if (finished) {
      std::lock_guard lock(t.mutex);
      if (t.failed || t.generation != generation) return {};
      if (!hasher.active()) return {};
      return hashed == t.job.size ? hasher.digest() : std::string("incomplete");
    }
  }
}

}  // namespace hubcache::transfer::detail

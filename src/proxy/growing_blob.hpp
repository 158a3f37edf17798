#pragma once
// Serving a blob while it is fetched: the proxy streams blobs/<etag>.incomplete as the transfer
// engine writes it (one stream, in order), then the published blob (the same inode, renamed).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "hubcache/cache/layout.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::proxy {

/// A fill running in the background: Running until the download ends, then Done (the blob is
/// published) or Failed. Waiters are woken at the end.
class FillState {
 public:
  enum class Phase { Running, Done, Failed };
  void finish(bool ok);
  Phase phase() const;
  /// Waits at most `d` for the end of the fill; returns the phase then.
  Phase wait_for(std::chrono::milliseconds d) const;

 private:
  mutable std::mutex m_mutex;
  mutable std::condition_variable m_cv;
  Phase m_phase = Phase::Running;
};

/// Reads bytes [0, size) of blobs/<etag> of `layout` while `fill` writes it. One reader per
/// response; not thread-safe.
class GrowingBlob {
 public:
  /// `stall`: how long a read waits without a new byte before it gives up (the client then
  /// retries, and gets the cached blob or a fresh fill).
  GrowingBlob(RepoLayout layout, std::string etag, std::uint64_t size, std::shared_ptr<const FillState> fill,
              std::chrono::milliseconds stall);
  /// Up to `max` bytes at `offset` (< size): blocks until at least one is there. Returns the count,
  /// or -1 when the fill failed, the file vanished or nothing came for `stall`.
  long read(std::uint64_t offset, char* buffer, std::size_t max);

 private:
  bool open_some();  // the blob if published, else the growing temp file

  RepoLayout m_layout;
  std::string m_etag;
  std::uint64_t m_size;
  std::shared_ptr<const FillState> m_fill;
  std::chrono::milliseconds m_stall;
  fs::Fd m_fd;
  bool m_reopened_blob = false;
};

}  // namespace hubcache::proxy

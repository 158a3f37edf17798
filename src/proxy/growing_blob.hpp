#pragma once
// Serving a blob while it is fetched: the proxy streams the transfer engine's temp file as it is
// written, then the published blob (the same inode, renamed). The temp file is either the
// sequential blobs/<etag>.incomplete (always a prefix of the content) or, for a file fetched as
// parallel ranges, blobs/<etag>.parts.incomplete, whose written ranges its checkpoint names
// (transfer::read_split_progress); a byte is served only once a record says it is there.
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
  bool open_some();  // the growing temp file (sequential or split), if there is one
  /// Bytes at `offset` known to be written in the open temp file (0: none yet, or it is no longer
  /// the download's: then it is closed).
  std::uint64_t present(std::uint64_t offset);

  RepoLayout m_layout;
  std::string m_etag;
  std::uint64_t m_size;
  std::shared_ptr<const FillState> m_fill;
  std::chrono::milliseconds m_stall;
  fs::Fd m_fd;
  std::uint64_t m_inode = 0;
  bool m_split = false;  // m_fd is the split data file
  bool m_final = false;  // m_fd is the published blob
  std::chrono::steady_clock::time_point m_state_read{};
  std::uint64_t m_split_present_end = 0;  // offset + bytes present at the last record read
};

}  // namespace hubcache::proxy

#pragma once
// Handing written bytes to the kernel's writeback as they land, region by region, so the flush
// before a blob is published waits for the last few MiB only. Without it the kernel writes a
// downloaded file back only past its dirty thresholds (gigabytes on a large machine) or after
// 30 s, and the fsync pays for the whole file at the end. Both transports use it: the engine's
// ranges (verify.cpp) and Xet's terms (xet_fetch.cpp), which fill regions out of order.
#include <cstdint>
#include <map>
#include <utility>

#include "hubcache/transfer/engine.hpp"

namespace hubcache::transfer::detail {

class Writeback {
 public:
  /// `fd` (borrowed, open while this object is used) holds a file of `size` bytes. `start`
  /// replaces sync_file_range(SYNC_FILE_RANGE_WRITE) when given (EngineOptions::writeback_fn).
  Writeback(int fd, std::uint64_t size, WritebackFn start = {}) : m_fd(fd), m_size(size), m_start(std::move(start)) {}
  /// The region that starts at `start` holds written bytes up to `written_end` (exclusive);
  /// `whole`: it will get no more (complete, or the transfer ended). Starts writeback
  /// (asynchronous) of what was not handed over yet, in steps of at least 8 MiB, and the rest of
  /// a whole region. A file under 8 MiB is left to the fsync alone.
  void note(std::uint64_t start, std::uint64_t written_end, bool whole);
  /// Forgets every region (the file was rewritten from the start).
  void reset() { m_flushed.clear(); }

 private:
  int m_fd;
  std::uint64_t m_size;
  WritebackFn m_start;
  std::map<std::uint64_t, std::uint64_t> m_flushed;  // region start -> end of what was handed over
};

}  // namespace hubcache::transfer::detail

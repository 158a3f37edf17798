#pragma once
// Handing written bytes to the kernel's writeback as they land, region by region, so the flush
// before a blob is published waits for the last few MiB only. Without it the kernel writes a
// downloaded file back only past its dirty thresholds (gigabytes on a large machine) or after
// 30 s, and the fsync pays for the whole file at the end. Both transports use it: the engine's
// ranges (verify.cpp) and Xet's terms (xet_fetch.cpp), which fill regions out of order.
//
// Writeback alone does not make the device flush its own cache: a virtual disk's host, or a
// drive's write cache, then persists the whole file at the final fsync (0.1-0.6 s per GiB,
// measured on a cloud VM). So a large file is also fdatasync'ed on a thread of its own every
// `datasync_every` bytes handed over, and the final flush finds little left.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

#include "hubcache/transfer/engine.hpp"

namespace hubcache::transfer::detail {

class Writeback {
 public:
  /// `fd` (borrowed, open while this object lives) holds a file of `size` bytes. `start` and
  /// `datasync` replace sync_file_range(SYNC_FILE_RANGE_WRITE) and fdatasync when given;
  /// `datasync_every` (bytes, 0 = never) paces the background fdatasync. The EngineOptions form
  /// takes writeback_fn, datasync_fn and datasync_every from it.
  Writeback(int fd, std::uint64_t size, WritebackFn start, DataSyncFn datasync, std::uint64_t datasync_every);
  Writeback(int fd, std::uint64_t size, const EngineOptions& o)
      : Writeback(fd, size, o.writeback_fn, o.datasync_fn, o.datasync_every) {}
  /// Stops the background fdatasync (waiting for one under way).
  ~Writeback();
  Writeback(const Writeback&) = delete;
  Writeback& operator=(const Writeback&) = delete;

  /// The region that starts at `start` holds written bytes up to `written_end` (exclusive);
  /// `whole`: it will get no more (complete, or the transfer ended). Starts writeback
  /// (asynchronous) of what was not handed over yet, in steps of at least 8 MiB, and the rest of
  /// a whole region. A file under 8 MiB is left to the fsync alone.
  void note(std::uint64_t start, std::uint64_t written_end, bool whole);
  /// Forgets every region (the file was rewritten from the start).
  void reset() { m_flushed.clear(); }

 private:
  void datasync_loop();
  int m_fd;
  std::uint64_t m_size;
  WritebackFn m_start;
  DataSyncFn m_datasync;
  std::uint64_t m_datasync_every;
  std::map<std::uint64_t, std::uint64_t> m_flushed;  // region start -> end of what was handed over
  std::atomic<std::uint64_t> m_handed{0};            // bytes handed over, all regions
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_stop = false;
  std::thread m_thread;  // started with the first bytes handed over, when datasync_every allows
};

}  // namespace hubcache::transfer::detail

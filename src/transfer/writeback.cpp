// Writeback (writeback.hpp).
#include "writeback.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <utility>

namespace hubcache::transfer::detail {
namespace {
constexpr std::uint64_t k_step = 8u << 20;
constexpr std::chrono::milliseconds k_datasync_poll{100};
}  // namespace

Writeback::Writeback(int fd, std::uint64_t size, WritebackFn start, DataSyncFn datasync, std::uint64_t datasync_every)
    : m_fd(fd), m_size(size), m_start(std::move(start)), m_datasync(std::move(datasync)), m_datasync_every(datasync_every) {}

Writeback::~Writeback() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_cv.notify_all();
  if (m_thread.joinable()) m_thread.join();
}

void Writeback::note(std::uint64_t start, std::uint64_t written_end, bool whole) {
  if (m_size < k_step) return;
  std::uint64_t& flushed = m_flushed.try_emplace(start, start).first->second;
  if (written_end <= flushed || (written_end - flushed < k_step && !whole)) return;
  if (m_start)
    m_start(m_fd, flushed, written_end - flushed);
  else
    (void)::sync_file_range(m_fd, static_cast<off_t>(flushed), static_cast<off_t>(written_end - flushed), SYNC_FILE_RANGE_WRITE);
  m_handed += written_end - flushed;
  flushed = written_end;
  if (m_datasync_every > 0 && m_size > m_datasync_every && !m_thread.joinable())
    m_thread = std::thread([this] { datasync_loop(); });
}

void Writeback::datasync_loop() {
  std::uint64_t synced = 0;
  std::unique_lock lock(m_mutex);
  while (!m_cv.wait_for(lock, k_datasync_poll, [this] { return m_stop; })) {
    const std::uint64_t handed = m_handed.load();
    if (handed < synced + m_datasync_every) continue;
    lock.unlock();
    // Errors are not acted on here: the flush before publishing reports them.
    if (m_datasync)
      m_datasync(m_fd);
    else
      (void)::fdatasync(m_fd);
    synced = handed;
    lock.lock();
  }
}

}  // namespace hubcache::transfer::detail

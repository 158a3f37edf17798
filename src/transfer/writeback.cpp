// Writeback (writeback.hpp).
#include "writeback.hpp"

#include <fcntl.h>

namespace hubcache::transfer::detail {
namespace {
constexpr std::uint64_t k_step = 8u << 20;
}  // namespace

void Writeback::note(std::uint64_t start, std::uint64_t written_end, bool whole) {
  if (m_size < k_step) return;
  std::uint64_t& flushed = m_flushed.try_emplace(start, start).first->second;
  if (written_end <= flushed || (written_end - flushed < k_step && !whole)) return;
  if (m_start)
    m_start(m_fd, flushed, written_end - flushed);
  else
    (void)::sync_file_range(m_fd, static_cast<off_t>(flushed), static_cast<off_t>(written_end - flushed), SYNC_FILE_RANGE_WRITE);
  flushed = written_end;
}

}  // namespace hubcache::transfer::detail

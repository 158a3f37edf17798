// Serving a blob while it is fetched.
#include "growing_blob.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>

#include "hubcache/transfer/engine.hpp"

namespace hubcache::proxy {

void FillState::finish(bool ok) {
  {
    std::lock_guard lock(m_mutex);
    m_phase = ok ? Phase::Done : Phase::Failed;
  }
  m_cv.notify_all();
}

FillState::Phase FillState::phase() const {
  std::lock_guard lock(m_mutex);
  return m_phase;
}

FillState::Phase FillState::wait_for(std::chrono::milliseconds d) const {
  std::unique_lock lock(m_mutex);
  m_cv.wait_for(lock, d, [this] { return m_phase != Phase::Running; });
  return m_phase;
}

GrowingBlob::GrowingBlob(RepoLayout layout, std::string etag, std::uint64_t size, std::shared_ptr<const FillState> fill,
                         std::chrono::milliseconds stall)
    : m_layout(std::move(layout)), m_etag(std::move(etag)), m_size(size), m_fill(std::move(fill)), m_stall(stall) {}

namespace {

std::uint64_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

}  // namespace

bool GrowingBlob::open_some() {
  const std::string blob = m_layout.blob_path(m_etag);
  for (const bool split : {false, true}) {
    const std::string path = split ? blob + std::string(k_parts_incomplete_suffix) : m_layout.incomplete_path(m_etag);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    m_fd = fs::Fd(fd);
    struct stat st {};
    m_inode = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
    m_split = split;
    m_split_present_end = 0;
    return true;
  }
  return false;
}

std::uint64_t GrowingBlob::present(std::uint64_t offset) {
  const std::string blob = m_layout.blob_path(m_etag);
  if (!m_split) {
    // A prefix while it still has its name (or is the blob now). Renamed to the split data file
    // (a resumed download turned split), its size no longer says what is written: closed.
    if (inode_of(m_layout.incomplete_path(m_etag)) != m_inode && inode_of(blob) != m_inode) {
      m_fd.reset();
      return 0;
    }
    struct stat st {};
    if (::fstat(m_fd.get(), &st) != 0) return 0;
    const auto size = static_cast<std::uint64_t>(st.st_size);
    return size > offset ? size - offset : 0;
  }
  if (offset < m_split_present_end) return m_split_present_end - offset;
  // The record is rewritten at most every 250 ms: read it at most every 50 ms.
  const auto now = std::chrono::steady_clock::now();
  if (now - m_state_read < std::chrono::milliseconds(50)) return 0;
  m_state_read = now;
  auto progress = transfer::read_split_progress(blob + std::string(k_parts_state_suffix), m_size, m_etag, m_inode);
  if (!progress) return 0;  // not written yet, or gone with the rename to the blob: the fill's end decides
  const std::uint64_t have = progress->present_from(offset);
  m_split_present_end = offset + have;
  return have;
}

long GrowingBlob::read(std::uint64_t offset, char* buffer, std::size_t max) {
  if (offset >= m_size) return -1;
  max = static_cast<std::size_t>(std::min<std::uint64_t>(max, m_size - offset));
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    const FillState::Phase phase = m_fill->phase();
    if (phase == FillState::Phase::Failed) return -1;
    if (phase == FillState::Phase::Done) {
      // Published and verified: read the blob itself (it may be a link into the shared store).
      if (!m_final) {
        const int fd = ::open(m_layout.blob_path(m_etag).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        m_fd = fs::Fd(fd);
        m_final = true;
      }
      const ssize_t n = ::pread(m_fd.get(), buffer, max, static_cast<off_t>(offset));
      return n > 0 ? static_cast<long>(n) : -1;
    }
    if (m_fd || open_some()) {
      const std::uint64_t have = present(offset);
      if (have > 0) {
        const ssize_t n =
            ::pread(m_fd.get(), buffer, static_cast<std::size_t>(std::min<std::uint64_t>(max, have)), static_cast<off_t>(offset));
        if (n > 0) return static_cast<long>(n);
        if (n < 0) return -1;
      }
    }
    (void)m_fill->wait_for(std::chrono::milliseconds(5));
    if (std::chrono::steady_clock::now() - started > m_stall) return -1;
  }
}

}  // namespace hubcache::proxy

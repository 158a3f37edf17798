// Serving a blob while it is fetched.
#include "growing_blob.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

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

bool GrowingBlob::open_some() {
  // The blob may be a link into the cache's shared blob store; the temp file never is.
  int fd = ::open(m_layout.blob_path(m_etag).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fd = ::open(m_layout.incomplete_path(m_etag).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  m_fd = fs::Fd(fd);
  return true;
}

long GrowingBlob::read(std::uint64_t offset, char* buffer, std::size_t max) {
  if (offset >= m_size) return -1;
  max = static_cast<std::size_t>(std::min<std::uint64_t>(max, m_size - offset));
  auto last_progress = std::chrono::steady_clock::now();
  for (;;) {
    if (m_fd || open_some()) {
      const ssize_t n = ::pread(m_fd.get(), buffer, max, static_cast<off_t>(offset));
      if (n > 0) return static_cast<long>(n);
      if (n < 0) return -1;
    }
    const FillState::Phase phase = m_fill->wait_for(std::chrono::milliseconds(5));
    if (phase == FillState::Phase::Failed) return -1;
    if (phase == FillState::Phase::Done) {
      // Published: the file held is the blob (renamed), unless the engine started a new file;
      // then the blob itself, once.
      if (m_reopened_blob) return -1;
      m_reopened_blob = true;
      const int fd = ::open(m_layout.blob_path(m_etag).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return -1;
      m_fd = fs::Fd(fd);
      continue;
    }
    if (std::chrono::steady_clock::now() - last_progress > m_stall) return -1;
  }
}

}  // namespace hubcache::proxy

#include "hubcache/util/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <utility>

namespace hubcache {
namespace {

enum class Attempt { Held, Busy, Retry };

// One non-blocking attempt on an open fd. On Held, both locks are taken.
Result<Attempt> attempt(int fd, const std::string& path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK || errno == EINTR) return Attempt::Busy;
    if (errno != ENOSYS && errno != ENOLCK && errno != EOPNOTSUPP) return fail(errno_error(errno, "cannot lock", path));
  }
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    const int err = errno;
    if (err == EAGAIN || err == EACCES || err == EINTR) {
      ::flock(fd, LOCK_UN);
      return Attempt::Busy;
    }
    if (err != EINVAL && err != ENOLCK && err != EOPNOTSUPP) {
      ::flock(fd, LOCK_UN);
      return fail(errno_error(err, "cannot lock", path));
    }
  }
  // Inode re-check: the lock is only meaningful if `path` still names this file.
  struct stat by_fd {
  }, by_path{};
  if (::fstat(fd, &by_fd) != 0) return fail(errno_error(errno, "cannot stat", path));
  if (by_fd.st_nlink == 0 || ::stat(path.c_str(), &by_path) != 0 || by_path.st_ino != by_fd.st_ino ||
      by_path.st_dev != by_fd.st_dev)
    return Attempt::Retry;
  return Attempt::Held;
}

Result<fs::Fd> open_lock_file(const std::string& path) {
  fs::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0664));
  if (!fd) return fail(errno_error(errno, "cannot open lock file", path));
  return fd;
}

}  // namespace

FileLock::~FileLock() { release(); }
FileLock::FileLock(FileLock&& other) noexcept = default;
FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    m_fd = std::move(other.m_fd);
  }
  return *this;
}

void FileLock::release() {
  if (!m_fd) return;
  struct flock fl {};
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  ::fcntl(m_fd.get(), F_OFD_SETLK, &fl);
  ::flock(m_fd.get(), LOCK_UN);
  m_fd.reset();
}

Result<FileLock> FileLock::try_acquire(const std::string& path) {
  for (int tries = 0; tries < 100; ++tries) {
    HUBCACHE_TRY_ASSIGN(fs::Fd fd, open_lock_file(path));
    auto r = attempt(fd.get(), path);
    if (r && *r == Attempt::Held) return FileLock(std::move(fd));
    fd.reset();
    if (!r) return fail(std::move(r).error());
    if (*r == Attempt::Busy) return FileLock();
  }
  return fail(ErrorCode::Io, "lock file keeps being replaced: '" + path + "'", path);
}

Result<FileLock> FileLock::acquire(const std::string& path, std::chrono::milliseconds timeout, const WaitCallback& on_wait,
                                   std::chrono::milliseconds report_every) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto next_report = start + report_every;
  auto delay = std::chrono::milliseconds(5);
  for (;;) {
    HUBCACHE_TRY_ASSIGN(FileLock lock, try_acquire(path));
    if (lock.held()) return lock;
    const auto now = clock::now();
    if (timeout.count() > 0 && now - start >= timeout)
      return fail(ErrorCode::Timeout, "timed out waiting for lock '" + path + "'", path);
    if (on_wait && now >= next_report) {
      on_wait(std::chrono::duration_cast<std::chrono::seconds>(now - start));
      next_report = now + report_every;
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace hubcache

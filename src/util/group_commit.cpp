#include "hubcache/util/group_commit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

namespace hubcache::fs {
namespace {

constexpr long k_ext_magic = 0xEF53;      // ext2/3/4: one journal per filesystem
constexpr long k_xfs_magic = 0x58465342;  // xfs: one log per filesystem

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() { if (fd >= 0) ::close(fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

Result<void> fsync_fd(int fd) {
  if (::fsync(fd) != 0) return fail(errno_error(errno, "cannot fsync", ""));
  return {};
}

}  // namespace

struct GroupCommit::Group {
  bool done = false;
  Result<void> result;
};

GroupCommit::GroupCommit(FlushFn flush) : m_flush(std::move(flush)), m_open(std::make_shared<Group>()) {
  if (!m_flush) m_flush = fsync_fd;
}

GroupCommit::~GroupCommit() = default;

bool GroupCommit::shares_flushes(const std::string& path) {
  struct statfs s{};
  if (::statfs(path.c_str(), &s) != 0) return false;
  const long type = static_cast<long>(s.f_type);
  return type == k_ext_magic || type == k_xfs_magic;
}

std::uint64_t GroupCommit::flushes() const {
  std::lock_guard lock(m_mutex);
  return m_flushes;
}

std::size_t GroupCommit::waiting() const {
  std::lock_guard lock(m_mutex);
  return m_waiting;
}

Result<void> GroupCommit::wait_for_flush(int fd) {
  std::unique_lock lock(m_mutex);
  std::shared_ptr<Group> mine = m_open;
  ++m_waiting;
  // Wait until our group is flushed, or until no flush runs and ours is the open group: then
  // this caller leads it.
  m_cv.wait(lock, [&] { return mine->done || (!m_flushing && mine == m_open); });
  --m_waiting;
  if (mine->done) return mine->result;
  m_flushing = true;
  m_open = std::make_shared<Group>();  // later arrivals form the next group
  lock.unlock();
  Result<void> r = m_flush(fd);
  lock.lock();
  ++m_flushes;
  mine->done = true;
  mine->result = r;
  m_flushing = false;
  m_cv.notify_all();
  return r;
}

Result<void> GroupCommit::publish(const std::string& tmp, const std::string& dst) {
  Fd f(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) return fail(errno_error(errno, "cannot open", tmp));
  struct stat st{};
  if (::fstat(f.fd, &st) != 0) return fail(errno_error(errno, "cannot stat", tmp));
  bool grouped;
  {
    std::lock_guard lock(m_mutex);
    if (!m_dev_known) {
      m_dev_known = true;
      m_dev = st.st_dev;
      m_dev_shares = shares_flushes(tmp);
    }
    grouped = m_dev_shares && st.st_dev == m_dev;
  }
  Result<void> flushed;
  if (grouped) {
    // Writeout only: the pages reach the device before the group's flush starts.
    if (::sync_file_range(f.fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0)
      return fail(errno_error(errno, "cannot write out", tmp));
    flushed = wait_for_flush(f.fd);
  } else {
    flushed = m_flush(f.fd);
    std::lock_guard lock(m_mutex);
    ++m_flushes;
  }
  if (!flushed) {
    Error e = std::move(flushed).error();
    if (e.path.empty()) e.path = tmp;
    e.message += " (publishing '" + tmp + "')";
    return fail(std::move(e));
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) return fail(errno_error(errno, "cannot rename to", dst));
  return {};
}

}  // namespace hubcache::fs

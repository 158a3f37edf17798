#include "hubcache/util/group_commit.hpp"
#include "hubcache/util/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

namespace hubcache::fs {
namespace {

/// Threads that run a committed group's `then` callbacks.
constexpr unsigned k_then_threads = 4;

constexpr long k_ext_magic = 0xEF53;        // ext2/3/4: one journal per filesystem, if any
constexpr long k_xfs_magic = 0x58465342;    // xfs: one log per filesystem
constexpr long k_btrfs_magic = 0x9123683E;  // btrfs: per-file log trees, one transaction

/// /sys/fs/ext4/<device>/journal_task for the block device `dev` (nullopt if unreadable).
std::optional<std::string> ext4_journal_task(dev_t dev) {
  const std::string link = "/sys/dev/block/" + std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
  char target[4096];
  const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  if (n <= 0) return std::nullopt;
  std::string name(target, static_cast<std::size_t>(n));
  name = name.substr(name.rfind('/') + 1);
  auto text = read_file("/sys/fs/ext4/" + name + "/journal_task");
  if (!text) return std::nullopt;
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

Result<void> syncfs_fd(int fd) {
  if (::syncfs(fd) != 0) return fail(errno_error(errno, "cannot syncfs", ""));
  return {};
}

Result<void> fsync_fd(int fd) {
  if (::fsync(fd) != 0) return fail(errno_error(errno, "cannot fsync", ""));
  return {};
}

}  // namespace

struct GroupCommit::Group {
  bool done = false;
  Result<void> result;
};

GroupCommit::GroupCommit(FlushFn flush) : m_flush(std::move(flush)), m_open(std::make_shared<Group>()) {}

FlushScope flush_scope_of(long fs_magic, const std::optional<std::string>& ext4_journal_task) {
  if (fs_magic == k_xfs_magic) return FlushScope::Journal;
  if (fs_magic == k_btrfs_magic) return FlushScope::Filesystem;
  if (fs_magic != k_ext_magic) return FlushScope::File;
  const bool journal = ext4_journal_task && !ext4_journal_task->empty() && *ext4_journal_task != "<none>";
  return journal ? FlushScope::Journal : FlushScope::Filesystem;
}

Result<void> GroupCommit::flush_group(int fd) {
  if (m_flush) return m_flush(fd);
  return m_dev_scope == FlushScope::Filesystem ? syncfs_fd(fd) : fsync_fd(fd);
}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_queue_cv.notify_all();
  if (m_committer.joinable()) m_committer.join();  // every group is renamed and its thens queued
  {
    std::lock_guard lock(m_mutex);
    m_thens_stop = true;
  }
  m_thens_cv.notify_all();
  for (auto& t : m_then_threads) t.join();  // they run what is queued before they stop
}

FlushScope GroupCommit::flush_scope(const std::string& path) {
  struct statfs s {};
  struct stat st {};
  if (::statfs(path.c_str(), &s) != 0 || ::stat(path.c_str(), &st) != 0) return FlushScope::File;
  const long type = static_cast<long>(s.f_type);
  return flush_scope_of(type, type == k_ext_magic ? ext4_journal_task(st.st_dev) : std::nullopt);
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
  Result<void> r = flush_group(fd);
  lock.lock();
  ++m_flushes;
  mine->done = true;
  mine->result = r;
  m_flushing = false;
  m_cv.notify_all();
  return r;
}

Result<bool> GroupCommit::write_out(const std::string& tmp, Fd& out) {
  out.reset(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
  const int fd = out.get();
  if (fd < 0) return fail(errno_error(errno, "cannot open", tmp));
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(errno_error(errno, "cannot stat", tmp));
  bool grouped, by_syncfs;
  {
    std::lock_guard lock(m_mutex);
    if (!m_dev_known) {
      m_dev_known = true;
      m_dev = st.st_dev;
      m_dev_scope = flush_scope(tmp);
    }
    grouped = m_dev_scope != FlushScope::File && st.st_dev == m_dev;
    by_syncfs = grouped && m_dev_scope == FlushScope::Filesystem && !m_flush;
  }
  // Writeout only: the pages reach the device before the group's flush starts (a syncfs
  // writes them back itself).
  if (grouped && !by_syncfs &&
      ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0)
    return fail(errno_error(errno, "cannot write out", tmp));
  return grouped;
}

Result<void> GroupCommit::publish(const std::string& tmp, const std::string& dst) {
  Fd f(-1);
  HUBCACHE_TRY_ASSIGN(const bool grouped, write_out(tmp, f));
  Result<void> flushed;
  if (grouped) {
    flushed = wait_for_flush(f.get());
  } else {
    flushed = m_flush ? m_flush(f.get()) : fsync_fd(f.get());
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

void GroupCommit::publish_later(std::string tmp, std::string dst, Then then) {
  Fd f(-1);
  auto grouped = write_out(tmp, f);
  if (!grouped) return then(fail(std::move(grouped).error()));
  std::lock_guard lock(m_mutex);
  if (!m_committer.joinable()) {
    m_committer = std::thread([this] { committer(); });
    for (unsigned i = 0; i < k_then_threads; ++i) m_then_threads.emplace_back([this] { then_worker(); });
  }
  m_queue.push_back(Deferred{std::move(tmp), std::move(dst), *grouped, std::move(then)});
  ++m_pending;
  m_queue_cv.notify_all();
}

void GroupCommit::drain() {
  std::unique_lock lock(m_mutex);
  m_queue_cv.wait(lock, [&] { return m_pending == 0; });
}

void GroupCommit::committer() {
  constexpr auto k_idle = std::chrono::milliseconds(2), k_longest = std::chrono::milliseconds(20);
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_queue_cv.wait(lock, [&] { return m_stop || !m_queue.empty(); });
    if (m_queue.empty()) return;  // stopping, nothing left
    // Gather: more files usually finish within a few ms of each other.
    const auto until = std::chrono::steady_clock::now() + k_longest;
    for (std::size_t seen = m_queue.size(); !m_stop && std::chrono::steady_clock::now() < until; seen = m_queue.size()) {
      m_queue_cv.wait_for(lock, k_idle);
      if (m_queue.size() == seen) break;
    }
    std::vector<Deferred> batch;
    batch.swap(m_queue);
    lock.unlock();
    commit(batch);  // queues each file's then; m_pending drops as they return
    lock.lock();
  }
}

void GroupCommit::then_worker() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_thens_cv.wait(lock, [&] { return !m_thens.empty() || m_thens_stop; });
    if (m_thens.empty()) return;  // stopping, and the committer has queued its last group
    std::function<void()> task = std::move(m_thens.front());
    m_thens.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // what the callback held (e.g. a blob lock) goes before drain() returns
    lock.lock();
    --m_pending;
    m_queue_cv.notify_all();
  }
}

void GroupCommit::commit(std::vector<Deferred>& batch) {
  // One flush for every grouped file (through the first one's descriptor); the others each.
  std::optional<Result<void>> shared;
  std::vector<Result<void>> results(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Deferred& d = batch[i];
    Result<void> flushed;
    if (d.grouped && shared) {
      flushed = *shared;
    } else {
      Fd f(::open(d.tmp.c_str(), O_RDONLY | O_CLOEXEC));
      flushed = f.get() < 0 ? Result<void>(fail(errno_error(errno, "cannot open", d.tmp)))
                : d.grouped ? flush_group(f.get())
                            : (m_flush ? m_flush(f.get()) : fsync_fd(f.get()));
      {
        std::lock_guard lock(m_mutex);
        ++m_flushes;
      }
      if (d.grouped) shared = flushed;
    }
    if (!flushed) {
      Error e = flushed.error();
      if (e.path.empty()) e.path = d.tmp;
      e.message += " (publishing '" + d.tmp + "')";
      results[i] = fail(std::move(e));
    } else if (::rename(d.tmp.c_str(), d.dst.c_str()) != 0) {
      results[i] = fail(errno_error(errno, "cannot rename to", d.dst));
    }
  }
  // What follows a rename (a snapshot's pointer: a new inode, the costly part) runs on the
  // long-lived then-threads, so one committer thread does not serialise them and no thread is
  // started per group.
  {
    std::lock_guard lock(m_mutex);
    for (std::size_t i = 0; i < batch.size(); ++i)
      m_thens.push_back([then = std::move(batch[i].then), r = std::move(results[i])]() mutable { then(std::move(r)); });
  }
  m_thens_cv.notify_all();
  batch.clear();
}

}  // namespace hubcache::fs

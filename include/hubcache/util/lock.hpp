#pragma once
// Cross-process exclusive file lock compatible with Python's filelock and safe on NFS.
#include <chrono>
#include <functional>
#include <string>
#include <utility>

#include "hubcache/core/result.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache {

/// An exclusive lock on a lock file (created 0664 if missing, never deleted).
///
/// Contract:
/// - Takes flock(LOCK_EX) (what Python's filelock uses, so both exclude each other on local
///   filesystems) and an fcntl open-file-description lock (what NFS propagates between hosts).
/// - After acquiring, re-checks that the file is still linked and that the path still names the
///   same inode (another client may have unlinked it on release); otherwise retries.
/// - The kernel drops both locks when the holder dies, so a dead process never blocks forever.
class FileLock {
 public:
  using WaitCallback = std::function<void(std::chrono::seconds waited)>;

  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  /// Blocks until the lock is held or `timeout` passes (zero = wait forever). While waiting,
  /// `on_wait` is called every `report_every` with the time waited so far.
  static Result<FileLock> acquire(const std::string& path, std::chrono::milliseconds timeout = std::chrono::milliseconds{0},
                                  const WaitCallback& on_wait = {},
                                  std::chrono::milliseconds report_every = std::chrono::seconds{10});
  /// Tries once without blocking; returns an empty (not held) lock if someone else holds it.
  static Result<FileLock> try_acquire(const std::string& path);

  bool held() const { return m_fd.valid(); }
  void release();

 private:
  explicit FileLock(fs::Fd fd) : m_fd(std::move(fd)) {}
  fs::Fd m_fd;
};

}  // namespace hubcache

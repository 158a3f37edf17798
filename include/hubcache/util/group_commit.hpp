#pragma once
// Group commit of files published by rename, in the spirit of git's core.fsyncMethod=batch:
// many writers share one full flush instead of one fsync each, with the same crash guarantee.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hubcache/util/fs.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache::fs {

/// A full flush of the filesystem holding the open file `fd`: what fsync(fd) does on Linux
/// (commits the filesystem journal and flushes the disk's write cache). Fault/count seam.
using FlushFn = std::function<Result<void>(int fd)>;

/// What one flush covers on a filesystem (GroupCommit::flush_scope).
enum class FlushScope {
  File,        ///< fsync(fd) makes only that file durable (network filesystems, unknown kinds):
               ///< every file is flushed itself.
  Journal,     ///< one journal or log for the whole filesystem (ext3/ext4 with a journal, xfs):
               ///< fsync of one file commits it, and with it the metadata of every file whose
               ///< data was written out before; a group shares one fsync.
  Filesystem,  ///< no shared journal (ext4 created or mounted without one, ext2, btrfs's per-file
               ///< log trees): fsync of one file says nothing about the others, so a group
               ///< shares one syncfs(2) instead, which writes back and flushes the whole
               ///< filesystem (including other processes' dirty data on it).
};

/// The pure rule behind GroupCommit::flush_scope: `fs_magic` is statfs's f_type; for ext2/3/4,
/// `ext4_journal_task` is the content of /sys/fs/ext4/<device>/journal_task ("<none>" when the
/// filesystem runs without a journal; nullopt when it cannot be read, which is treated as no
/// journal, since syncfs is safe either way).
FlushScope flush_scope_of(long fs_magic, const std::optional<std::string>& ext4_journal_task);

/// Publishes finished temp files by rename so that, after a crash or power cut, a destination
/// name never holds incomplete bytes, using one full flush per group of concurrent publishers.
///
/// publish(tmp, dst):
///  1. writes out tmp's dirty pages and waits for them (sync_file_range WAIT_BEFORE | WRITE |
///     WAIT_AFTER): the data reaches the device, but neither the device cache nor the
///     filesystem metadata (size, extents) is flushed yet. Skipped where the group's flush is
///     syncfs (FlushScope::Filesystem): that writes back every dirty page of the filesystem
///     itself, in one pass instead of one device request per file;
///  2. joins the open group and waits until a full flush that began after step 1 has returned.
///     If no flush is running, this caller is the group's leader and runs it (FlushFn on its
///     own file); callers that arrive while a flush runs form the next group (classic group
///     commit, no timer), whose first waiter flushes once the running one returns;
///  3. only then renames tmp over dst.
/// The rename is not made durable (the caller fsyncs the destination directory once after its
/// batch, see fsync_dir): a power cut may lose the name, never expose garbage under it.
///
/// Contract: every file given to one GroupCommit lives on one filesystem (the flush of one
/// file covers the others only there); a file on another device than the first one seen is
/// flushed on its own instead, and so is every file where shares_flushes() is false. Errors: Io for open / sync_file_range /
/// rename failures; the flush's error for every member of a group whose flush failed (nothing of that group is renamed, the temp
/// files stay). Thread-safe; publish() blocks the caller until step 3.
class GroupCommit {
 public:
  /// `flush`, when given, replaces every flush (tests count and fail them through it);
  /// otherwise a group's flush is fsync(fd) or syncfs(fd) by flush_scope(), a lone file's fsync(fd).
  explicit GroupCommit(FlushFn flush = {});
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  Result<void> publish(const std::string& tmp, const std::string& dst);

  /// Called with a deferred publish's result, on one of the committer's threads, after the rename.
  using Then = std::function<void(Result<void>)>;
  /// Deferred publish(): step 1 (writeout) now, on the caller's thread; steps 2-3 later on a
  /// committer thread, so the caller is free at once. The committer gathers what is queued
  /// (until nothing new arrived for 2 ms, at most 20 ms), runs one full flush for all of it,
  /// renames each file in queue order, then hands the group's `then`s to 4 long-lived threads
  /// (so they must be thread-safe; each is called exactly once) and gathers the next group. Same guarantee and errors
  /// as publish(); a writeout failure calls `then` at once, on the caller's thread.
  void publish_later(std::string tmp, std::string dst, Then then);
  /// Blocks until every publish_later() so far has been renamed and its `then` has returned.
  void drain();

  /// What one flush covers on the filesystem holding `path` (see FlushScope): statfs's type,
  /// and for ext2/3/4 whether the device runs a journal (sysfs). File when `path` cannot be
  /// stat'ed.
  static FlushScope flush_scope(const std::string& path);
  /// Whether files there are flushed by group (flush_scope() is not File).
  static bool shares_flushes(const std::string& path) { return flush_scope(path) != FlushScope::File; }

  /// Full flushes run so far.
  std::uint64_t flushes() const;
  /// Publishers currently waiting for a flush that has not started yet (for tests).
  std::size_t waiting() const;

 private:
  struct Group;
  struct Deferred {
    std::string tmp, dst;
    bool grouped = false;
    Then then;
  };
  Result<void> wait_for_flush(int fd);
  /// Opens `tmp`, decides whether it shares flushes, and writes it out (step 1). `fd` stays open.
  Result<bool> write_out(const std::string& tmp, Fd& out);
  void committer();
  void commit(std::vector<Deferred>& batch);
  void then_worker();

  FlushFn m_flush;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::shared_ptr<Group> m_open;  // joined by new publishers; flushed by its first waiter
  bool m_flushing = false;
  std::uint64_t m_flushes = 0;
  std::size_t m_waiting = 0;
  std::uint64_t m_dev = 0;
  bool m_dev_known = false;
  FlushScope m_dev_scope = FlushScope::File;  // flush_scope() of the first file's filesystem
  /// The group's one flush (m_flush if given, else by m_dev_scope).
  Result<void> flush_group(int fd);
  // Deferred publishes: queue, committer thread (started by the first publish_later).
  std::vector<Deferred> m_queue;
  std::condition_variable m_queue_cv;
  std::size_t m_pending = 0;  // queued, being committed, or its `then` not yet returned
  bool m_stop = false;
  std::thread m_committer;
  // Renamed files' `then`s with their results, run by m_then_threads (started with the committer).
  std::deque<std::function<void()>> m_thens;
  std::condition_variable m_thens_cv;
  bool m_thens_stop = false;  // set once the committer has queued its last group
  std::vector<std::thread> m_then_threads;
};

}  // namespace hubcache::fs

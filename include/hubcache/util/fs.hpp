#pragma once
// Durable, atomic filesystem primitives. All paths are plain strings (POSIX).
#include <cstdint>
#include <string>
#include <string_view>

#include "hubcache/core/result.hpp"

struct stat;

namespace hubcache::fs {

/// A stat result's modification time in nanoseconds since the epoch (st_mtim), the one
/// freshness key of the mirror's caches, hashing caches and import's source stamps.
std::int64_t mtime_ns(const struct ::stat& st);

/// Owns a file descriptor, closed on destruction (the one owner of raw descriptors in hubcache:
/// directory fds of the cache walker, response bodies of the mirror, files being written).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : m_fd(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  explicit operator bool() const { return m_fd >= 0; }
  /// Gives up ownership: returns the descriptor (or -1) and holds none.
  int release() {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
  }
  /// Closes the held descriptor, if any, and holds `fd` instead.
  void reset(int fd = -1);

 private:
  int m_fd = -1;
};

/// Random lower-case hex string of `n` characters (for unique temp names).
std::string random_hex(std::size_t n);

/// Creates `dir` and its parents (like mkdir -p). An existing directory is fine.
Result<void> make_dirs(const std::string& dir);

/// Reads a whole file, refusing files larger than `max_size`.
Result<std::string> read_file(const std::string& path, std::size_t max_size = 16u << 20);
/// The same for a regular file reached without a final symlink: a symlink fails to open (ELOOP,
/// an errno error), anything else that is not a regular file is CacheCorrupted.
Result<std::string> read_regular_file(const std::string& path, std::size_t max_size = 16u << 20);

/// Durable: survives a power cut once written. AtomicOnly: readers (and a process crash) see the
/// old or the new content, never a mix, but a power cut may bring back the old one; for records
/// whose loss only costs work, e.g. download checkpoints that a final hash check guards.
enum class Durability { Durable, AtomicOnly };

/// Writes all of `data` to `fd` (retrying short writes and EINTR); the error names `path`.
Result<void> write_all(int fd, std::string_view data, const std::string& path);

/// Writes `data` to `path` atomically: a temp file in the same directory, rename over `path`;
/// Durable also fsyncs the file before and the directory after the rename.
Result<void> write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644,
                               Durability durability = Durability::Durable);

/// Creates `path` with `data` only if it does not exist yet (O_EXCL). Returns true if created.
Result<bool> create_file_exclusive(const std::string& path, std::string_view data, unsigned mode = 0644);

/// fsyncs a directory so a rename inside it is durable.
Result<void> fsync_dir(const std::string& dir);

/// Whether publish() fsyncs the destination directory itself (Now), or the caller promises one
/// fsync_dir() after a batch of publishes (Batched): the rename may then be lost by a power cut
/// (the file is simply missing again), but the published bytes are never garbage.
enum class DirSync { Now, Batched };

/// fsyncs `tmp`, then renames it over `dst` (same filesystem) and, with DirSync::Now, fsyncs
/// dst's directory.
Result<void> publish(const std::string& tmp, const std::string& dst, DirSync dir_sync = DirSync::Now);

/// Copies a regular file's bytes to `dst` (created or truncated), preserving nothing but content.
Result<void> copy_file(const std::string& src, const std::string& dst, unsigned mode = 0644);

/// stat() (following symlinks) finds a regular file / a directory at `path`.
bool is_file(const std::string& path);
bool is_dir(const std::string& path);

/// Lexically normalizes an absolute or relative POSIX path ("a/./b/../c" -> "a/c").
std::string normalize(std::string_view path);

/// Joins two path parts with exactly one '/'.
std::string join(std::string_view a, std::string_view b);

/// Parent directory of `path` ("" for a bare name).
std::string parent(std::string_view path);

/// True if normalized `path` equals `root` or lies strictly below it (lexical check).
bool is_within(std::string_view root, std::string_view path);

/// realpath(3); fails if the path does not exist.
Result<std::string> real_path(const std::string& path);

/// Makes `path` absolute against the current directory and resolves symlinks of the part that
/// exists (the rest is appended lexically), like Python's os.path.realpath(strict=False).
std::string absolute_real(const std::string& path);

/// `path` itself or its nearest ancestor that exists (stat succeeds): where a path that is yet to
/// be created will live, e.g. to compare filesystems or measure free space. "/" at worst.
std::string nearest_existing(std::string path);

/// Free bytes available to unprivileged users on the filesystem holding `path`.
Result<std::uint64_t> free_space(const std::string& path);

/// Recursively removes `path` (file, symlink or directory tree). Missing is fine.
Result<void> remove_all(const std::string& path);

}  // namespace hubcache::fs

#pragma once
// Reading byte ranges of a file someone named (a weight file in a model folder): opened without
// blocking on a FIFO or device and refused unless regular, read with pread over short reads.
// Shared by the tensor views (weights) and inspect's local reader.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "hubcache/core/result.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::fs {

/// Opens `path` read-only (O_NONBLOCK, so a FIFO never blocks the open) and fills `st`. Errors:
/// errno_error's (NotFound, PermissionDenied, Io) naming the path; InvalidArgument when it is not
/// a regular file.
inline Result<Fd> open_regular_file(const std::string& path, struct ::stat& st) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return fail(errno_error(errno, "cannot open", path));
  if (::fstat(fd.get(), &st) != 0) return fail(errno_error(errno, "cannot stat", path));
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::InvalidArgument, path + ": not a regular file", path);
  return fd;
}

/// Reads `size` bytes at `offset` into `out` with pread, over short reads and EINTR. Returns the
/// bytes read: fewer than `size` only where the file ends. Errors: errno_error's naming `path`.
inline Result<std::size_t> pread_full(int fd, void* out, std::size_t size, std::uint64_t offset, const std::string& path) {
  std::size_t have = 0;
  while (have < size) {
    const ssize_t n = ::pread(fd, static_cast<char*>(out) + have, size - have, static_cast<off_t>(offset + have));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno_error(errno, "cannot read", path));
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  return have;
}

}  // namespace hubcache::fs

#include "hubcache/util/compare.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "hubcache/util/fs.hpp"

namespace hubcache::fs {

Result<bool> same_contents(const std::string& a, const std::string& b) {
  Fd fa(::open(a.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fa.valid()) return fail(errno_error(errno, "cannot open", a));
  Fd fb(::open(b.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fb.valid()) return fail(errno_error(errno, "cannot open", b));
  ::posix_fadvise(fa.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  ::posix_fadvise(fb.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  for (;;) {
    ssize_t na;
    do na = ::read(fa.get(), ba.data(), ba.size());
    while (na < 0 && errno == EINTR);
    if (na < 0) return fail(errno_error(errno, "cannot read", a));
    std::size_t got = 0;
    while (got < static_cast<std::size_t>(na)) {
      const ssize_t nb = ::read(fb.get(), bb.data() + got, static_cast<std::size_t>(na) - got);
      if (nb < 0 && errno == EINTR) continue;
      if (nb < 0) return fail(errno_error(errno, "cannot read", b));
      if (nb == 0) return false;
      got += static_cast<std::size_t>(nb);
    }
    if (na == 0) {
      char extra = 0;
      ssize_t nb;
      do nb = ::read(fb.get(), &extra, 1);
      while (nb < 0 && errno == EINTR);
      if (nb < 0) return fail(errno_error(errno, "cannot read", b));
      return nb == 0;
    }
    if (std::memcmp(ba.data(), bb.data(), got) != 0) return false;
  }
}

}  // namespace hubcache::fs

#include "link_file.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "hubcache/util/fs.hpp"

namespace hubcache::hygiene::detail {

int clone_file(const std::string& source, const std::string& target, const struct ::stat* like) {
  fs::Fd src(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src.valid()) return errno;
  fs::Fd dst(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!dst.valid()) return errno;
  int err = 0;
  if (::ioctl(dst.get(), FICLONE, src.get()) != 0) err = errno;
  if (like) {
    if (!err && ::fchown(dst.get(), like->st_uid, like->st_gid) != 0 && errno != EPERM) err = errno;
    if (!err && ::fchmod(dst.get(), like->st_mode & 07777) != 0) err = errno;
    const struct timespec times[2] = {like->st_atim, like->st_mtim};
    if (!err && ::futimens(dst.get(), times) != 0) err = errno;
  } else {
    struct stat st {};
    if (!err && ::fstat(src.get(), &st) == 0 && ::fchmod(dst.get(), st.st_mode & 0777) != 0) err = errno;
  }
  if (!err && ::fsync(dst.get()) != 0) err = errno;
  if (err) ::unlink(target.c_str());
  return err;
}

bool no_reflink_here(int err) { return err == EOPNOTSUPP || err == EXDEV || err == EINVAL || err == ENOTTY; }

}  // namespace hubcache::hygiene::detail

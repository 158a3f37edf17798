// Writes below a local dir never leave it: directories are reached by an openat walk that
// never follows a symlink, and files are created, replaced and renamed relative to the
// directory descriptors that walk gave.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "download_impl.hpp"

namespace hubcache {
namespace {

constexpr int k_dir_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

std::string link_target(int dir, const std::string& name) {
  char buf[4096];
  const ssize_t n = ::readlinkat(dir, name.c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string("?") : std::string(buf, static_cast<std::size_t>(n));
}

std::string what_is_written(const std::string& root, std::string_view file) {
  return file.empty() ? "the download metadata (.cache/huggingface) of the local dir '" + root + "'"
                      : "'" + std::string(file) + "' into the local dir '" + root + "'";
}

Error symlink_refusal(int dir, const std::string& name, const std::string& shown, const std::string& root, std::string_view file,
                      bool is_final) {
  return Error{ErrorCode::InvalidPath,
               "refusing to write " + what_is_written(root, file) + ": '" + shown + "' is a symbolic link (to '" +
                   link_target(dir, name) + "'), and hubcache never writes outside the local dir. " +
                   (is_final ? "Remove the link (the download puts a real file there)"
                             : "Replace the link with a real folder (or remove it)") +
                   ", or download into another local dir.",
               shown}
      .with_remedy(Remedy::UseLocalDir);
}

}  // namespace

Result<fs::Fd> open_dir_beneath(const std::string& root, std::string_view rel, std::string_view for_file) {
  // The local dir itself is the user's choice (made if missing, a link to it is fine).
  fs::Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 && errno == ENOENT) {
    HUBCACHE_TRY(fs::make_dirs(root));
    dir = fs::Fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  if (dir.get() < 0) return fail(errno_error(errno, "cannot open the local dir", root));
  std::string walked = root;
  std::size_t i = 0;
  while (i < rel.size()) {
    std::size_t j = rel.find('/', i);
    if (j == std::string_view::npos) j = rel.size();
    const std::string name(rel.substr(i, j - i));
    i = j + 1;
    if (name.empty() || name == ".") continue;
    if (name == "..") return fail(ErrorCode::InvalidPath, "refusing '..' in a path below the local dir '" + root + "'", root);
    walked += "/" + name;
    int fd = ::openat(dir.get(), name.c_str(), k_dir_flags);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(dir.get(), name.c_str(), 0777) != 0 && errno != EEXIST)
        return fail(errno_error(errno, "cannot create directory", walked));
      fd = ::openat(dir.get(), name.c_str(), k_dir_flags);  // what was made, or won a race: never through a link
    }
    if (fd < 0) {
      const int err = errno;
      struct stat st {};
      if ((err == ELOOP || err == ENOTDIR) && ::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode))
        return fail(symlink_refusal(dir.get(), name, walked, root, for_file, false));
      if (err == ENOTDIR)
        return fail(ErrorCode::NotADirectory,
                    "cannot write " + what_is_written(root, for_file) + ": '" + walked +
                        "' is a file, not a folder. Move it away and rerun.",
                    walked);
      return fail(errno_error(err, "cannot open directory", walked));
    }
    dir = fs::Fd(fd);
  }
  return dir;
}

Result<void> refuse_symlink_at(const fs::Fd& dir, const std::string& name, const std::string& shown, const std::string& root,
                               std::string_view for_file) {
  struct stat st {};
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    return fail(symlink_refusal(dir.get(), name, shown, root, for_file, true));
  return {};
}

Result<void> write_file_at(const fs::Fd& dir, const std::string& name, std::string_view data, const std::string& shown) {
  const std::string tmp = "." + name + "." + fs::random_hex(8) + ".tmp";
  {
    fs::Fd f(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (f.get() < 0) return fail(errno_error(errno, "cannot create", shown + ".tmp"));
    for (std::size_t done = 0; done < data.size();) {
      const ssize_t w = ::write(f.get(), data.data() + done, data.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        const int err = w < 0 ? errno : EIO;
        ::unlinkat(dir.get(), tmp.c_str(), 0);
        return fail(errno_error(err, "cannot write", shown));
      }
      done += static_cast<std::size_t>(w);
    }
  }
  if (::renameat(dir.get(), tmp.c_str(), dir.get(), name.c_str()) != 0) {
    const int err = errno;
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    return fail(errno_error(err, "cannot rename to", shown));
  }
  return {};
}

Result<void> copy_file_at(const std::string& src, const fs::Fd& dir, const std::string& name, const std::string& shown) {
  fs::Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return fail(errno_error(errno, "cannot open", src));
  ::unlinkat(dir.get(), name.c_str(), 0);  // a leftover (or a planted link) goes; O_EXCL below never follows one
  fs::Fd out(::openat(dir.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (out.get() < 0) return fail(errno_error(errno, "cannot create", shown));
  for (;;) {
    const ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1u << 30, 0);
    if (n == 0) return {};
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // Filesystems without copy_file_range: plain reads and writes.
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return fail(errno_error(errno, "cannot copy to", shown));
      char buf[1 << 16];
      for (;;) {
        const ssize_t r = ::read(in.get(), buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail(errno_error(errno, "cannot read", src));
        if (r == 0) return {};
        for (ssize_t done = 0; done < r;) {
          const ssize_t w = ::write(out.get(), buf + done, static_cast<std::size_t>(r - done));
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) return fail(errno_error(w < 0 ? errno : EIO, "cannot write", shown));
          done += w;
        }
      }
    }
  }
}

Result<void> publish_at(const fs::Fd& from_dir, const std::string& from, const fs::Fd& to_dir, const std::string& to,
                        const std::string& shown) {
  {
    fs::Fd f(::openat(from_dir.get(), from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (f.get() < 0) return fail(errno_error(errno, "cannot open the downloaded file for", shown));
    if (::fsync(f.get()) != 0) return fail(errno_error(errno, "cannot fsync the downloaded file for", shown));
  }
  if (::renameat(from_dir.get(), from.c_str(), to_dir.get(), to.c_str()) != 0)
    return fail(errno_error(errno, "cannot rename to", shown));
  if (::fsync(to_dir.get()) != 0 && errno != EINVAL) return fail(errno_error(errno, "cannot fsync the folder of", shown));
  return {};
}

}  // namespace hubcache

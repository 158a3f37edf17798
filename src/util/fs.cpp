#include "hubcache/util/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

namespace hubcache::fs {

std::int64_t mtime_ns(const struct ::stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

void Fd::reset(int fd) {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = fd;
}

Result<void> write_all(int fd, std::string_view data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error(errno, "cannot write", path));
    }
    off += static_cast<std::size_t>(n);
  }
  return {};
}

std::string random_hex(std::size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ (static_cast<std::uint64_t>(::getpid()) << 32)};
  static const char* digits = "0123456789abcdef";
  std::string out(n, '0');
  for (auto& c : out) c = digits[rng() & 0xf];
  return out;
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<void> make_dirs(const std::string& dir) {
  if (dir.empty()) return {};
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return fail(ErrorCode::NotADirectory, "'" + dir + "' exists but is not a directory", dir);
  }
  const std::string up = parent(dir);
  if (!up.empty() && up != dir) HUBCACHE_TRY(make_dirs(up));
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) return fail(errno_error(errno, "cannot create directory", dir));
  return {};
}

namespace {
Result<std::string> read_all(int fd, const std::string& path, std::size_t max_size) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error(errno, "cannot read", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_size) return fail(ErrorCode::Io, "file is unexpectedly large: '" + path + "'", path);
  }
  return out;
}
}  // namespace

Result<std::string> read_file(const std::string& path, std::size_t max_size) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.get() < 0) return fail(errno_error(errno, "cannot open", path));
  return read_all(f.get(), path, max_size);
}

Result<std::string> read_regular_file(const std::string& path, std::size_t max_size) {
  Fd f(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (f.get() < 0) return fail(errno_error(errno, "cannot open", path));
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) return fail(errno_error(errno, "cannot stat", path));
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::CacheCorrupted, "not a regular file: '" + path + "'", path);
  return read_all(f.get(), path, max_size);
}

Result<void> fsync_dir(const std::string& dir) {
  Fd f(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (f.get() < 0) return fail(errno_error(errno, "cannot open directory", dir));
  if (::fsync(f.get()) != 0 && errno != EINVAL) return fail(errno_error(errno, "cannot fsync", dir));
  return {};
}

Result<void> publish(const std::string& tmp, const std::string& dst, DirSync dir_sync) {
  {
    Fd f(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
    if (f.get() < 0) return fail(errno_error(errno, "cannot open", tmp));
    if (::fsync(f.get()) != 0) return fail(errno_error(errno, "cannot fsync", tmp));
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) return fail(errno_error(errno, "cannot rename to", dst));
  if (dir_sync == DirSync::Batched) return {};
  return fsync_dir(parent(dst));
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, unsigned mode, Durability durability) {
  const bool durable = durability == Durability::Durable;
  const std::string dir = parent(path);
  const std::string base = path.substr(dir.empty() ? 0 : dir.size() + 1);
  const std::string tmp = join(dir, "." + base + "." + random_hex(8) + ".tmp");
  {
    Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (f.get() < 0) return fail(errno_error(errno, "cannot create", tmp));
    auto w = write_all(f.get(), data, tmp);
    if (!w || (durable && ::fsync(f.get()) != 0)) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return w ? fail(errno_error(err, "cannot fsync", tmp)) : w;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail(errno_error(err, "cannot rename to", path));
  }
  return durable ? fsync_dir(dir) : Result<void>{};
}

Result<bool> create_file_exclusive(const std::string& path, std::string_view data, unsigned mode) {
  Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (f.get() < 0) {
    if (errno == EEXIST) return false;
    return fail(errno_error(errno, "cannot create", path));
  }
  auto w = write_all(f.get(), data, path);
  if (!w) {
    ::unlink(path.c_str());
    return fail(std::move(w).error());
  }
  return true;
}

Result<void> copy_file(const std::string& src, const std::string& dst, unsigned mode) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return fail(errno_error(errno, "cannot open", src));
  Fd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (out.get() < 0) return fail(errno_error(errno, "cannot create", dst));
  std::vector<char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error(errno, "cannot read", src));
    }
    if (n == 0) break;
    HUBCACHE_TRY(write_all(out.get(), std::string_view(buf.data(), static_cast<std::size_t>(n)), dst));
  }
  return {};
}

std::string normalize(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    if (seg.empty() || seg == ".") {
    } else if (seg == "..") {
      if (!parts.empty() && parts.back() != "..")
        parts.pop_back();
      else if (!absolute)
        parts.push_back(seg);
    } else {
      parts.push_back(seg);
    }
    i = j + 1;
  }
  std::string out = absolute ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  if (out.empty()) out = ".";
  return out;
}

std::string join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  if (out.back() != '/') out += '/';
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out += b;
  return out;
}

std::string parent(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const auto pos = path.rfind('/');
  if (pos == std::string_view::npos) return "";
  if (pos == 0) return "/";
  return std::string(path.substr(0, pos));
}

bool is_within(std::string_view root, std::string_view path) {
  const std::string r = normalize(root);
  const std::string p = normalize(path);
  if (p == r) return true;
  if (r == "/") return p.size() > 1 && p.front() == '/';
  return p.size() > r.size() && p.compare(0, r.size(), r) == 0 && p[r.size()] == '/';
}

Result<std::string> real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return fail(errno_error(errno, "cannot resolve", path));
  return std::string(buf);
}

std::string absolute_real(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  if (ec) return path;
  auto canon = std::filesystem::weakly_canonical(abs, ec);
  return ec ? normalize(abs.string()) : normalize(canon.string());
}

std::string nearest_existing(std::string path) {
  struct ::stat st {};
  while (::stat(path.c_str(), &st) != 0) {
    const std::string up = parent(path);
    if (up.empty() || up == path) return "/";
    path = up;
  }
  return path;
}

Result<std::uint64_t> free_space(const std::string& path) {
  struct statvfs s {};
  if (::statvfs(path.c_str(), &s) != 0) return fail(errno_error(errno, "cannot stat filesystem of", path));
  return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
}

Result<void> remove_all(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return fail(errno_error(ec.value(), "cannot remove", path));
  return {};
}

}  // namespace hubcache::fs

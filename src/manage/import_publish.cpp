// Publishing one source file as a blob: hardlink or verified copy, via a temp name in blobs/.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "hubcache/cache/store.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/digest.hpp"
#include "import_internal.hpp"

namespace hubcache::import_detail {
namespace {

using fs::Fd;

using fs::mtime_ns;

// The file at hand is still the one that was hashed.
bool same_as_hashed(const struct stat& st, const ImportFile& f) {
  return static_cast<std::uint64_t>(st.st_dev) == f.stamp.dev && static_cast<std::uint64_t>(st.st_ino) == f.stamp.ino &&
         static_cast<std::uint64_t>(st.st_size) == f.size && mtime_ns(st) == f.stamp.mtime_ns;
}

Unexpected changed_error(const ImportFile& f) {
  return fail(ErrorCode::Conflict,
              "'" + f.source + "' changed after it was hashed; nothing was written for it. Re-run the import", f.source);
}

bool link_refused(int err) { return err == EXDEV || err == EPERM || err == EOPNOTSUPP || err == EMLINK; }

// Copies `f.read_from` to `tmp` while hashing; the copy must hash to the blob name.
Result<void> verified_copy(const ImportFile& f, const std::string& tmp) {
  Fd in(::open(f.read_from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return fail(errno_error(errno, "cannot open", f.read_from));
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return fail(errno_error(errno, "cannot stat", f.read_from));
  if (!same_as_hashed(st, f)) return changed_error(f);
  ::posix_fadvise(in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  // 0666 & ~umask, as huggingface_hub leaves blob permissions.
  Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  if (out.get() < 0) return fail(errno_error(errno, "cannot create", tmp));
  const bool sha256 = digest_kind_of(f.blob) == DigestKind::Sha256;
  Hasher h256(Hasher::Kind::Sha256);
  GitBlobHasher h1(f.size);
  std::vector<char> buf(1 << 20);
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error(errno, "cannot read", f.read_from));
    }
    if (n == 0) break;
    const auto len = static_cast<std::size_t>(n);
    if (sha256)
      h256.update(buf.data(), len);
    else
      h1.update(buf.data(), len);
    total += len;
    for (std::size_t off = 0; off < len;) {
      const ssize_t w = ::write(out.get(), buf.data() + off, len - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail(errno_error(errno, errno == ENOSPC ? "disk full while writing" : "cannot write", tmp));
      }
      off += static_cast<std::size_t>(w);
    }
  }
  const std::string digest = sha256 ? h256.hex_digest() : h1.hex_digest();
  if (total != f.size || digest != f.blob) return changed_error(f);
  return {};
}

}  // namespace

Result<bool> publish_source_blob(const RepoLayout& layout, const ImportFile& f, bool try_link) {
  const std::string tmp = layout.blob_path(f.blob) + "." + fs::random_hex(8) + std::string(k_incomplete_suffix);
  bool copied = false;
  if (try_link) {
    if (::link(f.read_from.c_str(), tmp.c_str()) == 0) {
      struct stat st {};
      if (::lstat(tmp.c_str(), &st) != 0 || !same_as_hashed(st, f)) {
        ::unlink(tmp.c_str());
        return changed_error(f);
      }
    } else if (link_refused(errno)) {
      copied = true;
    } else {
      return fail(errno_error(errno, "cannot hardlink '" + f.read_from + "' to", tmp));
    }
  } else {
    copied = true;
  }
  if (copied) {
    auto c = verified_copy(f, tmp);
    if (!c) {
      ::unlink(tmp.c_str());
      return fail(std::move(c).error());
    }
  }
  auto p = publish_blob(layout, tmp, f.blob, fs::DirSync::Batched);
  if (!p) {
    ::unlink(tmp.c_str());
    return fail(std::move(p).error());
  }
  return copied;
}

}  // namespace hubcache::import_detail

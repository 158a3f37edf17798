#include "hubcache/util/hash.hpp"
#include "hubcache/core/repo_id.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <memory>
#include <vector>

namespace hubcache {

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(Kind kind) : m_impl(std::make_unique<Impl>()) {
  m_impl->ctx = EVP_MD_CTX_new();
  const EVP_MD* md = kind == Kind::Sha256 ? EVP_sha256() : EVP_sha1();
  if (m_impl->ctx == nullptr || EVP_DigestInit_ex(m_impl->ctx, md, nullptr) != 1)
    throw std::runtime_error("OpenSSL digest initialisation failed");
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, std::size_t size) { EVP_DigestUpdate(m_impl->ctx, data, size); }

std::string Hasher::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(m_impl->ctx, md, &len);
  static const char* digits = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 0xf];
  }
  return out;
}

GitBlobHasher::GitBlobHasher(std::uint64_t size) : m_sha1(Hasher::Kind::Sha1) {
  const std::string header = "blob " + std::to_string(size);
  m_sha1.update(header.data(), header.size() + 1);  // includes the NUL terminator
}

std::string sha256_hex(std::string_view data) {
  Hasher h(Hasher::Kind::Sha256);
  h.update(data);
  return h.hex_digest();
}

std::string git_blob_sha1_hex(std::string_view data) {
  GitBlobHasher h(data.size());
  h.update(data.data(), data.size());
  return h.hex_digest();
}

std::string git_tree_sha1_hex(std::vector<GitTreeEntry> entries) {
  const auto key = [](const GitTreeEntry& e) { return e.is_dir ? e.name + "/" : e.name; };
  std::sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string body;
  for (const auto& e : entries) {
    body += e.is_dir ? "40000 " : "100644 ";
    body += e.name;
    body.push_back('\0');
    for (std::size_t i = 0; i + 1 < e.oid.size(); i += 2)
      body.push_back(static_cast<char>((nibble(e.oid[i]) << 4) | nibble(e.oid[i + 1])));
  }
  Hasher h(Hasher::Kind::Sha1);
  const std::string header = "tree " + std::to_string(body.size());
  h.update(header.data(), header.size() + 1);  // with the NUL
  h.update(body);
  return h.hex_digest();
}

Result<FileHashes> hash_file(const std::string& path, HashWhat what) {
  const fs::Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int fd = file.get();
  if (fd < 0) return fail(errno_error(errno, "cannot open", path));
  struct stat before {};
  if (::fstat(fd, &before) != 0) return fail(errno_error(errno, "cannot stat", path));
  const off_t end = before.st_size;
  if (end >= (1 << 20)) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // worth a syscall for large files only

  const bool want256 = (static_cast<int>(what) & 1) != 0;
  const bool want1 = (static_cast<int>(what) & 2) != 0;
  Hasher sha256(Hasher::Kind::Sha256);
  GitBlobHasher sha1(static_cast<std::uint64_t>(end));
  // One read buffer per thread, allocated once: a fresh zeroed MiB per file costs more than hashing
  // a small file (page faults and memset), and dedupe --deep hashes thousands.
  constexpr std::size_t k_buf = 1 << 20;
  thread_local std::unique_ptr<char[]> tl_buf;
  if (!tl_buf) tl_buf.reset(new char[k_buf]);
  char* const buf = tl_buf.get();
  std::uint64_t total = 0;
  for (;;) {
    // Up to the size first seen plus one byte: a short read is the end of a regular file (no last
    // read of nothing), and a file that grew shows as changed.
    const std::uint64_t want = std::min<std::uint64_t>(k_buf, static_cast<std::uint64_t>(end) + 1 - total);
    const ssize_t n = ::pread(fd, buf, static_cast<std::size_t>(want), static_cast<off_t>(total));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error(errno, "cannot read", path));
    }
    if (n == 0) break;
    if (want256) sha256.update(buf, static_cast<std::size_t>(n));
    if (want1) sha1.update(buf, static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
    if (total > static_cast<std::uint64_t>(end) || static_cast<std::uint64_t>(n) < want) break;
  }
  using fs::mtime_ns;
  struct stat after {};
  if (::fstat(fd, &after) != 0) return fail(errno_error(errno, "cannot stat", path));
  if (total != static_cast<std::uint64_t>(end) || after.st_size != before.st_size || mtime_ns(after) != mtime_ns(before))
    return fail(ErrorCode::Conflict, "'" + path + "' changed while it was being read; retry once it is stable", path);
  FileHashes out;
  out.size = total;
  out.dev = static_cast<std::uint64_t>(before.st_dev);
  out.ino = static_cast<std::uint64_t>(before.st_ino);
  out.mtime_ns = mtime_ns(before);
  if (want256) out.sha256 = sha256.hex_digest();
  if (want1) out.git_sha1 = sha1.hex_digest();
  return out;
}

}  // namespace hubcache

namespace hubcache {

DigestKind digest_kind_of(std::string_view name) {
  if (is_lower_hex(name, 64)) return DigestKind::Sha256;
  if (is_lower_hex(name, 40)) return DigestKind::GitSha1;
  return DigestKind::None;
}

const char* to_string(DigestKind kind) {
  switch (kind) {
    case DigestKind::Sha256:
      return "sha256";
    case DigestKind::GitSha1:
      return "git-sha1";
    case DigestKind::None:
      break;
  }
  return "none";
}

}  // namespace hubcache

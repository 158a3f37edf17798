// PrefixHasher (prefix_hasher.hpp).
#include "prefix_hasher.hpp"

#include <unistd.h>

#include <algorithm>

namespace hubcache::transfer::detail {
PrefixHasher::PrefixHasher(int fd, DigestKind kind, std::uint64_t size)
    : m_fd(fd),
      m_kind(kind),
      m_size(size),
      m_buf(kind == DigestKind::None ? 0 : static_cast<std::size_t>(std::clamp<std::uint64_t>(size, 1, 1u << 20))) {
  reset();
}

void PrefixHasher::reset() {
  m_hashed = 0;
  if (m_kind == DigestKind::Sha256)
    m_h.emplace<Hasher>(Hasher::Kind::Sha256);
  else if (m_kind == DigestKind::GitSha1)
    m_h.emplace<GitBlobHasher>(m_size);
}

void PrefixHasher::advance(std::uint64_t avail) {
  if (!active()) return;
  while (m_hashed < avail) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(m_buf.size(), avail - m_hashed));
    const ssize_t r = ::pread(m_fd, m_buf.data(), n, static_cast<off_t>(m_hashed));
    if (r <= 0) break;
    if (auto* a = std::get_if<Hasher>(&m_h))
      a->update(m_buf.data(), static_cast<std::size_t>(r));
    else if (auto* b = std::get_if<GitBlobHasher>(&m_h))
      b->update(m_buf.data(), static_cast<std::size_t>(r));
    m_hashed += static_cast<std::uint64_t>(r);
  }
}

std::string PrefixHasher::digest() {
  if (auto* a = std::get_if<Hasher>(&m_h)) return a->hex_digest();
  if (auto* b = std::get_if<GitBlobHasher>(&m_h)) return b->hex_digest();
  return {};
}

}  // namespace hubcache::transfer::detail

#pragma once
// Hashing a file's growing prefix while it is written: both transports (the engine's ranges in
// verify.cpp, Xet's terms in xet_fetch.cpp) hash the bytes [0, n) as soon as they are in place,
// re-reading them from the page cache, so hashing overlaps the transfer instead of following it.
// (Writeback of the written bytes is writeback.hpp's, which does not wait for the prefix.)
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "hubcache/util/digest.hpp"
#include "hubcache/util/hash.hpp"

namespace hubcache::transfer::detail {

class PrefixHasher {
 public:
  /// `fd` (borrowed) is read with pread; `kind` None hashes nothing (active() false).
  PrefixHasher(int fd, DigestKind kind, std::uint64_t size);
  bool active() const { return m_kind != DigestKind::None; }
  /// Starts again from byte 0 (a new attempt rewrote the file).
  void reset();
  /// Hashes [hashed(), avail). Stops early at a short read (the final size check catches it).
  void advance(std::uint64_t avail);
  std::uint64_t hashed() const { return m_hashed; }
  /// The digest of the bytes hashed (lower-case hex); finishes the hasher.
  std::string digest();

 private:
  int m_fd;
  DigestKind m_kind;
  std::uint64_t m_size;
  std::uint64_t m_hashed = 0;
  std::vector<char> m_buf;
  std::variant<std::monostate, Hasher, GitBlobHasher> m_h;
};

}  // namespace hubcache::transfer::detail

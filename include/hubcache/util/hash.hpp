#pragma once
// Content hashes the Hub names blobs by: SHA-256 (LFS/Xet files) and the git blob SHA-1.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/result.hpp"

namespace hubcache {

/// Incremental hash over OpenSSL EVP (uses SHA-NI where the CPU has it).
class Hasher {
 public:
  enum class Kind { Sha256, Sha1 };
  explicit Hasher(Kind kind);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// Lower-case hex digest. The hasher is finished afterwards.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// Git blob SHA-1: sha1("blob <size>\0" + content). Needs the size up front.
class GitBlobHasher {
 public:
  explicit GitBlobHasher(std::uint64_t size);
  void update(const void* data, std::size_t size) { m_sha1.update(data, size); }
  std::string hex_digest() { return m_sha1.hex_digest(); }

 private:
  Hasher m_sha1;
};

std::string sha256_hex(std::string_view data);
std::string git_blob_sha1_hex(std::string_view data);

/// One entry of a git tree object: a file (mode 100644) or a directory (40000), by hex object id.
struct GitTreeEntry {
  std::string name;
  bool is_dir = false;
  std::string oid;  // 40 lower-case hex digits
};
/// Git's tree object id: sha1("tree <n>\0" + entries in git order, a directory sorting as name + '/').
std::string git_tree_sha1_hex(std::vector<GitTreeEntry> entries);

struct FileHashes {
  std::uint64_t size = 0;
  std::string sha256;    // empty unless asked for
  std::string git_sha1;  // empty unless asked for
  // Identity of the file that was read (fstat before reading).
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::int64_t mtime_ns = 0;
};
enum class HashWhat { Sha256 = 1, GitSha1 = 2, Both = 3 };

/// Hashes a file in one sequential read. Fails with Conflict if the file's size or mtime changed
/// while it was read (the digest would describe no version of it).
Result<FileHashes> hash_file(const std::string& path, HashWhat what);

}  // namespace hubcache

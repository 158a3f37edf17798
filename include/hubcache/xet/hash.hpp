#pragma once
// Xet hashes (the Xet protocol spec, "hashing.md"; xet-core `merklehash`; IETF draft-denis-xet
// "Hashing Methods"). Every hash is 32 bytes, made with keyed BLAKE3 (Debian's BLAKE3 C sources).
//
//   chunk hash         BLAKE3 keyed with DATA_KEY over the chunk's bytes
//   internal node      BLAKE3 keyed with INTERNAL_NODE_KEY over "<child hex> : <child size>\n" lines
//   xorb hash          the merkle root over a xorb's (chunk hash, chunk size) leaves
//   file hash          BLAKE3 keyed with 32 zero bytes over the 32 raw bytes of the merkle root of
//                      the file's chunks; an empty file's is all zeros (the Xet file id, X-Xet-Hash)
//   verification hash  BLAKE3 keyed with VERIFICATION_KEY over a term's raw chunk hashes (shards)
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "hubcache/core/result.hpp"

namespace hubcache::xet {

// A 32-byte Xet hash (xet-core's `MerkleHash`). Its text form (`hex()`) reads the bytes as four
// little-endian u64 and prints each as 16 lowercase hex digits: bytes 00..1f print as
// "07060504030201000f0e0d0c0b0a0908...", the form of URLs, JSON, X-Xet-Hash and node text.
struct MerkleHash {
  std::array<std::uint8_t, 32> bytes{};

  std::string hex() const;
  // Parses the text form: exactly 64 hex digits (either case). Error: InvalidArgument naming the
  // input's fault (length or a non-hex character).
  static Result<MerkleHash> from_hex(std::string_view text);
  bool is_zero() const;
  // Bytes 24..31 as a little-endian u64: the merkle cut rule and global-dedupe eligibility read it.
  std::uint64_t tail_u64() const;

  auto operator<=>(const MerkleHash&) const = default;
};

// A leaf or node of the merkle tree: a hash and the byte count it covers.
struct MerkleLeaf {
  MerkleHash hash;
  std::uint64_t size = 0;
};

// BLAKE3 keyed with `key` over `data` (the building block of every hash below).
MerkleHash keyed_blake3(const std::array<std::uint8_t, 32>& key, std::span<const std::uint8_t> data);

MerkleHash chunk_hash(std::span<const std::uint8_t> chunk);

// The merkle root over `leaves` (xet-core `aggregated_hashes.rs`, IETF "Merkle Tree Construction"):
// bottom-up levels; a level is cut into groups of 3..9 (the last may hold 1-2), a group closing
// after the first item at 0-based index 2..8 whose `tail_u64() % 4 == 0`. No leaves: all zeros;
// one leaf: its hash unchanged.
MerkleHash merkle_root(std::span<const MerkleLeaf> leaves);

inline MerkleHash xorb_hash(std::span<const MerkleLeaf> chunks) { return merkle_root(chunks); }
MerkleHash file_hash(std::span<const MerkleLeaf> chunks);
MerkleHash verification_hash(std::span<const MerkleHash> chunk_hashes);

// Incremental chunk hash: the same value as chunk_hash() over everything update()d.
class ChunkHasher {
 public:
  ChunkHasher();
  ~ChunkHasher();
  ChunkHasher(const ChunkHasher&) = delete;
  ChunkHasher& operator=(const ChunkHasher&) = delete;
  void update(std::span<const std::uint8_t> bytes);
  // The hash of the bytes since construction or the last finish(); starts over.
  MerkleHash finish();

 private:
  struct State;
  State* m_state;
};

}  // namespace hubcache::xet

template <>
struct std::hash<hubcache::xet::MerkleHash> {
  std::size_t operator()(const hubcache::xet::MerkleHash& h) const noexcept {
    std::size_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | h.bytes[static_cast<std::size_t>(i)];
    return v;
  }
};

#pragma once
// Content-defined chunking as the Xet protocol fixes it (spec chunking.md; xet-core
// `deduplication/chunking.rs`): a gearhash over the bytes, h = (h << 1) + GEAR[byte] (64-bit wrap,
// h = 0 at each chunk start); below 8 KiB never cut, at 128 KiB always cut, otherwise cut after a
// byte where (h & 0xFFFF000000000000) == 0. The last chunk is the tail; an empty input has none.
// Deterministic: the same bytes always give the same chunks, whatever the feed sizes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "hubcache/xet/hash.hpp"

namespace hubcache::xet {

inline constexpr std::size_t k_target_chunk_size = 64 * 1024;
inline constexpr std::size_t k_min_chunk_size = k_target_chunk_size / 8;
inline constexpr std::size_t k_max_chunk_size = k_target_chunk_size * 2;

// Streaming chunker: feed() any slices of the file in order, then finish(). Each completed chunk
// comes out as a MerkleLeaf (its chunk hash and size, bytes): the leaves of the file hash.
class Chunker {
 public:
  // Appends the chunks that end inside `bytes` to `out`.
  void feed(std::span<const std::uint8_t> bytes, std::vector<MerkleLeaf>& out);
  // Appends the tail chunk (if any bytes are pending) and starts over.
  void finish(std::vector<MerkleLeaf>& out);

 private:
  ChunkHasher m_hasher;
  std::uint64_t m_gear = 0;
  std::size_t m_size = 0;  // bytes in the current chunk
};

// The chunks of a whole buffer (the leaves in order; their sizes sum to data.size()).
std::vector<MerkleLeaf> chunk_buffer(std::span<const std::uint8_t> data);

}  // namespace hubcache::xet

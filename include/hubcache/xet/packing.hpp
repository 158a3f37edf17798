#pragma once
// How a file's chunks map onto xorbs: runs of consecutive chunks of one xorb (a term of the
// reconstruction API), and the packing of new chunks into xorbs as a Xet writer does it (spec
// upload-protocol.md, xorb.md: at most 8192 chunks and 64 MiB per xorb; xet-core aims at about
// 1024 chunks). Chunks already in a known xorb are referenced there instead (deduplication).
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "hubcache/xet/hash.hpp"

namespace hubcache::xet {

inline constexpr std::size_t k_max_xorb_chunks = 8192;
inline constexpr std::uint64_t k_max_xorb_bytes = 64ull << 20;
inline constexpr std::size_t k_target_xorb_chunks = 1024;

// Consecutive chunks [first_chunk, first_chunk + chunk_sizes.size()) of `xorb`, in file order.
struct Segment {
  MerkleHash xorb;
  std::uint32_t first_chunk = 0;
  std::vector<std::uint32_t> chunk_sizes;  // decoded sizes, 1..128 KiB each
  std::uint64_t bytes() const;
};

// Where a known chunk lives.
struct ChunkLocation {
  MerkleHash xorb;
  std::uint32_t index = 0;
};

// A xorb made of the file's own new chunks: `chunks` (in order) sit at `file_offset` in the file.
struct NewXorb {
  MerkleHash hash;  // xorb_hash(chunks)
  std::vector<MerkleLeaf> chunks;
  std::uint64_t file_offset = 0;
};

struct PackedFile {
  MerkleHash file_hash;
  std::vector<Segment> segments;  // cover the file in order
  std::vector<NewXorb> new_xorbs;
};

// Packs a file given its chunks (chunker.hpp). A chunk that `known` locates, or that appeared
// earlier in this file, is referenced where it is; the others go, in order, into new xorbs of at
// most `max_chunks` chunks and k_max_xorb_bytes of serialized chunks (8-byte header + data, the
// uncompressed upper bound). Adjacent chunks with consecutive indices in one xorb form one
// segment. Deterministic: the same chunks and lookups give the same xorbs.
PackedFile pack_file(std::span<const MerkleLeaf> chunks,
                     const std::function<std::optional<ChunkLocation>(const MerkleHash&)>& known,
                     std::size_t max_chunks = k_target_xorb_chunks);

}  // namespace hubcache::xet

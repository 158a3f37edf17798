#pragma once
// Serialized Xet chunks, the entries of a xorb (spec xorb.md "Chunk Header Structure"; xet-core
// `xorb_chunk_format.rs`; IETF "LZ4 (Type 1)"): an 8-byte header, then the payload.
//
//   byte 0     version, 0
//   bytes 1-3  payload (compressed) length, little-endian u24
//   byte 4     compression: 0 none, 1 LZ4 frame, 2 byte grouping 4 + LZ4 frame (BG4)
//   bytes 5-7  uncompressed length, little-endian u24
//
// LZ4 is the LZ4 *frame* format (liblz4's LZ4F_*). BG4 splits the bytes by i mod 4 into four groups
// (the first n mod 4 groups one byte longer), concatenated, then LZ4-framed. Both lengths must lie
// in 1..128 KiB; a decoder checks that before allocating anything.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "hubcache/core/result.hpp"

namespace hubcache::xet {

inline constexpr std::size_t k_chunk_header_size = 8;
inline constexpr std::size_t k_max_chunk_payload = 128 * 1024;  // both lengths' upper bound

enum class Compression : std::uint8_t { None = 0, LZ4 = 1, ByteGrouping4LZ4 = 2 };

struct ChunkHeader {
  std::uint32_t compressed_size = 0;  // payload bytes after the header
  Compression compression = Compression::None;
  std::uint32_t uncompressed_size = 0;
};

// Reads a header from the first 8 bytes of `in`. Integrity error (naming the fault) when: fewer
// than 8 bytes, version ≠ 0, the xorb footer's "XETBLOB" tag, an unknown compression, a length of
// 0 or above 128 KiB, a payload longer than the bytes after the header in `in`, or type 0 with
// lengths that differ.
Result<ChunkHeader> parse_chunk_header(std::span<const std::uint8_t> in);

// The header at the start of `in` checked as parse_chunk_header checks it, without the payload
// having arrived yet: a streaming reader learns how many payload bytes to wait for (1..128 KiB)
// before buffering them. Integrity error when `in` is shorter than the header or any field is
// out of bounds.
Result<ChunkHeader> peek_chunk_header(std::span<const std::uint8_t> in);

// Decodes a payload into `out`, which must be exactly header.uncompressed_size bytes. Integrity
// error when the payload does not decode to exactly that many bytes (an LZ4 frame that is
// malformed, too short or too long).
Result<void> decode_chunk(const ChunkHeader& header, std::span<const std::uint8_t> payload, std::span<std::uint8_t> out);

// Appends the serialized chunk (header + payload) for `data` (1..128 KiB) to `out` with the given
// compression, falling back to None when compressing would not make it smaller (as xet-core's
// writer does). Returns the compression used.
Compression encode_chunk(std::span<const std::uint8_t> data, Compression wanted, std::vector<std::uint8_t>& out);

// Writes an uncompressed chunk's 8-byte header for `size` bytes (1..128 KiB) into `out`.
void write_plain_chunk_header(std::uint32_t size, std::span<std::uint8_t, k_chunk_header_size> out);

}  // namespace hubcache::xet

// pack_file (include/hubcache/xet/packing.hpp): segments cover the file in order, new xorbs hold
// consecutive file chunks within the limits, known and repeated chunks are referenced, not packed.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "hubcache/xet/chunker.hpp"
#include "hubcache/xet/packing.hpp"

namespace hubcache::xet {
namespace {

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> d(n);
  for (auto& b : d) b = static_cast<std::uint8_t>(rng());
  return d;
}

std::uint64_t covered(const PackedFile& p) {
  std::uint64_t n = 0;
  for (const auto& s : p.segments) n += s.bytes();
  return n;
}

TEST(XetPacking, NewFileIsPackedIntoXorbsOfConsecutiveChunks) {
  const auto data = random_bytes(3 << 20, 1);
  const auto chunks = chunk_buffer(data);
  const auto packed = pack_file(chunks, nullptr, /*max_chunks=*/10);
  EXPECT_EQ(packed.file_hash, file_hash(chunks));
  EXPECT_EQ(covered(packed), data.size());
  ASSERT_EQ(packed.new_xorbs.size(), (chunks.size() + 9) / 10);
  std::uint64_t offset = 0;
  std::size_t at = 0;
  for (const auto& x : packed.new_xorbs) {
    EXPECT_EQ(x.file_offset, offset);
    EXPECT_LE(x.chunks.size(), 10u);
    EXPECT_EQ(x.hash, xorb_hash(x.chunks));
    for (const auto& c : x.chunks) {
      EXPECT_EQ(c.hash, chunks[at++].hash);
      offset += c.size;
    }
  }
  // One segment per xorb, from its chunk 0.
  ASSERT_EQ(packed.segments.size(), packed.new_xorbs.size());
  for (std::size_t i = 0; i < packed.segments.size(); ++i) {
    EXPECT_EQ(packed.segments[i].xorb, packed.new_xorbs[i].hash);
    EXPECT_EQ(packed.segments[i].first_chunk, 0u);
  }
}

TEST(XetPacking, KnownChunksAreReferencedAndOnlyTheChangeIsNew) {
  auto a = random_bytes(4 << 20, 2);
  const auto a_chunks = chunk_buffer(a);
  const auto a_packed = pack_file(a_chunks, nullptr);
  std::map<MerkleHash, ChunkLocation> index;
  for (const auto& x : a_packed.new_xorbs)
    for (std::uint32_t i = 0; i < x.chunks.size(); ++i) index[x.chunks[i].hash] = {x.hash, i};

  auto b = a;  // 64 KiB changed in the middle, 100 KiB appended
  for (std::size_t i = 0; i < 65536; ++i) b[2 << 20 | i] ^= 0x5a;
  const auto tail = random_bytes(100 << 10, 3);
  b.insert(b.end(), tail.begin(), tail.end());
  const auto b_chunks = chunk_buffer(b);
  const auto b_packed = pack_file(b_chunks, [&](const MerkleHash& h) -> std::optional<ChunkLocation> {
    auto it = index.find(h);
    if (it == index.end()) return std::nullopt;
    return it->second;
  });
  EXPECT_EQ(covered(b_packed), b.size());
  std::uint64_t new_bytes = 0;
  for (const auto& x : b_packed.new_xorbs)
    for (const auto& c : x.chunks) new_bytes += c.size;
  // The change touches at most a few chunks on each side of it (chunks are at most 128 KiB).
  EXPECT_GT(new_bytes, 65536u + (100u << 10) - 1);
  EXPECT_LT(new_bytes, 65536u + (100u << 10) + 4 * 131072u);
  // The unchanged prefix is one run of A's first xorb.
  ASSERT_FALSE(b_packed.segments.empty());
  EXPECT_EQ(b_packed.segments.front().xorb, a_packed.new_xorbs.front().hash);
  EXPECT_EQ(b_packed.segments.front().first_chunk, 0u);
}

TEST(XetPacking, RepeatedChunksInOneFileAreStoredOnce) {
  const std::vector<std::uint8_t> zeros(2 << 20, 0);  // 16 identical 128 KiB chunks
  const auto chunks = chunk_buffer(zeros);
  ASSERT_EQ(chunks.size(), 16u);
  const auto packed = pack_file(chunks, nullptr);
  ASSERT_EQ(packed.new_xorbs.size(), 1u);
  EXPECT_EQ(packed.new_xorbs[0].chunks.size(), 1u);
  EXPECT_EQ(covered(packed), zeros.size());
  for (const auto& s : packed.segments) {
    EXPECT_EQ(s.xorb, packed.new_xorbs[0].hash);
    EXPECT_EQ(s.first_chunk, 0u);
  }
}

TEST(XetPacking, XorbsStayUnderTheByteLimit) {
  // 600 chunks of 128 KiB would pass 64 MiB of serialized chunks past the 512th.
  std::vector<MerkleLeaf> chunks(600);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    chunks[i].size = 128 * 1024;
    chunks[i].hash.bytes[0] = static_cast<std::uint8_t>(i);
    chunks[i].hash.bytes[1] = static_cast<std::uint8_t>(i >> 8);
  }
  const auto packed = pack_file(chunks, nullptr, k_max_xorb_chunks);
  ASSERT_EQ(packed.new_xorbs.size(), 2u);
  EXPECT_EQ(packed.new_xorbs[0].chunks.size(), 511u);  // 511 × (8 + 131072) ≤ 64 MiB < 512 × ...
}

}  // namespace
}  // namespace hubcache::xet

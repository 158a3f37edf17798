// Xet hashes and chunking against the published vectors (../shared/research/xet.md "What can be
// tested offline": IETF draft-denis-xet test vectors, xet-core chunking.rs, xetchunk-wasm tests).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "hubcache/xet/chunker.hpp"
#include "hubcache/xet/hash.hpp"

namespace hubcache::xet {
namespace {

std::span<const std::uint8_t> bytes_of(const char* s) { return {reinterpret_cast<const std::uint8_t*>(s), std::strlen(s)}; }

// xet-core chunking.rs / xetchunk-wasm: 1,000,000 bytes of SplitMix64 from seed 0, each u64 little-endian.
std::vector<std::uint8_t> splitmix_megabyte() {
  std::vector<std::uint8_t> d(1000000);
  std::uint64_t state = 0;
  for (std::size_t i = 0; i < d.size(); i += 8) {
    state += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    for (std::size_t k = 0; k < 8 && i + k < d.size(); ++k) d[i + k] = static_cast<std::uint8_t>(z >> (8 * k));
  }
  return d;
}

TEST(XetHash, ChunkHashOfHelloWorldIsTheIetfVector) {
  EXPECT_EQ(chunk_hash(bytes_of("Hello World!")).hex(), "d8d408e608fb9ca213b9909a65d86d725f2de4d8d540324be8a363e7a6e228cb");
}

TEST(XetHash, TextFormReversesEachEightByteWord) {
  MerkleHash h;
  for (std::size_t i = 0; i < 32; ++i) h.bytes[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(h.hex(), "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918");
  auto back = MerkleHash::from_hex(h.hex());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
  EXPECT_FALSE(MerkleHash::from_hex("07060504030201000f0e0d0c0b0a0908171615141312111f1e1d1c1b1a191"));
  EXPECT_FALSE(MerkleHash::from_hex("g7060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"));
}

TEST(XetHash, EmptyFileHashIsAllZeros) {
  EXPECT_TRUE(file_hash({}).is_zero());
  EXPECT_TRUE(chunk_buffer({}).empty());
}

TEST(XetChunker, SplitMixMegabyteBoundariesAndFileHash) {
  const auto data = splitmix_megabyte();
  const std::vector<std::uint64_t> expected = {84493,  134421, 144853, 243318, 271793, 336457, 467529, 494581, 582000, 596735,
                                               616815, 653164, 678202, 724510, 815591, 827760, 958832, 991092, 1000000};
  const auto leaves = chunk_buffer(data);
  std::vector<std::uint64_t> ends;
  std::uint64_t at = 0;
  for (const auto& l : leaves) ends.push_back(at += l.size);
  EXPECT_EQ(ends, expected);
  EXPECT_EQ(file_hash(leaves).hex(), "3d17b2d7d64a0e011b6717a52d9a16bd2c3f05b743fa8adf52a7d75dafab6d89");
}

TEST(XetChunker, FeedSizesDoNotMoveBoundaries) {
  const auto data = splitmix_megabyte();
  const auto whole = chunk_buffer(data);
  for (std::size_t step : {1u, 63u, 4096u, 100000u}) {
    Chunker c;
    std::vector<MerkleLeaf> pieces;
    for (std::size_t at = 0; at < data.size(); at += step)
      c.feed(std::span(data).subspan(at, std::min(step, data.size() - at)), pieces);
    c.finish(pieces);
    ASSERT_EQ(pieces.size(), whole.size()) << step;
    for (std::size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(pieces[i].hash, whole[i].hash) << step << " " << i;
      EXPECT_EQ(pieces[i].size, whole[i].size);
    }
  }
}

TEST(XetChunker, ConstantBytesCutAtTheMaximum) {
  const std::vector<std::uint8_t> data(1000000, 59);
  const auto leaves = chunk_buffer(data);
  ASSERT_EQ(leaves.size(), 8u);
  for (std::size_t i = 0; i + 1 < leaves.size(); ++i) EXPECT_EQ(leaves[i].size, k_max_chunk_size);
  EXPECT_EQ(leaves.back().size, 1000000 - 7 * k_max_chunk_size);
}

}  // namespace
}  // namespace hubcache::xet

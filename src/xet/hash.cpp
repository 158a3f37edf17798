// Xet hashes over Debian's BLAKE3 C implementation (see include/hubcache/xet/hash.hpp).
#include "hubcache/xet/hash.hpp"

#include <blake3.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace hubcache::xet {
namespace {

// The protocol's keys (Xet spec hashing.md: DATA_KEY, INTERNAL_NODE_KEY, VERIFICATION_KEY).
constexpr std::array<std::uint8_t, 32> k_data_key = {102, 151, 245, 119, 91,  149, 80,  222, 49,  53,  203,
                                                     172, 165, 151, 24,  28,  157, 228, 33,  16,  155, 235,
                                                     43,  88,  180, 208, 176, 75,  147, 173, 242, 41};
constexpr std::array<std::uint8_t, 32> k_internal_node_key = {1,   126, 197, 199, 165, 71,  41,  150, 253, 148, 102,
                                                              102, 180, 138, 2,   230, 93,  221, 83,  111, 55,  199,
                                                              109, 210, 248, 99,  82,  230, 74,  83,  113, 63};
constexpr std::array<std::uint8_t, 32> k_verification_key = {127, 24,  87,  214, 206, 86,  237, 102, 18,  127, 249,
                                                             19,  231, 165, 195, 243, 164, 205, 38,  213, 181, 219,
                                                             73,  230, 65,  36,  152, 127, 40,  251, 148, 195};
constexpr std::array<std::uint8_t, 32> k_zero_key{};

// A group closes after an item at index 2..8 whose tail is 0 mod 4; else it takes 9 items.
constexpr std::size_t k_min_group = 3;
constexpr std::size_t k_max_group = 9;

std::size_t next_group_size(std::span<const MerkleLeaf> rest) {
  if (rest.size() <= 2) return rest.size();
  const std::size_t limit = std::min(k_max_group, rest.size());
  for (std::size_t i = k_min_group - 1; i < limit; ++i)
    if (rest[i].hash.tail_u64() % 4 == 0) return i + 1;
  return limit;
}

MerkleLeaf node_of(std::span<const MerkleLeaf> group) {
  std::string text;
  std::uint64_t size = 0;
  for (const auto& child : group) {
    text += child.hash.hex();
    text += " : ";
    text += std::to_string(child.size);
    text += '\n';
    size += child.size;
  }
  return {keyed_blake3(k_internal_node_key, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}), size};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string MerkleHash::hex() const {
  std::string out;
  out.reserve(64);
  static constexpr char k_digits[] = "0123456789abcdef";
  for (std::size_t word = 0; word < 4; ++word)
    for (std::size_t i = 8; i-- > 0;) {
      const std::uint8_t b = bytes[word * 8 + i];
      out += k_digits[b >> 4];
      out += k_digits[b & 15];
    }
  return out;
}

Result<MerkleHash> MerkleHash::from_hex(std::string_view text) {
  if (text.size() != 64)
    return fail(ErrorCode::InvalidArgument, fmt::format("a Xet hash is 64 hex digits; got {} characters", text.size()));
  MerkleHash h;
  for (std::size_t word = 0; word < 4; ++word)
    for (std::size_t i = 0; i < 8; ++i) {
      const std::size_t at = word * 16 + i * 2;
      const int hi = hex_value(text[at]), lo = hex_value(text[at + 1]);
      if (hi < 0 || lo < 0)
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("a Xet hash is 64 hex digits; character {} is not one", at + (hi < 0 ? 1 : 2)));
      h.bytes[word * 8 + 7 - i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
  return h;
}

bool MerkleHash::is_zero() const {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::uint64_t MerkleHash::tail_u64() const {
  std::uint64_t v = 0;
  for (std::size_t i = 32; i-- > 24;) v = (v << 8) | bytes[i];
  return v;
}

MerkleHash keyed_blake3(const std::array<std::uint8_t, 32>& key, std::span<const std::uint8_t> data) {
  blake3_hasher hasher;
  blake3_hasher_init_keyed(&hasher, key.data());
  blake3_hasher_update(&hasher, data.data(), data.size());
  MerkleHash out;
  blake3_hasher_finalize(&hasher, out.bytes.data(), out.bytes.size());
  return out;
}

MerkleHash chunk_hash(std::span<const std::uint8_t> chunk) { return keyed_blake3(k_data_key, chunk); }

MerkleHash merkle_root(std::span<const MerkleLeaf> leaves) {
  if (leaves.empty()) return {};
  std::vector<MerkleLeaf> level(leaves.begin(), leaves.end());
  while (level.size() > 1) {
    std::vector<MerkleLeaf> next;
    next.reserve(level.size() / 3 + 1);
    std::span<const MerkleLeaf> rest = level;
    while (!rest.empty()) {
      const std::size_t n = next_group_size(rest);
      next.push_back(node_of(rest.first(n)));
      rest = rest.subspan(n);
    }
    level = std::move(next);
  }
  return level.front().hash;
}

MerkleHash file_hash(std::span<const MerkleLeaf> chunks) {
  if (chunks.empty()) return {};
  const MerkleHash root = merkle_root(chunks);
  return keyed_blake3(k_zero_key, root.bytes);
}

MerkleHash verification_hash(std::span<const MerkleHash> chunk_hashes) {
  blake3_hasher hasher;
  blake3_hasher_init_keyed(&hasher, k_verification_key.data());
  for (const auto& h : chunk_hashes) blake3_hasher_update(&hasher, h.bytes.data(), h.bytes.size());
  MerkleHash out;
  blake3_hasher_finalize(&hasher, out.bytes.data(), out.bytes.size());
  return out;
}

struct ChunkHasher::State {
  blake3_hasher hasher;
};

ChunkHasher::ChunkHasher() : m_state(new State) { blake3_hasher_init_keyed(&m_state->hasher, k_data_key.data()); }
ChunkHasher::~ChunkHasher() { delete m_state; }

void ChunkHasher::update(std::span<const std::uint8_t> bytes) {
  blake3_hasher_update(&m_state->hasher, bytes.data(), bytes.size());
}

MerkleHash ChunkHasher::finish() {
  MerkleHash out;
  blake3_hasher_finalize(&m_state->hasher, out.bytes.data(), out.bytes.size());
  blake3_hasher_init_keyed(&m_state->hasher, k_data_key.data());
  return out;
}

}  // namespace hubcache::xet

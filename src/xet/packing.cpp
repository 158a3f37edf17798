// Chunks onto xorbs (include/hubcache/xet/packing.hpp).
#include "hubcache/xet/packing.hpp"

#include <unordered_map>

#include "hubcache/xet/chunk_codec.hpp"

namespace hubcache::xet {

std::uint64_t Segment::bytes() const {
  std::uint64_t n = 0;
  for (auto s : chunk_sizes) n += s;
  return n;
}

PackedFile pack_file(std::span<const MerkleLeaf> chunks,
                     const std::function<std::optional<ChunkLocation>(const MerkleHash&)>& known, std::size_t max_chunks) {
  if (max_chunks == 0 || max_chunks > k_max_xorb_chunks) max_chunks = k_max_xorb_chunks;
  PackedFile out;
  out.file_hash = file_hash(chunks);

  // First pass: where each chunk comes from. New chunks get a place in the new xorb being filled;
  // a xorb closes when full, so its hash is known before any later chunk refers to it.
  struct Place {
    bool is_new = false;
    std::size_t new_xorb = 0;  // index into out.new_xorbs, when is_new
    ChunkLocation at;          // when !is_new
  };
  std::vector<Place> places(chunks.size());
  std::unordered_map<MerkleHash, std::pair<std::size_t, std::uint32_t>> own;  // chunk -> (new xorb, index)
  std::uint64_t offset = 0, open_bytes = 0;
  bool open = false;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    if (auto mine = own.find(c.hash); mine != own.end()) {
      places[i] = {true, mine->second.first, {{}, mine->second.second}};
      open = false;  // a new xorb holds chunks that are consecutive in the file: this one is not
    } else if (auto loc = known ? known(c.hash) : std::nullopt) {
      places[i] = {false, 0, *loc};
      open = false;
    } else {
      const std::uint64_t serialized = k_chunk_header_size + c.size;
      if (!open || out.new_xorbs.back().chunks.size() >= max_chunks || open_bytes + serialized > k_max_xorb_bytes) {
        out.new_xorbs.push_back({{}, {}, offset});
        open = true;
        open_bytes = 0;
      }
      auto& x = out.new_xorbs.back();
      const auto index = static_cast<std::uint32_t>(x.chunks.size());
      own.emplace(c.hash, std::pair{out.new_xorbs.size() - 1, index});
      places[i] = {true, out.new_xorbs.size() - 1, {{}, index}};
      x.chunks.push_back(c);
      open_bytes += serialized;
    }
    offset += c.size;
  }
  for (auto& x : out.new_xorbs) x.hash = xorb_hash(x.chunks);

  // Second pass: segments, merging consecutive indices of one xorb.
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const auto& p = places[i];
    const MerkleHash& xorb = p.is_new ? out.new_xorbs[p.new_xorb].hash : p.at.xorb;
    const auto size = static_cast<std::uint32_t>(chunks[i].size);
    if (!out.segments.empty()) {
      auto& last = out.segments.back();
      if (last.xorb == xorb && last.first_chunk + last.chunk_sizes.size() == p.at.index) {
        last.chunk_sizes.push_back(size);
        continue;
      }
    }
    out.segments.push_back({xorb, p.at.index, {size}});
  }
  return out;
}

}  // namespace hubcache::xet

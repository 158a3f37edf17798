#pragma once
// The safetensors format (https://github.com/huggingface/safetensors, "Format"): an 8-byte
// little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {str: str}}, then the data; offsets are relative to byte 8 + N. Pure: bytes in,
// facts out; every reading of a file (disk, mmap, HTTP range) is the caller's.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/model/tensor.hpp"

namespace hubcache::model {

/// The safetensors library's MAX_HEADER_SIZE (100 MB): a longer header is refused, as there.
constexpr std::uint64_t k_safetensors_max_header = 100'000'000;

/// Bits per element of a safetensors dtype (F64 64 ... F4 4, BOOL 8); 0 for a name the format
/// does not define. Sub-byte types (F4, F6_*) pack elements; a tensor's bytes are ceil(bits*n/8).
unsigned safetensors_dtype_bits(std::string_view dtype);

/// Reads N from the first 8 bytes. Errors (Integrity, naming `file` and byte offset 0): fewer
/// than 8 bytes, N == 0... N < 2 (no JSON object fits), N > k_safetensors_max_header, or
/// 8 + N > file_size (the header runs past the end of the file).
Result<std::uint64_t> safetensors_header_length(std::string_view first8, std::uint64_t file_size, std::string_view file = {});

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;              // sorted by offset; offsets absolute (8 + N + begin)
  std::map<std::string, std::string> metadata;  // "__metadata__" (string values only, as the format says)
  std::uint64_t header_length = 0;              // N
  std::uint64_t data_start = 0;                 // 8 + N
};

/// Parses and validates the N header bytes (`json`, without the 8-byte length) of a file of
/// `file_size` bytes, as the safetensors library's `validate` does: well-formed JSON object; each
/// tensor's dtype known, shape non-negative integers, data_offsets two integers begin <= end
/// inside the data section (file_size - 8 - N); bytes = ceil(bits x elements / 8); no two tensors
/// overlap. Gaps between tensors are accepted (the JS client accepts padding). Errors: Integrity,
/// whose message names `file`, the tensor and the byte offset in the file the fault is about
/// (the header's start, 8, for malformed JSON).
Result<SafetensorsHeader> parse_safetensors_header(std::string_view json, std::uint64_t file_size, std::string_view file = {});

/// A model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor: shard file}}.
struct SafetensorsIndex {
  std::map<std::string, std::string> weight_map;  // tensor -> shard (relative to the index's folder)
  std::vector<std::string> shards;                // distinct shard names, sorted
  std::uint64_t total_size = 0;                   // metadata.total_size when given, else 0
};

/// Parses an index. Errors (Integrity, naming `file`): not JSON, no weight_map object, a value
/// that is not a string, or a shard name that is not a plain relative path inside the index's
/// folder (absolute, "..", empty, backslash, NUL: the JS client's assertSafeShardFilename).
Result<SafetensorsIndex> parse_safetensors_index(std::string_view json, std::string_view file = {});

}  // namespace hubcache::model

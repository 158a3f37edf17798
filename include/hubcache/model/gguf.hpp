#pragma once
// The GGUF format (ggml's docs/gguf.md; versions 2 and 3): "GGUF", u32 version, u64 tensor
// count, u64 metadata count, the metadata key/values, the tensor infos, padding to
// `general.alignment` (32 by default), then the tensor data. Little-endian only. Pure: bytes in,
// facts out; reading the file (disk, mmap, HTTP ranges) is the caller's.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/model/tensor.hpp"

namespace hubcache::model {

/// gguf_type (docs/gguf.md).
enum class GgufType : std::uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12
};

/// One metadata value. Scalars and strings are kept; an array keeps its element type and length
/// only (tokenizer vocabularies hold 100k+ strings), so memory stays bounded by the key count.
struct GgufValue {
  GgufType type = GgufType::U8;
  std::variant<std::monostate, std::uint64_t, std::int64_t, double, bool, std::string> scalar;
  GgufType array_type = GgufType::U8;  // when type == Array
  std::uint64_t array_length = 0;      // when type == Array
};

struct GgufKv {
  std::string key;
  GgufValue value;
};

/// A ggml tensor type: name as llama.cpp spells it ("Q4_K"), elements per block and bytes per block.
struct GgmlType {
  std::string_view name;
  std::uint32_t block_elements = 0;
  std::uint32_t block_bytes = 0;
};
/// The type of ggml id `id`, or nullopt for an id ggml does not define (removed Q4_2, ...).
std::optional<GgmlType> ggml_type(std::uint32_t id);
/// llama.cpp's name of a `general.file_type` value (LLAMA_FTYPE_MOSTLY_Q4_K_M = 15 -> "Q4_K_M"),
/// or "unknown (<n>)".
std::string gguf_file_type_name(std::uint64_t file_type);

struct GgufFile {
  std::uint32_t version = 0;
  std::vector<GgufKv> metadata;     // in file order
  std::vector<TensorInfo> tensors;  // in file order; offsets absolute
  std::uint64_t alignment = 32;     // general.alignment
  std::uint64_t data_start = 0;     // first byte of the data section (aligned)

  const GgufValue* find(std::string_view key) const;
  std::optional<std::string> string_value(std::string_view key) const;
  /// An unsigned or non-negative signed integer value.
  std::optional<std::uint64_t> uint_value(std::string_view key) const;
};

/// The outcome of parsing a prefix of a file: either the file's header, or how many bytes of the
/// file's start are needed to get further (`need` > prefix size), for readers that fetch ranges.
struct GgufParse {
  std::optional<GgufFile> file;
  std::uint64_t need = 0;
};

/// Bounds a hostile header cannot pass.
struct GgufLimits {
  std::uint64_t max_string = 64u << 20;              // bytes of one string (chat templates are ~10 KiB)
  std::uint64_t max_kv = 1u << 20;                   // metadata entries
  std::uint64_t max_tensors = 1u << 22;              // tensor infos
  std::uint64_t max_array = std::uint64_t{1} << 32;  // elements of one array
};

/// Parses `prefix`, the first bytes of a GGUF file of `file_size` bytes. Validates: magic,
/// version 2 or 3 (1 is refused: its counts are 32-bit), every length inside the file and the
/// limits, value and tensor types known, at most 4 dimensions (GGML_MAX_DIMS), alignment a power
/// of two, each tensor's offset a multiple of it, its bytes (elements / block x block bytes; the
/// first dimension a multiple of the block) inside the file, no two tensors overlapping.
/// Errors: Integrity naming `file`, what is wrong and the byte offset. When the prefix ends inside
/// the header and is shorter than the file: success with `need` set instead.
Result<GgufParse> parse_gguf(std::string_view prefix, std::uint64_t file_size, std::string_view file = {},
                             const GgufLimits& limits = {});

}  // namespace hubcache::model

#pragma once
// Writers of weight files for tests: valid safetensors and GGUF v3 files made from a tensor list,
// with deterministic data bytes, and their header facts known to the test. Also the raw pieces
// (little-endian integers, GGUF strings) for tests that craft malformed files.
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace hubcache::test {

struct FakeTensor {
  std::string name;
  std::string dtype;  // safetensors dtype ("F32", "BF16", ...) or GGML type name ("Q4_K", "F16", ...)
  std::vector<std::uint64_t> shape;
};

/// Bytes a tensor of `dtype` x `shape` holds (safetensors dtypes and GGML types both understood);
/// throws std::invalid_argument for an unknown dtype.
std::uint64_t fake_tensor_bytes(const FakeTensor& t);

/// The data byte at position `i` of tensor `name` (a pattern of the name), so tests can check
/// views read the right bytes.
std::uint8_t fake_tensor_byte(const std::string& name, std::uint64_t i);

/// A safetensors file's bytes: tensors laid out in the given order, no gaps; header padded with
/// spaces to a multiple of 8 (as the safetensors library writes it).
std::string safetensors_bytes(const std::vector<FakeTensor>& tensors, const std::map<std::string, std::string>& metadata = {});
/// Writes safetensors_bytes to `path` (parents created). Returns the file size.
std::uint64_t write_safetensors(const std::string& path, const std::vector<FakeTensor>& tensors,
                                const std::map<std::string, std::string>& metadata = {});

/// A GGUF metadata value for the writer: strings, unsigned (written as U32 when < 2^32, else
/// U64), floats (F32), bools, or a string array.
using GgufSpecValue = std::variant<std::string, std::uint64_t, double, bool, std::vector<std::string>>;

/// A GGUF v3 file's bytes: the metadata in the given order (general.alignment added when
/// `alignment` != 32), tensor infos in order, each tensor's data aligned. Shapes are ggml order.
std::string gguf_bytes(const std::vector<std::pair<std::string, GgufSpecValue>>& metadata, const std::vector<FakeTensor>& tensors,
                       std::uint32_t alignment = 32);
std::uint64_t write_gguf(const std::string& path, const std::vector<std::pair<std::string, GgufSpecValue>>& metadata,
                         const std::vector<FakeTensor>& tensors, std::uint32_t alignment = 32);

// Raw pieces, little-endian.
std::string le32(std::uint32_t v);
std::string le64(std::uint64_t v);
std::string gguf_string(const std::string& s);  // u64 length + bytes

}  // namespace hubcache::test

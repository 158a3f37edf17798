#include "model_writer.hpp"

#include <filesystem>
#include <fstream>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace hubcache::test {
namespace {

struct TypeSize {
  std::uint64_t block_elements;
  std::uint64_t block_bytes;
  std::uint32_t ggml_id;  // UINT32_MAX: not a GGML type
};

// Facts from the formats (safetensors' Dtype::bitsize, ggml's type_traits): elements per block
// and bytes per block. Sub-byte safetensors types use blocks of 8 elements.
TypeSize type_size(const std::string& d) {
  static const std::map<std::string, TypeSize> types = {
      // safetensors
      {"F64", {1, 8, 28}},
      {"I64", {1, 8, 27}},
      {"U64", {1, 8, UINT32_MAX}},
      {"F32", {1, 4, 0}},
      {"I32", {1, 4, 26}},
      {"U32", {1, 4, UINT32_MAX}},
      {"F16", {1, 2, 1}},
      {"BF16", {1, 2, 30}},
      {"I16", {1, 2, 25}},
      {"U16", {1, 2, UINT32_MAX}},
      {"I8", {1, 1, 24}},
      {"U8", {1, 1, UINT32_MAX}},
      {"BOOL", {1, 1, UINT32_MAX}},
      {"F8_E4M3", {1, 1, UINT32_MAX}},
      {"F8_E5M2", {1, 1, UINT32_MAX}},
      {"F4", {2, 1, UINT32_MAX}},
      // ggml quantized
      {"Q4_0", {32, 18, 2}},
      {"Q4_1", {32, 20, 3}},
      {"Q5_0", {32, 22, 6}},
      {"Q5_1", {32, 24, 7}},
      {"Q8_0", {32, 34, 8}},
      {"Q2_K", {256, 84, 10}},
      {"Q3_K", {256, 110, 11}},
      {"Q4_K", {256, 144, 12}},
      {"Q5_K", {256, 176, 13}},
      {"Q6_K", {256, 210, 14}},
      {"IQ4_NL", {32, 18, 20}},
      {"IQ4_XS", {256, 136, 23}},
  };
  auto it = types.find(d);
  if (it == types.end()) throw std::invalid_argument("model_writer: unknown dtype " + d);
  return it->second;
}

std::uint64_t elements(const FakeTensor& t) {
  std::uint64_t n = 1;
  for (auto d : t.shape) n *= d;
  return n;
}

void append_data(std::string& out, const FakeTensor& t) {
  const std::uint64_t n = fake_tensor_bytes(t);
  out.reserve(out.size() + n);
  for (std::uint64_t i = 0; i < n; ++i) out.push_back(static_cast<char>(fake_tensor_byte(t.name, i)));
}

std::uint64_t write_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("model_writer: cannot write " + path);
  return bytes.size();
}

}  // namespace

std::uint64_t fake_tensor_bytes(const FakeTensor& t) {
  const TypeSize s = type_size(t.dtype);
  return (elements(t) + s.block_elements - 1) / s.block_elements * s.block_bytes;
}

std::uint8_t fake_tensor_byte(const std::string& name, std::uint64_t i) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return static_cast<std::uint8_t>((h >> 8) + i * 31 + (i >> 8) * 7);
}

std::string le32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}
std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}
std::string gguf_string(const std::string& s) { return le64(s.size()) + s; }

std::string safetensors_bytes(const std::vector<FakeTensor>& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t at = 0;
  for (const auto& t : tensors) {
    const std::uint64_t n = fake_tensor_bytes(t);
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {at, at + n}}};
    at += n;
  }
  std::string json = header.dump();
  while (json.size() % 8 != 0) json.push_back(' ');
  std::string out = le64(json.size()) + json;
  for (const auto& t : tensors) append_data(out, t);
  return out;
}

std::uint64_t write_safetensors(const std::string& path, const std::vector<FakeTensor>& tensors,
                                const std::map<std::string, std::string>& metadata) {
  return write_bytes(path, safetensors_bytes(tensors, metadata));
}

std::string gguf_bytes(const std::vector<std::pair<std::string, GgufSpecValue>>& metadata, const std::vector<FakeTensor>& tensors,
                       std::uint32_t alignment) {
  std::string out = "GGUF" + le32(3);
  const bool add_alignment = alignment != 32;
  out += le64(tensors.size());
  out += le64(metadata.size() + (add_alignment ? 1 : 0));
  auto put_value = [&out](const GgufSpecValue& v) {
    if (const auto* s = std::get_if<std::string>(&v)) {
      out += le32(8) + gguf_string(*s);
    } else if (const auto* u = std::get_if<std::uint64_t>(&v)) {
      if (*u <= UINT32_MAX)
        out += le32(4) + le32(static_cast<std::uint32_t>(*u));
      else
        out += le32(10) + le64(*u);
    } else if (const auto* d = std::get_if<double>(&v)) {
      const float f = static_cast<float>(*d);
      std::uint32_t bits;
      static_assert(sizeof bits == sizeof f);
      std::memcpy(&bits, &f, sizeof bits);
      out += le32(6) + le32(bits);
    } else if (const auto* b = std::get_if<bool>(&v)) {
      out += le32(7) + std::string(1, *b ? '\1' : '\0');
    } else {
      const auto& a = std::get<std::vector<std::string>>(v);
      out += le32(9) + le32(8) + le64(a.size());
      for (const auto& item : a) out += gguf_string(item);
    }
  };
  for (const auto& [key, value] : metadata) {
    out += gguf_string(key);
    put_value(value);
  }
  if (add_alignment) out += gguf_string("general.alignment") + le32(4) + le32(alignment);
  std::uint64_t at = 0;
  std::vector<std::uint64_t> offsets;
  for (const auto& t : tensors) {
    out += gguf_string(t.name) + le32(static_cast<std::uint32_t>(t.shape.size()));
    for (auto d : t.shape) out += le64(d);
    const TypeSize s = type_size(t.dtype);
    if (s.ggml_id == UINT32_MAX) throw std::invalid_argument("model_writer: not a GGML type " + t.dtype);
    out += le32(s.ggml_id) + le64(at);
    offsets.push_back(at);
    at += (fake_tensor_bytes(t) + alignment - 1) / alignment * alignment;
  }
  while (out.size() % alignment != 0) out.push_back('\0');
  const std::uint64_t data_start = out.size();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    out.resize(data_start + offsets[i], '\0');
    append_data(out, tensors[i]);
  }
  return out;
}

std::uint64_t write_gguf(const std::string& path, const std::vector<std::pair<std::string, GgufSpecValue>>& metadata,
                         const std::vector<FakeTensor>& tensors, std::uint32_t alignment) {
  return write_bytes(path, gguf_bytes(metadata, tensors, alignment));
}

}  // namespace hubcache::test

#include "hubcache/model/safetensors.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace hubcache::model {
namespace {

using nlohmann::json;

Unexpected fault(std::string_view file, std::uint64_t offset, const std::string& what) {
  return fail(ErrorCode::Integrity,
              fmt::format("{}: not a valid safetensors file at byte {}: {}", file.empty() ? "safetensors" : file, offset, what),
              std::string(file));
}

// Deepest nesting of arrays/objects in `text`, strings skipped; stops counting past `limit`.
// The header's legal depth is 3 (object > tensor > shape); checking first keeps a hostile header of
// 100 MB of '[' from reaching the JSON parser at all.
std::size_t nesting_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

bool is_plain_relative_path(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.find('\\') != std::string_view::npos || p.find('\0') != std::string_view::npos)
    return false;
  std::size_t start = 0;
  while (start <= p.size()) {
    const std::size_t end = std::min(p.find('/', start), p.size());
    const std::string_view part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

unsigned safetensors_dtype_bits(std::string_view dtype) {
  struct Entry {
    std::string_view name;
    unsigned bits;
  };
  // safetensors' Dtype (and the names @huggingface/hub accepts): bits per element.
  static constexpr std::array<Entry, 26> k_dtypes{{
      {"BOOL", 8},    {"U8", 8},      {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8},   {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8},
      {"F8_E8M0", 8}, {"E8M0", 8},    {"UE8", 8},  {"I16", 16},    {"U16", 16},      {"F16", 16},        {"BF16", 16},
      {"I32", 32},    {"U32", 32},    {"F32", 32}, {"C64", 64},    {"F64", 64},      {"I64", 64},        {"U64", 64},
      {"F6_E3M2", 6}, {"F6_E2M3", 6}, {"F4", 4},   {"FP4", 4},     {"F8_E4M3FN", 8},
  }};
  for (const auto& e : k_dtypes)
    if (e.name == dtype) return e.bits;
  return 0;
}

Result<std::uint64_t> safetensors_header_length(std::string_view first8, std::uint64_t file_size, std::string_view file) {
  if (first8.size() < 8 || file_size < 8)
    return fault(file, 0, fmt::format("the file has {} bytes, fewer than the 8 of the header length", file_size));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(first8[static_cast<std::size_t>(i)]);
  if (n < 2) return fault(file, 0, fmt::format("header length {} cannot hold a JSON object", n));
  if (n > k_safetensors_max_header)
    return fault(file, 0, fmt::format("header length {} is over the format's limit of {} bytes", n, k_safetensors_max_header));
  if (n > file_size - 8)
    return fault(
        file, 0,
        fmt::format("header length {} runs past the end of the file ({} bytes): truncated or not safetensors", n, file_size));
  return n;
}

Result<SafetensorsHeader> parse_safetensors_header(std::string_view text, std::uint64_t file_size, std::string_view file) {
  SafetensorsHeader out;
  out.header_length = text.size();
  out.data_start = 8 + text.size();
  if (file_size < out.data_start)
    return fault(file, 0, fmt::format("the header ({} bytes) does not fit in the file ({} bytes)", text.size(), file_size));
  const std::uint64_t data_size = file_size - out.data_start;
  if (nesting_depth(text, 3) > 3) return fault(file, 8, "the header JSON nests deeper than a tensor table can");
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fault(file, 8, "the header is not well-formed JSON");
  if (!doc.is_object()) return fault(file, 8, "the header is not a JSON object");

  for (auto& item : doc.items()) {
    const std::string& name = item.key();
    const json& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return fault(file, 8, "__metadata__ is not an object of strings");
      for (auto& [k, v] : entry.items()) {
        if (!v.is_string()) return fault(file, 8, fmt::format("__metadata__ value '{}' is not a string", k));
        out.metadata.emplace(k, v.get<std::string>());
      }
      continue;
    }
    auto bad = [&](const std::string& what) { return fault(file, 8, fmt::format("tensor '{}': {}", name, what)); };
    if (!entry.is_object()) return bad("not an object");
    const auto dtype = entry.find("dtype");
    const auto shape = entry.find("shape");
    const auto offsets = entry.find("data_offsets");
    if (dtype == entry.end() || !dtype->is_string()) return bad("no dtype string");
    if (shape == entry.end() || !shape->is_array()) return bad("no shape array");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2) return bad("data_offsets is not [begin, end]");
    TensorInfo t;
    t.name = name;
    t.dtype = dtype->get<std::string>();
    const unsigned bits = safetensors_dtype_bits(t.dtype);
    if (bits == 0) return bad(fmt::format("unknown dtype '{}'", t.dtype));
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) return bad("a shape dimension is not a non-negative integer");
      t.shape.push_back(d.get<std::uint64_t>());
    }
    if (!(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
      return bad("data_offsets are not non-negative integers");
    const std::uint64_t begin = (*offsets)[0].get<std::uint64_t>();
    const std::uint64_t end = (*offsets)[1].get<std::uint64_t>();
    if (begin > end) return bad(fmt::format("data_offsets [{}, {}] end before they begin", begin, end));
    if (end > data_size)
      return fault(
          file, out.data_start + begin,
          fmt::format("tensor '{}': data_offsets [{}, {}] run past the end of the data ({} bytes)", name, begin, end, data_size));
    std::uint64_t elements = 1, total_bits = 0;
    for (std::uint64_t d : t.shape)
      if (!checked_mul(elements, d, elements)) return bad("the shape's element count overflows");
    if (!checked_mul(elements, bits, total_bits)) return bad("the shape's byte count overflows");
    const std::uint64_t expected = total_bits / 8 + (total_bits % 8 != 0 ? 1 : 0);
    if (expected != end - begin)
      return fault(file, out.data_start + begin,
                   fmt::format("tensor '{}': {} x {} needs {} bytes, data_offsets give {}", name, t.dtype,
                               fmt::join(t.shape, "x"), expected, end - begin));
    t.offset = out.data_start + begin;
    t.length = end - begin;
    out.tensors.push_back(std::move(t));
  }
  std::sort(out.tensors.begin(), out.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.length < b.length;
  });
  for (std::size_t i = 1; i < out.tensors.size(); ++i) {
    const auto& prev = out.tensors[i - 1];
    const auto& cur = out.tensors[i];
    // Zero-length tensors take no bytes and may share an offset with anything.
    if (cur.length != 0 && prev.length != 0 && cur.offset < prev.offset + prev.length)
      return fault(file, cur.offset, fmt::format("tensors '{}' and '{}' overlap", prev.name, cur.name));
  }
  return out;
}

Result<SafetensorsIndex> parse_safetensors_index(std::string_view text, std::string_view file) {
  const std::string name = file.empty() ? std::string("model.safetensors.index.json") : std::string(file);
  auto bad = [&](const std::string& what) {
    return fail(ErrorCode::Integrity, fmt::format("{}: not a valid safetensors index: {}", name, what), name);
  };
  if (nesting_depth(text, 8) > 8) return bad("the JSON nests too deeply");
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  const auto map = doc.find("weight_map");
  if (map == doc.end() || !map->is_object()) return bad("no weight_map object");
  SafetensorsIndex out;
  std::set<std::string> shards;
  for (auto& [tensor, shard] : map->items()) {
    if (!shard.is_string()) return bad(fmt::format("weight_map['{}'] is not a string", tensor));
    std::string s = shard.get<std::string>();
    if (!is_plain_relative_path(s))
      return bad(fmt::format("weight_map['{}'] names '{}', not a file inside the index's folder", tensor, s));
    shards.insert(s);
    out.weight_map.emplace(tensor, std::move(s));
  }
  out.shards.assign(shards.begin(), shards.end());
  if (const auto meta = doc.find("metadata"); meta != doc.end() && meta->is_object()) {
    if (const auto ts = meta->find("total_size"); ts != meta->end()) {
      if (ts->is_number_unsigned())
        out.total_size = ts->get<std::uint64_t>();
      else if (ts->is_number_float() && ts->get<double>() >= 0)
        out.total_size = static_cast<std::uint64_t>(ts->get<double>());
    }
  }
  return out;
}

}  // namespace hubcache::model

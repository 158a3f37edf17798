#include "hubcache/model/gguf.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <unordered_set>

#include <fmt/format.h>

namespace hubcache::model {
namespace {

// ggml's type_traits (ggml.c): id -> name, elements per block, bytes per block. Ids 4, 5, 31-33
// and 36-38 were removed from ggml and are refused.
constexpr std::array<GgmlType, 43> k_ggml_types{{
    {"F32", 1, 4},        {"F16", 1, 2},      {"Q4_0", 32, 18},   {"Q4_1", 32, 20},    {"", 0, 0},           {"", 0, 0},
    {"Q5_0", 32, 22},     {"Q5_1", 32, 24},   {"Q8_0", 32, 34},   {"Q8_1", 32, 40},    {"Q2_K", 256, 84},    {"Q3_K", 256, 110},
    {"Q4_K", 256, 144},   {"Q5_K", 256, 176}, {"Q6_K", 256, 210}, {"Q8_K", 256, 292},  {"IQ2_XXS", 256, 66}, {"IQ2_XS", 256, 74},
    {"IQ3_XXS", 256, 98}, {"IQ1_S", 256, 50}, {"IQ4_NL", 32, 18}, {"IQ3_S", 256, 110}, {"IQ2_S", 256, 82},   {"IQ4_XS", 256, 136},
    {"I8", 1, 1},         {"I16", 1, 2},      {"I32", 1, 4},      {"I64", 1, 8},       {"F64", 1, 8},        {"IQ1_M", 256, 56},
    {"BF16", 1, 2},       {"", 0, 0},         {"", 0, 0},         {"", 0, 0},          {"TQ1_0", 256, 54},   {"TQ2_0", 256, 66},
    {"", 0, 0},           {"", 0, 0},         {"", 0, 0},         {"MXFP4", 32, 17},   {"NVFP4", 64, 36},    {"Q1_0", 128, 18},
    {"Q2_0", 64, 18},
}};

// llama.cpp's llama_ftype (LLAMA_FTYPE_MOSTLY_*): general.file_type -> name. "" = removed.
constexpr std::array<std::string_view, 42> k_file_types{{
    "F32",    "F16",     "Q4_0",   "Q4_1",   "Q4_1_SOME_F16", "",          "",       "Q8_0",  "Q5_0",    "Q5_1",   "Q2_K",
    "Q3_K_S", "Q3_K_M",  "Q3_K_L", "Q4_K_S", "Q4_K_M",        "Q5_K_S",    "Q5_K_M", "Q6_K",  "IQ2_XXS", "IQ2_XS", "Q2_K_S",
    "IQ3_XS", "IQ3_XXS", "IQ1_S",  "IQ4_NL", "IQ3_S",         "IQ3_M",     "IQ2_S",  "IQ2_M", "IQ4_XS",  "IQ1_M",  "BF16",
    "",       "",        "",       "TQ1_0",  "TQ2_0",         "MXFP4_MOE", "NVFP4",  "Q1_0",  "Q2_0",
}};

enum class Got { Ok, More, Past };

// Reads the prefix of a file of `size` bytes. A read past the prefix but inside the file is
// More (need = the bytes it takes); past the file's end is Past.
class Reader {
 public:
  Reader(std::string_view buf, std::uint64_t size) : m_buf(buf), m_size(size) {}
  std::uint64_t pos() const { return m_pos; }
  std::uint64_t need() const { return m_need; }

  Got take(std::uint64_t n, std::string_view* out) {
    if (n > m_size - m_pos) return Got::Past;
    if (n > m_buf.size() - std::min<std::uint64_t>(m_pos, m_buf.size())) {
      m_need = m_pos + n;
      return Got::More;
    }
    if (out) *out = m_buf.substr(m_pos, n);
    m_pos += n;
    return Got::Ok;
  }
  template <typename T>
  Got num(T& v) {
    std::string_view b;
    if (Got g = take(sizeof(T), &b); g != Got::Ok) return g;
    std::memcpy(&v, b.data(), sizeof(T));  // GGUF is little-endian, as the hosts hubcache builds for
    return Got::Ok;
  }

 private:
  std::string_view m_buf;
  std::uint64_t m_size;
  std::uint64_t m_pos = 0;
  std::uint64_t m_need = 0;
};

std::uint64_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::Bool:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    default:
      return 0;
  }
}

bool known_type(std::uint32_t t) { return t <= static_cast<std::uint32_t>(GgufType::F64); }

class Parser {
 public:
  Parser(std::string_view prefix, std::uint64_t size, std::string_view file, const GgufLimits& limits)
      : m_r(prefix, size), m_size(size), m_file(file.empty() ? "GGUF" : file), m_limits(limits) {}

  Result<GgufParse> run();

 private:
  // Status of a step: ok, need more bytes, or a fault already stored in m_error.
  enum class Step { Ok, More, Fault };

  Step fail(std::uint64_t at, const std::string& what) {
    m_error = Error(ErrorCode::Integrity, fmt::format("{}: not a valid GGUF file at byte {}: {}", m_file, at, what),
                    std::string(m_file));
    return Step::Fault;
  }
  Step got(Got g, std::uint64_t at, std::string_view what) {
    if (g == Got::Ok) return Step::Ok;
    if (g == Got::More) return Step::More;
    return fail(at, fmt::format("{} runs past the end of the file ({} bytes)", what, m_size));
  }
  Step read_string(std::string* out, std::string_view what);
  Step read_value(GgufType type, GgufValue* out, int depth);

  Reader m_r;
  std::uint64_t m_size;
  std::string_view m_file;
  GgufLimits m_limits;
  Error m_error;
};

Parser::Step Parser::read_string(std::string* out, std::string_view what) {
  const std::uint64_t at = m_r.pos();
  std::uint64_t n = 0;
  if (Step s = got(m_r.num(n), at, what); s != Step::Ok) return s;
  if (n > m_limits.max_string)
    return fail(at, fmt::format("{} is {} bytes long, over the limit of {}", what, n, m_limits.max_string));
  std::string_view bytes;
  if (Step s = got(m_r.take(n, out ? &bytes : nullptr), at, what); s != Step::Ok) return s;
  if (out) out->assign(bytes);
  return Step::Ok;
}

Parser::Step Parser::read_value(GgufType type, GgufValue* out, int depth) {
  const std::uint64_t at = m_r.pos();
  if (type == GgufType::String) {
    std::string s;
    if (Step st = read_string(out ? &s : nullptr, "a string value"); st != Step::Ok) return st;
    if (out) out->scalar = std::move(s);
    return Step::Ok;
  }
  if (type == GgufType::Array) {
    if (depth >= 4) return fail(at, "arrays nest deeper than 4 levels");
    std::uint32_t elem = 0;
    std::uint64_t count = 0;
    if (Step s = got(m_r.num(elem), at, "an array's type"); s != Step::Ok) return s;
    if (!known_type(elem)) return fail(at, fmt::format("an array's element type {} is not a GGUF type", elem));
    if (Step s = got(m_r.num(count), at, "an array's length"); s != Step::Ok) return s;
    if (count > m_limits.max_array)
      return fail(at, fmt::format("an array of {} elements is over the limit of {}", count, m_limits.max_array));
    if (out) {
      out->array_type = static_cast<GgufType>(elem);
      out->array_length = count;
    }
    const std::uint64_t size = scalar_size(static_cast<GgufType>(elem));
    if (size != 0) {
      if (count > std::numeric_limits<std::uint64_t>::max() / size) return fail(at, "an array's byte size overflows");
      return got(m_r.take(count * size, nullptr), at, "an array");
    }
    for (std::uint64_t i = 0; i < count; ++i)
      if (Step s = read_value(static_cast<GgufType>(elem), nullptr, depth + 1); s != Step::Ok) return s;
    return Step::Ok;
  }
  const std::uint64_t size = scalar_size(type);
  std::string_view b;
  if (Step s = got(m_r.take(size, &b), at, "a value"); s != Step::Ok) return s;
  if (!out) return Step::Ok;
  std::uint64_t u = 0;
  std::memcpy(&u, b.data(), size);
  switch (type) {
    case GgufType::U8:
    case GgufType::U16:
    case GgufType::U32:
    case GgufType::U64:
      out->scalar = u;
      break;
    case GgufType::I8:
      out->scalar = std::int64_t{static_cast<std::int8_t>(u)};
      break;
    case GgufType::I16:
      out->scalar = std::int64_t{static_cast<std::int16_t>(u)};
      break;
    case GgufType::I32:
      out->scalar = std::int64_t{static_cast<std::int32_t>(u)};
      break;
    case GgufType::I64:
      out->scalar = static_cast<std::int64_t>(u);
      break;
    case GgufType::Bool:
      if (u > 1) return fail(at, fmt::format("a bool value is {}", u));
      out->scalar = u == 1;
      break;
    case GgufType::F32: {
      float f;
      std::memcpy(&f, b.data(), 4);
      out->scalar = static_cast<double>(f);
      break;
    }
    default: {
      double d;
      std::memcpy(&d, b.data(), 8);
      out->scalar = d;
    }
  }
  return Step::Ok;
}

Result<GgufParse> Parser::run() {
  GgufParse result;
  GgufFile f;
  auto outcome = [&](Step s) -> Result<GgufParse> {
    if (s == Step::Fault) return hubcache::fail(m_error);
    result.need = m_r.need();
    return result;
  };
  std::string_view magic;
  if (Step s = got(m_r.take(4, &magic), 0, "the magic"); s != Step::Ok) {
    if (s == Step::Fault) fail(0, fmt::format("the file has {} bytes: too short for GGUF", m_size));
    return outcome(s);
  }
  if (magic != "GGUF") return outcome(fail(0, "the file does not start with 'GGUF'"));
  std::uint64_t tensor_count = 0, kv_count = 0;
  if (Step s = got(m_r.num(f.version), 4, "the version"); s != Step::Ok) return outcome(s);
  if (f.version == 1) return outcome(fail(4, "GGUF version 1 is not supported (its counts are 32-bit); reconvert the model"));
  if (f.version != 2 && f.version != 3) return outcome(fail(4, fmt::format("unknown GGUF version {}", f.version)));
  if (Step s = got(m_r.num(tensor_count), 8, "the tensor count"); s != Step::Ok) return outcome(s);
  if (Step s = got(m_r.num(kv_count), 16, "the metadata count"); s != Step::Ok) return outcome(s);
  if (tensor_count > m_limits.max_tensors)
    return outcome(fail(8, fmt::format("{} tensors is over the limit of {}", tensor_count, m_limits.max_tensors)));
  if (kv_count > m_limits.max_kv)
    return outcome(fail(16, fmt::format("{} metadata entries is over the limit of {}", kv_count, m_limits.max_kv)));

  std::unordered_set<std::string> keys;
  for (std::uint64_t i = 0; i < kv_count; ++i) {
    const std::uint64_t at = m_r.pos();
    GgufKv kv;
    if (Step s = read_string(&kv.key, "a metadata key"); s != Step::Ok) return outcome(s);
    std::uint32_t type = 0;
    if (Step s = got(m_r.num(type), at, "a metadata type"); s != Step::Ok) return outcome(s);
    if (!known_type(type)) return outcome(fail(at, fmt::format("metadata '{}' has unknown type {}", kv.key, type)));
    kv.value.type = static_cast<GgufType>(type);
    if (Step s = read_value(kv.value.type, &kv.value, 0); s != Step::Ok) return outcome(s);
    if (!keys.insert(kv.key).second) return outcome(fail(at, fmt::format("metadata key '{}' appears twice", kv.key)));
    if (kv.key == "general.alignment") {
      const auto* a = std::get_if<std::uint64_t>(&kv.value.scalar);
      if (!a) return outcome(fail(at, "general.alignment is not an unsigned integer"));
      if (*a == 0 || (*a & (*a - 1)) != 0)
        return outcome(fail(at, fmt::format("general.alignment {} is not a power of two", *a)));
      if (*a > (1u << 30)) return outcome(fail(at, fmt::format("general.alignment {} is over the limit of 2^30", *a)));
      f.alignment = *a;
    }
    f.metadata.push_back(std::move(kv));
  }

  f.tensors.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(tensor_count, 1u << 16)));
  std::unordered_set<std::string> names;
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    const std::uint64_t at = m_r.pos();
    TensorInfo t;
    if (Step s = read_string(&t.name, "a tensor name"); s != Step::Ok) return outcome(s);
    if (!names.insert(t.name).second) return outcome(fail(at, fmt::format("tensor name '{}' appears twice", t.name)));
    std::uint32_t dims = 0;
    if (Step s = got(m_r.num(dims), at, "a tensor's dimension count"); s != Step::Ok) return outcome(s);
    if (dims > 4) return outcome(fail(at, fmt::format("tensor '{}' has {} dimensions; ggml allows 4", t.name, dims)));
    for (std::uint32_t d = 0; d < dims; ++d) {
      std::uint64_t n = 0;
      if (Step s = got(m_r.num(n), at, "a tensor's dimension"); s != Step::Ok) return outcome(s);
      t.shape.push_back(n);
    }
    std::uint32_t type = 0;
    if (Step s = got(m_r.num(type), at, "a tensor's type"); s != Step::Ok) return outcome(s);
    const auto gt = ggml_type(type);
    if (!gt) return outcome(fail(at, fmt::format("tensor '{}' has unknown ggml type {}", t.name, type)));
    t.dtype = std::string(gt->name);
    if (Step s = got(m_r.num(t.offset), at, "a tensor's offset"); s != Step::Ok) return outcome(s);
    const std::uint64_t elements = t.elements();
    if (elements == std::numeric_limits<std::uint64_t>::max())
      return outcome(fail(at, fmt::format("tensor '{}': its element count overflows", t.name)));
    if (!t.shape.empty() && t.shape[0] % gt->block_elements != 0)
      return outcome(fail(at, fmt::format("tensor '{}': its first dimension {} is not a multiple of {}'s block of {}", t.name,
                                          t.shape[0], gt->name, gt->block_elements)));
    const std::uint64_t blocks = elements / gt->block_elements + (t.shape.empty() && gt->block_elements > 1 ? 1 : 0);
    if (blocks > std::numeric_limits<std::uint64_t>::max() / gt->block_bytes)
      return outcome(fail(at, fmt::format("tensor '{}': its byte count overflows", t.name)));
    t.length = blocks * gt->block_bytes;
    f.tensors.push_back(std::move(t));
  }
  const std::uint64_t end_of_infos = m_r.pos();
  f.data_start = (end_of_infos + f.alignment - 1) / f.alignment * f.alignment;
  if (!f.tensors.empty() && f.data_start > m_size)
    return outcome(fail(end_of_infos, "the data section starts past the end of the file"));
  for (auto& t : f.tensors) {
    if (t.offset % f.alignment != 0)
      return outcome(fail(f.data_start, fmt::format("tensor '{}': offset {} is not a multiple of the alignment {}", t.name,
                                                    t.offset, f.alignment)));
    if (t.offset > m_size - f.data_start || t.length > m_size - f.data_start - t.offset)
      return outcome(fail(f.data_start + std::min(t.offset, m_size),
                          fmt::format("tensor '{}' ({} bytes at data offset {}) runs past the end of the file ({} bytes)", t.name,
                                      t.length, t.offset, m_size)));
    t.offset += f.data_start;
  }
  std::vector<const TensorInfo*> order;
  order.reserve(f.tensors.size());
  for (const auto& t : f.tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (order[i]->length != 0 && order[i - 1]->length != 0 && order[i]->offset < order[i - 1]->offset + order[i - 1]->length)
      return outcome(fail(order[i]->offset, fmt::format("tensors '{}' and '{}' overlap", order[i - 1]->name, order[i]->name)));
  result.file = std::move(f);
  return result;
}

}  // namespace

std::optional<GgmlType> ggml_type(std::uint32_t id) {
  if (id >= k_ggml_types.size() || k_ggml_types[id].name.empty()) return std::nullopt;
  return k_ggml_types[id];
}

std::string gguf_file_type_name(std::uint64_t file_type) {
  if (file_type < k_file_types.size() && !k_file_types[file_type].empty()) return std::string(k_file_types[file_type]);
  return fmt::format("unknown ({})", file_type);
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& kv : metadata)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

std::optional<std::string> GgufFile::string_value(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(&v->scalar)) return *s;
  return std::nullopt;
}

std::optional<std::uint64_t> GgufFile::uint_value(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* u = std::get_if<std::uint64_t>(&v->scalar)) return *u;
  if (const auto* i = std::get_if<std::int64_t>(&v->scalar); i && *i >= 0) return static_cast<std::uint64_t>(*i);
  return std::nullopt;
}

Result<GgufParse> parse_gguf(std::string_view prefix, std::uint64_t file_size, std::string_view file, const GgufLimits& limits) {
  if (prefix.size() > file_size) prefix = prefix.substr(0, file_size);
  return Parser(prefix, file_size, file, limits).run();
}

}  // namespace hubcache::model

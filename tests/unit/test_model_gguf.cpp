// The GGUF header reader (model/gguf.hpp): files from the test writer, prefixes as a range reader
// sees them, and hostile headers; every fault is an Integrity error naming the file and the byte.
#include <gtest/gtest.h>

#include <string>

#include "hubcache/model/gguf.hpp"
#include "model_writer.hpp"

namespace hubcache::model {
namespace {

using test::FakeTensor;
using test::gguf_string;
using test::le32;
using test::le64;

const std::vector<FakeTensor> k_tensors = {{"token_embd.weight", "Q4_K", {256, 3}},
                                           {"blk.0.attn_q.weight", "Q8_0", {64, 2}},
                                           {"blk.0.attn_norm.weight", "F32", {64}},
                                           {"output.weight", "F16", {16, 4}},
                                           {"blk.0.ffn_up.weight", "Q6_K", {512}}};

std::string model_bytes(std::uint32_t alignment = 32) {
  return test::gguf_bytes({{"general.architecture", std::string("llama")},
                           {"general.name", std::string("Tiny")},
                           {"general.file_type", std::uint64_t{15}},
                           {"llama.context_length", std::uint64_t{4096}},
                           {"tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "</s>", "hello"}},
                           {"tokenizer.chat_template", std::string("{{ messages }}")},
                           {"general.big", std::uint64_t{1} << 40},
                           {"general.flag", true}},
                          k_tensors, alignment);
}

Result<GgufFile> parse_all(const std::string& bytes) {
  auto p = parse_gguf(bytes, bytes.size(), "m.gguf");
  if (!p) return fail(p.error());
  EXPECT_EQ(p->need, 0u);
  if (!p->file) return fail(ErrorCode::Io, "no file and no error");
  return std::move(*p->file);
}

TEST(Gguf, ReadsMetadataAndTensorTable) {
  const std::string bytes = model_bytes();
  auto f = parse_all(bytes);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->version, 3u);
  EXPECT_EQ(f->alignment, 32u);
  EXPECT_EQ(f->data_start % 32, 0u);
  EXPECT_EQ(f->string_value("general.architecture"), "llama");
  EXPECT_EQ(f->uint_value("llama.context_length"), 4096u);
  EXPECT_EQ(f->uint_value("general.big"), std::uint64_t{1} << 40);
  EXPECT_EQ(gguf_file_type_name(*f->uint_value("general.file_type")), "Q4_K_M");
  const GgufValue* tokens = f->find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->type, GgufType::Array);
  EXPECT_EQ(tokens->array_type, GgufType::String);
  EXPECT_EQ(tokens->array_length, 3u);
  EXPECT_EQ(std::get<bool>(f->find("general.flag")->scalar), true);
  EXPECT_FALSE(f->string_value("general.file_type"));  // not a string
  ASSERT_EQ(f->tensors.size(), k_tensors.size());
  for (std::size_t i = 0; i < k_tensors.size(); ++i) {
    const auto& t = f->tensors[i];
    EXPECT_EQ(t.name, k_tensors[i].name);
    EXPECT_EQ(t.dtype, k_tensors[i].dtype);
    EXPECT_EQ(t.shape, k_tensors[i].shape);
    EXPECT_EQ(t.length, test::fake_tensor_bytes(k_tensors[i]));
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ(static_cast<std::uint8_t>(bytes[t.offset]), test::fake_tensor_byte(t.name, 0)) << t.name;
  }
  EXPECT_EQ(f->tensors[0].length, 3u * 144u);  // 3 blocks of Q4_K
}

TEST(Gguf, HonoursGeneralAlignment) {
  const std::string bytes = model_bytes(64);
  auto f = parse_all(bytes);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->alignment, 64u);
  for (const auto& t : f->tensors) EXPECT_EQ(t.offset % 64, 0u);
}

TEST(Gguf, APrefixAsksForTheBytesItNeedsAndConverges) {
  const std::string bytes = model_bytes();
  const auto full = parse_all(bytes);
  ASSERT_TRUE(full);
  for (std::size_t n = 0; n < full->data_start; ++n) {
    auto p = parse_gguf(std::string_view(bytes).substr(0, n), bytes.size(), "m.gguf");
    ASSERT_TRUE(p) << n << ": " << p.error().message;
    if (p->file) continue;  // enough: the header ended within the prefix
    EXPECT_GT(p->need, n) << n;
    EXPECT_LE(p->need, full->data_start) << n;
  }
  // A range reader that fetches what `need` says gets the header in a few rounds.
  std::size_t have = 16, rounds = 0;
  for (;;) {
    auto p = parse_gguf(std::string_view(bytes).substr(0, have), bytes.size(), "m.gguf");
    ASSERT_TRUE(p);
    ++rounds;
    if (p->file) {
      EXPECT_EQ(p->file->tensors.size(), k_tensors.size());
      break;
    }
    have = std::max<std::size_t>(p->need, have * 2);
    ASSERT_LT(rounds, 20u);
  }
}

struct Bad {
  const char* label;
  std::string bytes;
  const char* says;
};

std::string header(std::uint32_t version, std::uint64_t tensors, std::uint64_t kvs) {
  return "GGUF" + le32(version) + le64(tensors) + le64(kvs);
}
std::string tensor_info(const std::string& name, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
  std::string s = gguf_string(name) + le32(static_cast<std::uint32_t>(dims.size()));
  for (auto d : dims) s += le64(d);
  return s + le32(type) + le64(offset);
}
std::string pad(std::string s, std::size_t total) {
  s.resize(std::max(total, s.size()), '\0');
  return s;
}

TEST(Gguf, HostileHeadersAreRefusedWithTheReason) {
  const std::vector<Bad> cases = {
      {"magic", pad("GGML" + le32(3), 64), "does not start with 'GGUF'"},
      {"version 1", pad(header(1, 0, 0), 64), "version 1 is not supported"},
      {"version 9", pad(header(9, 0, 0), 64), "unknown GGUF version 9"},
      {"tensor count", pad(header(3, std::uint64_t{1} << 40, 0), 64), "over the limit"},
      {"kv count", pad(header(3, 0, std::uint64_t{1} << 40), 64), "over the limit"},
      {"huge string", pad(header(3, 0, 1) + le64(std::uint64_t{1} << 62), 64), "over the limit"},
      {"string past end", pad(header(3, 0, 1) + le64(1000) + "k", 64), "past the end of the file"},
      {"unknown value type", pad(header(3, 0, 1) + gguf_string("k") + le32(13), 64), "unknown type 13"},
      {"bad bool", pad(header(3, 0, 1) + gguf_string("k") + le32(7) + "\x05", 64), "bool value is 5"},
      {"huge array", pad(header(3, 0, 1) + gguf_string("k") + le32(9) + le32(0) + le64(std::uint64_t{1} << 40), 64),
       "over the limit"},
      {"array past end", pad(header(3, 0, 1) + gguf_string("k") + le32(9) + le32(4) + le64(1000), 64),
       "past the end of the file"},
      {"duplicate key", pad(header(3, 0, 2) + gguf_string("k") + le32(4) + le32(1) + gguf_string("k") + le32(4) + le32(2), 128),
       "appears twice"},
      {"alignment", pad(header(3, 0, 1) + gguf_string("general.alignment") + le32(4) + le32(24), 64),
       "alignment 24 is not a power of two"},
      {"alignment type", pad(header(3, 0, 1) + gguf_string("general.alignment") + gguf_string("32").insert(0, le32(8)), 64),
       "not an unsigned integer"},
      {"alignment huge", pad(header(3, 0, 1) + gguf_string("general.alignment") + le32(4) + le32(1u << 31), 64),
       "over the limit of 2^30"},
      {"duplicate tensor", pad(header(3, 2, 0) + tensor_info("a", {8}, 0, 0) + tensor_info("a", {8}, 0, 32), 512),
       "tensor name 'a' appears twice"},
      {"five dims", pad(header(3, 1, 0) + tensor_info("t", {1, 1, 1, 1, 1}, 0, 0), 256), "5 dimensions"},
      {"unknown ggml type", pad(header(3, 1, 0) + tensor_info("t", {4}, 4, 0), 256), "unknown ggml type 4"},
      {"block multiple", pad(header(3, 1, 0) + tensor_info("t", {100}, 12, 0), 512), "not a multiple of Q4_K's block"},
      {"unaligned offset", pad(header(3, 1, 0) + tensor_info("t", {4}, 0, 8), 256), "not a multiple of the alignment"},
      {"tensor past end", pad(header(3, 1, 0) + tensor_info("t", {1024}, 0, 0), 256), "runs past the end of the file"},
      {"offset wraps", pad(header(3, 1, 0) + tensor_info("t", {4}, 0, ~std::uint64_t{31}), 256), "past the end"},
      {"overlap", pad(header(3, 2, 0) + tensor_info("a", {16}, 0, 0) + tensor_info("b", {16}, 0, 32), 512), "overlap"},
      {"dims overflow", pad(header(3, 1, 0) + tensor_info("t", {std::uint64_t{1} << 33, std::uint64_t{1} << 33}, 0, 0), 256),
       "overflows"},
  };
  for (const auto& c : cases) {
    auto p = parse_gguf(c.bytes, c.bytes.size(), "evil.gguf");
    ASSERT_FALSE(p) << c.label << (p && p->file ? " parsed" : " asked for more");
    EXPECT_EQ(p.error().code, ErrorCode::Integrity) << c.label;
    EXPECT_NE(p.error().message.find(c.says), std::string::npos) << c.label << ": " << p.error().message;
    EXPECT_NE(p.error().message.find("evil.gguf"), std::string::npos) << c.label;
    EXPECT_NE(p.error().message.find("at byte "), std::string::npos) << c.label;
  }
}

TEST(Gguf, NestedArraysAreSkippedUpToFourLevels) {
  // [[1,2],[3]] of u8
  std::string nested = header(3, 0, 1) + gguf_string("k") + le32(9) + le32(9) + le64(2) + le32(0) + le64(2) + "\x01\x02" +
                       le32(0) + le64(1) + "\x03";
  auto ok = parse_gguf(nested, nested.size());
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_TRUE(ok->file);
  EXPECT_EQ(ok->file->find("k")->array_length, 2u);
  std::string deep = header(3, 0, 1) + gguf_string("k") + le32(9);  // an array of arrays of ...
  for (int i = 0; i < 6; ++i) deep += le32(9) + le64(1);
  deep += le32(0) + le64(0);
  deep = pad(deep, 256);
  auto bad = parse_gguf(deep, deep.size());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("nest deeper"), std::string::npos);
}

TEST(Gguf, EveryTruncationOfAValidFileIsRefused) {
  const std::string bytes = model_bytes();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const std::string cut = bytes.substr(0, n);
    auto p = parse_gguf(cut, cut.size(), "cut.gguf");
    EXPECT_FALSE(p) << "accepted a file truncated to " << n << " of " << bytes.size() << " bytes";
  }
}

TEST(Gguf, TypeTablesFollowGgml) {
  EXPECT_EQ(ggml_type(12)->name, "Q4_K");
  EXPECT_EQ(ggml_type(12)->block_elements, 256u);
  EXPECT_EQ(ggml_type(12)->block_bytes, 144u);
  EXPECT_EQ(ggml_type(30)->name, "BF16");
  EXPECT_EQ(ggml_type(39)->name, "MXFP4");
  EXPECT_FALSE(ggml_type(4));  // removed Q4_2
  EXPECT_FALSE(ggml_type(1000));
  EXPECT_EQ(gguf_file_type_name(7), "Q8_0");
  EXPECT_EQ(gguf_file_type_name(1), "F16");
  EXPECT_EQ(gguf_file_type_name(5), "unknown (5)");
}

}  // namespace
}  // namespace hubcache::model

// The safetensors header reader (model/safetensors.hpp) on files made by the test writer and on
// hand-made malformed ones: every fault is an Integrity error naming the file and the byte.
#include <gtest/gtest.h>

#include <string>

#include "hubcache/model/safetensors.hpp"
#include "model_writer.hpp"

namespace hubcache::model {
namespace {

using test::FakeTensor;
using test::le64;

Result<SafetensorsHeader> parse_bytes(const std::string& bytes, const std::string& name = "w.safetensors") {
  auto n = safetensors_header_length(bytes.substr(0, 8), bytes.size(), name);
  if (!n) return fail(n.error());
  return parse_safetensors_header(std::string_view(bytes).substr(8, *n), bytes.size(), name);
}

// A file whose header is `json` followed by `data_bytes` zero bytes.
std::string with_header(const std::string& json, std::size_t data_bytes) {
  return le64(json.size()) + json + std::string(data_bytes, '\0');
}

TEST(Safetensors, ReadsTheTensorTableTheWriterMade) {
  const std::vector<FakeTensor> tensors = {
      {"embed.weight", "BF16", {8, 4}}, {"norm.weight", "F32", {4}}, {"lm_head.weight", "F16", {8, 4}}, {"packed", "F4", {3}}};
  const std::string bytes = test::safetensors_bytes(tensors, {{"format", "pt"}});
  auto h = parse_bytes(bytes);
  ASSERT_TRUE(h) << h.error().message;
  ASSERT_EQ(h->tensors.size(), 4u);
  EXPECT_EQ(h->metadata.at("format"), "pt");
  EXPECT_EQ(h->data_start % 8, 0u);  // the writer pads the header as the library does
  std::uint64_t at = h->data_start;
  for (std::size_t i = 0; i < tensors.size(); ++i) {  // sorted by offset = written order
    const auto& t = h->tensors[i];
    EXPECT_EQ(t.name, tensors[i].name);
    EXPECT_EQ(t.dtype, tensors[i].dtype);
    EXPECT_EQ(t.shape, tensors[i].shape);
    EXPECT_EQ(t.offset, at);
    EXPECT_EQ(t.length, test::fake_tensor_bytes(tensors[i]));
    EXPECT_EQ(static_cast<std::uint8_t>(bytes[t.offset]), test::fake_tensor_byte(t.name, 0));
    at += t.length;
  }
  EXPECT_EQ(h->tensors[3].length, 2u);  // 3 x 4 bits round up to 2 bytes
  EXPECT_EQ(h->tensors[0].elements(), 32u);
}

TEST(Safetensors, AScalarAndAnEmptyTensorAreValid) {
  auto h = parse_bytes(with_header(R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                                   R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}})",
                                   4));
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->tensors.size(), 2u);
}

TEST(Safetensors, HeaderLengthFaultsAreNamed) {
  auto short_file = safetensors_header_length("abc", 3, "a.safetensors");
  ASSERT_FALSE(short_file);
  EXPECT_EQ(short_file.error().code, ErrorCode::Integrity);
  EXPECT_NE(short_file.error().message.find("a.safetensors"), std::string::npos);
  EXPECT_NE(short_file.error().message.find("byte 0"), std::string::npos);

  auto huge = safetensors_header_length(le64(200'000'000), 300'000'000, "b");
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message.find("over the format's limit"), std::string::npos);

  auto past_end = safetensors_header_length(le64(1000), 500, "c");
  ASSERT_FALSE(past_end);
  EXPECT_NE(past_end.error().message.find("past the end"), std::string::npos);

  EXPECT_FALSE(safetensors_header_length(le64(0), 100, "d"));
  EXPECT_FALSE(safetensors_header_length(le64(~std::uint64_t{0}), 100, "e"));  // no overflow in 8 + N
  EXPECT_TRUE(safetensors_header_length(le64(2), 10, "f"));
}

struct BadHeader {
  const char* label;
  std::string json;
  std::size_t data;
  const char* says;
};

TEST(Safetensors, MalformedHeadersAreRefusedWithTheReason) {
  const std::vector<BadHeader> cases = {
      {"not json", "{\"a\":", 0, "not well-formed JSON"},
      {"not an object", "[1,2]", 0, "not a JSON object"},
      {"unknown dtype", R"({"t":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", 1, "unknown dtype 'Q4'"},
      {"negative dim", R"({"t":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", 1, "non-negative"},
      {"float dim", R"({"t":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", 1, "non-negative"},
      {"offsets reversed", R"({"t":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}})", 4, "end before they begin"},
      {"offsets past end", R"({"t":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", 4, "past the end of the data"},
      {"size mismatch", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4, "needs 8 bytes"},
      {"overlap", R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
       6, "overlap"},
      {"missing offsets", R"({"t":{"dtype":"U8","shape":[1]}})", 1, "data_offsets"},
      {"three offsets", R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", 1, "data_offsets"},
      {"metadata not strings", R"({"__metadata__":{"n":1}})", 0, "not a string"},
      {"element overflow", R"({"t":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8, "overflows"},
      {"deep nesting", std::string(5000, '[') + std::string(5000, ']'), 0, "nests deeper"},
  };
  for (const auto& c : cases) {
    auto h = parse_bytes(with_header(c.json, c.data), "bad.safetensors");
    ASSERT_FALSE(h) << c.label;
    EXPECT_EQ(h.error().code, ErrorCode::Integrity) << c.label;
    EXPECT_NE(h.error().message.find(c.says), std::string::npos) << c.label << ": " << h.error().message;
    EXPECT_NE(h.error().message.find("bad.safetensors"), std::string::npos) << c.label;
    EXPECT_NE(h.error().message.find("at byte "), std::string::npos) << c.label;
  }
}

TEST(Safetensors, EveryTruncationOfAValidFileIsRefused) {
  const std::string bytes = test::safetensors_bytes({{"a", "F32", {3}}, {"b", "BF16", {5}}});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto h = parse_bytes(bytes.substr(0, n));
    EXPECT_FALSE(h) << "accepted a file truncated to " << n << " of " << bytes.size() << " bytes";
  }
  EXPECT_TRUE(parse_bytes(bytes));
}

TEST(SafetensorsIndex, ListsTheShardsAndRefusesPathsOutsideTheFolder) {
  auto idx = parse_safetensors_index(
      R"({"metadata":{"total_size":123},"weight_map":{"a":"model-00002-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}})");
  ASSERT_TRUE(idx) << idx.error().message;
  EXPECT_EQ(idx->shards, (std::vector<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}));
  EXPECT_EQ(idx->total_size, 123u);
  EXPECT_EQ(idx->weight_map.at("a"), "model-00002-of-00002.safetensors");

  for (const char* evil : {"../x.safetensors", "/etc/passwd", "a/../../b", "", "a\\\\b", "./a"}) {
    const std::string json = std::string(R"({"weight_map":{"t":")") + evil + "\"}}";
    auto bad = parse_safetensors_index(json, "idx.json");
    ASSERT_FALSE(bad) << evil;
    EXPECT_EQ(bad.error().code, ErrorCode::Integrity);
    EXPECT_NE(bad.error().message.find("idx.json"), std::string::npos);
  }
  EXPECT_FALSE(parse_safetensors_index(R"({"weight_map":{"t":1}})"));
  EXPECT_FALSE(parse_safetensors_index(R"({"metadata":{}})"));
  EXPECT_FALSE(parse_safetensors_index("nope"));
  EXPECT_TRUE(parse_safetensors_index(R"({"weight_map":{"t":"sub/dir/x.safetensors"}})"));
}

}  // namespace
}  // namespace hubcache::model

// Xet records (include/hubcache/cache/xet_records.hpp): the format round trip, every damaged
// form refused, and the files under .hubcache/xet/ never written or read through a symlink.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "hubcache/cache/xet_records.hpp"

namespace hubcache {
namespace {

namespace stdfs = std::filesystem;
constexpr std::string_view k_etag = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

XetRecord sample(bool with_hashes) {
  XetRecord r;
  r.file_hash.bytes[0] = 7;
  XetSegment a;
  a.xorb.bytes[1] = 1;
  a.first_chunk = 3;
  a.chunk_sizes = {65536, 131072, 9000};
  XetSegment b;
  b.xorb.bytes[2] = 2;
  b.first_chunk = 0;
  b.chunk_sizes = {1};
  r.segments = {a, b};
  r.size = a.bytes() + b.bytes();
  if (with_hashes)
    for (int i = 0; i < 4; ++i) {
      xet::MerkleHash h;
      h.bytes[5] = static_cast<std::uint8_t>(i + 1);
      r.chunk_hashes.push_back(h);
    }
  return r;
}

void expect_same(const XetRecord& a, const XetRecord& b) {
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.file_hash, b.file_hash);
  ASSERT_EQ(a.segments.size(), b.segments.size());
  for (std::size_t i = 0; i < a.segments.size(); ++i) {
    EXPECT_EQ(a.segments[i].xorb, b.segments[i].xorb);
    EXPECT_EQ(a.segments[i].first_chunk, b.segments[i].first_chunk);
    EXPECT_EQ(a.segments[i].chunk_sizes, b.segments[i].chunk_sizes);
  }
  EXPECT_EQ(a.chunk_hashes, b.chunk_hashes);
}

TEST(XetRecords, RoundTripWithAndWithoutChunkHashes) {
  for (bool hashes : {false, true}) {
    const auto r = sample(hashes);
    auto back = decode_xet_record(encode_xet_record(r));
    ASSERT_TRUE(back) << back.error().message;
    expect_same(r, *back);
  }
}

TEST(XetRecords, EveryDamagedFormIsRefused) {
  const std::string good = encode_xet_record(sample(true));
  auto refused = [](std::string bytes, std::string_view why) {
    auto r = decode_xet_record(bytes);
    ASSERT_FALSE(r) << why;
    EXPECT_EQ(r.error().code, ErrorCode::CacheCorrupted) << why;
  };
  refused(good.substr(0, good.size() - 1), "cut by one byte");
  refused(good + "x", "a byte left over");
  refused("HCXETR02" + good.substr(8), "another magic");
  std::string bad_size = good;
  bad_size[8] = static_cast<char>(bad_size[8] + 1);  // size no longer the chunks' sum
  refused(bad_size, "size against the sum");
  std::string zero_chunk = good;
  const std::size_t first_size_at = 8 + 8 + 32 + 4 + 4 + 32 + 4 + 4;
  std::memset(zero_chunk.data() + first_size_at, 0, 4);
  refused(zero_chunk, "a chunk of 0 bytes");
  std::string huge_count = good;
  std::memset(huge_count.data() + 8 + 8 + 32, 0xff, 4);  // segments = 2^32 - 1
  refused(huge_count, "a segment count beyond the bytes");
  std::string flags = good;
  flags[8 + 8 + 32 + 4] = 3;
  refused(flags, "unknown flags");
}

class XetRecordFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    root = stdfs::temp_directory_path() / ("xetrec-" + std::to_string(::getpid()));
    stdfs::remove_all(root);
    stdfs::create_directories(root);
    layout.emplace(root.string(), RepoRef{RepoType::Model, "org/name"});
  }
  void TearDown() override { stdfs::remove_all(root); }
  stdfs::path root;
  std::optional<RepoLayout> layout;
};

TEST_F(XetRecordFiles, WriteReadListRemove) {
  EXPECT_FALSE(write_xet_record(*layout, k_etag, sample(false)));  // no repo folder: never created
  EXPECT_FALSE(stdfs::exists(layout->folder()));
  stdfs::create_directories(layout->folder());
  ASSERT_TRUE(write_xet_record(*layout, k_etag, sample(false)));
  EXPECT_FALSE(write_xet_record(*layout, "../../x", sample(false)));
  auto got = read_xet_record(*layout, k_etag);
  ASSERT_TRUE(got && got->has_value());
  expect_same(sample(false), **got);
  EXPECT_EQ(list_xet_records(*layout), std::vector<std::string>{std::string(k_etag)});
  remove_xet_record(*layout, k_etag);
  got = read_xet_record(*layout, k_etag);
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
}

TEST_F(XetRecordFiles, DamagedFileNamesItselfAndSymlinksAreNeverFollowed) {
  stdfs::create_directories(layout->records_dir() + "/xet");
  std::ofstream(xet_record_path(*layout, k_etag)) << "garbage";
  auto got = read_xet_record(*layout, k_etag);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().path, xet_record_path(*layout, k_etag));
  // A symlinked xet/ folder counts as absent and is never written through.
  stdfs::remove_all(layout->records_dir() + "/xet");
  const auto outside = root / "outside";
  stdfs::create_directories(outside);
  stdfs::create_directory_symlink(outside, layout->records_dir() + "/xet");
  EXPECT_FALSE(write_xet_record(*layout, k_etag, sample(false)));
  EXPECT_TRUE(stdfs::is_empty(outside));
  got = read_xet_record(*layout, k_etag);
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
}

}  // namespace
}  // namespace hubcache

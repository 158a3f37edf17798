// Serialized Xet chunks (include/hubcache/xet/chunk_codec.hpp; ../shared/research/xet.md 2.4): the
// 8-byte header and its limits, LZ4 frames and byte grouping through encode_chunk/decode_chunk,
// frames written by liblz4 itself with other preferences than ours (as other writers do: xet-core's
// lz4_flex, the lz4 CLI), and payloads that must be refused.
#include <gtest/gtest.h>
#include <lz4.h>
#include <lz4frame.h>

#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "hubcache/xet/chunk_codec.hpp"

namespace hubcache::xet {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes d(n);
  for (auto& b : d) b = static_cast<std::uint8_t>(rng());
  return d;
}

// Text-like bytes: words from a small vocabulary, which LZ4 shrinks well.
Bytes compressible_bytes(std::size_t n, std::uint32_t seed) {
  static const char* const k_words[] = {"tensor ", "weight ", "layer.", "0.125 ", "bias\n", "attention ", "{\"a\": 1}, "};
  std::mt19937 rng(seed);
  Bytes d;
  while (d.size() < n) {
    const char* w = k_words[rng() % std::size(k_words)];
    d.insert(d.end(), w, w + std::strlen(w));
  }
  d.resize(n);
  return d;
}

// Float-like records whose high bytes repeat: byte grouping's case.
Bytes float_like_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes d(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (i % 4) {
      case 3:
        d[i] = 0x3f;
        break;
      case 2:
        d[i] = static_cast<std::uint8_t>(0x80 | (rng() & 7));
        break;
      default:
        d[i] = static_cast<std::uint8_t>(rng());
    }
  }
  return d;
}

Bytes header_bytes(std::uint8_t version, std::uint32_t compressed, std::uint8_t type, std::uint32_t uncompressed) {
  return {version,
          static_cast<std::uint8_t>(compressed),
          static_cast<std::uint8_t>(compressed >> 8),
          static_cast<std::uint8_t>(compressed >> 16),
          type,
          static_cast<std::uint8_t>(uncompressed),
          static_cast<std::uint8_t>(uncompressed >> 8),
          static_cast<std::uint8_t>(uncompressed >> 16)};
}

// A serialized chunk: header + payload.
Bytes chunk_of(std::uint8_t type, const Bytes& payload, std::uint32_t uncompressed) {
  Bytes out = header_bytes(0, static_cast<std::uint32_t>(payload.size()), type, uncompressed);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// BG4's layout, written out for the test: byte i goes to group i mod 4; groups concatenated.
Bytes group4(const Bytes& d) {
  Bytes out;
  for (std::size_t g = 0; g < 4; ++g)
    for (std::size_t i = g; i < d.size(); i += 4) out.push_back(d[i]);
  return out;
}

Bytes lz4_frame(const Bytes& d, const LZ4F_preferences_t* prefs = nullptr) {
  Bytes out(LZ4F_compressFrameBound(d.size(), prefs));
  const std::size_t n = LZ4F_compressFrame(out.data(), out.size(), d.data(), d.size(), prefs);
  EXPECT_FALSE(LZ4F_isError(n)) << LZ4F_getErrorName(n);
  out.resize(LZ4F_isError(n) ? 0 : n);
  return out;
}

// A frame written block by block with the streaming API (`update_size` bytes per call), as a
// streaming writer such as the lz4 CLI does.
Bytes lz4_streamed_frame(const Bytes& d, const LZ4F_preferences_t& prefs, std::size_t update_size) {
  LZ4F_cctx* cctx = nullptr;
  EXPECT_FALSE(LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION)));
  Bytes out(LZ4F_HEADER_SIZE_MAX);
  std::size_t at = LZ4F_compressBegin(cctx, out.data(), out.size(), &prefs);
  EXPECT_FALSE(LZ4F_isError(at));
  for (std::size_t pos = 0; pos < d.size(); pos += update_size) {
    const std::size_t n = std::min(update_size, d.size() - pos);
    out.resize(at + LZ4F_compressBound(n, &prefs));
    const std::size_t w = LZ4F_compressUpdate(cctx, out.data() + at, out.size() - at, d.data() + pos, n, nullptr);
    EXPECT_FALSE(LZ4F_isError(w)) << LZ4F_getErrorName(w);
    at += w;
  }
  out.resize(at + LZ4F_compressBound(0, &prefs));
  const std::size_t w = LZ4F_compressEnd(cctx, out.data() + at, out.size() - at, nullptr);
  EXPECT_FALSE(LZ4F_isError(w));
  out.resize(at + w);
  LZ4F_freeCompressionContext(cctx);
  return out;
}

// Parses and decodes one serialized chunk; the error message when it is refused.
Result<Bytes> decode_serialized(const Bytes& chunk) {
  HUBCACHE_TRY_ASSIGN(auto h, parse_chunk_header(chunk));
  Bytes out(h.uncompressed_size);
  HUBCACHE_TRY(decode_chunk(h, std::span(chunk).subspan(k_chunk_header_size, h.compressed_size), out));
  return out;
}

std::string refusal(const Result<ChunkHeader>& r) { return r ? std::string("accepted") : r.error().message; }

// ---- header ----

TEST(XetChunkHeader, LayoutIsLittleEndianU24s) {
  std::array<std::uint8_t, k_chunk_header_size> h{};
  write_plain_chunk_header(0x012345, h);
  EXPECT_EQ(Bytes(h.begin(), h.end()), (Bytes{0, 0x45, 0x23, 0x01, 0, 0x45, 0x23, 0x01}));

  Bytes chunk = {0, 0x10, 0x02, 0x00, 1, 0x00, 0x00, 0x02};
  chunk.resize(8 + 0x210);
  auto parsed = parse_chunk_header(chunk);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->compressed_size, 0x210u);
  EXPECT_EQ(parsed->compression, Compression::LZ4);
  EXPECT_EQ(parsed->uncompressed_size, 131072u);
}

TEST(XetChunkHeader, AcceptsEveryTypeAtTheLimits) {
  for (std::uint8_t type : {std::uint8_t{0}, std::uint8_t{1}, std::uint8_t{2}}) {
    for (std::uint32_t n : {1u, 131072u}) {
      Bytes chunk = header_bytes(0, n, type, n);
      chunk.resize(8 + n);
      auto h = parse_chunk_header(chunk);
      ASSERT_TRUE(h) << int(type) << " " << n << ": " << h.error().message;
      EXPECT_EQ(static_cast<int>(h->compression), type);
      EXPECT_EQ(h->compressed_size, n);
      EXPECT_EQ(h->uncompressed_size, n);
    }
  }
  // A compressed chunk's payload may be longer than its data (a writer that did not fall back).
  Bytes chunk = header_bytes(0, 200, 1, 100);
  chunk.resize(8 + 200 + 50);  // bytes after the payload belong to the next chunk
  auto h = parse_chunk_header(chunk);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->compressed_size, 200u);
}

TEST(XetChunkHeader, RefusesWhatIsNotAChunk) {
  const Bytes good = [] {
    Bytes c = header_bytes(0, 10, 0, 10);
    c.resize(18);
    return c;
  }();
  ASSERT_TRUE(parse_chunk_header(good));
  // Shorter than a header.
  for (std::size_t n = 0; n < k_chunk_header_size; ++n) {
    auto h = parse_chunk_header(std::span(good).first(n));
    ASSERT_FALSE(h) << n;
    EXPECT_EQ(h.error().code, ErrorCode::Integrity);
  }
  struct Bad {
    Bytes chunk;
    std::string why;
  };
  auto with_payload = [](Bytes h, std::size_t n) {
    h.resize(h.size() + n);
    return h;
  };
  const std::vector<Bad> bad = {
      {with_payload(header_bytes(1, 10, 0, 10), 10), "version 1"},
      {with_payload(header_bytes(255, 10, 0, 10), 10), "version 255"},
      {with_payload(header_bytes(0, 10, 3, 10), 10), "compression 3"},
      {with_payload(header_bytes(0, 10, 99, 10), 10), "compression 99 (xet-core's internal Auto)"},
      {with_payload(header_bytes(0, 10, 255, 10), 10), "compression 255"},
      {with_payload(header_bytes(0, 0, 0, 0), 0), "both lengths 0"},
      {with_payload(header_bytes(0, 0, 1, 10), 0), "payload length 0"},
      {with_payload(header_bytes(0, 10, 1, 0), 10), "data length 0"},
      {with_payload(header_bytes(0, 131073, 0, 131073), 131073), "type 0 of 128 KiB + 1"},
      {with_payload(header_bytes(0, 131073, 1, 1000), 131073), "payload of 128 KiB + 1"},
      {with_payload(header_bytes(0, 1000, 1, 131073), 1000), "data of 128 KiB + 1"},
      {with_payload(header_bytes(0, 0xffffff, 2, 0xffffff), 0), "both lengths 2^24 - 1"},
      {with_payload(header_bytes(0, 10, 0, 10), 9), "payload one byte past the end"},
      {with_payload(header_bytes(0, 1000, 1, 2000), 0), "no payload at all"},
      {with_payload(header_bytes(0, 10, 0, 11), 11), "type 0 with lengths differing"},
      {with_payload(header_bytes(0, 11, 0, 10), 11), "type 0 with lengths differing the other way"},
  };
  for (const auto& b : bad) {
    auto h = parse_chunk_header(b.chunk);
    ASSERT_FALSE(h) << b.why;
    EXPECT_EQ(h.error().code, ErrorCode::Integrity) << b.why;
  }
}

TEST(XetChunkHeader, NamesTheXorbFooter) {
  // A range that runs into the footer meets "XETBLOB" + its version where a header should be.
  Bytes footer = {'X', 'E', 'T', 'B', 'L', 'O', 'B', 1};
  footer.resize(200);
  auto h = parse_chunk_header(footer);
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find("footer"), std::string::npos) << h.error().message;
  // The same bytes with another version byte are still the footer's tag.
  footer[7] = 0;
  EXPECT_NE(refusal(parse_chunk_header(footer)).find("footer"), std::string::npos);
}

// ---- encode / decode ----

TEST(XetChunkCodec, RoundTripsEverySchemeAndSize) {
  for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 63u, 1000u, 4097u, 65536u, 131071u, 131072u}) {
    for (const auto& [name, data] :
         {std::pair{"random", random_bytes(n, static_cast<std::uint32_t>(n))},
          std::pair{"text", compressible_bytes(n, static_cast<std::uint32_t>(n))},
          std::pair{"floats", float_like_bytes(n, static_cast<std::uint32_t>(n))}, std::pair{"zeros", Bytes(n, 0)}}) {
      for (auto wanted : {Compression::None, Compression::LZ4, Compression::ByteGrouping4LZ4}) {
        const std::string what = std::string(name) + " n=" + std::to_string(n) + " wanted=" + std::to_string(int(wanted));
        Bytes out = {0xaa, 0xbb};  // encode_chunk appends
        const Compression used = encode_chunk(data, wanted, out);
        ASSERT_GE(out.size(), 2 + k_chunk_header_size) << what;
        EXPECT_EQ(out[0], 0xaa);
        EXPECT_EQ(out[1], 0xbb);
        const Bytes chunk(out.begin() + 2, out.end());
        auto h = parse_chunk_header(chunk);
        ASSERT_TRUE(h) << what << ": " << h.error().message;
        EXPECT_EQ(h->compression, used) << what;
        EXPECT_EQ(h->uncompressed_size, n) << what;
        EXPECT_EQ(h->compressed_size, chunk.size() - k_chunk_header_size) << what;
        if (used == Compression::None)
          EXPECT_TRUE(std::equal(data.begin(), data.end(), chunk.begin() + k_chunk_header_size)) << what;
        else
          EXPECT_LT(h->compressed_size, n) << what << ": a compressed chunk must be smaller";
        auto back = decode_serialized(chunk);
        ASSERT_TRUE(back) << what << ": " << back.error().message;
        EXPECT_EQ(*back, data) << what;
        // The writer keeps the scheme asked for whenever it shrinks the chunk.
        const std::string kind = name;
        if (wanted == Compression::None) {
          EXPECT_EQ(used, Compression::None) << what;
        } else if (n >= 1000 && (kind == "text" || kind == "zeros")) {
          EXPECT_EQ(used, wanted) << what;
        } else if (n >= 1000 && kind == "floats" && wanted == Compression::ByteGrouping4LZ4) {
          EXPECT_EQ(used, wanted) << what;
        }
      }
    }
  }
}

TEST(XetChunkCodec, FallsBackToNoneWhenCompressionDoesNotShrink) {
  // Tiny chunks: an LZ4 frame's own overhead (magic, descriptor, end mark) is larger than them.
  for (std::size_t n = 1; n <= 5; ++n) {
    const Bytes data = Bytes(n, 7);
    for (auto wanted : {Compression::LZ4, Compression::ByteGrouping4LZ4}) {
      Bytes out;
      EXPECT_EQ(encode_chunk(data, wanted, out), Compression::None) << n;
      EXPECT_EQ(out.size(), k_chunk_header_size + n);
      EXPECT_EQ(out[4], 0) << "type byte";
    }
  }
  // Random bytes do not compress, at any size up to the maximum.
  for (std::size_t n : {100u, 8192u, 131072u}) {
    const Bytes data = random_bytes(n, 42);
    for (auto wanted : {Compression::LZ4, Compression::ByteGrouping4LZ4}) {
      Bytes out;
      EXPECT_EQ(encode_chunk(data, wanted, out), Compression::None) << n;
      ASSERT_EQ(out.size(), k_chunk_header_size + n);
      EXPECT_EQ(Bytes(out.begin(), out.begin() + 8),
                header_bytes(0, static_cast<std::uint32_t>(n), 0, static_cast<std::uint32_t>(n)));
      EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin() + 8));
    }
  }
}

TEST(XetChunkCodec, ChunksBackToBackParseOneAfterAnother) {
  // A fetched xorb range is several serialized chunks in a row.
  const std::vector<Bytes> parts = {compressible_bytes(70000, 1), random_bytes(9000, 2), float_like_bytes(131072, 3),
                                    Bytes(3, 9)};
  const Compression schemes[] = {Compression::LZ4, Compression::LZ4, Compression::ByteGrouping4LZ4, Compression::None};
  Bytes range;
  for (std::size_t i = 0; i < parts.size(); ++i) encode_chunk(parts[i], schemes[i], range);
  std::span<const std::uint8_t> rest = range;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto h = parse_chunk_header(rest);
    ASSERT_TRUE(h) << i << ": " << h.error().message;
    Bytes out(h->uncompressed_size);
    auto ok = decode_chunk(*h, rest.subspan(k_chunk_header_size, h->compressed_size), out);
    ASSERT_TRUE(ok) << i << ": " << ok.error().message;
    EXPECT_EQ(out, parts[i]) << i;
    rest = rest.subspan(k_chunk_header_size + h->compressed_size);
  }
  EXPECT_TRUE(rest.empty());
}

TEST(XetChunkCodec, ByteGroupingLayoutIsTheSpecs) {
  // encode_chunk's BG4 payload is an LZ4 frame of g0‖g1‖g2‖g3, the first n mod 4 groups one longer.
  for (std::size_t n : {4096u, 4097u, 4098u, 4099u}) {
    const Bytes data = float_like_bytes(n, 5);
    Bytes out;
    ASSERT_EQ(encode_chunk(data, Compression::ByteGrouping4LZ4, out), Compression::ByteGrouping4LZ4) << n;
    Bytes grouped(n);
    LZ4F_dctx* dctx = nullptr;
    ASSERT_FALSE(LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)));
    std::size_t dst = grouped.size(), src = out.size() - k_chunk_header_size;
    const std::size_t r = LZ4F_decompress(dctx, grouped.data(), &dst, out.data() + k_chunk_header_size, &src, nullptr);
    LZ4F_freeDecompressionContext(dctx);
    EXPECT_EQ(r, 0u) << "one whole frame";
    EXPECT_EQ(dst, n);
    EXPECT_EQ(grouped, group4(data)) << n;
  }
}

TEST(XetChunkCodec, DecodesTheIetfByteGroupingExample) {
  // IETF reference test_byte_grouping: A0..A3 B0..B3 C0..C3 groups to A0 B0 C0 A1 B1 C1 ...
  const Bytes original = {0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x22, 0x23, 0x30, 0x31, 0x32, 0x33};
  const Bytes grouped = {0x10, 0x20, 0x30, 0x11, 0x21, 0x31, 0x12, 0x22, 0x32, 0x13, 0x23, 0x33};
  ASSERT_EQ(group4(original), grouped);
  auto back = decode_serialized(chunk_of(2, lz4_frame(grouped), 12));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, original);
  // Ten bytes: groups of 3, 3, 2, 2.
  Bytes ten(10);
  for (std::size_t i = 0; i < 10; ++i) ten[i] = static_cast<std::uint8_t>(i);
  const Bytes ten_grouped = {0, 4, 8, 1, 5, 9, 2, 6, 3, 7};
  ASSERT_EQ(group4(ten), ten_grouped);
  auto back10 = decode_serialized(chunk_of(2, lz4_frame(ten_grouped), 10));
  ASSERT_TRUE(back10) << back10.error().message;
  EXPECT_EQ(*back10, ten);
  // Sizes 1..3: some groups are empty.
  for (std::size_t n = 1; n <= 3; ++n) {
    const Bytes d(ten.begin(), ten.begin() + static_cast<std::ptrdiff_t>(n));
    auto b = decode_serialized(chunk_of(2, lz4_frame(group4(d)), static_cast<std::uint32_t>(n)));
    ASSERT_TRUE(b) << n << ": " << b.error().message;
    EXPECT_EQ(*b, d);
  }
}

TEST(XetChunkCodec, DecodesFramesOfOtherWriters) {
  // Frames as liblz4 writes them with other preferences than ours: 64 KiB linked blocks with a
  // content size and checksum (the `lz4 -B4 -BD --content-size` frames the research verified with
  // the JS client), independent blocks, block checksums, no content size, high compression, and
  // frames written in small streaming updates.
  const Bytes data = compressible_bytes(131072, 11);
  const Bytes grouped = group4(float_like_bytes(100003, 12));
  struct Variant {
    std::string name;
    LZ4F_preferences_t prefs;
  };
  auto prefs = [](LZ4F_blockSizeID_t size, LZ4F_blockMode_t mode, bool content_checksum, bool block_checksum,
                  unsigned long long content_size, int level) {
    LZ4F_preferences_t p{};
    p.frameInfo.blockSizeID = size;
    p.frameInfo.blockMode = mode;
    p.frameInfo.contentChecksumFlag = content_checksum ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum;
    p.frameInfo.blockChecksumFlag = block_checksum ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum;
    p.frameInfo.contentSize = content_size;
    p.compressionLevel = level;
    return p;
  };
  const std::vector<Variant> variants = {
      {"defaults", prefs(LZ4F_default, LZ4F_blockLinked, false, false, 0, 0)},
      {"-B4 -BD --content-size, content checksum", prefs(LZ4F_max64KB, LZ4F_blockLinked, true, false, 131072, 0)},
      {"64 KiB independent blocks", prefs(LZ4F_max64KB, LZ4F_blockIndependent, false, false, 0, 0)},
      {"block checksums", prefs(LZ4F_max64KB, LZ4F_blockLinked, false, true, 0, 0)},
      {"every checksum", prefs(LZ4F_max256KB, LZ4F_blockIndependent, true, true, 131072, 0)},
      {"4 MiB blocks", prefs(LZ4F_max4MB, LZ4F_blockLinked, false, false, 0, 0)},
      {"LZ4HC level 12", prefs(LZ4F_max64KB, LZ4F_blockLinked, true, false, 0, 12)},
      {"fast acceleration", prefs(LZ4F_max64KB, LZ4F_blockIndependent, false, false, 0, -5)},
  };
  for (const auto& v : variants) {
    auto one_shot = decode_serialized(chunk_of(1, lz4_frame(data, &v.prefs), 131072));
    ASSERT_TRUE(one_shot) << v.name << ": " << one_shot.error().message;
    EXPECT_EQ(*one_shot, data) << v.name;
    for (std::size_t update : {1000u, 65536u, 70000u}) {
      auto streamed = decode_serialized(chunk_of(1, lz4_streamed_frame(data, v.prefs, update), 131072));
      ASSERT_TRUE(streamed) << v.name << " updates of " << update << ": " << streamed.error().message;
      EXPECT_EQ(*streamed, data) << v.name << " updates of " << update;
    }
    LZ4F_preferences_t p = v.prefs;
    if (p.frameInfo.contentSize) p.frameInfo.contentSize = grouped.size();
    auto bg4 = decode_serialized(chunk_of(2, lz4_streamed_frame(grouped, p, 4096), 100003));
    ASSERT_TRUE(bg4) << v.name << " (BG4): " << bg4.error().message;
    EXPECT_EQ(group4(*bg4), grouped) << v.name;
  }
}

// ---- refusals ----

TEST(XetChunkCodec, RefusesAFrameOfAnotherLength) {
  const Bytes data = compressible_bytes(1000, 3);
  const Bytes frame = lz4_frame(data);
  ASSERT_TRUE(decode_serialized(chunk_of(1, frame, 1000)));
  for (std::uint32_t declared : {1u, 999u, 1001u, 131072u}) {
    for (std::uint8_t type : {std::uint8_t{1}, std::uint8_t{2}}) {
      auto r = decode_serialized(chunk_of(type, frame, declared));
      ASSERT_FALSE(r) << "declared " << declared << " type " << int(type);
      EXPECT_EQ(r.error().code, ErrorCode::Integrity);
    }
  }
  // The same with the frame's own content size naming the true length.
  LZ4F_preferences_t p{};
  p.frameInfo.contentSize = data.size();
  const Bytes sized = lz4_frame(data, &p);
  EXPECT_FALSE(decode_serialized(chunk_of(1, sized, 999)));
  EXPECT_FALSE(decode_serialized(chunk_of(1, sized, 1001)));
  // A frame of more than 128 KiB cannot overrun a chunk's buffer either.
  const Bytes big = compressible_bytes(200000, 4);
  LZ4F_preferences_t bp{};
  bp.frameInfo.blockSizeID = LZ4F_max4MB;
  auto r = decode_serialized(chunk_of(1, lz4_frame(big, &bp), 131072));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("more than"), std::string::npos) << r.error().message;
}

TEST(XetChunkCodec, RefusesATruncatedFrame) {
  const Bytes data = compressible_bytes(131072, 5);
  LZ4F_preferences_t p{};
  p.frameInfo.blockSizeID = LZ4F_max64KB;
  p.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  const Bytes frame = lz4_frame(data, &p);
  ASSERT_TRUE(decode_serialized(chunk_of(1, frame, 131072)));
  for (std::size_t cut : {std::size_t{1}, std::size_t{4}, std::size_t{5}, std::size_t{8}, frame.size() / 2, frame.size() - 7}) {
    const Bytes part(frame.begin(), frame.end() - static_cast<std::ptrdiff_t>(cut));
    auto r = decode_serialized(chunk_of(1, part, 131072));
    ASSERT_FALSE(r) << "cut " << cut;
    EXPECT_EQ(r.error().code, ErrorCode::Integrity);
  }
  // Only the frame's header.
  EXPECT_FALSE(decode_serialized(chunk_of(1, Bytes(frame.begin(), frame.begin() + 7), 131072)));
}

TEST(XetChunkCodec, RefusesBytesAfterTheFrame) {
  const Bytes data = compressible_bytes(5000, 6);
  Bytes frame = lz4_frame(data);
  for (const Bytes& tail : {Bytes{0}, Bytes{1, 2, 3}, lz4_frame(data)}) {
    Bytes padded = frame;
    padded.insert(padded.end(), tail.begin(), tail.end());
    auto r = decode_serialized(chunk_of(1, padded, 5000));
    ASSERT_FALSE(r) << tail.size();
    EXPECT_EQ(r.error().code, ErrorCode::Integrity);
  }
}

TEST(XetChunkCodec, RefusesWhatIsNotAnLz4Frame) {
  const Bytes data = compressible_bytes(5000, 7);
  // A raw LZ4 block (no frame magic): another format.
  Bytes block(static_cast<std::size_t>(LZ4_compressBound(5000)));
  const int n = LZ4_compress_default(reinterpret_cast<const char*>(data.data()), reinterpret_cast<char*>(block.data()), 5000,
                                     static_cast<int>(block.size()));
  ASSERT_GT(n, 0);
  block.resize(static_cast<std::size_t>(n));
  EXPECT_FALSE(decode_serialized(chunk_of(1, block, 5000)));
  // Random bytes.
  EXPECT_FALSE(decode_serialized(chunk_of(1, random_bytes(300, 8), 5000)));
  EXPECT_FALSE(decode_serialized(chunk_of(2, random_bytes(300, 9), 5000)));
}

TEST(XetChunkCodec, RefusesCorruptChecksums) {
  // liblz4 checks the checksums a frame carries; a flipped bit in a block is caught.
  const Bytes data = compressible_bytes(20000, 8);
  LZ4F_preferences_t p{};
  p.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  Bytes frame = lz4_frame(data, &p);
  frame[frame.size() - 1] ^= 1;  // in the content checksum
  EXPECT_FALSE(decode_serialized(chunk_of(1, frame, 20000)));
  LZ4F_preferences_t b{};
  b.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
  Bytes framed = lz4_frame(data, &b);
  framed[framed.size() - 4 - 1] ^= 0x40;  // in the block checksum, just before the end mark
  EXPECT_FALSE(decode_serialized(chunk_of(1, framed, 20000)));
}

TEST(XetChunkCodec, DecodeChecksItsBuffersAgainstTheHeader) {
  const Bytes data = compressible_bytes(3000, 9);
  Bytes out;
  encode_chunk(data, Compression::LZ4, out);
  auto h = parse_chunk_header(out);
  ASSERT_TRUE(h);
  const auto payload = std::span<const std::uint8_t>(out).subspan(k_chunk_header_size);
  Bytes small(2999), large(3001), exact(3000);
  EXPECT_FALSE(decode_chunk(*h, payload, small));
  EXPECT_FALSE(decode_chunk(*h, payload, large));
  EXPECT_FALSE(decode_chunk(*h, payload.first(payload.size() - 1), exact));
  ASSERT_TRUE(decode_chunk(*h, payload, exact));
  EXPECT_EQ(exact, data);
  // Type 0 copies its payload.
  const ChunkHeader plain{5, Compression::None, 5};
  const Bytes five = {1, 2, 3, 4, 5};
  Bytes got(5);
  ASSERT_TRUE(decode_chunk(plain, five, got));
  EXPECT_EQ(got, five);
}

}  // namespace
}  // namespace hubcache::xet

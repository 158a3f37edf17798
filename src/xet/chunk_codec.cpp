// Xet chunk headers, LZ4 frames and byte grouping (include/hubcache/xet/chunk_codec.hpp).
#include "hubcache/xet/chunk_codec.hpp"

#include <lz4frame.h>

#include <fmt/format.h>

#include <cstring>
#include <memory>

namespace hubcache::xet {
namespace {

std::uint32_t u24(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 | static_cast<std::uint32_t>(p[2]) << 16;
}

void put_u24(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
}

void write_header(std::uint8_t* p, std::uint32_t compressed, Compression c, std::uint32_t uncompressed) {
  p[0] = 0;
  put_u24(p + 1, compressed);
  p[4] = static_cast<std::uint8_t>(c);
  put_u24(p + 5, uncompressed);
}

struct DctxDeleter {
  void operator()(LZ4F_dctx* d) const { LZ4F_freeDecompressionContext(d); }
};

// One LZ4 frame into exactly out.size() bytes; nothing left over on either side.
Result<void> lz4_frame_decode(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION)))
    return fail(ErrorCode::Io, "cannot create an LZ4 decompression context (out of memory)");
  std::unique_ptr<LZ4F_dctx, DctxDeleter> dctx(raw);
  std::size_t in_at = 0, out_at = 0;
  for (;;) {
    std::size_t out_n = out.size() - out_at, in_n = in.size() - in_at;
    // A full output: decode into one scratch byte, which must stay empty (no excess data).
    std::uint8_t spare = 0;
    const bool full = out_n == 0;
    std::uint8_t* dst = full ? &spare : out.data() + out_at;
    if (full) out_n = 1;
    const std::size_t hint = LZ4F_decompress(dctx.get(), dst, &out_n, in.data() + in_at, &in_n, nullptr);
    if (LZ4F_isError(hint))
      return fail(ErrorCode::Integrity, fmt::format("a chunk's LZ4 frame is malformed: {}", LZ4F_getErrorName(hint)));
    if (full && out_n > 0)
      return fail(ErrorCode::Integrity,
                  fmt::format("a chunk's LZ4 frame holds more than the {} bytes its header declares", out.size()));
    if (!full) out_at += out_n;
    in_at += in_n;
    if (hint == 0) break;  // the frame is complete
    if (in_n == 0 && out_n == 0) return fail(ErrorCode::Integrity, "a chunk's LZ4 frame is cut short");
  }
  if (in_at != in.size()) return fail(ErrorCode::Integrity, "a chunk's payload has bytes after its LZ4 frame");
  if (out_at != out.size())
    return fail(ErrorCode::Integrity,
                fmt::format("a chunk's LZ4 frame holds {} bytes; its header declares {}", out_at, out.size()));
  return {};
}

}  // namespace

Result<ChunkHeader> peek_chunk_header(std::span<const std::uint8_t> in) {
  if (in.size() < k_chunk_header_size)
    return fail(ErrorCode::Integrity, fmt::format("a xorb range ends inside a chunk header ({} of 8 bytes)", in.size()));
  if (std::memcmp(in.data(), "XETBLOB", 7) == 0)
    return fail(ErrorCode::Integrity, "a xorb range runs into the xorb's footer where a chunk was expected");
  if (in[0] != 0) return fail(ErrorCode::Integrity, fmt::format("a chunk header has version {}; only 0 is known", in[0]));
  ChunkHeader h;
  h.compressed_size = u24(in.data() + 1);
  h.uncompressed_size = u24(in.data() + 5);
  if (in[4] > 2) return fail(ErrorCode::Integrity, fmt::format("a chunk header names compression {}; known: 0, 1, 2", in[4]));
  h.compression = static_cast<Compression>(in[4]);
  if (h.compressed_size == 0 || h.uncompressed_size == 0 || h.compressed_size > k_max_chunk_payload ||
      h.uncompressed_size > k_max_chunk_payload)
    return fail(ErrorCode::Integrity, fmt::format("a chunk header declares {} payload and {} data bytes; both must be 1..{}",
                                                  h.compressed_size, h.uncompressed_size, k_max_chunk_payload));
  if (h.compression == Compression::None && h.compressed_size != h.uncompressed_size)
    return fail(ErrorCode::Integrity, "an uncompressed chunk's two lengths differ");
  return h;
}

Result<ChunkHeader> parse_chunk_header(std::span<const std::uint8_t> in) {
  HUBCACHE_TRY_ASSIGN(const ChunkHeader h, peek_chunk_header(in));
  if (in.size() - k_chunk_header_size < h.compressed_size)
    return fail(ErrorCode::Integrity, fmt::format("a chunk's payload of {} bytes runs past the {} bytes received",
                                                  h.compressed_size, in.size() - k_chunk_header_size));
  return h;
}

Result<void> decode_chunk(const ChunkHeader& header, std::span<const std::uint8_t> payload, std::span<std::uint8_t> out) {
  if (payload.size() != header.compressed_size || out.size() != header.uncompressed_size)
    return fail(ErrorCode::Integrity, "a chunk's buffers do not match its header");
  switch (header.compression) {
    case Compression::None:
      std::memcpy(out.data(), payload.data(), out.size());
      return {};
    case Compression::LZ4:
      return lz4_frame_decode(payload, out);
    case Compression::ByteGrouping4LZ4: {
      std::vector<std::uint8_t> grouped(out.size());
      HUBCACHE_TRY(lz4_frame_decode(payload, grouped));
      const std::size_t n = out.size(), base = n / 4, extra = n % 4;
      std::size_t at = 0;
      for (std::size_t g = 0; g < 4; ++g) {
        const std::size_t len = base + (g < extra ? 1 : 0);
        for (std::size_t k = 0; k < len; ++k) out[k * 4 + g] = grouped[at + k];
        at += len;
      }
      return {};
    }
  }
  return fail(ErrorCode::Integrity, "a chunk names an unknown compression");
}

Compression encode_chunk(std::span<const std::uint8_t> data, Compression wanted, std::vector<std::uint8_t>& out) {
  const auto size = static_cast<std::uint32_t>(data.size());
  const std::size_t at = out.size();
  if (wanted != Compression::None) {
    std::vector<std::uint8_t> source;
    std::span<const std::uint8_t> input = data;
    if (wanted == Compression::ByteGrouping4LZ4) {
      source.resize(data.size());
      const std::size_t n = data.size(), base = n / 4, extra = n % 4;
      std::size_t pos = 0;
      for (std::size_t g = 0; g < 4; ++g) {
        const std::size_t len = base + (g < extra ? 1 : 0);
        for (std::size_t k = 0; k < len; ++k) source[pos + k] = data[k * 4 + g];
        pos += len;
      }
      input = source;
    }
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.contentSize = input.size();
    const std::size_t bound = LZ4F_compressFrameBound(input.size(), &prefs);
    out.resize(at + k_chunk_header_size + bound);
    const std::size_t n = LZ4F_compressFrame(out.data() + at + k_chunk_header_size, bound, input.data(), input.size(), &prefs);
    if (!LZ4F_isError(n) && n < data.size()) {
      out.resize(at + k_chunk_header_size + n);
      write_header(out.data() + at, static_cast<std::uint32_t>(n), wanted, size);
      return wanted;
    }
  }
  out.resize(at + k_chunk_header_size + data.size());
  write_header(out.data() + at, size, Compression::None, size);
  std::memcpy(out.data() + at + k_chunk_header_size, data.data(), data.size());
  return Compression::None;
}

void write_plain_chunk_header(std::uint32_t size, std::span<std::uint8_t, k_chunk_header_size> out) {
  write_header(out.data(), size, Compression::None, size);
}

}  // namespace hubcache::xet

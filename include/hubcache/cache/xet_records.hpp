#pragma once
// Xet records: what hubcache knows of a blob's Xet chunks, kept in
// <repo folder>/.hubcache/xet/<etag> (k_records_dir, which the Python and JS scanners never read;
// docs/cache-format.md#xet-records). A download over Xet writes one from the reconstruction it
// followed (which chunks of which xorb sit where in the blob); the mirror reads them to serve the
// same xorbs, and a later download copies known chunks out of local blobs instead of fetching them.
// A record is a hint, never trusted alone: a blob assembled from it is SHA-256-checked before it
// is published, and the mirror's answers are checked by its clients the same way.
//
// Binary, little-endian:
//   "HCXETR01"  u64 size  32 file hash  u32 segments  u32 flags (bit 0: chunk hashes follow)
//   per segment: 32 xorb hash  u32 first chunk index  u32 chunk count  count × u32 chunk size
//   if flags & 1: one 32-byte chunk hash per chunk, in file order
// The segments cover the blob in order: their chunk sizes sum to `size`.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/xet/packing.hpp"

namespace hubcache {

/// Consecutive chunks of one xorb, as they appear in the blob (xet/packing.hpp).
using XetSegment = xet::Segment;

struct XetRecord {
  std::uint64_t size = 0;
  xet::MerkleHash file_hash;  // the Xet file id (X-Xet-Hash); all zeros when not known
  std::vector<XetSegment> segments;
  std::vector<xet::MerkleHash> chunk_hashes;  // empty, or one per chunk (a record made by chunking the blob)
};

/// The record's bytes (the format above).
std::string encode_xet_record(const XetRecord& record);
/// Parses a record. CacheCorrupted (naming what is wrong) when the magic, the lengths, a chunk
/// size (0 or above 128 KiB), the chunk-hash count or the sizes' sum against `size` are wrong, or
/// when bytes are missing or left over.
Result<XetRecord> decode_xet_record(std::string_view bytes);

/// <repo folder>/.hubcache/xet/<etag>.
std::string xet_record_path(const RepoLayout& layout, std::string_view etag);

/// Writes the record of blob `etag` (a SHA-256 ETag, 64 lower-case hex: others are InvalidArgument)
/// atomically, never through a symlink (O_NOFOLLOW below the repo folder), creating .hubcache/xet/
/// but never the repo folder (NotFound). Io on a write failure.
Result<void> write_xet_record(const RepoLayout& layout, std::string_view etag, const XetRecord& record);

/// The record of blob `etag`; nullopt when there is none (or a symlink or non-file stands there).
/// CacheCorrupted when a file is there but does not parse.
Result<std::optional<XetRecord>> read_xet_record(const RepoLayout& layout, std::string_view etag);

/// Removes the record of blob `etag` (its blob is gone). Best effort and silent.
void remove_xet_record(const RepoLayout& layout, std::string_view etag) noexcept;

/// The ETags that have a record in the repo (names of 64 lower-case hex only), sorted.
std::vector<std::string> list_xet_records(const RepoLayout& layout);

/// Removes every record of the repo whose blob is no longer a file (a blob deleted by `cache
/// rm`/`prune`/`gc`, or by hand) and returns how many went. Records follow their blobs: the cache
/// management commands call it for every repo they touched. Best effort and silent on I/O errors.
std::size_t remove_orphan_xet_records(const RepoLayout& layout) noexcept;

}  // namespace hubcache

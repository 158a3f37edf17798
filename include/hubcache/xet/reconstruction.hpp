#pragma once
// The CAS reconstruction answer (Xet spec api.md and download-protocol.md; xet-core
// `cas_types::QueryReconstructionResponse{,V2}`) and the read-token answer (spec auth.md), parsed
// from untrusted JSON into one shape for both API versions, and written back (the mirror's side).
//
// v2: {"offset_into_first_range": u64,
//      "terms": [{"hash": xorb, "unpacked_length": u32, "range": {"start", "end"}}],
//      "xorbs": {xorb: [{"url", "ranges": [{"chunks": {"start","end"}, "bytes": {"start","end"}}]}]}}
// v1: the same offset and terms, with "fetch_info": {xorb: [{"range", "url", "url_range"}]}.
// Chunk ranges are end-exclusive, byte ranges end-inclusive (they map onto an HTTP Range).
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/xet/hash.hpp"

namespace hubcache::xet {

struct ChunkRange {
  std::uint32_t start = 0;  // first chunk index
  std::uint32_t end = 0;    // one past the last
  auto operator<=>(const ChunkRange&) const = default;
};

struct ByteRange {
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // inclusive
  auto operator<=>(const ByteRange&) const = default;
};

// One term of a file: chunks [range.start, range.end) of xorb `xorb`, decoding to unpacked_length.
struct Term {
  MerkleHash xorb;
  std::uint32_t unpacked_length = 0;
  ChunkRange range;
};

// Where a xorb's chunks can be fetched: `url` serves each listed byte range (a signed URL that
// authorizes exactly those ranges), whose bytes are the serialized chunks `chunks`.
struct FetchRange {
  ChunkRange chunks;
  ByteRange bytes;
};
struct XorbFetch {
  std::string url;
  std::vector<FetchRange> ranges;  // ascending
};

struct Reconstruction {
  std::uint64_t offset_into_first_range = 0;
  std::vector<Term> terms;
  std::map<MerkleHash, std::vector<XorbFetch>> xorbs;
};

// Bounds on an untrusted answer: beyond them it is refused, never allocated for.
struct ReconstructionLimits {
  std::size_t max_terms = 1u << 20;
  std::size_t max_url_bytes = 64 * 1024;
  std::size_t max_ranges = 1u << 20;  // over all xorbs
};

// Parses a v2 (`version` 2) or v1 (`version` 1) answer. Error Integrity, naming the
// field at fault, when the JSON is malformed, a hash is not 64 hex digits, a chunk range is empty or
// reversed, a byte range is reversed, a term's xorb has no fetch entry covering its chunks, an
// unpacked_length is 0 or above 8192 × 128 KiB, or a limit is passed.
Result<Reconstruction> parse_reconstruction(std::string_view json, int version, const ReconstructionLimits& limits = {});

// The answer's JSON for API `version` 2 or 1 (v1: one fetch entry per range).
std::string reconstruction_json(const Reconstruction& r, int version);

// The fetch entry range that holds a term's chunks (v1's rule, and v2's: a listed range contains
// [term.start, term.end)); null when none does.
const FetchRange* find_fetch_range(const Reconstruction& r, const Term& term, const XorbFetch** url_of = nullptr);

// `GET /api/{type}s/{repo}/xet-read-token/{rev}`: {"accessToken", "exp" (unix seconds), "casUrl"}.
struct XetToken {
  std::string access_token;
  std::int64_t exp = 0;
  std::string cas_url;
};
// Error Integrity naming the field when a key is missing, of the wrong type, or above 64000 bytes.
Result<XetToken> parse_xet_token(std::string_view json);
std::string xet_token_json(const XetToken& t);

}  // namespace hubcache::xet

#pragma once
// Downloads one file over Xet (the Xet spec's download-protocol.md; research note xet.md 2):
// the reconstruction from CAS (v2, v1 on 404/501), each listed xorb range fetched with one
// single-range GET (hf_xet's default), its chunks decoded (headers checked before any
// allocation, LZ4 frames and byte grouping into buffers of exactly the declared size) and
// written at their offsets, then the SHA-256 of the whole file checked against the expected
// one. It writes the engine's split files (engine.hpp: Job::parts_path and parts_state_path, the
// same state record), so either transport resumes what the other left: a term whose bytes are
// already present is not fetched again. It knows neither the Hub nor the cache layout: the read
// token comes from the caller, and so do bytes of chunks already on the machine.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/core/cancel.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/http/http.hpp"
#include "hubcache/http/retry.hpp"
#include "hubcache/transfer/engine.hpp"
#include "hubcache/xet/packing.hpp"
#include "hubcache/xet/reconstruction.hpp"

namespace hubcache::transfer {

/// The CAS read token: `refresh` false may return a cached one; true must ask again (after a 401).
using XetTokenFn = std::function<Result<xet::XetToken>(bool refresh)>;

/// Chunks of a term that a local file already holds: `path` has the term's bytes at `offset`,
/// made of chunks of `chunk_sizes` (summing to the term's unpacked_length). Only a hint: the
/// whole file's SHA-256 still decides.
struct LocalTermSource {
  std::string path;
  std::uint64_t offset = 0;
  std::vector<std::uint32_t> chunk_sizes;
};
using LocalChunksFn = std::function<std::optional<LocalTermSource>(const xet::Term& term)>;

struct XetJob {
  std::string file_hash;   // the Xet file id (X-Xet-Hash), 64 hex
  std::uint64_t size = 0;  // the file's size (X-Linked-Size)
  std::string sha256;      // expected SHA-256, lower-case hex (the blob's ETag)
  std::string parts_path;  // data, written in place (engine.hpp Job::parts_path)
  std::string parts_state_path;
  XetTokenFn token;
  LocalChunksFn local;  // optional
  /// 0: v2, falling back to v1 on 404 or 501 (as xet-core); 1 or 2: that version only.
  int api_version = 0;
  bool restart = false;  // discard partial data
};

struct XetOptions {
  /// Xorb range GETs in flight for one file: adaptive between 1 and max_parallel. It starts at
  /// initial_parallel and adds one GET per rate_window while the last one raised the file's
  /// throughput by at least 10% (per-connection caps, long paths), holds once a GET more gains
  /// less, and halves after a retryable failure (429, 5xx, a reset) before growing again. As the
  /// plain engine goes parallel only when one stream is slow (engine.hpp parallel_below_rate), and
  /// as hf_xet adapts its concurrency. initial_parallel >= max_parallel fixes it at max_parallel.
  unsigned max_parallel = 8;
  unsigned initial_parallel = 2;
  std::chrono::milliseconds rate_window{300};
  /// Memory for one file's transfer, in bytes: bounds the parallel GETs (each holds about
  /// 1 MiB: receive buffer, a chunk being parsed and its decoded bytes), whatever the file size.
  std::uint64_t memory_budget = 256ull << 20;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds idle_timeout{10'000};
  /// Per xorb range, for 408/429/5xx and transport errors. A failure while other GETs of the
  /// file are in flight (a CAS edge refusing one connection too many) spends none: the GET waits
  /// for a slot under the halved count and is sent again. Alone, each failure counts.
  int max_retries = 5;
  http::RetryPolicy retry;
  std::size_t max_reconstruction_bytes = 64u << 20;  // JSON answer bound
  const CancelToken* cancel = nullptr;
};

struct XetOutcome {
  std::string path;                    // parts_path: exactly `size` verified bytes
  std::uint64_t downloaded = 0;        // xorb bytes received
  std::uint64_t local_bytes = 0;       // file bytes copied from local files (LocalChunksFn)
  std::uint64_t resumed_bytes = 0;     // file bytes already present from an earlier attempt
  std::vector<xet::Segment> segments;  // the file's terms with their chunk sizes (for a Xet record)
  int api_version = 2;                 // the reconstruction API that answered
  unsigned reconstructions = 1;        // answers fetched (more after expired xorb URLs)
  unsigned peak_parallel = 0;          // most xorb GETs in flight at once
  unsigned parallel_cuts = 0;          // times a retryable failure halved the GETs in flight
  bool hashed_while_fetching = false;  // the SHA-256 came from hashing the prefix as it grew (no re-read)
};

/// Fetches the file. Errors: Unauthorized (the token route or CAS refused the token twice),
/// EntryNotFound (CAS does not know the file id), Integrity (a malformed answer or chunk, a term
/// that does not decode to its unpacked_length, sizes that do not add up to `size`, or a
/// SHA-256 mismatch: the data is discarded), Network/Timeout/Http after retries, Io, Cancelled.
/// Partial data stays resumable on every error but Integrity.
Result<XetOutcome> fetch_xet(http::Client& client, const XetJob& job, const XetOptions& options = {});

/// Writes a split download's checkpoint (read_split_progress's format) for `parts`, which must
/// cover [0, size) in order. Atomic, not fsynced.
void write_split_progress(const std::string& parts_state_path, std::uint64_t size, std::string_view digest,
                          std::uint64_t data_inode, const std::vector<SplitProgress::Part>& parts);

}  // namespace hubcache::transfer

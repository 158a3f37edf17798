#pragma once
// The transfer engine: fetches URLs into files it is given, many at once over one libcurl multi
// loop. Large files are split into byte ranges fetched in parallel and written in place; partial
// data is resumed; every byte is checked against the expected size and hash before success.
// It knows neither Hub semantics nor the cache layout.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "hubcache/http/http.hpp"
#include "hubcache/http/retry.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache::transfer {
namespace detail {
struct Task;
}

/// Adjusts a caller-supplied Range header after `received` bytes arrived (docs/cache-format.md#temp-files step 5,
/// docs/conformance-vectors.md 21): "bytes=S-" -> "bytes=S+n-", "bytes=S-E" -> "bytes=S+n-E", "bytes=-L" -> "bytes=-(L-n)".
/// Multi-range headers, malformed ones and ranges that become empty are InvalidArgument.
Result<std::string> adjust_range_header(std::string_view header, std::uint64_t received);

struct Job {
  /// The stable URL of the content (e.g. a Hub /resolve URL at a commit). Redirects are followed;
  /// the final URL of a good answer (a pre-signed CDN URL) is then used directly for the next
  /// ranges of the file, and given up for `url` again when its server refuses it (401, 403, 404,
  /// 410: an expired signature), so an expired URL costs one fresh redirect, not the download.
  std::string url;
  /// Optional URL to try first (the Location of a metadata HEAD), treated like a followed
  /// redirect of `url`: refused, it is dropped for `url`.
  std::string location;
  /// Sent on every request to `url`'s origin; `Authorization` and `Cookie` are left out of
  /// requests to any other origin (docs/hub-protocol.md#redirects). No request carries a validator (If-Range/If-Match):
  /// a validator is only meaningful to the server that issued it, and the CDN behind a redirect
  /// has its own ETags; the hash check before success guarantees the bytes instead.
  http::Headers headers;
  /// Sequential temp file: always a prefix of the content, so other clients (huggingface_hub
  /// <= 1.17) may resume it too. Resumed from its size.
  std::string temp_path;
  /// Split download: data written by ranges (with holes until done) and the record of finished
  /// ranges. Both empty = never split. Never the same name as temp_path.
  std::string parts_path;
  std::string parts_state_path;
  /// Split files may exist below EngineOptions::split_threshold, written by another transport
  /// (a Xet download, xet_fetch.hpp): look for them whatever the size and resume them. Off, a
  /// file under the threshold never looks (one lookup less per small file).
  bool resume_split_any_size = false;
  std::uint64_t size = 0;
  DigestKind hash = DigestKind::None;  // digest_kind_of(the ETag)
  std::string digest;                  // lower-case hex of the expected hash
  bool restart = false;                // discard partial data (force download)
  std::string label;                   // the file's name, for messages
  /// Bytes of this file present so far (resumed + received); called on the engine thread.
  std::function<void(std::uint64_t done, std::uint64_t total)> on_progress;
};

/// What a running split download holds so far, read from its checkpoint (Job::parts_state_path,
/// rewritten atomically at most every 250 ms while it runs): for each range [start, end) of the file,
/// the bytes [start, pos) are written to the data file. For readers in other threads or processes
/// (the pull-through proxy streams a file while it is fetched). nullopt when there is no valid
/// record of a download of `size` bytes with hash `digest` into the data file with inode `data_inode`.
struct SplitProgress {
  struct Part {
    std::uint64_t start = 0, end = 0, pos = 0;
  };
  std::vector<Part> parts;  // in file order, covering [0, size)
  /// Bytes present from `offset` on, without a hole (0: none yet).
  std::uint64_t present_from(std::uint64_t offset) const;
};
std::optional<SplitProgress> read_split_progress(const std::string& parts_state_path, std::uint64_t size, std::string_view digest,
                                                 std::uint64_t data_inode);

struct Outcome {
  std::string path;              // temp_path or parts_path: holds exactly `size` verified bytes
  std::uint64_t downloaded = 0;  // bytes received from the network
  std::uint64_t reused = 0;      // bytes taken from an earlier partial download
  bool verified = false;         // a hash was checked (false only for DigestKind::None)
  bool split = false;            // fetched as ranges (resumable from the state record)
  unsigned peak_parallel = 0;    // most ranges of this file in flight at once
  int attempts = 1;              // 2 after a hash mismatch and a fresh retry
  int url_refreshes = 0;         // times a refused direct URL was given up for Job::url
  /// From submission to the end of the last attempt's transfer (hashing not included; measured
  /// by the engine, so a late finish() does not stretch it).
  std::chrono::microseconds elapsed{0};
};

using WriteFn = std::function<ssize_t(int fd, const void* data, std::size_t size, off_t offset)>;
using FreeSpaceFn = std::function<Result<std::uint64_t>(const std::string& dir)>;
/// Starts the kernel's writeback of [offset, offset + length) of `fd` without waiting for it.
using WritebackFn = std::function<void(int fd, std::uint64_t offset, std::uint64_t length)>;
/// Makes what was written to `fd` durable (fdatasync).
using DataSyncFn = std::function<void(int fd)>;
/// EngineOptions::datasync_every's default (bytes): the background fdatasync's step, also used
/// by the Xet fetcher (xet_fetch.hpp), which writes its files with the same pacing.
inline constexpr std::uint64_t k_default_datasync_every = 128ull << 20;

struct EngineOptions {
  unsigned max_connections = 8;  // concurrent requests, all files together
  // Concurrent ranges of one file. A range whose connection brings nothing while others of the
  // file are served (a server at its connection limit for this client closes it unanswered) is
  // not a failure: the file runs at most as many ranges as are still running from then on, and
  // it waits for a slot.
  unsigned max_parts_per_file = 8;
  std::uint64_t split_threshold = 64ull << 20;  // files at least this large are split
  // Range size (larger for files over 4 x max_parts_per_file of them); near the end of a file
  // ranges shrink to a share of what is left, down to part_size / 4.
  std::uint64_t part_size = 16ull << 20;
  // A split file streams its ranges over one connection while that connection delivers at least
  // parallel_below_rate bytes/s (measured over windows of rate_window); once a window is slower,
  // up to max_parts_per_file ranges run at once. One fast stream keeps the verified prefix
  // growing so hashing overlaps the transfer; parallel ranges help where single connections are
  // slow (CDNs, long paths). 0 = parallel from the start. The first window starts at the first
  // 206; a short one lets a slow stream be joined before it has cost much (at 30 ms per request
  // and 50 MB/s per connection, 300 ms cost a 1 GiB download 0.15 s).
  std::uint64_t parallel_below_rate = 200ull << 20;
  std::chrono::milliseconds rate_window{100};
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds idle_timeout{10'000};
  int stream_retries = 5;  // consecutive failures without progress
  std::chrono::milliseconds stream_retry_delay{1000};
  http::RetryPolicy retry;    // 408/429/5xx backoff (every wait, stream retries too, via http::wait_before_retry)
  WriteFn write_fn;           // default pwrite (fault seam for tests)
  FreeSpaceFn free_space_fn;  // default fs::free_space (fault seam)
  // Written bytes are handed to writeback per range in steps of 8 MiB as they land (not when
  // the hashed prefix reaches them), so the flush before publishing waits for little. Default
  // sync_file_range(SYNC_FILE_RANGE_WRITE) (seam for tests).
  WritebackFn writeback_fn;
  // A larger file is also fdatasync'ed in the background each time this many more bytes went to
  // writeback (0 = never), so the device's own cache is flushed while the download runs and not
  // all at the fsync before publishing. datasync_fn: default fdatasync (seam for tests).
  std::uint64_t datasync_every = k_default_datasync_every;
  DataSyncFn datasync_fn;
  const CancelToken* cancel = nullptr;
  http::Transport transport;  // CA file, request log
};

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// A transfer begun by start(), ended by finish(). Movable. Destroying one that was never
  /// finished waits for its transfer to end and drops the outcome (partial data stays resumable).
  class Pending {
   public:
    Pending(Pending&& other) noexcept;
    Pending& operator=(Pending&& other) noexcept;
    Pending(const Pending&) = delete;
    Pending& operator=(const Pending&) = delete;
    ~Pending();

   private:
    friend class Engine;
    Pending(Engine* engine, std::shared_ptr<detail::Task> task, int attempt);
    Engine* m_engine = nullptr;
    std::shared_ptr<detail::Task> m_task;
    int m_attempt = 1;
  };

  /// Begins the job and returns at once: its requests run on the engine's loop while the caller
  /// goes on (for example, to start more small files without a thread each). Fails only before
  /// the first byte: DiskFull (free space), I/O errors opening the data file.
  Result<Pending> start(const Job& job);
  /// Waits for a started job and verifies it (hashing on the calling thread); the contract and
  /// errors of download(). A hash mismatch restarts the job once from scratch, as download() does.
  /// A Pending moved from, or started by another engine, is InvalidArgument.
  Result<Outcome> finish(Pending pending);

  /// finish(start(job)). Blocks until the job's bytes are complete and verified in Outcome::path, or fails:
  /// DiskFull (free space checked before the first byte, ENOSPC while writing), Integrity (a
  /// hash or size mismatch that a fresh retry did not cure; the partial data is deleted),
  /// Network / Timeout (after the stream retries; partial data kept for a later resume),
  /// Http (an error status; http context set), Cancelled. Thread-safe: many callers share
  /// the engine's connections.
  Result<Outcome> download(const Job& job);

  /// Requests started so far (for tests and stats).
  std::uint64_t requests_started() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hubcache::transfer

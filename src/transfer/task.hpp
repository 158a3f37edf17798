#pragma once
// Internal: the state of one file transfer, shared by the engine loop (which writes bytes) and
// the caller's thread (which hashes the growing prefix and checkpoints split progress).
#include <chrono>
#include <condition_variable>
#include <map>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/http/multi.hpp"
#include "hubcache/transfer/engine.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::transfer::detail {

struct Range {
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // exclusive
  std::uint64_t pos = 0;  // next byte to write
  bool in_flight = false;
  http::Multi::Id request = 0;
  std::uint64_t pos_at_request = 0;
  int failures = 0;                                               // consecutive attempts that brought no byte
  int status_retries = 0;                                         // 408/429/5xx retries
  std::optional<std::chrono::steady_clock::time_point> retry_at;  // set by a retryable status
  bool done() const { return pos >= end; }
};

struct Task {
  Job job;
  std::mutex mutex;
  std::condition_variable cv;
  fs::Fd fd;         // the open data file (path)
  std::string path;  // data file in use (job.temp_path or job.parts_path)
  bool split = false;
  bool ranges_confirmed = false;
  std::vector<Range> ranges;
  unsigned generation = 0;  // bumped when already-written bytes are discarded
  std::uint64_t received = 0;
  std::uint64_t reused = 0;
  bool complete = false;
  bool failed = false;
  std::optional<Error> error;
  int in_flight = 0;
  int timers = 0;
  int restarts_416 = 0;
  int restarts = 0;  // times all progress was discarded for a restart from byte 0
  std::uint64_t next_key = 0;
  std::map<std::uint64_t, std::size_t> owners;            // request key -> index of the range it fills
  std::uint64_t restart_key = 0;                          // request whose end restarts the download from byte 0
  std::uint64_t notified_present = 0;                     // bytes present at the last wake-up of the hashing thread
  std::chrono::steady_clock::time_point last_progress{};  // last Job::on_progress call
  /// Direct URL for the next requests: the final URL of the last good answer (or Job::location),
  /// empty = Job::url. Cleared when its server refuses it.
  std::string location;
  int url_refreshes = 0;
  bool parallel = false;    // more than one range may be in flight (EngineOptions::parallel_below_rate)
  unsigned part_limit = 0;  // ranges at once since a server refused one more (0 = EngineOptions::max_parts_per_file)
  unsigned peak_parallel = 0;
  std::chrono::steady_clock::time_point window_start{};  // rate window of the single stream
  std::uint64_t window_received = 0;
  std::chrono::steady_clock::time_point submitted{};    // set by Engine::start
  std::chrono::steady_clock::time_point finished_at{};  // set by the loop when finished() first holds

  bool finished() const { return (complete || failed) && in_flight == 0 && timers == 0; }
  /// Contiguous bytes present from offset 0.
  std::uint64_t prefix() const;
  std::uint64_t present() const;
  void fail(Error e);
  /// Discards everything and makes one range [0, size) at 0 (a server that ignores Range).
  void reset_to_single_range();
};

/// Opens the data file and decides how to resume (docs/cache-format.md#temp-files): sequential temp file resumed from its
/// size, or a split file resumed from its state record; checks free space and preallocates.
Result<void> prepare_task(Task& task, const EngineOptions& options);
/// Writes the split-state record atomically (no-op for sequential tasks).
/// The ranges of a split download's valid state record (its size, digest and data inode match).
std::optional<std::vector<Range>> load_state(const Job& job, ino_t data_inode);
void save_state(const Task& task, const std::vector<Range>& ranges);
/// Removes the data and state files of a task (after an integrity failure).
void discard_files(const Job& job);

}  // namespace hubcache::transfer::detail

namespace hubcache::transfer::detail {

/// Runs on the caller's thread while the engine fills `task`: hands each range's new bytes to
/// writeback (writeback.hpp, with `options`' writeback settings), hashes the contiguous prefix as it grows
/// (re-reading it from the page cache, so hashing overlaps the transfer) and checkpoints split
/// progress four times a second. Returns once the task is finished; the digest is set
/// when the task completed (empty for DigestKind::None).
std::string follow_and_hash(Task& task, const EngineOptions& options);

}  // namespace hubcache::transfer::detail

#pragma once
// Downloads into the Hub cache (docs/hub-protocol.md#download-file hf_hub_download, #snapshot-download snapshot_download) or into
// a local dir (docs/cache-format.md#local-dir), offline-first: a fully cached commit needs no network, offline mode opens no
// socket at all. The library prints nothing: progress goes to a callback.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/config/config.hpp"
#include "hubcache/http/http.hpp"
#include "hubcache/http/retry.hpp"
#include "hubcache/hub/hub.hpp"            // HubOptions (DownloadOptions::hub_options)
#include "hubcache/model/model_files.hpp"  // ModelTarget (SnapshotRequest::target)
#include "hubcache/core/result.hpp"
#include "hubcache/cache/hf_uri.hpp"  // parse_hf_uri, part of this API since it began
#include "hubcache/version.hpp"

namespace hubcache {

struct DownloadEvent {
  enum class Kind {
    Plan,        // files_total / bytes_total known (bytes of the files to transfer)
    FileStart,   // `file` starts transferring
    Progress,    // bytes moved (throttled to about 10 per second)
    FileDone,    // `file` is in place (transferred)
    FileCached,  // `file` was already present: nothing transferred
    LockWait,    // waiting for another process that holds `lock_path` (downloading the same blob)
    XetFallback  // the Xet transfer of `file` failed (`message` says why): it continues over plain
                 // HTTP, resuming what Xet wrote; sent once per Downloader
  };
  Kind kind = Kind::Progress;
  std::string file;
  std::uint64_t file_bytes = 0;
  std::uint64_t file_total = 0;
  std::uint64_t bytes_done = 0;   // all files
  std::uint64_t bytes_total = 0;  // all files to transfer
  std::size_t files_done = 0;
  std::size_t files_total = 0;
  std::size_t active = 0;            // files transferring now
  std::string lock_path;             // LockWait: the lock file waited for
  std::uint64_t waited_seconds = 0;  // LockWait: time waited so far
  std::string message;               // XetFallback: the Xet error
  /// Plan, with SnapshotRequest::target: the files the target leaves out (SnapshotResult::left_out).
  std::vector<model::LeftOut> left_out;
  /// Plan of a snapshot: the repo it is of (with SnapshotRequest::with_base, one plan per repo).
  std::string repo_id;
  /// FileDone: bytes of this file received from the network (over Xet, the compressed xorb bytes)
  /// and bytes of it taken from the disk instead: an earlier attempt's partial data or, over Xet,
  /// chunks of blobs already in the cache.
  std::uint64_t file_downloaded = 0;
  std::uint64_t file_reused = 0;
};

/// Whether files the Hub stores with Xet are fetched over Xet (the reconstruction API and
/// xorbs, research note xet.md) or over the plain /resolve path the Hub bridges them to.
/// huggingface_hub uses Xet whenever hf_xet is installed and HF_HUB_DISABLE_XET is unset.
enum class XetMode {
  Off,   // always the plain path (HF_HUB_DISABLE_XET=1)
  Auto,  // Xet for files whose metadata carries X-Xet-Hash and a token route; any Xet error
         // falls back to the plain path, resuming the bytes Xet wrote (one XetFallback event)
  On,    // Xet for such files, and a Xet error is the download's error
};

/// snapshot_download's concurrency when DownloadOptions::max_workers is 0 (the default): it
/// starts with k_auto_workers_start files in flight and, while small files' times show that
/// latency (round trips), not bandwidth or CPU, bounds the rate, raises that fourfold per round
/// up to k_auto_workers_max (InFlightLimit in util/parallel.hpp): 32 -> 128 after one round.
/// Small files cost the Hub's 2 round trips each, so 32 is a floor worth starting from (at 30 ms
/// per request, 2,001 files took 2.2 s with 32 workers and 8.4 s with 8). Files of k_small_file bytes or more never
/// count as latency samples and at most k_auto_workers of them are in flight. The files in
/// flight share k_auto_worker_threads threads: a small file waiting on the network holds none
/// (each thread keeps several in flight), a large one holds one while it downloads. Eight
/// threads fetch 2,001 files as fast as sixteen did on 2 cores (1.39 s, bench/README.md) with
/// 0.4 MiB less peak RSS.
inline constexpr unsigned k_auto_workers = 8;
inline constexpr unsigned k_auto_worker_threads = 8;
inline constexpr unsigned k_auto_workers_start = 32;
inline constexpr unsigned k_auto_workers_max = 128;
inline constexpr std::uint64_t k_small_file = 1u << 20;

/// How large files are fetched and how failures are retried. Sizes in bytes, rates in bytes/s.
/// Follows no upstream option: huggingface_hub streams each file over one connection.
struct TransferTuning {
  /// Files at least this large may be fetched as several byte ranges at once (resumable by range).
  std::uint64_t split_threshold = 64ull << 20;
  /// The size of the ranges a split file is cut into (the last ones shrink to a quarter of it).
  std::uint64_t part_size = 16ull << 20;
  /// Ranges of one file in flight at once (1 = never parallel), as aria2c -x16 and hfd.sh: 16
  /// fetch 1 GiB from a CDN capped at 50 MB/s per connection in 3.28 s, 8 in 3.85 s. A server at
  /// its connection limit for this client (16 clients behind one address hold the 256 that
  /// `hubcache serve` allows it) closes further connections unanswered; the file then runs fewer
  /// ranges instead of failing (transfer::EngineOptions::max_parts_per_file).
  unsigned max_parts_per_file = 16;
  /// A split file streams over one connection while that delivers at least this rate, and goes
  /// parallel once it is slower (a CDN's per-connection cap); 0 = parallel from the start.
  std::uint64_t parallel_below_rate = 200ull << 20;
  /// Consecutive failed attempts of one stream, without progress, before the file fails.
  int stream_retries = 5;
  /// Backoff for 408/429/5xx answers and transport errors, for metadata and transfers alike.
  http::RetryPolicy retry;
};

struct DownloadOptions {
  std::string endpoint = "https://huggingface.co";
  std::optional<std::string> token;
  std::string cache_dir;  // absolute, symlink-resolved hub cache
  bool offline = false;   // no network at all (HF_HUB_OFFLINE); per call: local_files_only
  std::chrono::seconds etag_timeout{10};
  std::chrono::seconds download_timeout{10};
  /// Files downloaded at once by snapshot_download: 0 = adapt to latency (see k_auto_workers),
  /// else exactly this many. The engine gets at least this many connections (k_auto_workers_max when adapting;
  /// libcurl also caps connections per host at that number, see http::Multi).
  unsigned max_workers = 0;
  bool disable_symlinks = false;
  /// No reuse of payloads of the cache's shared blob store (HF_HUB_DISABLE_SHARED_BLOBS or
  /// HF_HUB_DISABLE_XET). Otherwise a file with a Xet hash whose blob is absent is linked to a
  /// usable payload of a marked store (SHA-256 checked against the ETag) instead of downloaded;
  /// never in no-symlink mode nor for a local dir. A file fetched over Xet is published to the
  /// store as huggingface_hub >= 1.32 does (SharedBlobStore::publish); the plain path never is.
  bool disable_shared_blobs = false;
  std::string user_agent = k_user_agent;
  /// Called from worker threads (serialized); keep it quick.
  std::function<void(const DownloadEvent&)> progress;
  std::shared_ptr<CancelToken> cancel;
  /// How often a LockWait event is sent while blocked on another process's blob lock. The
  /// first one comes once the wait has lasted 200 ms (or this, if shorter). A wait for a blob
  /// that another download of this process holds (two files with the same content) sends none.
  std::chrono::milliseconds lock_report_every{std::chrono::seconds{10}};
  /// How large files are fetched and how failures are retried (the transfer engine's defaults).
  TransferTuning transfer;
  /// Xet transfers (XetMode); Off when HF_HUB_DISABLE_XET is set.
  XetMode xet = XetMode::Auto;
  /// Memory one file's Xet transfer may use, in bytes (bounds its parallel range GETs, whatever
  /// the file's size; hf_xet's defaults are GB-scale).
  std::uint64_t xet_memory_budget = 256ull << 20;
  /// Xet range GETs in flight per file, at most (adaptive below it: transfer/xet_fetch.hpp).
  unsigned xet_max_parallel = 8;
  /// Chunks the local Xet index may know (4 bytes each, about 64 KiB of file per chunk: the
  /// default 16 Mi chunks cover about 1 TiB in about 64 MiB). The newest records are loaded first;
  /// past the bound, older blobs are simply not reused (the index is a hint, rebuilt each run).
  std::size_t xet_local_max_chunks = 16u << 20;
  /// CA file (SSL_CERT_FILE, ...), the http:// proxy libcurl would miss, and a request log
  /// (HF_DEBUG); used by every request, metadata and transfers alike.
  http::Transport transport;

  /// Endpoint, token, cache dir, offline, timeouts, symlink mode, CA file and proxy from a
  /// resolved Config (the request log stays the caller's to set).
  static DownloadOptions from_env(const Config& config);
  /// The metadata client's options these imply (endpoint, token, user agent, timeouts, retries,
  /// cancellation): what the Downloader's own hub::HubApi uses.
  hub::HubOptions hub_options() const;
};

struct FileRequest {
  std::string repo_id;
  std::string filename;  // "sub/name" (a subfolder is part of it)
  std::string revision = "main";
  RepoType repo_type = RepoType::Model;
  bool force_download = false;
  /// Like `offline` for this call only (docs/hub-protocol.md#download-file steps 3-4): no socket, the cache or an error
  /// naming local_files_only. Combined with force_download: InvalidArgument, before any request.
  bool local_files_only = false;
  std::optional<std::string> local_dir;
};

struct FileResult {
  std::string path;  // snapshots/<commit>/<file> (never the blob) or <local_dir>/<file>
  std::string commit;
  std::string etag;
  std::uint64_t size = 0;
  bool transferred = false;  // false: taken from the cache or already in place
  std::vector<std::string> warnings;
};

struct SnapshotRequest {
  std::string repo_id;
  std::string revision = "main";
  RepoType repo_type = RepoType::Model;
  std::optional<std::vector<std::string>> allow_patterns;  // nullopt: everything
  std::vector<std::string> ignore_patterns;
  bool force_download = false;
  bool local_files_only = false;  // as FileRequest::local_files_only (docs/hub-protocol.md#offline-snapshot)
  std::optional<std::string> local_dir;
  bool dry_run = false;  // plan only: no transfer and no write
  /// Only the files this framework loads (`download --for`, model/model_files.hpp select_for),
  /// chosen on the repo's whole listing (so the default GGUF variant does not depend on the
  /// patterns); a file is selected when the target and the patterns both allow it. The others the
  /// patterns allow are reported in SnapshotResult::left_out. The files select_for reads first
  /// (model_index.json, the chosen checkpoint's index) come from the snapshot when cached, else
  /// by one GET each that writes nothing; offline and uncached, the names decide (a warning says
  /// so). Errors: select_for's NotFound (no loadable file, no such GGUF variant: the message lists
  /// the variants; an index naming shards the repo lacks), naming the repo.
  std::optional<model::ModelTarget> target;
  /// `download --with-base`: after this (adapter) repo's snapshot, read its adapter_config.json's
  /// `base_model_name_or_path` (from the snapshot, else from the Hub without writing it) and
  /// download that repo too, at revision "main", with the same target and force_download but no
  /// patterns, into the cache under its own id (never into local_dir); a base that is itself an
  /// adapter is followed too, at most 2 levels, then a warning says where it stopped. With dry_run
  /// both are planned and nothing is written. Errors: NotFound when the repo has no
  /// adapter_config.json (not a PEFT adapter); InvalidArgument quoting what adapter_config.json
  /// says when base_model_name_or_path is missing, not a string, a local path or no valid repo
  /// id; the base's download errors, prefixed with which adapter names it.
  bool with_base = false;
};

struct PlannedFile {
  std::string path;
  std::uint64_t size = 0;
  std::string etag;
  bool cached = false;  // already present: nothing to transfer
};

struct BaseSnapshot;
struct SnapshotResult {
  std::string path;  // snapshots/<commit> or realpath(local_dir)
  std::string commit;
  std::vector<PlannedFile> files;  // the selected files, sorted by path
  std::size_t repo_files = 0;      // files in the repo before filtering (0 when offline)
  std::uint64_t bytes_transferred = 0;
  bool from_cache_only = false;  // resolved offline / without the Hub
  std::vector<std::string> warnings;
  /// With a target: the files it leaves out among those the patterns allow, each with its size
  /// (0 when resolved offline without a tree record) and the reason, sorted by path.
  std::vector<model::LeftOut> left_out;
  /// With with_base: the base model's snapshot (then its own base's, when it is an adapter too).
  std::vector<BaseSnapshot> bases;
};

/// A base model brought by SnapshotRequest::with_base.
struct BaseSnapshot {
  std::string repo_id;          // base_model_name_or_path
  std::string adapter_repo_id;  // the repo whose adapter_config.json names it
  SnapshotResult snapshot;      // its own bases stay empty: the chain is flat in the first result
};

class Downloader;
namespace detail {
struct DownloadSeams;  // src/resolve/download_seams.hpp: fault injection for tests, never installed
void set_download_seams(Downloader& downloader, DownloadSeams seams);
}  // namespace detail

class Downloader {
 public:
  using Options = DownloadOptions;  // Downloader::Options::from_env(config)

  explicit Downloader(DownloadOptions options);
  ~Downloader();
  Downloader(const Downloader&) = delete;
  Downloader& operator=(const Downloader&) = delete;

  /// hf_hub_download. A repo_id that is an existing folder is the model itself (from_pretrained
  /// step 1, local_folder.hpp): `<folder>/<filename>` with no network, NotFound naming the folder
  /// when the file is not there, InvalidArgument with a local_dir. Errors: InvalidRepoId/Revision/Path, RepoNotFound (also
  /// private without a token), Gated, Unauthorized, RevisionNotFound, EntryNotFound (a .no_exist marker is written),
  /// PermissionDenied (access disabled), LocalEntryNotFound (offline, or the Hub unreachable or answering unusably, and not
  /// cached; Error::missing lists the file; the message blames the connection only for a transient cause and else names the
  /// server's answer), Integrity, DiskFull, Http (a server fault: redirect loop, oversized answer, a file restarted from byte 0
  /// again and again), Network, Cancelled. With a local dir: InvalidPath when a folder inside it on the way to the file, or the
  /// file's own name (or one of its temp / metadata names), is a symlink: nothing is ever written outside the local dir.
  Result<FileResult> download_file(const FileRequest& request);
  /// snapshot_download. A repo_id that is an existing folder gives that folder and its selected
  /// files (from_cache_only, nothing transferred, no network). Same errors, the Hub's typed ones (gated, not found, token
  /// refused) exactly as download_file gives them also when met by a file's transfer; IncompleteSnapshot when offline and files
  /// listed by trees/<commit>.json are missing (Error::missing lists them). A tree listing that loops or does not end is an Http
  /// error (hub::HubApi::list_tree).
  Result<SnapshotResult> snapshot_download(const SnapshotRequest& request);

  const DownloadOptions& options() const;

 private:
  friend void detail::set_download_seams(Downloader& downloader, detail::DownloadSeams seams);
  Result<void> with_bases(const SnapshotRequest& request, SnapshotResult& out);
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hubcache

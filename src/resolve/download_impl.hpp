#pragma once
// Internal: the Downloader's state and the pieces its source files share.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <optional>
#include <functional>
#include <vector>
#include <string>

#include "download_seams.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/hub/hub.hpp"
#include "hubcache/resolve/download.hpp"
#include "hubcache/transfer/engine.hpp"
#include "hubcache/transfer/xet_fetch.hpp"
#include "xet_local.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/pattern.hpp"

namespace hubcache {

/// SnapshotRequest::target over a repo's `listing`: the files it keeps (nullopt without a target)
/// and, into `left_out`, the files it leaves out that `filter` allows. `what` names the repo for
/// the error (select_for's, prefixed). When the patterns leave out every weight file the target
/// chose, a warning goes to `warnings`: no weights will be downloaded; so do select_for's.
/// `read` gives the text of a listed file select_for reads first (model_index.json, a sharded
/// checkpoint's index; nullopt when it cannot be read: then the names decide).
Result<std::optional<std::set<std::string>>> target_files(const SnapshotRequest& req, const PathFilter& filter,
                                                          const std::vector<model::RepoFile>& listing, const std::string& what,
                                                          std::vector<model::LeftOut>& left_out,
                                                          std::vector<std::string>& warnings,
                                                          const model::ReadRepoText& read = {});

/// The text of `path` on disk when it is a file (at most 64 MiB: a large model's index), else nullopt.
std::optional<std::string> read_small_file(const std::string& path);

/// SnapshotRequest::with_base on a repo without adapter_config.json (NotFound): no PEFT adapter.
Error not_an_adapter(const std::string& repo_id);

/// Aggregates per-file progress into DownloadEvents (serialized, Progress events throttled).
class ProgressTracker {
 public:
  explicit ProgressTracker(std::function<void(const DownloadEvent&)> sink) : m_sink(std::move(sink)) {}
  /// `files`: every file the call covers (cached ones included, so files_done reaches it);
  /// `bytes`: the bytes to transfer; `to_fetch`: the files planned for transfer, whose bytes
  /// count as done if another process finishes them first (empty: all of them).
  void plan(std::size_t files, std::uint64_t bytes, std::set<std::string> to_fetch = {},
            std::vector<model::LeftOut> left_out = {}, std::string repo_id = {});
  void start(const std::string& file, std::uint64_t total);
  void bytes(const std::string& file, std::uint64_t done, std::uint64_t total);
  /// `downloaded` / `reused`: the file's network bytes and bytes taken from the disk (DownloadEvent).
  void done(const std::string& file, std::uint64_t total, std::uint64_t downloaded = 0, std::uint64_t reused = 0);
  void cached(const std::string& file, std::uint64_t total);
  void lock_wait(const std::string& file, const std::string& lock_path, std::uint64_t waited_seconds);
  void xet_fallback(const std::string& file, const std::string& message);

 private:
  void emit(DownloadEvent e);
  std::function<void(const DownloadEvent&)> m_sink;
  std::mutex m_mutex;
  std::map<std::string, std::uint64_t> m_active;  // file -> bytes so far
  std::set<std::string> m_to_fetch;
  std::uint64_t m_finished_bytes = 0;
  std::uint64_t m_bytes_total = 0;
  std::size_t m_files_done = 0;
  std::size_t m_files_total = 0;
  std::chrono::steady_clock::time_point m_last_progress{};
};

/// Whether a call may use the network. Offline mode (DownloadOptions::offline) and a request's
/// local_files_only resolve from the cache alike and open no socket; only the error texts differ
/// (local_files_only wins, as in PY, whose messages then name it).
enum class NetworkUse { Allowed, Offline, LocalFilesOnly };
NetworkUse network_use(const DownloadOptions& options, bool local_files_only);
/// "offline mode" / "local_files_only": what disabled the network, for messages.
std::string no_network_reason(NetworkUse use);
/// "outgoing traffic is disabled (...). <how to enable it>".
std::string traffic_disabled(NetworkUse use);
/// The InvalidArgument error for force_download without network (docs/hub-protocol.md#download-file step 4), or nullopt.
std::optional<Error> force_without_network(NetworkUse use, bool force_download);

/// What one blob download needs.
struct BlobFetch {
  std::string commit;
  std::string path;  // repo file path
  std::string etag;
  std::uint64_t size = 0;
  std::string url;  // stable URL of the content: the resolve URL at the commit
  bool force = false;
  std::string location;                 // a pre-signed URL from the metadata HEAD, tried first ("" = none)
  std::optional<std::string> xet_hash;  // tree xetHash / HEAD X-Xet-Hash, verbatim
  std::string xet_route;                // the Xet token route ("" = not fetched over Xet)
};

/// A file fetched over Xet (Downloader::Impl::fetch_xet_file): what the engine would report for it
/// (`outcome`: verified, at the split data file) and what Xet learned (`xet`: segments for a record).
struct XetFetched {
  transfer::Outcome outcome;
  transfer::XetOutcome xet;
};

/// New blobs of one call: their bytes become durable through flushes shared by concurrent
/// workers (group(), fs::GroupCommit) before each rename, and flush() makes the renames durable
/// with one fsync of blobs/ per call instead of one per blob.
class PublishBatch {
 public:
  fs::GroupCommit& group() { return m_group; }
  void published() { m_dirty = true; }
  /// Deferred mode (snapshots): a worker hands its finished blob, with its blob lock, to the
  /// group's committer (publish_later) and moves on to the next file; drain() before flush().
  void set_deferred(bool on) { m_deferred = on; }
  bool deferred() const { return m_deferred; }
  /// Records a deferred publish's failure (the first one is kept).
  void failed(Error e) {
    std::lock_guard lock(m_mutex);
    if (!m_error) m_error = std::move(e);
  }
  /// Waits for every deferred publish; the first failure among them, if any.
  Result<void> drain() {
    m_group.drain();
    std::lock_guard lock(m_mutex);
    if (m_error) return fail(*m_error);
    return {};
  }
  Result<void> flush(const RepoLayout& layout) {
    if (!m_dirty.exchange(false)) return {};
    return fs::fsync_dir(layout.blobs_dir());
  }

 private:
  std::atomic<bool> m_dirty{false};
  bool m_deferred = false;
  std::mutex m_mutex;
  std::optional<Error> m_error;
  fs::GroupCommit m_group;  // last: destroyed (drained) first, while the members above live
};

/// A blob fetch begun by begin_fetch_to_cache / begin_fetch_to_local_dir and ended by
/// finish_fetch. Without a transfer it is complete already (the file was there, or linked).
struct PendingFetch {
  RepoRef repo;
  std::optional<transfer::Engine::Pending> transfer;
  std::optional<transfer::Outcome> fetched;  // bytes already fetched (over Xet), when no transfer runs
  /// Runs on the verified bytes: publishes them; returns the bytes transferred. Holds the
  /// file's lock until it has run (or is dropped).
  std::function<Result<std::uint64_t>(const transfer::Outcome&, std::vector<std::string>& warnings)> then;
};

/// What finish_fetch reports.
struct FetchDone {
  std::uint64_t downloaded = 0;          // bytes received from the network
  std::chrono::microseconds elapsed{0};  // the transfer's time in the engine (0 without one)
};

struct Downloader::Impl {
  DownloadOptions options;
  detail::DownloadSeams seams;
  std::mutex lazy_mutex;
  std::unique_ptr<hub::HubApi> api_ptr;
  std::unique_ptr<transfer::Engine> engine_ptr;
  std::unique_ptr<http::Client> xet_client_ptr;
  std::once_flag xet_fallback_said;
  std::unique_ptr<XetLocalIndex> xet_local;  // chunks of the cache's blobs, from their Xet records

  explicit Impl(DownloadOptions o);
  /// RepoNotFound for a model whose id names a dataset or space on the Hub: says so and how.
  void add_repo_type_hint(Error& e, RepoType type, const std::string& repo_id);
  template <class T>
  Result<T> suggest_repo_type(Result<T> r, RepoType type, const std::string& repo_id) {
    if (r) return r;
    Error e = std::move(r).error();
    add_repo_type_hint(e, type, repo_id);
    return fail(std::move(e));
  }
  /// Created on first use, so offline work never even builds a connection.
  hub::HubApi& api();
  transfer::Engine& engine();
  http::Client& xet_client();
  /// Fetches `f` of `repo` over Xet into the split files of `parts_base` (transfer::fetch_xet),
  /// copying terms the cache's Xet records hold (xet_local); the data is SHA-256-verified and
  /// left at `outcome.path` (`parts_base` + k_parts_incomplete_suffix). nullopt: not a Xet fetch
  /// (mode Off, no Xet data, not a SHA-256 blob) or, in Auto mode, a failure that falls back to
  /// the plain path, which resumes what Xet wrote (reported once per Downloader); an error only in
  /// On mode or when cancelled. Writes no record and publishes nothing: the caller's part.
  Result<std::optional<XetFetched>> fetch_xet_file(const RepoRef& repo, const BlobFetch& f, const std::string& parts_base,
                                                   ProgressTracker& progress);
  /// fetch_xet_file for a cache blob: then writes the blob's Xet record and publishes the file to
  /// the shared blob store when that applies (an outcome with an empty path: blobs/<etag> is in place).
  Result<std::optional<transfer::Outcome>> fetch_over_xet(const RepoLayout& layout, const BlobFetch& f,
                                                          const std::string& parts_base, ProgressTracker& progress);
  LinkMode link_mode() const { return options.disable_symlinks ? LinkMode::Copy : LinkMode::Symlink; }
  const CancelToken* cancel() const { return options.cancel.get(); }

  Result<FileResult> file_to_cache(const FileRequest& req, ProgressTracker& progress);
  Result<FileResult> file_to_local_dir(const FileRequest& req, ProgressTracker& progress);
  Result<SnapshotResult> snapshot(const SnapshotRequest& req, ProgressTracker& progress);

  /// Makes snapshots/<commit>/<path> point at blobs/<etag>, downloading the blob first under the
  /// per-blob lock when needed (docs/hub-protocol.md#download-file steps 6-8). Returns the bytes transferred.
  /// The caller has run init_repo_folder(layout). New blobs are published through
  /// batch.group() while the blob lock is held: the caller flushes `batch`.
  Result<std::uint64_t> fetch_to_cache(const RepoLayout& layout, const BlobFetch& f, ProgressTracker& progress,
                                       PublishBatch& batch);
  /// fetch_to_cache up to the transfer's start: the rest is finish_fetch's. With `may_wait`
  /// false, a blob lock held elsewhere (another process, or another file of this one with the
  /// same content) is not waited for: the result is then nullopt and nothing was done.
  Result<std::optional<PendingFetch>> begin_fetch_to_cache(const RepoLayout& layout, const BlobFetch& f,
                                                           ProgressTracker& progress, PublishBatch& batch, bool may_wait);
  /// Waits for a begun fetch's bytes (errors typed by typed_blob_result) and publishes them.
  Result<FetchDone> finish_fetch(PendingFetch pending, std::vector<std::string>& warnings);
  /// True if blobs/<etag> now links into the cache's shared blob store (no download needed).
  bool reuse_shared_blob(const RepoLayout& layout, const BlobFetch& f) const;
  /// Local-dir mode for one file whose commit, ETag and size are known (docs/cache-format.md#local-dir steps 3-6). The
  /// caller has run prepare_local_dir(local_dir).
  Result<std::uint64_t> fetch_to_local_dir(const std::string& local_dir, const RepoRef& repo, const BlobFetch& f,
                                           ProgressTracker& progress, std::vector<std::string>& warnings);
  /// fetch_to_local_dir up to the transfer's start (`may_wait` as for begin_fetch_to_cache,
  /// for the file's lock).
  Result<std::optional<PendingFetch>> begin_fetch_to_local_dir(const std::string& local_dir, const RepoRef& repo,
                                                               const BlobFetch& f, ProgressTracker& progress, bool may_wait);
  /// What to fetch for a file whose metadata HEAD (at `revision`) answered `m`: the resolve URL at
  /// the commit, and the HEAD's Location to try first when the HEAD was redirected there.
  BlobFetch fetch_for(const RepoRef& repo, std::string_view revision, const std::string& path, const hub::FileMetadata& m,
                      bool force) const;
  /// An outcome of engine().finish(), with an error status of the Hub (its origin, or any X-Error-Code)
  /// mapped to the typed error the metadata HEAD gives for it (Gated, RepoNotFound,
  /// Unauthorized, EntryNotFound, ...), so every mode reports the same error.
  Result<transfer::Outcome> typed_blob_result(Result<transfer::Outcome> outcome, const RepoRef& repo);
  /// Engine job for `f` writing to `temp` (with split files next to it).
  transfer::Job make_job(const BlobFetch& f, const std::string& temp, const std::string& parts_base, ProgressTracker& progress);
};

/// "model 'org/name'".
std::string describe(const RepoRef& repo);

/// Errors of the Hub that say what is wrong with the request itself (repo / revision / file not
/// found, gated, token refused, access disabled): they reach the caller as they are, in every
/// mode, and no cache fallback hides them when nothing is cached.
bool is_typed_hub_error(const Error& e);
/// The error when the Hub could not be used for `what` (e.g. "'config.json' of model 'org/x'")
/// and nothing usable is `where` ("in the cache '...'"): a typed Hub error as it is; otherwise
/// LocalEntryNotFound carrying the cause, which blames the connection only when the cause is
/// transient (network, timeout, 5xx, 429); else it names the server's unusable answer.
Error hub_unusable(const Error& cause, const std::string& what, const std::string& where, const std::string& endpoint);

/// Creates <LOCAL>/.cache/huggingface (with .gitignore and CACHEDIR.TAG) through
/// open_dir_beneath: a symlink on the way is refused.
Result<void> prepare_local_dir(const std::string& local_dir);

// Writes below a local dir never leave it (local_dir_beneath.cpp).
/// The directory `rel` below `root`, opened by a walk of openat(O_NOFOLLOW | O_DIRECTORY) that
/// creates missing components (mkdirat), so no symlink inside `root`, existing or swapped in
/// during the walk, can lead a write outside. A symlinked component is InvalidPath naming it,
/// where it points and what to do (`for_file`: the repo file being written, "" for the metadata
/// folder); a component that is a file is NotADirectory.
Result<fs::Fd> open_dir_beneath(const std::string& root, std::string_view rel, std::string_view for_file);
/// InvalidPath (as open_dir_beneath's) when `name` in `dir` exists as a symlink; `shown` is its path.
Result<void> refuse_symlink_at(const fs::Fd& dir, const std::string& name, const std::string& shown, const std::string& root,
                               std::string_view for_file);
/// Atomically (temp created O_EXCL | O_NOFOLLOW, renameat) writes `data` as `name` in `dir`.
Result<void> write_file_at(const fs::Fd& dir, const std::string& name, std::string_view data, const std::string& shown);
/// Copies regular file `src` to `name` in `dir`, replacing what is there, never through a link.
Result<void> copy_file_at(const std::string& src, const fs::Fd& dir, const std::string& name, const std::string& shown);
/// fsyncs `from` (in `from_dir`), renames it to `to` in `to_dir` and fsyncs `to_dir`.
Result<void> publish_at(const fs::Fd& from_dir, const std::string& from, const fs::Fd& to_dir, const std::string& to,
                        const std::string& shown);

}  // namespace hubcache

// hf_hub_download into the cache (docs/hub-protocol.md#download-file).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>

#include "download_impl.hpp"
#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/resolve/offline.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache {
namespace {

using fs::is_file;

Error with_missing(Error e, const std::string& file) {
  e.missing.push_back(file);
  return e;
}

// Blob locks this process holds (all Downloaders). Waiting for one of them is waiting for another
// file of this process with the same content, not for another process: that is not reported.
std::mutex g_held_mutex;
std::multiset<std::string> g_held_here;

bool held_here(const std::string& lock_path) {
  std::lock_guard lock(g_held_mutex);
  return g_held_here.count(lock_path) > 0;
}

/// A blob lock, known as held by this process until it is released.
class OwnedBlobLock {
 public:
  OwnedBlobLock(FileLock lock, std::string path) : m_lock(std::move(lock)), m_path(std::move(path)) {
    std::lock_guard guard(g_held_mutex);
    g_held_here.insert(m_path);
  }
  ~OwnedBlobLock() {
    m_lock.release();
    std::lock_guard guard(g_held_mutex);
    g_held_here.erase(g_held_here.find(m_path));
  }
  OwnedBlobLock(const OwnedBlobLock&) = delete;
  OwnedBlobLock& operator=(const OwnedBlobLock&) = delete;

 private:
  FileLock m_lock;
  std::string m_path;
};

/// A wait for another process's blob lock is first reported once it lasts this long (or
/// DownloadOptions::lock_report_every, if shorter), then every lock_report_every.
constexpr std::chrono::milliseconds k_first_lock_report{200};

}  // namespace

// Research note 3.4: link blobs/<etag> to a usable payload of a marked shared store. Any
// failure is a miss (the normal download follows); the payload is never modified.
bool Downloader::Impl::reuse_shared_blob(const RepoLayout& layout, const BlobFetch& f) const {
  if (f.force || !f.xet_hash || options.disable_shared_blobs || link_mode() != LinkMode::Symlink) return false;
  const SharedBlobStore store(layout.cache_dir());
  if (!store.marked()) return false;
  auto linked = store.try_link(layout, f.etag, *f.xet_hash, f.size);
  return linked && *linked;
}

Result<std::uint64_t> Downloader::Impl::fetch_to_cache(const RepoLayout& layout, const BlobFetch& f, ProgressTracker& progress,
                                                       PublishBatch& batch) {
  HUBCACHE_TRY_ASSIGN(std::optional<PendingFetch> begun, begin_fetch_to_cache(layout, f, progress, batch, true));
  std::vector<std::string> warnings;
  HUBCACHE_TRY_ASSIGN(auto done, finish_fetch(std::move(begun).value(), warnings));
  return done.downloaded;
}

Result<std::optional<PendingFetch>> Downloader::Impl::begin_fetch_to_cache(const RepoLayout& layout, const BlobFetch& f,
                                                                           ProgressTracker& progress, PublishBatch& batch,
                                                                           bool may_wait) {
  HUBCACHE_TRY(validate_etag(f.etag));
  const std::string blob = layout.blob_path(f.etag);
  const std::string lock_path = layout.lock_path(f.etag);
  FileLock acquired;
  if (may_wait) {
    // Another process downloading the same blob holds its lock: say so soon, and again from time
    // to time, while waiting (docs/cache-format.md#locks).
    std::optional<std::chrono::steady_clock::time_point> reported;
    const auto on_wait = [&](std::chrono::seconds waited) {
      if (held_here(lock_path)) return;
      const auto now = std::chrono::steady_clock::now();
      if (reported && now - *reported < options.lock_report_every) return;
      reported = now;
      progress.lock_wait(f.path, lock_path, static_cast<std::uint64_t>(waited.count()));
    };
    HUBCACHE_TRY_ASSIGN(acquired, lock_blob(layout, f.etag, std::chrono::milliseconds{0}, on_wait,
                                            std::min(options.lock_report_every, k_first_lock_report)));
  } else {
    HUBCACHE_TRY_ASSIGN(acquired, try_lock_blob(layout, f.etag));
    if (!acquired.held()) return std::optional<PendingFetch>{};
  }
  auto lock = std::make_shared<OwnedBlobLock>(std::move(acquired), lock_path);
  PendingFetch pending;
  pending.repo = layout.repo();
  // The blob may exist already, or another process may have finished it while we waited (docs/cache-format.md#locks).
  if (!f.force && is_file(blob)) {
    HUBCACHE_TRY(create_pointer(layout, f.commit, f.path, f.etag, link_mode()));
    progress.cached(f.path, f.size);
    return std::optional<PendingFetch>(std::move(pending));
  }
  if (reuse_shared_blob(layout, f)) {
    HUBCACHE_TRY(create_pointer(layout, f.commit, f.path, f.etag, LinkMode::Symlink));
    progress.cached(f.path, f.size);
    return std::optional<PendingFetch>(std::move(pending));
  }
  progress.start(f.path, f.size);
  HUBCACHE_TRY_ASSIGN(pending.fetched, fetch_over_xet(layout, f, blob, progress));
  if (!pending.fetched) {
    HUBCACHE_TRY_ASSIGN(auto started, engine().start(make_job(f, layout.incomplete_path(f.etag), blob, progress)));
    pending.transfer.emplace(std::move(started));
  }
  pending.then = [this, layout, f, &progress, &batch, lock](const transfer::Outcome& outcome,
                                                            std::vector<std::string>&) mutable -> Result<std::uint64_t> {
    const std::string pointer = layout.pointer_path(f.commit, f.path);
    if (outcome.path.empty()) {
      // Already published (a Xet download linked into the shared blob store under this lock).
      batch.published();
      HUBCACHE_TRY(create_pointer(layout, f.commit, f.path, f.etag, LinkMode::Symlink));
    } else if (link_mode() == LinkMode::Copy) {
      // No-symlink mode (docs/cache-format.md#no-symlinks): the new blob moves into the snapshot; no blobs/<etag> remains.
      HUBCACHE_TRY(fs::make_dirs(fs::parent(pointer)));
      HUBCACHE_TRY(fs::publish(outcome.path, pointer));
    } else if (batch.deferred()) {
      // The rename waits for a flush shared with other finished blobs; the lock goes with it.
      auto held = std::move(lock);
      HUBCACHE_TRY(publish_blob_later(
          layout, outcome.path, f.etag, batch.group(),
          [layout, f, &progress, &batch, held, downloaded = outcome.downloaded, reused = outcome.reused](Result<void> published) {
            if (published) {
              batch.published();
              auto linked = create_pointer(layout, f.commit, f.path, f.etag, LinkMode::Symlink);
              if (linked) return progress.done(f.path, f.size, downloaded, reused);
              published = fail(std::move(linked).error());
            }
            batch.failed(std::move(published).error());
          }));
      return outcome.downloaded;
    } else {
      HUBCACHE_TRY(publish_blob(layout, outcome.path, f.etag, batch.group()));
      batch.published();
      HUBCACHE_TRY(create_pointer(layout, f.commit, f.path, f.etag, LinkMode::Symlink));
    }
    progress.done(f.path, f.size, outcome.downloaded, outcome.reused);
    return outcome.downloaded;
  };
  return std::optional<PendingFetch>(std::move(pending));
}

Result<FileResult> Downloader::Impl::file_to_cache(const FileRequest& req, ProgressTracker& progress) {
  const RepoRef repo{req.repo_type, req.repo_id};
  const RepoLayout layout(options.cache_dir, repo);
  FileResult out;

  // Step 2: a cached commit needs no request.
  if (is_commit_hash(req.revision) && !req.force_download && is_file(layout.pointer_path(req.revision, req.filename))) {
    out.path = layout.pointer_path(req.revision, req.filename);
    out.commit = req.revision;
    progress.cached(req.filename, 0);
    return out;
  }
  // Offline or local_files_only: the cache or nothing, without a socket (docs/hub-protocol.md#download-file step 3,
  // docs/conformance-vectors.md 10).
  if (const NetworkUse net = network_use(options, req.local_files_only); net != NetworkUse::Allowed) {
    HUBCACHE_TRY_ASSIGN(auto found,
                        try_to_load_from_cache(req.repo_id, req.filename, {req.revision, req.repo_type, options.cache_dir}));
    if (found.kind == CacheLookup::Kind::Found) {
      out.path = found.path;
      out.commit = found.commit;
      progress.cached(req.filename, 0);
      return out;
    }
    if (found.kind == CacheLookup::Kind::NoExist)
      return fail(Error{ErrorCode::EntryNotFound,
                        "File not found in " + describe(repo) + ": '" + req.filename + "' is recorded as absent at commit " +
                            found.commit + " (.no_exist).",
                        {},
                        std::nullopt,
                        {req.filename}});
    return fail(with_cache_remedy(with_missing(Error{ErrorCode::LocalEntryNotFound,
                                                     "Local entry not found. '" + req.filename + "' of " + describe(repo) +
                                                         " at revision '" + req.revision + "' is not in the cache '" +
                                                         options.cache_dir + "' and " + traffic_disabled(net) + found.hint,
                                                     {}},
                                               req.filename),
                                  CachedCommitsHint{found.hint, found.cached_commit}, Remedy::UseNetwork));
  }

  // Step 3: metadata.
  auto meta = api().file_metadata(repo, req.revision, req.filename, hub::Attempt::First);
  if (!meta) {
    Error err = std::move(meta).error();
    if (err.code == ErrorCode::EntryNotFound) {
      // Record the absence (and the ref) so offline loaders skip it; no cache fallback (docs/cache-format.md#no-exist).
      // Failures to write the marker are ignored, like PY.
      if (err.http && is_commit_hash(err.http->repo_commit)) {
        const std::string& commit = err.http->repo_commit;
        if (init_repo_folder(layout)) {
          (void)write_no_exist(layout, commit, req.filename);
          if (req.revision != commit) (void)write_ref(layout, req.revision, commit);
        }
      }
      err.missing.push_back(req.filename);
      return fail(std::move(err));
    }
    if (err.code == ErrorCode::RevisionNotFound || http::is_proxy_error(err) || err.code == ErrorCode::Cancelled)
      return fail(std::move(err));
    // Step 4: fall back to the cache.
    if (!req.force_download) {
      if (auto commit = resolve_commit(layout, req.revision); commit && commit->has_value()) {
        const std::string pointer = layout.pointer_path(**commit, req.filename);
        auto real_folder = check_snapshot_folder(layout, **commit);  // never through a symlinked folder
        if (!real_folder) return fail(std::move(real_folder).error());
        if (*real_folder && is_file(pointer)) {
          out.path = pointer;
          out.commit = **commit;
          out.warnings.push_back("Could not reach the Hub (" + err.message.substr(0, err.message.find('\n')) +
                                 "); using the cached copy.");
          progress.cached(req.filename, 0);
          return out;
        }
      }
      if (err.is_transient()) {
        meta = api().file_metadata(repo, req.revision, req.filename, hub::Attempt::Second);
        if (!meta) err = std::move(meta).error();
      }
    }
    if (!meta) {
      if (req.force_download) return fail(Error{err.code, "force download failed: " + err.message, {}, err.http, {req.filename}});
      if (is_typed_hub_error(err)) return fail(std::move(err));
      return fail(with_missing(
          hub_unusable(err, "'" + req.filename + "' of " + describe(repo), "it is not in the local cache", options.endpoint),
          req.filename));
    }
  }

  // Step 5-8.
  const auto& m = *meta;
  out.commit = m.commit;
  out.etag = m.etag;
  out.size = m.size;
  out.path = layout.pointer_path(m.commit, req.filename);
  auto update_ref = [&] {
    if (req.revision != m.commit) {
      if (auto w = write_ref(layout, req.revision, m.commit); !w) out.warnings.push_back(w.error().message);
    }
  };
  HUBCACHE_TRY(check_snapshot_folder(layout, m.commit));  // a symlinked folder is refused, not followed
  if (!req.force_download && is_file(out.path)) {
    update_ref();
    progress.cached(req.filename, m.size);
    return out;
  }
  HUBCACHE_TRY(init_repo_folder(layout));
  (void)ensure_cachedir_tag(layout.cache_dir());  // best effort, like PY
  update_ref();
  // The GET goes to the HEAD's Location first; when that pre-signed URL is refused (expired,
  // docs/hub-protocol.md#redirects) the engine returns to the resolve URL at the commit, whose redirect signs a new one.
  const BlobFetch f = fetch_for(repo, req.revision, req.filename, m, req.force_download);
  progress.plan(1, m.size);
  PublishBatch batch;
  auto got = fetch_to_cache(layout, f, progress, batch);
  if (!got) return fail(std::move(got).error());
  HUBCACHE_TRY(batch.flush(layout));
  out.transferred = *got > 0;
  return out;
}

}  // namespace hubcache

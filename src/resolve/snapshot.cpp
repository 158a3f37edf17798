// snapshot_download (docs/hub-protocol.md#snapshot-download), into the cache or a local dir, with the offline fallback
// (docs/hub-protocol.md#offline-snapshot).
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <semaphore>
#include <unordered_set>
#include <set>
#include <nlohmann/json.hpp>

#include "hubcache/cache/local_dir.hpp"
#include "download_impl.hpp"
#include "hubcache/cache/folders.hpp"
#include "hubcache/resolve/offline.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"
#include "hubcache/util/parallel.hpp"
#include "hubcache/util/pattern.hpp"

namespace hubcache {
namespace {

using fs::is_file;

bool non_empty_dir(const std::string& p) {
  std::error_code ec;
  return std::filesystem::is_directory(p, ec) && !std::filesystem::is_empty(p, ec);
}

// Consumes the listing entry by entry, so a large repo's tree is not held twice.
std::vector<TreeFileEntry> to_tree_entries(std::vector<hub::TreeEntry>&& listing) {
  std::vector<TreeFileEntry> out;
  out.reserve(listing.size());
  for (auto& e : listing) {
    if (e.type != "file") continue;
    TreeFileEntry t;
    t.path = std::move(e.path);
    t.size = e.size;
    t.blob_id = std::move(e.oid);
    if (e.lfs) {
      t.lfs_sha256 = std::move(e.lfs->oid);
      t.lfs_size = e.lfs->size;
    }
    t.xet_hash = std::move(e.xet_hash);
    out.push_back(std::move(t));
  }
  std::vector<hub::TreeEntry>().swap(listing);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

}  // namespace

std::optional<std::string> read_small_file(const std::string& path) {
  if (!is_file(path)) return std::nullopt;
  auto text = fs::read_file(path, 64u << 20);
  return text ? std::optional<std::string>(std::move(*text)) : std::nullopt;
}

Result<std::optional<std::set<std::string>>> target_files(const SnapshotRequest& req, const PathFilter& filter,
                                                          const std::vector<model::RepoFile>& listing, const std::string& what,
                                                          std::vector<model::LeftOut>& left_out,
                                                          std::vector<std::string>& warnings, const model::ReadRepoText& read) {
  if (!req.target) return std::optional<std::set<std::string>>();
  auto selection = model::select_for(*req.target, listing, read);
  if (!selection) {
    Error e = std::move(selection).error();
    e.message = "--for " + req.target->to_string() + ": " + what + ": " + e.message;
    return fail(std::move(e));
  }
  for (auto& l : selection->left_out)
    if (filter.selects(l.path)) left_out.push_back(std::move(l));
  for (auto& w : selection->warnings) warnings.push_back(std::move(w));
  std::string weights;
  bool kept = false;
  for (const auto& f : selection->files)
    if (model::weight_format_of(f) != model::WeightFormat::Other) {
      if (filter.selects(f)) kept = true;
      weights += (weights.empty() ? "" : ", ") + f;
    }
  if (!weights.empty() && !kept)
    warnings.push_back("no weights will be downloaded: the include/exclude patterns leave out every weight file the target " +
                       req.target->to_string() + " chose (" + weights + ")");
  return std::optional<std::set<std::string>>(std::set<std::string>(selection->files.begin(), selection->files.end()));
}

Result<SnapshotResult> Downloader::Impl::snapshot(const SnapshotRequest& req, ProgressTracker& progress) {
  const RepoRef repo{req.repo_type, req.repo_id};
  const RepoLayout layout(options.cache_dir, repo);
  const PathFilter filter = PathFilter::make(req.allow_patterns, req.ignore_patterns);
  const bool local = req.local_dir.has_value();
  const std::string local_dir = local ? fs::absolute_real(*req.local_dir) : "";
  SnapshotResult out;
  const NetworkUse net = network_use(options, req.local_files_only);

  // docs/hub-protocol.md#offline-snapshot: the Hub is not used or not reachable.
  auto from_cache = [&](const std::optional<Error>& cause) -> Result<SnapshotResult> {
    if (req.dry_run)
      return fail(cause ? *cause
                        : Error{ErrorCode::Offline,
                                "a dry run needs the Hub to list the repo, but " + no_network_reason(net) + " is on.",
                                {},
                                {},
                                {}}
                              .with_remedy(Remedy::UseNetwork));
    if (local) {
      if (non_empty_dir(local_dir)) {
        out.path = local_dir;
        out.from_cache_only = true;
        out.warnings.push_back(
            "Using the existing local dir '" + local_dir + "' without checking the Hub" +
            (cause ? " (" + cause->message.substr(0, cause->message.find('\n')) + ")" : " (" + no_network_reason(net) + ")"));
        return out;
      }
    } else {
      SnapshotLookupOptions so;
      so.revision = req.revision;
      so.repo_type = req.repo_type;
      so.cache_dir = options.cache_dir;
      so.filter = filter;
      // A target decides on the whole tree of the cached commit (trees/<commit>.json) when it is
      // recorded, else on the files present; only the files it keeps must be there.
      std::optional<std::set<std::string>> wanted;
      std::vector<std::string> target_warnings;
      out.left_out.clear();  // this lambda may run twice (a retried repo info)
      if (req.target) {
        SnapshotLookupOptions none = so;
        none.filter = PathFilter::make(std::vector<std::string>{}, {});
        if (auto base = resolve_snapshot(req.repo_id, none)) {
          std::vector<model::RepoFile> listing;
          if (auto tree = read_tree_file(layout, base->commit); tree && tree->has_value()) {
            for (const auto& e : **tree) listing.push_back({e.path, e.size});
          } else {
            SnapshotLookupOptions present = so;
            present.filter = PathFilter{};
            if (auto p = resolve_snapshot(req.repo_id, present))
              for (const auto& f : p->files) listing.push_back({f, 0});
          }
          HUBCACHE_TRY_ASSIGN(
              wanted, target_files(req, filter, listing, describe(repo) + " at " + base->commit, out.left_out, target_warnings,
                                   [&](const std::string& path) { return read_small_file(base->snapshot_dir + "/" + path); }));
          for (const auto& f : *wanted)
            if (filter.selects(f)) so.filenames.push_back(f);
          if (so.filenames.empty()) so.filter = none.filter;
        }
      }
      auto found = resolve_snapshot(req.repo_id, so);
      if (found) {
        out.path = found->snapshot_dir;
        out.commit = found->commit;
        out.from_cache_only = true;
        for (const auto& f : found->files)
          if (!wanted || wanted->count(f)) out.files.push_back(PlannedFile{f, 0, {}, true});
        out.warnings = found->warnings;
        out.warnings.insert(out.warnings.end(), target_warnings.begin(), target_warnings.end());
        if (cause)
          out.warnings.push_back("Could not reach the Hub (" + cause->message.substr(0, cause->message.find('\n')) +
                                 "); using the cached snapshot.");
        return out;
      }
      // What the cache says is wrong with it (files missing, a symlinked folder) is the answer.
      if (found.error().code == ErrorCode::IncompleteSnapshot || found.error().code == ErrorCode::CacheCorrupted)
        return fail(std::move(found).error());
    }
    const std::string where = local ? "in the local dir '" + local_dir + "'" : "in the cache '" + options.cache_dir + "'";
    if (!cause) {
      const auto other = local ? CachedCommitsHint{} : cached_commits_hint(repo, req.revision, options.cache_dir);
      return fail(with_cache_remedy(Error{ErrorCode::LocalEntryNotFound,
                                          "Local entry not found. No snapshot of " + describe(repo) + " at revision '" +
                                              req.revision + "' " + where + ", and " + traffic_disabled(net) + other.text,
                                          {}},
                                    other, Remedy::UseNetwork));
    }
    return fail(hub_unusable(*cause, "the files of " + describe(repo), "no snapshot is " + where, options.endpoint));
  };
  if (net != NetworkUse::Allowed) return from_cache(std::nullopt);

  // 1. The commit.
  std::string commit;
  if (is_commit_hash(req.revision)) {
    commit = req.revision;
  } else {
    auto info = api().repo_info(repo, req.revision, hub::Attempt::First);
    if (!info) {
      Error err = std::move(info).error();
      if (err.code == ErrorCode::RevisionNotFound || http::is_proxy_error(err) || err.code == ErrorCode::Cancelled)
        return fail(std::move(err));
      auto cached = from_cache(err);
      if (cached || !err.is_transient() || cached.error().code == ErrorCode::IncompleteSnapshot ||
          cached.error().code == ErrorCode::CacheCorrupted)
        return cached;
      info = api().repo_info(repo, req.revision, hub::Attempt::Second);
      if (!info) return from_cache(std::move(info).error());
    }
    commit = info->sha;
  }
  out.commit = commit;

  // 2. The tree: from trees/<commit>.json when valid, else listed at the commit.
  std::vector<TreeFileEntry> entries;
  bool listed = false;
  if (auto cached_tree = read_tree_file(layout, commit); cached_tree && cached_tree->has_value()) {
    entries = std::move(**cached_tree);
  } else {
    if (!cached_tree) out.warnings.push_back(cached_tree.error().message);
    auto tree = api().list_tree(repo, commit, "", true);
    if (!tree) {
      Error err = std::move(tree).error();
      if (err.code == ErrorCode::RevisionNotFound || err.code == ErrorCode::Cancelled) return fail(std::move(err));
      return from_cache(err);
    }
    entries = to_tree_entries(std::move(*tree));
    listed = true;
  }
  // Every server-provided name and ETag is checked before anything is written (docs/hub-protocol.md#identifiers,
  // docs/conformance-vectors.md 39).
  for (const auto& e : entries) {
    if (auto v = validate_repo_path(e.path); !v)
      return fail(ErrorCode::InvalidPath, "the file listing of " + describe(repo) + " at " + commit +
                                              " contains an unsafe name: " + v.error().message +
                                              ". Refusing the snapshot; nothing was written.");
    if (auto v = validate_etag(e.etag()); !v)
      return fail(ErrorCode::Integrity, "the file listing of " + describe(repo) + " gives '" + e.path + "' an unsafe ETag: " +
                                            v.error().message + ". Refusing the snapshot; nothing was written.");
  }
  out.repo_files = entries.size();
  // with_base needs the repo's adapter_config.json: without it, fail before anything is written.
  if (req.with_base &&
      std::none_of(entries.begin(), entries.end(), [](const TreeFileEntry& e) { return e.path == "adapter_config.json"; }))
    return fail(not_an_adapter(req.repo_id));

  // 3. Filter and plan.
  std::vector<const TreeFileEntry*> selected;
  std::uint64_t bytes_to_get = 0;
  std::size_t files_to_get = 0;
  // One listing of blobs/ instead of a stat per file, and no pointer stats in a snapshot that
  // does not exist yet: a fresh 2,000-file snapshot plans without 4,000 failing stats.
  // A symlinked repo folder, snapshots/ or snapshot is refused here (cache/folders.hpp), not followed.
  bool have_snapshot = false;
  if (!local) {
    HUBCACHE_TRY_ASSIGN(have_snapshot, check_snapshot_folder(layout, commit));
  }
  std::unordered_set<std::string> blob_names;
  if (!local && !req.force_download) {
    std::error_code ec;
    for (const auto& b : std::filesystem::directory_iterator(layout.blobs_dir(), ec))
      blob_names.insert(b.path().filename().string());
  }
  // The target is chosen on the whole listing; a file must pass both it and the patterns.
  std::vector<model::RepoFile> listing;
  if (req.target) {
    listing.reserve(entries.size());
    for (const auto& e : entries) listing.push_back({e.path, e.size});
  }
  out.left_out.clear();  // an offline attempt before a retried repo info may have filled it
  HUBCACHE_TRY_ASSIGN(const auto wanted, target_files(req, filter, listing, describe(repo) + " at " + commit, out.left_out,
                                                      out.warnings, [&](const std::string& path) {
                                                        // The cached copy, else the Hub's (nothing written); unreadable: by
                                                        // names.
                                                        auto cached = local ? std::nullopt
                                                                            : read_small_file(layout.pointer_path(commit, path));
                                                        if (cached) return cached;
                                                        auto got = api().file_text(repo, commit, path);
                                                        return got ? std::optional<std::string>(std::move(*got)) : std::nullopt;
                                                      }));
  for (const auto& e : entries) {
    if (!filter.selects(e.path) || (wanted && !wanted->count(e.path))) continue;
    selected.push_back(&e);
    bool cached;
    if (local) {
      cached = !req.force_download && is_file(local_dir + "/" + e.path);
    } else {
      cached = !req.force_download && ((have_snapshot && is_file(layout.pointer_path(commit, e.path))) ||
                                       (blob_names.count(e.etag()) > 0 && is_file(layout.blob_path(e.etag()))));
    }
    out.files.push_back(PlannedFile{e.path, e.size, e.etag(), cached});
    if (!cached) {
      bytes_to_get += e.size;
      ++files_to_get;
    }
  }
  out.path = local ? local_dir : layout.snapshot_dir(commit);
  if (req.dry_run) return out;

  // 4. Tree file and ref.
  if (local) {
    HUBCACHE_TRY(prepare_local_dir(local_dir));
    // trees/<commit>.json below <LOCAL>/.cache/huggingface (docs/cache-format.md#trees); best effort, like the cache's,
    // and never through a symlinked trees/ folder.
    if (auto trees = open_dir_beneath(local_dir, std::string(k_local_meta_dir) + "/trees", ""); trees)
      (void)write_tree_file_in(LocalDirLayout(local_dir).trees_dir(), commit, entries);
    else
      out.warnings.push_back(trees.error().message);
  } else {
    HUBCACHE_TRY(init_repo_folder(layout));
    if (listed) {
      if (auto w = write_tree_file(layout, commit, entries); !w) out.warnings.push_back(w.error().message);
    }
    if (req.revision != commit) {
      if (auto w = write_ref(layout, req.revision, commit); !w) out.warnings.push_back(w.error().message);
    }
  }

  // 5. Free space for the whole plan before the first byte (each transfer checks again for itself).
  if (bytes_to_get > 0) {
    const std::string dir = local ? local_dir : layout.blobs_dir();
    const auto& space_fn = seams.free_space_fn;
    auto free = space_fn ? space_fn(dir) : fs::free_space(dir);
    if (free && *free < bytes_to_get)
      return fail(Error{ErrorCode::DiskFull,
                        "not enough free space in '" + dir + "' for " + std::to_string(files_to_get) + " files of " +
                            describe(repo) + ": " + std::to_string(bytes_to_get) + " bytes needed (" +
                            format_size(static_cast<double>(bytes_to_get)) + "B), " + std::to_string(*free) + " available (" +
                            format_size(static_cast<double>(*free)) + "B). Free some space and retry; nothing was downloaded.",
                        dir}
                      .with_remedy(Remedy::FreeSpace));
  }

  // 6. Files. The tree gives each file's ETag and size, so no HEAD. Small files are kept in
  // flight without a thread each (parallel_pipeline over the engine's start/finish): max_workers
  // at a time, or with 0 as many as latency calls for (InFlightLimit over small files' transfer
  // times). A large file takes a thread of its own, k_auto_workers of them at most when adapting.
  if (!local) (void)ensure_cachedir_tag(layout.cache_dir());  // best effort, like PY
  std::set<std::string> to_fetch;
  for (const auto& f : out.files)
    if (!f.cached) to_fetch.insert(f.path);
  progress.plan(selected.size(), bytes_to_get, std::move(to_fetch), out.left_out, req.repo_id);
  std::mutex errors_mutex;
  std::vector<Error> errors;
  std::atomic<std::uint64_t> transferred{0};
  std::vector<std::string> warnings;
  PublishBatch batch;
  batch.set_deferred(!local);
  const bool adaptive = options.max_workers == 0;
  InFlightLimit in_flight(adaptive ? k_auto_workers_start : options.max_workers,
                          adaptive ? k_auto_workers_max : options.max_workers);
  std::counting_semaphore<k_auto_workers_max> large_slots(k_auto_workers);
  auto record = [&](Result<std::uint64_t> r, std::vector<std::string>& w) {
    std::lock_guard lock(errors_mutex);
    for (auto& x : w) warnings.push_back(std::move(x));
    if (r)
      transferred += *r;
    else
      errors.push_back(std::move(r).error());
  };
  const unsigned threads = adaptive ? k_auto_worker_threads : options.max_workers;
  parallel_pipeline(
      selected.size(), threads, [&] { return in_flight.limit(); },
      [&](std::size_t i, bool alone) {
        {
          std::lock_guard lock(errors_mutex);
          if (!errors.empty() || options.cancel->cancelled()) return PipelineStep::done();
        }
        const TreeFileEntry& e = *selected[i];
        if (!local && out.files[i].cached && is_file(layout.pointer_path(commit, e.path))) {  // planned cached: confirm
          progress.cached(e.path, e.size);
          return PipelineStep::done();
        }
        BlobFetch f{
            commit, e.path,     e.etag(), e.size, hub::resolve_url(options.endpoint, repo, commit, e.path), req.force_download,
            {},     e.xet_hash, {}};
        // A listing's xetHash leads to the token route at the commit, as huggingface_hub builds
        // it from a cached tree (_xet_file_metadata_from_tree_cache).
        if (e.xet_hash && is_lower_hex(*e.xet_hash, 64) && e.lfs_sha256)
          f.xet_route = hub::xet_token_url(options.endpoint, repo, commit);
        // A listing without xetHash (a mirror that has not chunked the file yet) leaves the file's
        // own resolve answer to tell, as huggingface_hub reads it from its per-file HEAD: one HEAD
        // for an LFS file of 1 MiB or more, whose transfer it may shrink to the changed chunks.
        else if (options.xet != XetMode::Off && e.lfs_sha256 && e.size >= k_small_file && !req.force_download) {
          auto m = api().file_metadata(repo, commit, e.path);
          if (m && m->xet && m->xet_hash && m->etag == e.etag() && m->size == e.size) {
            f.xet_hash = m->xet_hash;
            f.xet_route = m->xet->refresh_route;
          }
          // The same answer's redirect target (the CDN) is where the bytes are: going there
          // directly saves the resolve round trip, as hf_hub_download downloads from its HEAD's
          // location. The engine returns to the resolve URL if that signed URL is refused.
          if (m && m->etag == e.etag() && m->size == e.size && m->location != f.url) f.location = m->location;
        }
        std::vector<std::string> w;
        if (e.size >= k_small_file) {
          if (!alone) return PipelineStep::needs_alone();
          if (adaptive) large_slots.acquire();
          auto r = local ? fetch_to_local_dir(local_dir, repo, f, progress, w) : fetch_to_cache(layout, f, progress, batch);
          if (adaptive) large_slots.release();
          record(std::move(r), w);
          return PipelineStep::done();
        }
        const unsigned epoch = in_flight.epoch();
        auto begun = local ? begin_fetch_to_local_dir(local_dir, repo, f, progress, alone)
                           : begin_fetch_to_cache(layout, f, progress, batch, alone);
        if (!begun) {
          record(fail(std::move(begun).error()), w);
          return PipelineStep::done();
        }
        if (!*begun) return PipelineStep::needs_alone();  // its lock is held: wait for it holding nothing
        auto pending = std::make_shared<PendingFetch>(std::move(**begun));
        return PipelineStep::started([&, pending, epoch] {
          std::vector<std::string> w2;
          auto done = finish_fetch(std::move(*pending), w2);
          // Only files that crossed the network tell how long a round trip is.
          if (done && done->downloaded > 0) in_flight.sample(epoch, done->elapsed);
          record(done ? Result<std::uint64_t>(done->downloaded) : Result<std::uint64_t>(fail(std::move(done).error())), w2);
        });
      });
  for (auto& w : warnings) out.warnings.push_back(std::move(w));
  out.bytes_transferred = transferred.load();
  if (!local) {
    if (auto d = batch.drain(); !d) errors.push_back(std::move(d).error());
    // Published blobs stay valid even if the snapshot failed: make their renames durable anyway.
    if (auto s = batch.flush(layout); !s && errors.empty()) errors.push_back(std::move(s).error());
  }
  if (!errors.empty()) {
    Error e = errors.front();
    // The Hub's verdict (gated, not found, token refused, ...) reads as in the single-file path.
    if (!is_typed_hub_error(e)) e.message = "snapshot of " + describe(repo) + " at " + commit + " is incomplete: " + e.message;
    return fail(std::move(e));
  }
  if (options.cancel->cancelled()) return fail(ErrorCode::Cancelled, "snapshot download of " + describe(repo) + " cancelled");
  return out;
}

}  // namespace hubcache

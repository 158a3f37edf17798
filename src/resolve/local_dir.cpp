// --local-dir mode (docs/cache-format.md#local-dir): real files under <LOCAL>, metadata under <LOCAL>/.cache/huggingface.
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>

#include "download_impl.hpp"
#include "hubcache/cache/local_dir.hpp"
#include "hubcache/resolve/offline.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache {
namespace {

using fs::is_file;

double now_seconds() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::optional<LocalDownloadFileMetadata> read_metadata(const LocalDirLayout& local, const std::string& path) {
  const std::string meta_path = local.metadata_path(path);
  auto text = fs::read_file(meta_path, 4096);
  if (!text) return std::nullopt;
  auto m = parse_local_metadata(*text);
  if (!m) {
    ::unlink(meta_path.c_str());  // corrupt: deleted, like PY (docs/cache-format.md#local-dir)
    return std::nullopt;
  }
  struct stat st {};
  const std::string target = local.root() + "/" + path;
  if (::stat(target.c_str(), &st) != 0) return std::nullopt;
  const double mtime = static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9;
  if (!local_metadata_is_current(*m, mtime)) return std::nullopt;
  return m;
}

// The folders one file's writes go to, reached without following any symlink inside the local
// dir: <LOCAL>/<dir> for the file, <LOCAL>/.cache/huggingface/download/<dir> for its lock,
// metadata and temp files. Every name written there is checked not to be a symlink.
struct LocalTarget {
  fs::Fd data_dir;
  fs::Fd meta_dir;
  std::string name;         // the file's name in data_dir
  std::string target;       // <LOCAL>/<path>, for messages
  std::string meta_prefix;  // <LOCAL>/.cache/huggingface/download/<dir>/, for messages
};

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

Result<LocalTarget> open_local_target(const std::string& local_dir, const BlobFetch& f) {
  const std::string dir = fs::parent(f.path);
  LocalTarget t;
  t.name = base_name(f.path);
  t.target = local_dir + "/" + f.path;
  const LocalDirLayout local(local_dir);
  t.meta_prefix = local.download_dir() + "/" + (dir.empty() ? "" : dir + "/");
  HUBCACHE_TRY_ASSIGN(t.meta_dir, open_dir_beneath(local_dir, std::string(k_local_download_dir) + "/" + dir, f.path));
  HUBCACHE_TRY_ASSIGN(t.data_dir, open_dir_beneath(local_dir, dir, f.path));
  HUBCACHE_TRY(refuse_symlink_at(t.data_dir, t.name, t.target, local_dir, f.path));
  // The engine opens its temp files by path: none of them may be a planted link.
  const std::string temp = base_name(local.temp_path(f.path, f.etag));
  const std::string stem = temp.substr(0, temp.size() - std::string(".incomplete").size());
  for (const std::string& n :
       {temp, temp + ".copy", stem + std::string(k_parts_incomplete_suffix), stem + std::string(k_parts_state_suffix),
        t.name + std::string(k_local_metadata_suffix), t.name + std::string(k_local_lock_suffix)})
    HUBCACHE_TRY(refuse_symlink_at(t.meta_dir, n, t.meta_prefix + n, local_dir, f.path));
  return t;
}

Result<void> write_metadata(const LocalTarget& t, const std::string& commit, const std::string& etag) {
  const std::string name = t.name + std::string(k_local_metadata_suffix);
  return write_file_at(t.meta_dir, name, format_local_metadata({commit, etag, now_seconds()}), t.meta_prefix + name);
}

}  // namespace

Result<void> prepare_local_dir(const std::string& local_dir) {
  const std::string meta = LocalDirLayout(local_dir).meta_dir();
  HUBCACHE_TRY(open_dir_beneath(local_dir, std::string(k_local_meta_dir), ""));
  const std::string gitignore = meta + "/.gitignore";
  if (!is_file(gitignore)) {
    auto lock = FileLock::acquire(meta + "/.gitignore.lock", std::chrono::milliseconds(100));
    if (!is_file(gitignore)) (void)fs::create_file_exclusive(gitignore, "*", 0644);
  }
  (void)ensure_cachedir_tag(meta);
  return {};
}

Result<std::uint64_t> Downloader::Impl::fetch_to_local_dir(const std::string& local_dir, const RepoRef& repo, const BlobFetch& f,
                                                           ProgressTracker& progress, std::vector<std::string>& warnings) {
  HUBCACHE_TRY_ASSIGN(std::optional<PendingFetch> begun, begin_fetch_to_local_dir(local_dir, repo, f, progress, true));
  HUBCACHE_TRY_ASSIGN(auto done, finish_fetch(std::move(begun).value(), warnings));
  return done.downloaded;
}

Result<std::optional<PendingFetch>> Downloader::Impl::begin_fetch_to_local_dir(const std::string& local_dir, const RepoRef& repo,
                                                                               const BlobFetch& f, ProgressTracker& progress,
                                                                               bool may_wait) {
  HUBCACHE_TRY(validate_repo_path(f.path));
  HUBCACHE_TRY(validate_etag(f.etag));
  const std::string target = local_dir + "/" + f.path;
  if (!fs::is_within(local_dir, target))
    return fail(ErrorCode::InvalidPath, "refusing to write outside '" + local_dir + "': " + f.path);
  const LocalDirLayout local(local_dir);
  auto t = std::make_shared<LocalTarget>();
  HUBCACHE_TRY_ASSIGN(*t, open_local_target(local_dir, f));
  FileLock lock;
  if (may_wait) {
    HUBCACHE_TRY_ASSIGN(lock, FileLock::acquire(local.lock_path(f.path)));
  } else {
    HUBCACHE_TRY_ASSIGN(lock, FileLock::try_acquire(local.lock_path(f.path)));
    if (!lock.held()) return std::optional<PendingFetch>{};
  }
  PendingFetch pending;
  pending.repo = repo;
  if (!f.force && is_file(target)) {
    // Step 3: the recorded ETag matches; step 4: an LFS file whose content hashes to the ETag.
    auto meta = read_metadata(local, f.path);
    bool same = meta && meta->etag == f.etag;
    if (!same && digest_kind_of(f.etag) == DigestKind::Sha256) {
      auto h = hash_file(target, HashWhat::Sha256);
      same = h && h->sha256 == f.etag;
    }
    if (same) {
      HUBCACHE_TRY(write_metadata(*t, f.commit, f.etag));
      progress.cached(f.path, f.size);
      return std::optional<PendingFetch>(std::move(pending));
    }
  }
  // Step 5: the bytes are in the main cache: copy them, no transfer.
  if (!f.force && !options.cache_dir.empty()) {
    const RepoLayout layout(options.cache_dir, repo);
    std::string source;
    if (is_file(layout.pointer_path(f.commit, f.path)))
      source = layout.pointer_path(f.commit, f.path);
    else if (is_file(layout.blob_path(f.etag)))
      source = layout.blob_path(f.etag);
    if (!source.empty()) {
      const std::string tmp = base_name(local.temp_path(f.path, f.etag)) + ".copy";
      HUBCACHE_TRY(copy_file_at(source, t->meta_dir, tmp, t->meta_prefix + tmp));
      HUBCACHE_TRY(publish_at(t->meta_dir, tmp, t->data_dir, t->name, target));
      HUBCACHE_TRY(write_metadata(*t, f.commit, f.etag));
      progress.cached(f.path, f.size);
      return std::optional<PendingFetch>(std::move(pending));
    }
  }
  // Step 6: download next to the metadata, then move into place. Over Xet when the file has Xet
  // data (as huggingface_hub with hf_xet does): the same split files, so a fallback to the plain
  // path resumes what Xet wrote. No record or shared-store publish: a local dir has no repo
  // layout; the main cache's records still lend their chunks.
  progress.start(f.path, f.size);
  const std::string temp = local.temp_path(f.path, f.etag);
  const std::string parts_base = temp.substr(0, temp.size() - std::string(".incomplete").size());
  HUBCACHE_TRY_ASSIGN(std::optional<XetFetched> over_xet, fetch_xet_file(repo, f, parts_base, progress));
  if (over_xet) {
    pending.fetched = std::move(over_xet->outcome);
  } else {
    HUBCACHE_TRY_ASSIGN(auto started, engine().start(make_job(f, temp, parts_base, progress)));
    pending.transfer.emplace(std::move(started));
  }
  auto held = std::make_shared<FileLock>(std::move(lock));
  pending.then = [t, held, f, target, &progress](const transfer::Outcome& outcome,
                                                 std::vector<std::string>& warnings) -> Result<std::uint64_t> {
    // Renamed from the folder the walk opened: if that folder was swapped meanwhile, the name is
    // not found there and nothing is published.
    HUBCACHE_TRY(publish_at(t->meta_dir, base_name(outcome.path), t->data_dir, t->name, target));
    HUBCACHE_TRY(write_metadata(*t, f.commit, f.etag));
    if (!outcome.verified) warnings.push_back("'" + f.path + "' has a non-hex ETag; only its size was checked");
    progress.done(f.path, f.size, outcome.downloaded, outcome.reused);
    return outcome.downloaded;
  };
  return std::optional<PendingFetch>(std::move(pending));
}

Result<FileResult> Downloader::Impl::file_to_local_dir(const FileRequest& req, ProgressTracker& progress) {
  const RepoRef repo{req.repo_type, req.repo_id};
  const std::string local_dir = fs::absolute_real(*req.local_dir);
  const std::string target = local_dir + "/" + req.filename;
  FileResult out;
  out.path = target;
  // Step 1: a commit revision already recorded for this file: 0 requests.
  if (!req.force_download && is_commit_hash(req.revision) && is_file(target)) {
    if (auto m = read_metadata(LocalDirLayout(local_dir), req.filename); m && m->commit == req.revision) {
      out.commit = m->commit;
      out.etag = m->etag;
      progress.cached(req.filename, 0);
      return out;
    }
  }
  if (const NetworkUse net = network_use(options, req.local_files_only); net != NetworkUse::Allowed) {
    if (is_file(target)) {
      out.warnings.push_back(no_network_reason(net) + ": returning the existing local file without checking for updates");
      return out;
    }
    return fail(Error{ErrorCode::LocalEntryNotFound,
                      "Local entry not found. '" + req.filename + "' is not in '" + local_dir + "' and " + traffic_disabled(net),
                      target,
                      std::nullopt,
                      {req.filename}});
  }
  // Step 2: metadata.
  auto meta = api().file_metadata(repo, req.revision, req.filename, hub::Attempt::First);
  if (!meta) {
    Error err = std::move(meta).error();
    if (err.code == ErrorCode::EntryNotFound || err.code == ErrorCode::RevisionNotFound || err.code == ErrorCode::Cancelled)
      return fail(std::move(err));
    if (is_file(target)) {
      out.warnings.push_back(
          "Couldn't access the Hub to check for update but local file already exists. Defaulting to existing file.");
      return out;
    }
    if (err.is_transient()) meta = api().file_metadata(repo, req.revision, req.filename, hub::Attempt::Second);
    if (!meta) return fail(std::move(meta).error());
  }
  out.commit = meta->commit;
  out.etag = meta->etag;
  out.size = meta->size;
  progress.plan(1, meta->size);
  const BlobFetch f = fetch_for(repo, req.revision, req.filename, *meta, req.force_download);
  HUBCACHE_TRY(prepare_local_dir(local_dir));
  HUBCACHE_TRY_ASSIGN(auto got, fetch_to_local_dir(local_dir, repo, f, progress, out.warnings));
  out.transferred = got > 0;
  return out;
}

}  // namespace hubcache

// `hubcache lock` (a lockfile from the Hub's listings) and `hubcache sync` (the cache made to
// hold what a lock names, downloading only what it lacks).
#include "hubcache/resolve/lock_sync.hpp"

#include <sys/stat.h>

#include <map>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/http/http.hpp"
#include "hubcache/util/pattern.hpp"

namespace hubcache {
namespace {

// An fnmatch pattern that matches exactly `path` ('*', '?' and '[' as themselves).
std::string exact_pattern(const std::string& path) {
  std::string out;
  for (const char c : path) {
    if (c == '*' || c == '?' || c == '[') {
      out += '[';
      out += c;
      out += ']';
    } else {
      out += c;
    }
  }
  return out;
}

std::string describe(const lock::LockedRepo& r) { return std::string(to_string(r.repo.type)) + " " + r.repo.id; }

}  // namespace

Result<lock::LockedRepo> lock_repo(const DownloadOptions& options, const LockRequest& request) {
  if (options.offline)
    return fail(ErrorCode::LocalEntryNotFound,
                "cannot lock " + request.repo.id + " offline (HF_HUB_OFFLINE is set): a lock records what the Hub lists now");
  hub::HubApi api(options.hub_options(), std::make_shared<http::Client>(options.transport));
  HUBCACHE_TRY_ASSIGN(auto info, api.repo_info(request.repo, request.revision, hub::Attempt::Second));
  HUBCACHE_TRY_ASSIGN(auto entries, api.list_tree(request.repo, info.sha, "", true));
  const PathFilter filter = PathFilter::make(
      request.include.empty() ? std::nullopt : std::optional<std::vector<std::string>>(request.include), request.exclude);
  lock::LockedRepo out;
  out.repo = request.repo;
  out.revision = request.revision;
  out.commit = info.sha;
  out.include = request.include;
  out.exclude = request.exclude;
  for (const auto& e : entries) {
    if (e.type != "file" || !filter.selects(e.path)) continue;
    lock::LockedFile f;
    f.path = e.path;
    f.git_oid = e.oid;
    f.size = e.lfs ? e.lfs->size : e.size;
    if (e.lfs) f.lfs_sha256 = e.lfs->oid;
    out.files.push_back(std::move(f));
  }
  lock::sort_files(out);
  return out;
}

Result<SyncReport> sync_lockfile(const DownloadOptions& options, const lock::Lockfile& lock, const SyncOptions& sync) {
  SyncReport report;
  HUBCACHE_TRY_ASSIGN(const auto before, lock::check_cache_against_lock(options.cache_dir, lock, sync.hash));
  report.files = before.files.size();
  // What each repo lacks: missing files (one snapshot_download of exactly those paths) and
  // mismatched ones (fetched again, replacing the blob).
  std::size_t at = 0;
  std::vector<std::string> lacking;
  for (const auto& repo : lock.repos) {
    std::vector<const lock::LockedFile*> missing, mismatched;
    for (const auto& f : repo.files) {
      const auto& c = before.files[at++];
      // A pointer that is there but leads nowhere usable (out of the cache, to a missing blob) is
      // replaced like a mismatched one: a snapshot download would take it as present.
      struct stat st {};
      const bool pointer_there =
          ::lstat((RepoLayout(options.cache_dir, repo.repo).snapshot_dir(repo.commit) + "/" + f.path).c_str(), &st) == 0;
      if (c.state == lock::FileCheck::State::Missing) (pointer_there ? mismatched : missing).push_back(&f);
      if (c.state == lock::FileCheck::State::Mismatched) mismatched.push_back(&f);
      if (c.state != lock::FileCheck::State::Ok) lacking.push_back(describe(repo) + ": " + f.path + " (" + c.why + ")");
    }
    report.already += repo.files.size() - missing.size() - mismatched.size();
    if (missing.empty() && mismatched.empty()) continue;
    if (options.offline) continue;  // reported below, every repo's files together
    report.offline = false;
    Downloader downloader(options);
    if (!missing.empty()) {
      SnapshotRequest s;
      s.repo_id = repo.repo.id;
      s.repo_type = repo.repo.type;
      s.revision = repo.commit;
      s.allow_patterns = std::vector<std::string>();
      for (const auto* f : missing) s.allow_patterns->push_back(exact_pattern(f->path));
      HUBCACHE_TRY_ASSIGN(auto got, downloader.snapshot_download(s));
      report.bytes_transferred += got.bytes_transferred;
      report.downloaded += missing.size();
    }
    for (const auto* f : mismatched) {
      FileRequest r;
      r.repo_id = repo.repo.id;
      r.repo_type = repo.repo.type;
      r.revision = repo.commit;
      r.filename = f->path;
      r.force_download = true;
      HUBCACHE_TRY_ASSIGN(auto got, downloader.download_file(r));
      if (got.transferred) report.bytes_transferred += got.size;
      ++report.downloaded;
    }
  }
  if (options.offline && !lacking.empty()) {
    std::string named;
    for (std::size_t i = 0; i < lacking.size() && i < 3; ++i) named += (i ? "; " : "") + lacking[i];
    if (lacking.size() > 3) named += "; and " + std::to_string(lacking.size() - 3) + " more";
    return fail(Error{ErrorCode::LocalEntryNotFound,
                      std::to_string(lacking.size()) +
                          " locked file(s) are not in the cache as locked, and HF_HUB_OFFLINE is set: run `hubcache sync` where "
                          "the Hub (or a mirror: HF_ENDPOINT) can be reached. " +
                          named,
                      options.cache_dir, std::nullopt, lacking});
  }

  // Refs: a branch or tag the cache lacks now names the locked commit.
  for (const auto& repo : lock.repos) {
    if (is_commit_hash(repo.revision)) continue;
    const RepoLayout layout(options.cache_dir, repo.repo);
    HUBCACHE_TRY_ASSIGN(auto current, read_ref(layout, repo.revision));
    if (current && *current == repo.commit) continue;
    if (current && !sync.set_refs) {
      report.warnings.push_back(describe(repo) + ": refs/" + repo.revision + " points to " + *current + ", the lock pins " +
                                repo.commit + "; load it with revision=\"" + repo.commit +
                                "\", or run `hubcache sync --set-refs` to move the ref");
      continue;
    }
    HUBCACHE_TRY(write_ref(layout, repo.revision, repo.commit));
    report.refs_written.push_back(repo.repo.id + ": refs/" + repo.revision + " -> " + repo.commit);
  }

  if (report.offline) return report;
  // What was fetched must be what the lock names: the endpoint may serve other bytes.
  HUBCACHE_TRY_ASSIGN(const auto after, lock::check_cache_against_lock(options.cache_dir, lock, true));
  std::vector<std::string> wrong, absent;
  for (const auto& c : after.files) {
    if (c.state == lock::FileCheck::State::Mismatched) wrong.push_back(c.repo.id + ": " + c.path + " (" + c.why + ")");
    if (c.state == lock::FileCheck::State::Missing) absent.push_back(c.repo.id + "@" + c.commit + ": " + c.path);
  }
  if (!absent.empty())
    return fail(Error{ErrorCode::EntryNotFound,
                      std::to_string(absent.size()) + " locked file(s) are not in the commit " + options.endpoint + " lists (" +
                          absent.front() + (absent.size() > 1 ? ", ..." : "") +
                          "): the lock names files that commit does not have; make it again with `hubcache lock`",
                      options.cache_dir, std::nullopt, absent});
  if (!wrong.empty())
    return fail(Error{ErrorCode::Integrity,
                      std::to_string(wrong.size()) + " file(s) still differ from the lock after downloading them from " +
                          options.endpoint + ": it serves other content than the lock names (" + wrong.front() +
                          (wrong.size() > 1 ? ", ..." : "") + ")",
                      options.cache_dir, std::nullopt, wrong});
  return report;
}

}  // namespace hubcache

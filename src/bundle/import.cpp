// import_bundle: one import per cache at a time; stage, verify, merge (manage's merge), clean up.
#include <sys/stat.h>

#include <cerrno>

#include "bundle_internal.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/util/lock.hpp"

namespace hubcache::bundle {

Result<ImportReport> import_bundle(const ImportOptions& options) {
  ImportReport report;
  struct stat st {};
  if (options.bundle != "-" && ::stat(options.bundle.c_str(), &st) != 0)
    return fail(errno_error(errno, "cannot read the bundle", options.bundle));
  report.format = options.bundle != "-" && S_ISDIR(st.st_mode) ? Format::Oci : Format::Tar;

  HUBCACHE_TRY(fs::make_dirs(options.cache_dir + "/" + std::string(k_locks_dir)));
  const std::string cache_dir = fs::absolute_real(options.cache_dir);
  const std::string locks = cache_dir + "/" + std::string(k_locks_dir);
  HUBCACHE_TRY_ASSIGN(FileLock guard, FileLock::try_acquire(locks + "/hubcache-bundle-import.lock"));
  if (!guard.held())
    return fail(ErrorCode::Conflict, "another bundle import into " + cache_dir + " is running: wait for it, then run this again",
                cache_dir);
  const std::string staging_dir = staging_path(cache_dir);
  if (::lstat(staging_dir.c_str(), &st) == 0) {
    HUBCACHE_TRY(fs::remove_all(staging_dir));
    report.cleaned_leftover = true;
  }
  auto staged = [&]() -> Result<lock::Lockfile> {
    detail::Staging staging(staging_dir);
    HUBCACHE_TRY(staging.open());
    if (report.format == Format::Oci)
      HUBCACHE_TRY(detail::read_oci(options.bundle, staging));
    else
      HUBCACHE_TRY(detail::read_tar(options.bundle, staging));
    HUBCACHE_TRY_ASSIGN(auto lock, staging.finish());
    report.blobs = staging.blob_count();
    report.bytes = staging.bytes();
    return lock;
  }();
  auto cleanup = [&] { (void)fs::remove_all(staging_dir); };
  if (!staged) {
    cleanup();
    return fail(std::move(staged).error());
  }
  report.lock = std::move(*staged);
  for (const auto& r : report.lock.repos) report.files += r.files.size();

  MergeOptions merge;
  merge.source = staging_dir;
  merge.cache_dir = cache_dir;
  merge.threads = options.threads;
  merge.source_is_staging = true;
  auto plan = plan_cache_merge(merge);
  if (!plan) {
    cleanup();
    return fail(std::move(plan).error());
  }
  report.repos = plan->repos.size();
  for (const auto& r : plan->repos)
    for (const auto& c : r.ref_conflicts) report.conflicts.push_back({r.repo, c});
  auto merged = execute_cache_merge(*plan);
  if (!merged) {
    cleanup();
    return fail(std::move(merged).error());
  }
  report.merge = std::move(*merged);
  cleanup();
  if (!report.merge.unverified.empty()) {
    std::string message = "the bundle was merged into " + cache_dir + " but some files do not resolve to its bytes:";
    for (const auto& u : report.merge.unverified) message += "\n  - " + u;
    return fail(ErrorCode::Integrity, message, cache_dir);
  }
  return report;
}

}  // namespace hubcache::bundle

// create_bundle: check the cache holds every locked file, then write the tar or OCI layout.
#include "bundle_internal.hpp"
#include "hubcache/lock/cache_check.hpp"

namespace hubcache::bundle {

Result<CreateReport> create_bundle(const CreateOptions& options) {
  std::size_t files = 0;
  for (const auto& r : options.lock.repos) files += r.files.size();
  if (options.lock.repos.empty() || files == 0)
    return fail(ErrorCode::InvalidArgument, "the lock names no file: nothing to bundle");
  HUBCACHE_TRY_ASSIGN(auto repos, detail::bundle_repos(options.lock));
  HUBCACHE_TRY_ASSIGN(const auto check, lock::check_cache_against_lock(options.cache_dir, options.lock, false));
  if (!check.ok()) {
    std::string message = "the cache " + options.cache_dir + " does not hold every locked file (" +
                          std::to_string(check.missing) + " missing, " + std::to_string(check.mismatched) +
                          " different); nothing was written. Run `hubcache sync --lock F` first to fetch them:";
    std::size_t shown = 0;
    std::vector<std::string> missing;
    for (const auto& f : check.files) {
      if (f.state == lock::FileCheck::State::Ok) continue;
      missing.push_back(f.path);
      if (++shown <= 20) message += "\n  - " + f.repo.label() + "@" + f.commit.substr(0, 12) + ": " + f.path + ": " + f.why;
    }
    if (shown > 20) message += "\n  - ... and " + std::to_string(shown - 20) + " more";
    Error e(ErrorCode::LocalEntryNotFound, message, options.cache_dir, std::nullopt, std::move(missing));
    return fail(std::move(e));
  }
  return options.format == Format::Oci ? detail::write_oci(options, repos) : detail::write_tar(options, repos);
}

}  // namespace hubcache::bundle

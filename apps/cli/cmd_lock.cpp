// `hubcache lock` and `hubcache sync` (docs/lockfile.md): a project's models pinned in
// hubcache.lock, and a cache made to hold exactly what it names.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "hubcache/resolve/lock_sync.hpp"
#include "net_transport.hpp"

namespace hubcache::cli {
namespace {

struct LockArgs {
  CommonOptions common;
  std::vector<std::string> repos;  // ORG/NAME[@REV]
  std::string repo_type = "model";
  std::vector<std::string> include, exclude;
  std::string output = lock::k_default_lockfile;
};

struct SyncArgs {
  CommonOptions common;
  std::string lockfile = lock::k_default_lockfile;
  bool no_hash = false;
  bool set_refs = false;
  bool offline = false;
};

// Config (into `config`) and download options for these flags, warnings printed.
DownloadOptions download_options(const Context& ctx, const CommonOptions& common, bool offline, Config& config) {
  Overrides ov = cli_overrides();
  ov.cache_dir = common.cache_dir;
  if (offline) ov.offline = true;
  config = Config::from_env(ctx.env, ov);
  for (const auto& w : config.warnings) print_warning(w);
  DownloadOptions o = DownloadOptions::from_env(config);
  o.transport = net_transport(config);
  return o;
}

int run_lock(const Context& ctx, const LockArgs& a) {
  const auto type = parse_repo_type(a.repo_type);
  std::vector<LockRequest> requests;
  for (const auto& spec : a.repos) {
    LockRequest r;
    const auto at = spec.find('@');
    r.repo = {*type, spec.substr(0, at)};
    if (at != std::string::npos) r.revision = spec.substr(at + 1);
    if (auto v = validate_repo_id(r.repo.id); !v) return usage_error("'" + spec + "': " + v.error().message);
    if (auto v = validate_revision(r.revision); !v) return usage_error("'" + spec + "': " + v.error().message);
    r.include = a.include;
    r.exclude = a.exclude;
    requests.push_back(std::move(r));
  }
  Config config;
  const DownloadOptions opts = download_options(ctx, a.common, false, config);
  lock::Lockfile out;
  out.endpoint = opts.endpoint;
  for (const auto& r : requests) {
    auto locked = lock_repo(opts, r);
    if (!locked) return report_error(locked.error(), a.common.json);
    out.repos.push_back(std::move(*locked));
  }
  // The file parses back: the same validation every reader applies.
  if (auto check = lock::parse_lockfile(lock::serialize_lockfile(out), a.output); !check)
    return report_error(check.error(), false);
  if (auto w = lock::write_lockfile(a.output, out); !w) return report_error(w.error(), a.common.json);
  std::size_t files = 0;
  for (const auto& r : out.repos) files += r.files.size();
  if (a.common.json) {
    nlohmann::json j{{"lockfile", a.output}, {"repos", nlohmann::json::array()}};
    for (const auto& r : out.repos)
      j["repos"].push_back({{"repo_id", r.repo.id}, {"revision", r.revision}, {"commit", r.commit}, {"files", r.files.size()}});
    print_json(j);
  } else {
    for (const auto& r : out.repos)
      fmt::print("{}@{} -> {} ({} files)\n", printable(r.repo.id), printable(r.revision), r.commit, r.files.size());
    fmt::print(stderr, "Wrote {} ({} repos, {} files). Commit it; `hubcache sync` makes a cache hold exactly this.\n",
               printable(a.output), out.repos.size(), files);
  }
  return k_exit_ok;
}

int run_sync(const Context& ctx, const SyncArgs& a) {
  auto lock = lock::read_lockfile(a.lockfile);
  if (!lock) return report_error(lock.error(), a.common.json);
  Config config;
  DownloadOptions opts = download_options(ctx, a.common, a.offline, config);
  // The lock's endpoint, unless HF_ENDPOINT names another (a mirror of it): same commits.
  if (config.endpoint.source == "default") opts.endpoint = lock->endpoint;
  SyncOptions so;
  so.hash = !a.no_hash;
  so.set_refs = a.set_refs;
  auto report = sync_lockfile(opts, *lock, so);
  if (!report) return report_error(report.error(), a.common.json);
  for (const auto& w : report->warnings) print_warning(w);
  if (a.common.json) {
    print_json({{"lockfile", a.lockfile},
                {"files", report->files},
                {"already", report->already},
                {"downloaded", report->downloaded},
                {"bytes_transferred", report->bytes_transferred},
                {"offline", report->offline},
                {"refs_written", report->refs_written},
                {"warnings", report->warnings}});
  } else {
    for (const auto& r : report->refs_written) fmt::print(stderr, "Ref: {}\n", printable(r));
    fmt::print("{} files: {} already in the cache{}, {} downloaded ({} bytes){}\n", report->files, report->already,
               so.hash ? " and verified" : "", report->downloaded, report->bytes_transferred,
               report->offline ? "; no request made" : "");
  }
  return k_exit_ok;
}

}  // namespace

void add_lock_command(CLI::App& app, Context& ctx) {
  auto la = std::make_shared<LockArgs>();
  auto* lock_cmd =
      app.add_subcommand("lock", "Pin repos to commits and files in a lockfile (hubcache.lock), from the Hub's listings");
  lock_cmd->add_option("repos", la->repos, "ORG/NAME[@REVISION] (default revision: main)")->required();
  add_repo_type_option(*lock_cmd, la->repo_type);
  lock_cmd->add_option("--include", la->include, "Only files matching these patterns (as download's)");
  lock_cmd->add_option("--exclude", la->exclude, "Leave out files matching these patterns");
  lock_cmd->add_option("-o,--output", la->output, "The lockfile to write (default hubcache.lock)");
  add_cache_dir_option(*lock_cmd, la->common);
  add_json_option(*lock_cmd, la->common);
  lock_cmd->callback([la, &ctx] { ctx.exit_code = run_lock(ctx, *la); });

  auto sa = std::make_shared<SyncArgs>();
  auto* sync_cmd = app.add_subcommand("sync",
                                      "Make the cache hold exactly what a lockfile names: download what is missing, verify "
                                      "what is there (no request when all is cached)");
  sync_cmd->add_option("--lock", sa->lockfile, "The lockfile (default hubcache.lock)");
  sync_cmd->add_flag("--no-hash", sa->no_hash, "Check cached files by name and size only, without reading them");
  sync_cmd->add_flag("--set-refs", sa->set_refs, "Move a branch or tag that points elsewhere to the locked commit");
  sync_cmd->add_flag("--offline", sa->offline, "Never contact the Hub (as HF_HUB_OFFLINE=1): fail if something is missing");
  add_cache_dir_option(*sync_cmd, sa->common);
  add_json_option(*sync_cmd, sa->common);
  sync_cmd->callback([sa, &ctx] { ctx.exit_code = run_sync(ctx, *sa); });
}

}  // namespace hubcache::cli

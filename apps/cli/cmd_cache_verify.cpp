// `hubcache cache verify`: offline checksum verification of a cached revision.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "cmd_cache.hpp"
#include "hubcache/lock/cache_check.hpp"
#include "hubcache/manage/verify.hpp"

namespace hubcache::cli {
namespace {

struct VerifyCliOptions {
  CommonOptions common;
  std::string repo_id;
  std::optional<std::string> revision;
  std::string repo_type = "model";
  bool fail_on_missing_files = false;
  std::optional<std::string> lockfile;
};

std::string describe(const VerifyProblem& p) {
  switch (p.kind) {
    case VerifyProblemKind::Mismatch:
      return fmt::format("{}: expected {} ({}), got {}", p.path, p.expected, p.algorithm, p.got);
    case VerifyProblemKind::MissingBlob:
    case VerifyProblemKind::DanglingPointer:
    case VerifyProblemKind::MissingFile:
    case VerifyProblemKind::Unreadable:
      return fmt::format("{}: {}", p.path, p.detail);
  }
  return p.path;
}

// --lock F: every file the lockfile names, at its commit, hashed against the lock.
int run_verify_lock(const Context& ctx, const VerifyCliOptions& o) {
  const Config c = load_config(ctx, o.common);
  auto lock = lock::read_lockfile(*o.lockfile);
  if (!lock) return report_error(lock.error(), o.common.json);
  auto check = lock::check_cache_against_lock(c.hub_cache.value, *lock, true);
  if (!check) return report_error(check.error(), o.common.json);
  const auto state = [](lock::FileCheck::State s) {
    return s == lock::FileCheck::State::Ok ? "ok" : s == lock::FileCheck::State::Missing ? "missing" : "mismatched";
  };
  if (o.common.json) {
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& f : check->files)
      if (f.state != lock::FileCheck::State::Ok)
        problems.push_back({{"repo_id", f.repo.id},
                            {"repo_type", to_string(f.repo.type)},
                            {"commit", f.commit},
                            {"path", f.path},
                            {"state", state(f.state)},
                            {"detail", f.why}});
    print_json({{"lockfile", *o.lockfile},
                {"checked", check->files.size()},
                {"missing", check->missing},
                {"mismatched", check->mismatched},
                {"ok", check->ok()},
                {"problems", problems}});
    return check->ok() ? k_exit_ok : k_exit_integrity;
  }
  if (!check->ok()) {
    fmt::print("The cache does not hold what {} names ({} missing, {} mismatched):\n", printable(*o.lockfile), check->missing,
               check->mismatched);
    for (const auto& f : check->files)
      if (f.state != lock::FileCheck::State::Ok)
        fmt::print("  - {} {}@{}: {}: {}\n", state(f.state), printable(f.repo.id), f.commit.substr(0, 12), printable(f.path),
                   printable(f.why));
    std::fflush(stdout);
    fmt::print(stderr, "Error: verification against {} failed. `hubcache sync --lock {}` downloads what is missing or wrong.\n",
               printable(*o.lockfile), printable(*o.lockfile));
    return k_exit_integrity;
  }
  fmt::print("Verified {} file(s) of {} repo(s) against {}. All checksums match.\n", check->files.size(), lock->repos.size(),
             printable(*o.lockfile));
  return k_exit_ok;
}

int run_verify(const Context& ctx, const VerifyCliOptions& o) {
  if (o.lockfile) {
    if (!o.repo_id.empty()) return usage_error("give a repo id or --lock, not both");
    return run_verify_lock(ctx, o);
  }
  if (o.repo_id.empty()) return usage_error("name the repo to verify (org/name), or --lock FILE");
  const Config c = load_config(ctx, o.common);
  const RepoRef repo{*parse_repo_type(o.repo_type), o.repo_id};
  set_hint_repo(repo.id, repo.type, o.revision.value_or("main"), o.common.cache_dir.value_or(""));
  VerifyOptions vo;
  vo.fail_on_missing_files = o.fail_on_missing_files;
  auto r = verify_repo(c.hub_cache.value, repo, o.revision, vo);
  if (!r) return report_error(r.error(), o.common.json);
  const VerifyReport& rep = *r;
  const std::vector<std::string>& missing_files = rep.missing_files;
  const std::string type = to_string(repo.type);
  std::vector<std::string> damaged;  // files a forced download repairs
  for (const auto& p : rep.problems)
    if (p.kind != VerifyProblemKind::MissingFile) damaged.push_back(p.path);
  const std::string hint = damaged.empty() ? "" : force_download_hint(damaged, rep.commit);
  if (o.common.json) {
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& p : rep.problems) {
      nlohmann::json j = {{"kind", to_string(p.kind)}, {"path", p.path}, {"detail", p.detail}};
      if (!p.algorithm.empty()) j["algorithm"] = p.algorithm;
      if (!p.expected.empty()) j["expected"] = p.expected;
      if (!p.got.empty()) j["got"] = p.got;
      problems.push_back(std::move(j));
    }
    nlohmann::json out = {{"repo_id", repo.id},
                          {"repo_type", type},
                          {"revision", rep.commit},
                          {"snapshot_path", rep.snapshot_path},
                          {"tree_file_used", rep.tree_file_used},
                          {"checked", rep.checked},
                          {"unverified", rep.unverified},
                          {"bytes_hashed", rep.bytes_hashed},
                          {"ok", rep.ok()},
                          {"problems", problems},
                          {"missing_files", missing_files},
                          {"notes", rep.notes}};
    if (!hint.empty()) out["hint"] = hint;
    print_json(out);
    return rep.ok() ? k_exit_ok : k_exit_integrity;
  }
  for (const auto& n : rep.notes) print_warning(n);
  if (!missing_files.empty()) {
    std::string names;
    for (std::size_t i = 0; i < missing_files.size() && i < 3; ++i) names += (i ? ", " : "") + missing_files[i];
    if (missing_files.size() > 3) names += fmt::format(" ... ({} more)", missing_files.size() - 3);
    print_warning(fmt::format("{} file(s) of the revision are not cached: {} (use --fail-on-missing-files to fail)",
                              missing_files.size(), names));
  }
  if (!rep.unverified.empty()) {
    std::string names;
    for (std::size_t i = 0; i < rep.unverified.size() && i < 3; ++i) names += (i ? ", " : "") + rep.unverified[i];
    if (rep.unverified.size() > 3) names += fmt::format(" ... ({} more)", rep.unverified.size() - 3);
    print_warning(
        fmt::format("{} file(s) not checked: no expected hash (no trees/{}.json entry and the blob is not "
                    "named by its hash): {}",
                    rep.unverified.size(), rep.commit, names));
  }
  if (!rep.ok()) {
    fmt::print("Verification found {} problem(s):\n", rep.problems.size());
    for (const auto& p : rep.problems) fmt::print("  - {}\n", describe(p));
    std::fflush(stdout);
    fmt::print(stderr, "Error: Verification failed for '{}' ({}) in {}.\n  Revision: {}\n", repo.id, type, rep.snapshot_path,
               rep.commit);
    if (!hint.empty()) fmt::print(stderr, "Hint: {}\n", hint);
    return k_exit_integrity;
  }
  fmt::print("Verified {} file(s) for {} '{}'. All checksums match.{}\n", rep.checked, type, repo.id,
             rep.unverified.empty() ? "" : fmt::format(" ({} file(s) could not be checked.)", rep.unverified.size()));
  fmt::print("  revision: {}\n  path: {}\n", rep.commit, rep.snapshot_path);
  return k_exit_ok;
}

}  // namespace

void add_cache_verify_command(CLI::App& cache, Context& ctx) {
  auto o = std::make_shared<VerifyCliOptions>();
  auto* cmd = cache.add_subcommand("verify", "Check every file of a cached revision against its hash, offline");
  cmd->add_option("repo_id", o->repo_id, "Repo id, e.g. org/name (or --lock)");
  cmd->add_option("--lock", o->lockfile, "Check every file a lockfile (hubcache.lock) names instead of one repo");
  cmd->add_option("--revision", o->revision, "Branch, tag, refs/pr/N or commit (default: refs/main, else the only snapshot)");
  add_repo_type_option(*cmd, o->repo_type);
  cmd->add_flag("--fail-on-missing-files", o->fail_on_missing_files,
                "Fail when files listed in trees/<commit>.json are not cached (default: warn)");
  add_cache_dir_option(*cmd, o->common);
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] { ctx.exit_code = run_verify(ctx, *o); });
}

}  // namespace hubcache::cli

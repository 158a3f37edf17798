// `hubcache cache rm` and `hubcache cache prune`: show the plan, confirm, execute (docs/cache-management.md#rm).
#include <fmt/core.h>

#include <unistd.h>

#include <functional>

#include "cmd_cache.hpp"
#include "cmd_cache_rm_select.hpp"
#include "hubcache/manage/delete_plan.hpp"
#include "hubcache/manage/scan.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct RmOptions {
  CommonOptions common;
  std::vector<std::string> targets;
  bool yes = false;
  bool dry_run = false;
};

std::string size_str(std::uint64_t n) { return format_size(static_cast<double>(n)); }

void print_plan_repos(const DeletePlan& plan) {
  for (const auto& r : plan.repos()) {
    if (r.entire) {
      fmt::print("  - {} (entire repo{})\n", r.label(), r.broken ? ", skipped by the scan as inconsistent" : "");
      continue;
    }
    fmt::print("  - {}:\n", r.label());
    for (const auto& v : r.revisions)
      fmt::print("      {} [{}] {}\n", v.commit, v.refs.empty() ? "(detached)" : join(v.refs, " "), size_str(v.size_on_disk));
  }
}

// Payloads of the shared blob store that the plan sweeps (0 B: still used elsewhere, kept).
void print_shared(const DeletePlan& plan) {
  for (const auto& s : plan.shared_blobs())
    fmt::print("  - shared blob {} ({}{})\n", s.path, size_str(s.size),
               s.unreferenced ? ", unreferenced"
               : s.size == 0  ? ", still used or untracked: kept"
                              : "");
}

void print_locked(const DeletePlan& plan) {
  for (const auto& f : plan.locked_incomplete())
    print_warning("leaving " + f.path + " alone: a download in progress holds its lock " + f.lock_path);
}

Result<HFCacheInfo> scan_for_delete(const Context& ctx, const CommonOptions& common) {
  const Config c = load_config(ctx, common);
  ScanOptions blobs_only;  // delete plans work from each repo's blobs, not its files
  blobs_only.collect_files = false;
  return scan_cache(c.hub_cache.value, blobs_only);
}

/// Confirms (unless --yes), executes and prints the outcome. Returns the exit code.
int confirm_and_execute(const DeletePlan& plan, const RmOptions& o, const std::string& question,
                        const std::function<std::string(const DeleteReport&)>& done_message) {
  if (o.dry_run) {
    fmt::print("Dry run: no files were deleted.\n");
    return k_exit_ok;
  }
  if (!o.yes) {
    const auto answer = ask_confirmation(question);
    if (!answer) return k_exit_failure;
    if (!*answer) {
      fmt::print("Aborted: nothing was deleted.\n");
      return k_exit_failure;
    }
  }
  const DeleteReport report = plan.execute();
  std::size_t failures = 0;
  for (const auto& p : report.problems) {
    print_warning(p.message);
    if (p.code != ErrorCode::NotFound) ++failures;
  }
  for (const auto& p : report.skipped_locked)
    print_warning("left " + p + " alone: a download started meanwhile and holds its lock");
  fmt::print("{}; freed {}.\n", done_message(report), size_str(report.freed_bytes));
  if (failures > 0) {
    fmt::print(stderr, "Error: {} path(s) could not be deleted (see the warnings above).\n", failures);
    return k_exit_failure;
  }
  return k_exit_ok;
}

/// The plan of `cache rm`, from targets typed on the command line or picked from the list.
int show_and_run_delete(const Result<DeletePlan>& plan, const RmOptions& o) {
  if (!plan) return usage_error(plan.error().message);
  if (!plan->unknown_targets().empty()) {
    std::string details;
    for (const auto& u : plan->unknown_targets()) details += "\n  - " + u;
    print_warning("Could not find in cache:" + details);
  }
  if (plan->empty()) {
    fmt::print("Nothing to delete.\n");
    return k_exit_ok;
  }
  std::vector<std::string> parts;
  if (plan->entire_repo_count()) parts.push_back(fmt::format("{} repo(s)", plan->entire_repo_count()));
  if (plan->partial_revision_count()) parts.push_back(fmt::format("{} revision(s)", plan->partial_revision_count()));
  if (parts.empty()) parts.push_back(fmt::format("{} revision(s)", plan->total_revision_count()));
  fmt::print("About to delete {} totalling {}.\n", join(parts, " and "), size_str(plan->freed_bytes()));
  print_plan_repos(*plan);
  print_shared(*plan);
  print_locked(*plan);
  return confirm_and_execute(*plan, o, "Proceed with deletion?", [](const DeleteReport& r) {
    return fmt::format("Deleted {} repo(s) and {} revision(s)", r.repos_deleted, r.revisions_deleted);
  });
}

/// No target: pick from a list on a terminal, else say what to pass.
int run_rm_selection(const Context& ctx, const RmOptions& o) {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDERR_FILENO))
    return usage_error(
        "no target given: pass the repos (model/org/name, dataset/org/name, hf://org/name) or the 40-hex revisions "
        "to delete (`hubcache cache ls --revisions` lists them). Run on a terminal without targets, "
        "`hubcache cache rm` shows a selection list to pick them from.");
  auto cache = scan_for_delete(ctx, o.common);
  if (!cache) return report_error(cache.error(), false);
  if (cache->repos.empty()) {
    fmt::print(stderr, "No cached repo in {}: nothing to delete.\n", cache->cache_dir);
    return k_exit_ok;
  }
  const RmSelection picked = select_delete_targets(*cache);
  if (picked.outcome == RmSelection::Outcome::Invalid) {
    fmt::print(stderr, "Error: no valid selection after {} attempts. Nothing deleted.\n", k_selection_attempts);
    return k_exit_usage;
  }
  if (picked.outcome == RmSelection::Outcome::Cancelled) {
    fmt::print(stderr, "Nothing deleted.\n");
    return k_exit_ok;
  }
  return show_and_run_delete(plan_delete_targets(*cache, picked.targets), o);
}

int run_rm(const Context& ctx, const RmOptions& o) {
  if (o.targets.empty()) return run_rm_selection(ctx, o);
  for (const auto& t : o.targets)
    if (auto parsed = parse_delete_target(t); !parsed) return usage_error(parsed.error().message);
  auto cache = scan_for_delete(ctx, o.common);
  if (!cache) return report_error(cache.error(), false);
  return show_and_run_delete(plan_delete(*cache, o.targets), o);
}

int run_prune(const Context& ctx, const RmOptions& o) {
  auto cache = scan_for_delete(ctx, o.common);
  if (!cache) return report_error(cache.error(), false);
  auto plan = plan_prune(*cache);
  if (!plan) return report_error(plan.error(), false);
  for (const auto& k : plan->kept_pinned()) fmt::print("Kept (pinned, `cache unpin` releases it): {}\n", k);
  for (const auto& k : plan->kept_moved())
    fmt::print("Left alone (moved out with `cache move --to`; `cache move ... --back` brings it back): {}\n", k);
  if (plan->empty()) {
    fmt::print("No unreferenced revisions or incomplete downloads found. Nothing to prune.\n");
    print_locked(*plan);
    return k_exit_ok;
  }
  std::vector<std::string> parts;
  if (plan->total_revision_count()) parts.push_back(fmt::format("{} unreferenced revision(s)", plan->total_revision_count()));
  if (!plan->incomplete_files().empty())
    parts.push_back(fmt::format("{} incomplete download(s)", plan->incomplete_files().size()));
  if (plan->unreferenced_shared_count())
    parts.push_back(fmt::format("{} unreferenced shared blob(s)", plan->unreferenced_shared_count()));
  const std::string summary = join(parts, " and ");
  fmt::print("About to delete {} ({} total).\n", summary, size_str(plan->freed_bytes()));
  print_plan_repos(*plan);
  for (const auto& f : plan->incomplete_files()) {
    fmt::print("  - {} ({})\n", f.path, size_str(f.size));
    for (const auto& s : f.sidecars) fmt::print("    + {}\n", s);
  }
  print_shared(*plan);
  print_locked(*plan);
  return confirm_and_execute(*plan, o, "Proceed?", [](const DeleteReport& r) {
    std::vector<std::string> done;
    if (r.revisions_deleted || !r.incomplete_deleted)
      done.push_back(fmt::format("{} unreferenced revision(s)", r.revisions_deleted));
    if (r.incomplete_deleted) done.push_back(fmt::format("{} incomplete download(s)", r.incomplete_deleted));
    if (r.shared_blobs_deleted) done.push_back(fmt::format("{} shared blob(s)", r.shared_blobs_deleted));
    return "Deleted " + join(done, " and ");
  });
}

void add_common_rm_options(CLI::App& cmd, RmOptions& o) {
  cmd.add_flag("-y,--yes", o.yes, "Do not ask for confirmation");
  cmd.add_flag("--dry-run", o.dry_run, "Only print what would be deleted");
  add_cache_dir_option(cmd, o.common);
}

}  // namespace

void add_cache_rm_command(CLI::App& cache, Context& ctx) {
  auto o = std::make_shared<RmOptions>();
  auto* cmd = cache.add_subcommand("rm", "Delete cached repos or revisions");
  cmd->alias("delete");  // the older name (`hf cache delete`)
  cmd->add_option("targets", o->targets,
                  "Repos (model/org/name, hf://org/name, or a bare id matching one cached repo) or 40-hex revisions; "
                  "none on a terminal: pick from a list of the cached revisions");
  add_common_rm_options(*cmd, *o);
  cmd->callback([&ctx, o] { ctx.exit_code = run_rm(ctx, *o); });
}

void add_cache_prune_command(CLI::App& cache, Context& ctx) {
  auto o = std::make_shared<RmOptions>();
  auto* cmd = cache.add_subcommand("prune", "Delete detached revisions (no ref) and incomplete downloads");
  add_common_rm_options(*cmd, *o);
  cmd->callback([&ctx, o] { ctx.exit_code = run_prune(ctx, *o); });
}

}  // namespace hubcache::cli

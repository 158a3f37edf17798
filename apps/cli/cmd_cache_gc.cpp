// `hubcache cache gc` (least recently used revisions out) and `cache pin` / `cache unpin`
// (docs/cache-management.md#gc).
#include <fmt/core.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "cmd_cache.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/manage/gc.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct GcCliOptions {
  CommonOptions common;
  std::optional<std::string> max_size, min_free, unused_for;
  std::optional<long long> keep;
  bool yes = false;
  bool dry_run = false;
};

std::string size_str(std::uint64_t n) { return format_size(static_cast<double>(n)); }

Result<GcOptions> parse_gc_options(const GcCliOptions& o) {
  GcOptions g;
  auto size_of = [](const std::optional<std::string>& text, const char* flag) -> Result<std::optional<std::uint64_t>> {
    if (!text) return std::optional<std::uint64_t>{};
    auto n = parse_size(*text);
    if (!n)
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("{} takes a size such as 500MB, 20GB or 1TB (powers of 1000), got '{}'", flag, *text));
    return std::optional<std::uint64_t>{*n};
  };
  HUBCACHE_TRY_ASSIGN(g.max_size, size_of(o.max_size, "--max-size"));
  HUBCACHE_TRY_ASSIGN(g.min_free, size_of(o.min_free, "--min-free"));
  if (o.unused_for) {
    // A unit of hours or more, always written: a bare "30" (seconds) or "6m" (minutes, where months
    // were meant) would select every revision used before the last moment.
    const std::string_view text = *o.unused_for;
    const bool coarse_unit =
        text.ends_with('h') || text.ends_with('d') || text.ends_with('w') || text.ends_with("mo") || text.ends_with('y');
    auto s = coarse_unit ? parse_duration(text) : std::nullopt;
    if (!s)
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("--unused-for takes an age with its unit, h (hours), d (days), w (weeks), mo (months) or y "
                              "(years), such as 30d, 2w or 6mo; got '{}'{}",
                              text, text.ends_with('m') ? " (6m would be minutes: write 6mo for months)" : ""));
    g.unused_for = static_cast<double>(*s);
  }
  if (o.keep) {
    if (*o.keep < 0) return fail(ErrorCode::InvalidArgument, fmt::format("--keep takes a count of at least 0, got {}", *o.keep));
    g.keep = static_cast<std::size_t>(*o.keep);
  }
  g.now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return g;
}

void print_gc_plan(const GcPlan& plan, const GcOptions& g, double now) {
  std::string target;
  if (g.max_size) target += fmt::format(" Target: at most {} in the cache.", size_str(*g.max_size));
  if (g.min_free)
    target += fmt::format(" Target: {} free on its filesystem ({} free now).", size_str(*g.min_free),
                          size_str(plan.free_before.value_or(0)));
  fmt::print("Cache {} holds {}.{}\n", plan.deletion.cache_dir(), size_str(plan.size_before), target);
  for (const auto& w : plan.warnings) print_warning(w);
  if (!plan.selected.empty()) {
    fmt::print("About to remove {} revision(s), least recently used first, freeing {}:\n", plan.selected.size(),
               size_str(plan.freed_bytes()));
    for (const auto& r : plan.selected)
      fmt::print("  - {} {} [{}] last used {} ({}): {}\n", r.repo.label(), r.commit,
                 r.refs.empty() ? "(detached)" : join(r.refs, " "), format_age(now - r.last_used), to_string(r.source), r.reason);
  }
  for (const auto& r : plan.protected_)
    fmt::print("  kept: {} {} last used {} ({}): {}\n", r.repo.label(), r.commit, format_age(now - r.last_used),
               to_string(r.source), r.reason);
  for (const auto& s : plan.deletion.shared_blobs())
    if (s.size == 0) fmt::print("  - shared blob {} still used by another repo: kept\n", s.path);
  if (!plan.target_met)
    print_warning(
        fmt::format("the target cannot be met: {} must be freed and only {} can be without removing pinned, "
                    "in-use or kept revisions (bytes that other hardlinks, outside the cache too, keep on disk are not freed)",
                    size_str(plan.bytes_needed.value_or(0)), size_str(plan.freed_bytes())));
}

int run_gc(const Context& ctx, const GcCliOptions& o) {
  auto g = parse_gc_options(o);
  if (!g) return usage_error(g.error().message);
  const Config c = load_config(ctx, o.common);
  ScanOptions blobs_only;  // gc works from each repo's blobs, not its files
  blobs_only.collect_files = false;
  auto cache = scan_cache(c.hub_cache.value, blobs_only);
  if (!cache) return report_error(cache.error(), false);
  auto plan = plan_gc(*cache, *g);
  if (!plan)
    return plan.error().code == ErrorCode::InvalidArgument ? usage_error(plan.error().message)
                                                           : report_error(plan.error(), false);
  if (!cache->warnings.empty())
    print_warning(fmt::format(
        "found {} cache inconsistencies; a repo the scan skipped is never collected (`hubcache cache ls --show-warnings` "
        "shows them)",
        cache->warnings.size()));
  print_gc_plan(*plan, *g, g->now);
  if (plan->selected.empty()) {
    fmt::print("Nothing to remove.\n");
    return plan->target_met ? k_exit_ok : k_exit_disk_full;
  }
  if (o.dry_run) {
    fmt::print("Dry run: no files were deleted.\n");
    return plan->target_met ? k_exit_ok : k_exit_disk_full;  // as the run itself would end
  }
  if (!o.yes) {
    const auto answer = ask_confirmation("Proceed with removal?");
    if (!answer) return k_exit_failure;
    if (!*answer) {
      fmt::print("Aborted: nothing was deleted.\n");
      return k_exit_failure;
    }
  }
  const DeleteReport report = plan->execute();
  std::size_t failures = 0;
  for (const auto& p : report.problems) {
    print_warning(p.message);
    if (p.code != ErrorCode::NotFound) ++failures;
  }
  // The plan's figure counts each inode once (the report's counts every name it unlinked).
  fmt::print("Removed {} revision(s) ({} whole repo(s)); freed {}.\n", report.revisions_deleted, report.repos_deleted,
             size_str(failures == 0 ? plan->freed_bytes() : std::min(plan->freed_bytes(), report.freed_bytes)));
  if (failures > 0) {
    fmt::print(stderr, "Error: {} path(s) could not be deleted (see the warnings above).\n", failures);
    return k_exit_failure;
  }
  return plan->target_met ? k_exit_ok : k_exit_disk_full;
}

struct PinCliOptions {
  CommonOptions common;
  std::string repo_id;
  std::optional<std::string> revision;
  std::string repo_type = "model";
};

int run_pin(const Context& ctx, const PinCliOptions& o, bool pin) {
  if (auto v = validate_repo_id(o.repo_id); !v) return usage_error(v.error().message);
  if (o.revision)
    if (auto v = validate_revision(*o.revision); !v) return usage_error(v.error().message);
  const Config c = load_config(ctx, o.common);
  const RepoLayout layout(fs::absolute_real(c.hub_cache.value), RepoRef{*parse_repo_type(o.repo_type), o.repo_id});
  const std::string what = layout.repo().label() + (o.revision ? " at revision " + *o.revision : " (every revision)");
  if (pin && o.revision && !fs::is_dir(layout.snapshot_dir(*o.revision)) && !fs::is_file(layout.ref_path(*o.revision)))
    return report_error(Error{ErrorCode::NotFound,
                              "nothing cached at revision '" + *o.revision + "' of " + layout.repo().label() +
                                  ": pin a ref or commit that `hubcache cache ls --revisions` lists",
                              layout.folder()},
                        false);
  const std::string value = o.revision.value_or(std::string(k_pin_all));
  auto changed = pin ? add_pin(layout, value) : remove_pin(layout, value);
  if (!changed) return report_error(changed.error(), false);
  if (pin)
    fmt::print("{} {}: `cache gc` will not remove it.\n", *changed ? "Pinned" : "Already pinned:", what);
  else
    fmt::print("{} {}.\n", *changed ? "Unpinned" : "Was not pinned:", what);
  return k_exit_ok;
}

void add_pin_command(CLI::App& cache, Context& ctx, bool pin) {
  auto o = std::make_shared<PinCliOptions>();
  auto* cmd = cache.add_subcommand(
      pin ? "pin" : "unpin",
      pin ? "Keep a repo (or one revision) out of `cache gc`, for every user of the cache" : "Remove a pin set by `cache pin`");
  cmd->add_option("repo_id", o->repo_id, "Repo id, e.g. org/name")->required();
  cmd->add_option("--revision", o->revision,
                  "A branch, tag or commit (a ref pins the commit it points to when gc runs); default: the whole repo");
  add_repo_type_option(*cmd, o->repo_type);
  add_cache_dir_option(*cmd, o->common);
  cmd->callback([&ctx, o, pin] { ctx.exit_code = run_pin(ctx, *o, pin); });
}

}  // namespace

void add_cache_gc_command(CLI::App& cache, Context& ctx) {
  auto o = std::make_shared<GcCliOptions>();
  auto* cmd = cache.add_subcommand("gc", "Remove least recently used revisions: to a size, a free-space target or an age");
  cmd->add_option("--max-size", o->max_size, "Remove revisions, least recently used first, until the cache holds at most SIZE");
  cmd->add_option("--min-free", o->min_free, "... until its filesystem has SIZE free");
  cmd->add_option("--unused-for", o->unused_for,
                  "Remove every revision not used for AGE, with its unit: h, d, w, mo or y (30d, 2w, 6mo, 1y)");
  cmd->add_option("--keep", o->keep, "Keep each repo's N newest revisions (alone: remove all others)");
  cmd->add_flag("-y,--yes", o->yes, "Do not ask for confirmation");
  cmd->add_flag("--dry-run", o->dry_run, "Only print what would be removed");
  add_cache_dir_option(*cmd, o->common);
  cmd->callback([&ctx, o] { ctx.exit_code = run_gc(ctx, *o); });
  add_pin_command(cache, ctx, true);
  add_pin_command(cache, ctx, false);
}

}  // namespace hubcache::cli

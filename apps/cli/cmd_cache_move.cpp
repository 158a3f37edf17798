// `hubcache cache move NEW_DIR`: the whole cache to another folder or disk (docs/cache-management.md#move).
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include "cmd_cache.hpp"
#include "hubcache/manage/move.hpp"
#include "hubcache/manage/repo_move.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct MoveCliOptions {
  CommonOptions common;
  std::string new_dir;  // or the repo id, with --to / --back
  std::optional<std::string> to;
  bool back = false;
  std::string repo_type = "model";
  bool yes = false;
  bool dry_run = false;
  bool leave_link = false;
};

std::string size_str(std::uint64_t n) { return format_size(static_cast<double>(n)); }

void print_move_plan(const CacheMovePlan& p, bool leave_link) {
  if (p.already_done) {
    fmt::print("The cache at {} is already at {} (already moved): nothing to copy.\n", p.from, p.to);
    return;
  }
  if (p.switched) {
    fmt::print("An interrupted move already put the cache in place at {}: removing what is left of {}.\n", p.to, p.from);
    return;
  }
  fmt::print("Move the cache {} ({} file(s), {} link(s)) to {}.\n", p.from, p.files, p.links, p.to);
  if (p.resume) fmt::print("Resuming an interrupted move (state in {}): files already copied are verified again.\n", p.state_dir);
  if (p.same_filesystem)
    fmt::print("Same filesystem: one rename.\n");
  else
    fmt::print(
        "Another filesystem: copy {} ({} free there), hash every file on the new side, switch, then remove the old copy.\n",
        size_str(p.bytes), size_str(p.free_bytes));
  if (p.outside_link_bytes > 0 && !p.same_filesystem)
    print_warning(
        fmt::format("{} of files are also hardlinked outside the cache (Ollama, LM Studio, dedupe): across filesystems "
                    "those links cannot follow, so that many bytes will be held twice (run `hubcache dedupe` after)",
                    size_str(p.outside_link_bytes)));
  fmt::print("{}\n", leave_link ? "A symlink to the new place will be left at the old one."
                                : "Nothing stays at the old place: set the variable printed at the end.");
}

// After the plan: a dry run stops here, and without --yes the user is asked. Returns the exit code
// to stop with, or nullopt to go on.
std::optional<int> stop_before_moving(const MoveCliOptions& o, const char* what) {
  if (o.dry_run) {
    fmt::print("Dry run: nothing was moved.\n");
    return k_exit_ok;
  }
  if (o.yes) return std::nullopt;
  const auto answer = ask_confirmation("Proceed with the move?", what);
  if (!answer) return k_exit_failure;
  if (!*answer) {
    fmt::print("Aborted: nothing was moved.\n");
    return k_exit_failure;
  }
  return std::nullopt;
}

void print_repo_move_plan(const RepoMovePlan& p) {
  const std::string label = p.repo.label();
  if (p.already_done) {
    fmt::print("{} is already {}: nothing to move.\n", label, p.back ? "in the cache (not moved out)" : "at " + p.to);
    return;
  }
  if (p.switched) {
    fmt::print("An interrupted move already put {} in place at {}: removing what is left of {}.\n", label, p.to, p.from);
    return;
  }
  if (p.back)
    fmt::print("Move {} back from {} into the cache at {} ({} file(s)).\n", label, p.from, p.to, p.files);
  else
    fmt::print("Move {} ({} file(s)) from the cache to {}, leaving a symlink at {}.\n", label, p.files, p.to, p.link);
  if (p.resume) fmt::print("Resuming an interrupted move (state in {}): files already copied are verified again.\n", p.state_dir);
  if (p.shared_entries > 0)
    fmt::print("{} blob(s) live in the cache's shared blob store: they become the repo's own blobs first.\n", p.shared_entries);
  if (p.same_filesystem)
    fmt::print("Same filesystem: one atomic exchange.\n");
  else
    fmt::print(
        "Another filesystem: copy {} ({} free there), hash every file on the new side, switch, then remove the old "
        "copy.\n",
        size_str(p.bytes), size_str(p.free_bytes));
  if (p.outside_link_bytes > 0 && !p.same_filesystem)
    print_warning(
        fmt::format("{} of files are also hardlinked elsewhere: across filesystems those links cannot follow, so "
                    "that many bytes will be held twice",
                    size_str(p.outside_link_bytes)));
}

int run_repo_move(const Context& ctx, const MoveCliOptions& o) {
  if (o.back && o.to) return usage_error("--to and --back go separately: --to DIR moves the repo out, --back brings it in");
  if (o.leave_link) return usage_error("--leave-link is for a whole-cache move: a repo moved with --to always leaves a link");
  if (auto v = validate_repo_id(o.new_dir); !v) return usage_error(v.error().message);
  const Config c = load_config(ctx, o.common);
  auto plan = plan_repo_move(c.hub_cache.value, RepoRef{*parse_repo_type(o.repo_type), o.new_dir}, o.to.value_or(""), o.back);
  if (!plan)
    return plan.error().code == ErrorCode::InvalidArgument ? usage_error(plan.error().message)
                                                           : report_error(plan.error(), false);
  print_repo_move_plan(*plan);
  if (plan->already_done) {  // what a run killed after its switch left aside goes
    if (o.dry_run) return k_exit_ok;
    auto cleaned = execute_repo_move(*plan, {});
    return cleaned ? k_exit_ok : report_error(cleaned.error(), false);
  }
  if (auto stop = stop_before_moving(o, "move the repo")) return *stop;
  auto report = execute_repo_move(*plan, {});
  if (!report) {
    const int code = report_error(report.error(), false);
    if (report.error().code != ErrorCode::Conflict)
      print_hint(
          fmt::format("the repo stays readable from the cache. Fix the cause and run the same command again to "
                      "finish{}",
                      fs::is_dir(plan->state_dir) ? ", or remove " + plan->state_dir + " to give up the copy" : ""));
    return code;
  }
  for (const auto& w : report->copy.warnings) print_warning(w);
  if (report->copy.files_copied + report->copy.files_kept > 0)  // a copy (also after a same-filesystem EXDEV)
    fmt::print("Copied {} file(s) ({}), kept {} already copied, {} hashed on the new side.\n", report->copy.files_copied,
               size_str(report->copy.bytes_copied), report->copy.files_kept, size_str(report->copy.bytes_verified));
  if (report->shared_made_plain > 0)
    fmt::print("Made {} shared blob(s) the repo's own; freed {} of the shared store.\n", report->shared_made_plain,
               size_str(report->shared_bytes_freed));
  if (plan->back)
    fmt::print("{} is back in the cache at {}.\n", plan->repo.label(), plan->to);
  else
    fmt::print(
        "{} is now at {}; the cache reaches it through the symlink {}. Bring it back with `hubcache cache move {}{} "
        "--back{}`.\n",
        plan->repo.label(), plan->to, plan->link, o.new_dir,
        plan->repo.type == RepoType::Model ? "" : " --repo-type " + std::string(to_string(plan->repo.type)),
        o.common.cache_dir ? " --cache-dir " + plan->cache_dir : "");
  return k_exit_ok;
}

int run_move(const Context& ctx, const MoveCliOptions& o) {
  if (o.to || o.back) return run_repo_move(ctx, o);
  const Config c = load_config(ctx, o.common);
  auto plan = plan_cache_move(c.hub_cache.value, o.new_dir);
  if (!plan)
    return plan.error().code == ErrorCode::InvalidArgument ? usage_error(plan.error().message)
                                                           : report_error(plan.error(), false);
  print_move_plan(*plan, o.leave_link);
  if (auto stop = stop_before_moving(o, "move the cache")) return *stop;
  CacheMoveOptions mo;
  mo.leave_link = o.leave_link;
  if (::isatty(STDERR_FILENO)) {
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    mo.progress = [last](std::uint64_t done, std::uint64_t total) {
      const auto now = std::chrono::steady_clock::now();
      if (now - *last < std::chrono::milliseconds(500) && done < total) return;
      *last = now;
      fmt::print(stderr, "\rcopied {} of {}   ", size_str(done), size_str(total));
    };
  }
  auto report = execute_cache_move(*plan, mo);
  if (mo.progress) fmt::print(stderr, "\n");
  if (!report) {
    const int code = report_error(report.error(), false);
    print_hint("run the same command again to finish: the old cache stays complete until the new one is.");
    return code;
  }
  for (const auto& w : report->warnings) print_warning(w);
  if (const auto& bad = report->corrupt_source_blobs; !bad.empty())
    print_warning(
        fmt::format("{} blob(s) did not match their names before the move (corrupt already), e.g. {}; copied as they were: "
                    "`hubcache cache verify` names them, a download repairs them",
                    bad.size(), bad.front()));
  if (!plan->same_filesystem && !plan->switched && !plan->already_done)
    fmt::print(
        "Copied {} file(s) ({}), kept {} already copied, {} hashed on the new side; {} hardlink(s), {} link(s) rewritten.\n",
        report->files_copied, size_str(report->bytes_copied), report->files_kept, size_str(report->bytes_verified),
        report->hardlinks, report->links_rewritten);
  if (report->outside_links_rewritten > 0)
    fmt::print("Pointed {} symlink(s) outside the cache (folders made by `hubcache link`) at the new place.\n",
               report->outside_links_rewritten);
  for (const auto& gone : report->linked_folders_gone)
    fmt::print("A folder of links made by hubcache is gone, its record dropped: {}\n", gone);
  fmt::print("The cache is now at {}{}. Point every tool at it:\n  export HF_HUB_CACHE={}\n", plan->to,
             o.leave_link ? " (a symlink at " + plan->from + " leads there)" : "", plan->to);
  return k_exit_ok;
}

}  // namespace

void add_cache_move_command(CLI::App& cache, Context& ctx) {
  auto o = std::make_shared<MoveCliOptions>();
  auto* cmd = cache.add_subcommand(
      "move", "Move the whole cache to another folder or disk, or one repo (--to DIR / --back) (verified, resumable)");
  cmd->add_option("target", o->new_dir,
                  "NEW_DIR: the new cache folder (absent or empty; it becomes the cache root); with --to or --back: "
                  "ORG/NAME, the repo to move")
      ->required();
  cmd->add_option("--to", o->to, "Move the repo named instead to this folder (e.g. an archive disk), leaving a symlink");
  cmd->add_flag("--back", o->back, "Bring a repo moved with --to back into the cache");
  add_repo_type_option(*cmd, o->repo_type);
  cmd->add_flag("--leave-link", o->leave_link, "Whole cache: leave a symlink to the new place at the old one");
  cmd->add_flag("-y,--yes", o->yes, "Do not ask for confirmation");
  cmd->add_flag("--dry-run", o->dry_run, "Only print the plan");
  add_cache_dir_option(*cmd, o->common);
  cmd->callback([&ctx, o] { ctx.exit_code = run_move(ctx, *o); });
}

}  // namespace hubcache::cli

// `hubcache migrate PROJECT_DIR...`: project caches into the central one (hygiene/migrate.hpp,
// docs/cache-management.md#migrate). Plan, show, confirm, execute.
#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "cmd_cache.hpp"
#include "hubcache/hygiene/migrate.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct MigrateCliOptions {
  CommonOptions common;
  std::vector<std::string> projects;
  std::vector<std::string> models;  // DIR=ORG/NAME[@REVISION]
  std::optional<std::string> to;
  bool dry_run = false, yes = false, rewrite_config = false, leave_link = false;
};

std::string size_text(std::uint64_t bytes) { return format_size(static_cast<double>(bytes)); }

std::string short_commit(const std::string& c) { return c.substr(0, 12); }

// `DIR=ORG/NAME[@REVISION]`, `DIR=datasets/ORG/NAME` (the Hub's URL prefix names the type).
Result<hygiene::ModelFolderSpec> parse_model_spec(const std::string& text) {
  const auto eq = text.rfind('=');
  const std::string what = "--model " + text + ": ";
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    return fail(ErrorCode::InvalidArgument, what + "expected DIR=ORG/NAME[@REVISION], e.g. --model ./models/tiny=org/tiny");
  hygiene::ModelFolderSpec m;
  m.dir = text.substr(0, eq);
  std::string id = text.substr(eq + 1);
  if (const auto at = id.find('@'); at != std::string::npos) {
    m.revision = id.substr(at + 1);
    id.resize(at);
    if (m.revision.empty()) return fail(ErrorCode::InvalidArgument, what + "the revision after '@' is empty");
  }
  for (const auto& [prefix, type] : {std::pair{"datasets/", RepoType::Dataset}, std::pair{"spaces/", RepoType::Space}})
    if (id.starts_with(prefix) && std::count(id.begin(), id.end(), '/') == 2) {
      m.repo.type = type;
      id = id.substr(std::string_view(prefix).size());
    }
  if (auto ok = validate_repo_id(id); !ok) return fail(ErrorCode::InvalidArgument, what + ok.error().message);
  m.repo.id = id;
  return m;
}

void print_plan(const hygiene::MigratePlan& plan) {
  fmt::print("Central cache: {}\n", plan.options.cache_dir);
  if (plan.caches.empty()) fmt::print("No project cache (a folder holding models--*, datasets--* or spaces--*) was found.\n");
  for (const auto& c : plan.caches) {
    const MergePlan& m = c.merge;
    std::size_t present = 0, compare = 0, link = 0, copy = 0;
    for (const auto& r : m.repos)
      for (const auto& b : r.blobs)
        ++(b.action == MergeBlobAction::Present   ? present
           : b.action == MergeBlobAction::Compare ? compare
           : b.action == MergeBlobAction::Link    ? link
                                                  : copy);
    fmt::print("{} {}: {} repo(s), {} file(s)\n", c.leftover ? "Unfinished earlier migration" : "Project cache", c.path,
               m.repos.size(), m.file_count());
    fmt::print("  blobs: {} already in the central cache, {} to compare ({}), {} to link ({}), {} to copy ({})\n", present,
               compare, size_text(m.compare_bytes), link, size_text(m.link_bytes), copy, size_text(m.copy_bytes));
    for (const auto& r : m.repos)
      for (const auto& rc : r.ref_conflicts)
        fmt::print(
            "  ref '{}' of {}: the central cache's {} stays; this cache's {} stays reachable by its commit (pinned, so gc and "
            "prune keep it)\n",
            rc.ref, r.repo.label(), short_commit(rc.cache_commit), short_commit(rc.source_commit));
    for (const auto& l : m.left_out) fmt::print("  left out: {}\n", printable(l));
  }
  for (const auto& f : plan.folders) {
    const ImportPlan& i = f.import;
    fmt::print("Model folder {}: {} ({}), {} file(s), {}, imported as {} at {} by {}{}\n", f.path,
               f.identified_by == "--model" ? "named by --model" : "identified",
               f.identified_by == "--model" ? i.options.repo.label() : f.identified_by, i.files.size(), size_text(i.total_bytes),
               i.options.repo.label(), short_commit(i.commit), i.mode == ImportMode::Link ? "hardlink" : "copy",
               i.skipped.empty() ? "" : fmt::format("; {} file(s) without local-dir metadata stay", i.skipped.size()));
    if (f.pins)
      fmt::print("  no ref of {} names {}: it is pinned, so gc and prune keep it\n", i.options.repo.label(),
                 short_commit(i.commit));
    for (const auto& w : i.warnings) print_warning(f.path + ": " + w);
  }
  for (const auto& f : plan.model_folders) fmt::print("Model folder {}: left as it is: {}\n", f.path, printable(f.why));
  for (const auto& w : plan.warnings) print_warning(w);
  if (!plan.diff.empty()) fmt::print("Configuration to point at the central cache:\n{}", printable(plan.diff, true));
  for (const auto& m : plan.manual) fmt::print("To change by hand: {}:{}: {} ({})\n", m.file, m.line, printable(m.text), m.why);
}

nlohmann::json plan_json(const hygiene::MigratePlan& plan) {
  nlohmann::json caches = nlohmann::json::array();
  for (const auto& c : plan.caches) {
    nlohmann::json repos = nlohmann::json::array();
    for (const auto& r : c.merge.repos) {
      nlohmann::json conflicts = nlohmann::json::array();
      for (const auto& rc : r.ref_conflicts)
        conflicts.push_back({{"ref", rc.ref}, {"project_commit", rc.source_commit}, {"central_commit", rc.cache_commit}});
      nlohmann::json blobs = nlohmann::json::array();
      for (const auto& b : r.blobs) blobs.push_back({{"blob", b.etag}, {"size", b.size}, {"action", to_string(b.action)}});
      repos.push_back({{"repo_id", r.repo.id},
                       {"repo_type", to_string(r.repo.type)},
                       {"files", r.files.size()},
                       {"blobs", blobs},
                       {"ref_conflicts", conflicts}});
    }
    caches.push_back({{"project", c.project},
                      {"path", c.path},
                      {"leftover", c.leftover},
                      {"same_filesystem", c.merge.same_filesystem},
                      {"repos", repos},
                      {"left_out", c.merge.left_out}});
  }
  nlohmann::json edits = nlohmann::json::array(), manual = nlohmann::json::array();
  for (const auto& e : plan.edits)
    edits.push_back({{"file", e.file}, {"line", e.line}, {"before", e.before}, {"after", e.after}});
  for (const auto& m : plan.manual) manual.push_back({{"file", m.file}, {"line", m.line}, {"text", m.text}, {"why", m.why}});
  nlohmann::json folders = nlohmann::json::array(), left = nlohmann::json::array();
  for (const auto& f : plan.model_folders) left.push_back({{"path", f.path}, {"why", f.why}});
  for (const auto& f : plan.folders)
    folders.push_back({{"project", f.project},
                       {"path", f.path},
                       {"identified_by", f.identified_by},
                       {"repo_id", f.import.options.repo.id},
                       {"repo_type", to_string(f.import.options.repo.type)},
                       {"commit", f.import.commit},
                       {"files", f.import.files.size()},
                       {"bytes", f.import.total_bytes},
                       {"mode", to_string(f.import.mode)},
                       {"pins", f.pins},
                       {"skipped", f.import.skipped}});
  return {{"cache_dir", plan.options.cache_dir},
          {"caches", caches},
          {"edits", edits},
          {"manual", manual},
          {"diff", plan.diff},
          {"folders", folders},
          {"model_folders", left},
          {"warnings", plan.warnings}};
}

int run(const Context& ctx, const MigrateCliOptions& o) {
  if (o.common.json && !o.yes && !o.dry_run)
    return report_error(Error{ErrorCode::InvalidArgument,
                              "--json needs --yes (migrate) or --dry-run (only plan): it cannot ask for confirmation"},
                        true);
  const Config c = load_config(ctx, o.common, /*quiet=*/true);
  hygiene::MigrateOptions options;
  options.projects = o.projects;
  for (const auto& text : o.models) {
    auto m = parse_model_spec(text);
    if (!m) return o.common.json ? report_error(m.error(), true) : usage_error(m.error().message);
    options.models.push_back(std::move(*m));
  }
  options.cache_dir = o.to.value_or(c.hub_cache.value);
  options.rewrite_config = o.rewrite_config;
  options.leave_link = o.leave_link;
  options.disable_symlinks = c.disable_symlinks;
  auto plan = hygiene::plan_migrate(options);
  if (!plan) {
    if (plan.error().code == ErrorCode::InvalidArgument)
      return o.common.json ? report_error(plan.error(), true) : usage_error(plan.error().message);
    return report_error(plan.error(), o.common.json);
  }
  nlohmann::json out = o.common.json ? plan_json(*plan) : nlohmann::json();
  if (!o.common.json) print_plan(*plan);
  const bool nothing = plan->caches.empty() && plan->folders.empty();
  if (o.dry_run || nothing) {
    if (o.common.json)
      print_json(out);
    else
      fmt::print("{}\n", nothing ? "Nothing to migrate." : "Dry run: nothing was changed.");
    return k_exit_ok;
  }
  if (!o.yes) {
    const std::string question = std::string("Bring these into ") + plan->options.cache_dir + ", then " +
                                 (o.leave_link ? "replace each with links to it" : "remove them") + "?";
    const auto answer = ask_confirmation(question, "migrate");
    if (!answer || !*answer) {
      if (answer) fmt::print("Aborted: nothing was changed.\n");
      return k_exit_failure;
    }
  }
  auto report = hygiene::execute_migrate(*plan);
  if (!report) return report_error(report.error(), o.common.json);
  std::size_t linked = 0, copied = 0, compared = 0, verified = 0, refs = 0;
  for (const auto& m : report->merges) {
    linked += m.blobs_linked;
    copied += m.blobs_copied;
    compared += m.blobs_compared;
    verified += m.files_verified;
    refs += m.refs_written;
  }
  verified += report->folder_files_verified;
  if (o.common.json) {
    out["result"] = {{"blobs_linked", linked},
                     {"blobs_copied", copied},
                     {"blobs_compared", compared},
                     {"refs_written", refs},
                     {"files_verified", verified},
                     {"unverified", report->unverified},
                     {"files_rewritten", report->files_rewritten},
                     {"backups", report->backups},
                     {"caches_retired", report->caches_retired},
                     {"folders_imported", report->folders_imported},
                     {"folders_kept", report->folders_kept},
                     {"folders_pinned", report->folders_pinned}};
    print_json(out);
  } else {
    if (!plan->caches.empty())
      fmt::print("Merged: {} blob(s) linked, {} copied, {} compared with the central cache's; {} ref(s) written.\n", linked,
                 copied, compared, refs);
    if (report->folders_imported > 0) fmt::print("Imported {} model folder(s).\n", report->folders_imported);
    fmt::print("Verified: {} file(s) resolve from {} to the same bytes.\n", verified, plan->options.cache_dir);
  }
  if (!report->unverified.empty()) {
    if (!o.common.json) {
      for (const auto& u : report->unverified) print_warning("does not resolve from the central cache: " + u);
      fmt::print(stderr,
                 "Error: {} file(s) did not verify; no project was changed. Run `hubcache cache verify`, then migrate again.\n",
                 report->unverified.size());
    }
    return k_exit_integrity;
  }
  if (!o.common.json) {
    if (report->files_rewritten > 0)
      fmt::print("Rewrote {} configuration file(s); the originals are kept as {}.\n", report->files_rewritten,
                 join(report->backups, ", "));
    else if (!plan->edits.empty())
      fmt::print(
          "The configuration lines above still name the project caches: change them, or run again with --rewrite-config.\n");
    for (const auto& cache : plan->caches)
      fmt::print("{} {}.\n", o.leave_link ? "Replaced with a link to the central cache:" : "Removed", cache.path);
    for (const auto& f : plan->folders) {
      const bool kept = std::find(report->folders_kept.begin(), report->folders_kept.end(), f.path) != report->folders_kept.end();
      if (o.leave_link)
        fmt::print("Each file of {} is now a {} of its blob in the central cache{}.\n", f.path,
                   f.import.same_filesystem ? "hardlink" : "symlink",
                   f.import.same_filesystem
                       ? " (replace these files, never edit one in place: that would change the cache's copy)"
                       : "");
      else if (kept)
        fmt::print("Kept {}: it holds files that were not imported; the imported ones were removed.\n", f.path);
      else
        fmt::print("Removed {} (load \"{}\"{} from the central cache instead).\n", f.path, f.import.options.repo.id,
                   f.load_revision.empty() ? "" : " with revision=\"" + f.load_revision + "\"");
    }
    if (plan->options.cache_dir != c.hub_cache.value)
      fmt::print("Point every tool at the central cache:\n  export HF_HUB_CACHE={}\n", plan->options.cache_dir);
  }
  return k_exit_ok;
}

}  // namespace

void add_migrate_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "migrate",
      "Merge the model caches kept inside projects (./model_cache, any folder holding models--*) and their --local-dir "
      "model folders into the central cache, "
      "point the projects' configuration at it, and remove them (or leave a link)");
  auto o = std::make_shared<MigrateCliOptions>();
  cmd->add_option("PROJECT_DIR", o->projects, "Project folders to migrate (their caches are found below them)")->required();
  cmd->add_option("--model", o->models,
                  "DIR=ORG/NAME[@REVISION]: import the model folder DIR (an `hf download --local-dir` or a plain folder of "
                  "the repo's files) as that repo; datasets/ORG/NAME for a dataset. Repeatable")
      ->allow_extra_args(false)
      ->take_all();
  cmd->add_option("--to", o->to, "The central cache to merge into (default: the configured Hub cache)");
  cmd->add_flag("--dry-run", o->dry_run, "Show the plan and the configuration diff; change nothing");
  cmd->add_flag("-y,--yes", o->yes, "Do not ask for confirmation");
  cmd->add_flag("--rewrite-config", o->rewrite_config,
                "Apply the configuration diff (.env lines and simple string defaults; the originals kept as *.hubcache-bak)");
  cmd->add_flag(
      "--leave-link", o->leave_link,
      "Leave a symlink to the central cache where each project cache was, so code that names ./model_cache keeps working");
  add_cache_dir_option(*cmd, o->common);
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] { ctx.exit_code = run(ctx, *o); });
}

}  // namespace hubcache::cli

// `hubcache dedupe [ROOT...]`: one copy of every content across the stores. Plan, show, confirm,
// execute (hygiene/dedupe.hpp).
#include <fmt/core.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli.hpp"
#include "cmd_cache.hpp"
#include "hubcache/hygiene/dedupe.hpp"
#include "hubcache/hygiene/locations.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct DedupeCliOptions {
  CommonOptions common;
  std::vector<std::string> roots;
  bool dry_run = false, yes = false, deep = false;
  std::string link = "auto";
};

std::string size_text(std::uint64_t bytes) { return format_size(static_cast<double>(bytes)); }

// The stores to make one copy across: each ROOT as the stores it is (a folder that is none is read
// as a plain folder of files); else every store where its tool keeps it.
Result<std::vector<stores::StoreListing>> read_stores(const Context& ctx, const DedupeCliOptions& o) {
  std::vector<std::pair<stores::StoreKind, std::string>> which;
  std::set<std::pair<stores::StoreKind, std::string>> seen;
  auto add = [&](stores::StoreKind kind, const std::string& path) {
    const std::string root = hygiene::real_folder(path);
    if (seen.emplace(kind, root).second) which.emplace_back(kind, root);
  };
  if (!o.roots.empty()) {
    for (const auto& p : o.roots) {
      auto kinds = stores::detect_stores(p);
      if (!kinds && kinds.error().code != ErrorCode::InvalidArgument) return fail(kinds.error());
      if (!kinds) {  // not a store itself: the stores below it, as doctor finds them
        if (!fs::is_dir(p)) return fail(kinds.error());
        std::vector<std::string> warnings;
        const auto found = hygiene::find_stores_under(p, 6, false, warnings);
        for (const auto& w : warnings) print_warning(w);
        if (found.empty())
          return fail(ErrorCode::InvalidArgument,
                      "no model store in or below '" + p +
                          "' (Hub caches, Ollama, LM Studio, llama.cpp, datasets, or model folders: a .gguf or "
                          ".safetensors file, config.json beside weights, or a --local-dir download)",
                      p);
        for (const auto& l : found) add(l.kind, l.root);
        continue;
      }
      for (auto k : *kinds) add(k, p);
    }
  } else {
    const Config c = load_config(ctx, o.common, /*quiet=*/true);
    for (const auto& l : hygiene::tool_store_locations(ctx.env, c)) add(l.kind, l.root);
  }
  std::vector<hygiene::StoreLocation> locations;
  for (const auto& [kind, root] : which) locations.push_back({kind, root, false});
  std::vector<stores::StoreListing> out;
  for (auto& listing : hygiene::list_stores(locations)) {
    if (!listing) return fail(listing.error());
    for (const auto& w : listing->warnings) print_warning(w);
    out.push_back(std::move(*listing));
  }
  return out;
}

nlohmann::json plan_json(const hygiene::DedupePlan& plan) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : plan.groups) {
    nlohmann::json replace = nlohmann::json::array();
    for (const auto& r : g.replace)
      replace.push_back({{"path", r.path},
                         {"store", stores::to_string(r.store)},
                         {"size", r.size},
                         {"disk_bytes", r.disk_bytes},
                         {"frees", r.frees}});
    groups.push_back({{"digest", (g.kind == DigestKind::GitSha1 ? "git-sha1:" : "sha256:") + g.hex},
                      {"hashed", g.hashed},
                      {"keep", g.keep},
                      {"replace", replace},
                      {"freed_bytes", g.freed_bytes}});
  }
  return {{"link", hygiene::to_string(plan.link)}, {"groups", groups},
          {"freed_bytes", plan.freed_bytes},       {"warnings", plan.warnings},
          {"hashed_files", plan.hashed_files},     {"hashed_bytes", plan.hashed_bytes}};
}

void print_plan(const hygiene::DedupePlan& plan) {
  std::size_t files = 0;
  for (const auto& g : plan.groups) files += g.replace.size();
  const char* how = plan.link == hygiene::LinkKind::Auto ? "reflinks where the filesystem has them, else hardlinks"
                                                         : hygiene::to_string(plan.link);
  fmt::print("{} content{} held more than once; {} file{} become{} links of the kept copy ({}); frees {}\n", plan.groups.size(),
             plan.groups.size() == 1 ? "" : "s", files, files == 1 ? "" : "s", files == 1 ? "s" : "", how,
             size_text(plan.freed_bytes));
  if (plan.hashed_files)
    fmt::print("(hashed {} file{}, {}, to find contents without a name that says them)\n", plan.hashed_files,
               plan.hashed_files == 1 ? "" : "s", size_text(plan.hashed_bytes));
  for (const auto& g : plan.groups) {
    fmt::print("  {} {}{}  frees {}\n", g.kind == DigestKind::GitSha1 ? "git-sha1" : "sha256", g.hex.substr(0, 16),
               g.hashed ? " (hashed)" : "", size_text(g.freed_bytes));
    fmt::print("    keep  {}\n", printable(g.keep));
    for (const auto& r : g.replace)
      fmt::print("    link  {}{}\n", printable(r.path), r.frees ? "" : " (other names keep its bytes)");
  }
  for (const auto& w : plan.warnings) print_warning(w);
}

}  // namespace

void add_dedupe_command(CLI::App& app, Context& ctx) {
  auto* cmd =
      app.add_subcommand("dedupe",
                         "Keep one copy of every file held more than once across the model stores: the others become links of it "
                         "(reflink, else hardlink), proven identical first");
  auto o = std::make_shared<DedupeCliOptions>();
  cmd->add_option("ROOT", o->roots, "Stores or folders to make one copy across (default: every store where its tool keeps it)");
  cmd->add_flag("--dry-run", o->dry_run, "Show the plan and change nothing");
  cmd->add_flag("-y,--yes", o->yes, "Do not ask for confirmation");
  cmd->add_flag("--deep", o->deep,
                "Also hash files whose names do not say their content when their sizes collide (LM Studio, plain "
                "folders, copies)");
  cmd->add_option("--link", o->link, "reflink, hardlink or symlink (default: reflink where possible, else hardlink)")
      ->check(CLI::IsMember({"auto", "reflink", "hardlink", "symlink"}));
  add_cache_dir_option(*cmd, o->common);
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] {
    if (o->common.json && !o->yes && !o->dry_run) {  // nothing could answer the question in the middle of JSON
      ctx.exit_code = report_error(
          Error{ErrorCode::InvalidArgument, "--json needs --yes (link) or --dry-run (only plan): it cannot ask for confirmation"},
          true);
      return;
    }
    auto listings = read_stores(ctx, *o);
    if (!listings) {
      ctx.exit_code = report_error(listings.error(), o->common.json);
      return;
    }
    hygiene::DedupeOptions options;
    options.deep = o->deep;
    options.link = hygiene::parse_link_kind(o->link).value_or(hygiene::LinkKind::Auto);  // checked by IsMember
    const auto plan = hygiene::plan_dedupe(std::move(*listings), options);
    nlohmann::json out = o->common.json ? plan_json(plan) : nlohmann::json();
    if (!o->common.json) print_plan(plan);
    if (o->dry_run || plan.groups.empty()) {
      if (o->common.json)
        print_json(out);
      else
        fmt::print("{}\n", plan.groups.empty() ? "Nothing to do." : "Dry run: nothing was changed.");
      return;
    }
    if (!o->yes) {
      const auto answer = ask_confirmation("Replace these files by links?", "link files");
      if (!answer || !*answer) {
        if (answer) fmt::print("Aborted: nothing was changed.\n");
        ctx.exit_code = 1;
        return;
      }
    }
    const auto report = hygiene::execute_dedupe(plan);
    if (o->common.json) {
      out["result"] = {
          {"linked", report.linked}, {"freed_bytes", report.freed_bytes}, {"skipped", report.skipped}, {"errors", report.errors}};
      print_json(out);
    } else {
      for (const auto& s : report.skipped) print_warning("left as it is: " + s);
      for (const auto& e : report.errors) print_warning(e);
      fmt::print("Linked {} file{}; freed {}.\n", report.linked, report.linked == 1 ? "" : "s", size_text(report.freed_bytes));
    }
    if (!o->common.json && !report.skipped.empty())
      fmt::print("{} file{} left as {} (see the warnings above).\n", report.skipped.size(), report.skipped.size() == 1 ? "" : "s",
                 report.skipped.size() == 1 ? "it is" : "they are");
    // Bytes that are not what their name says: the integrity exit code; anything else left or failed: 1.
    if (report.integrity)
      ctx.exit_code = 6;
    else if (!report.errors.empty() || !report.skipped.empty())
      ctx.exit_code = 1;
  });
}

}  // namespace hubcache::cli

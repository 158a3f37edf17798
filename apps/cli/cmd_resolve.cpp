// `hubcache resolve`: offline resolution of files or a snapshot, like from_pretrained offline.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "hubcache/resolve/local_folder.hpp"
#include "hubcache/resolve/offline.hpp"

namespace hubcache::cli {
namespace {

struct ResolveOptions {
  CommonOptions common;
  std::string repo_id;
  std::vector<std::string> filenames;
  std::string revision = "main";
  std::string repo_type = "model";
  std::vector<std::string> include;
  std::vector<std::string> exclude;
};

// A model named by an existing folder is that folder (from_pretrained step 1): every file it
// lacks is named at once.
int run_folder_files(const ResolveOptions& o, RepoType type, const std::string& folder) {
  SnapshotLookupOptions so;
  so.repo_type = type;
  so.filenames = o.filenames;
  auto r = resolve_snapshot(folder, so);
  if (!r) return report_error(r.error(), o.common.json);
  nlohmann::json files = nlohmann::json::object();
  const std::string base = folder + (folder.ends_with('/') ? "" : "/");
  for (const auto& f : o.filenames) files[f] = base + f;
  if (o.common.json)
    print_json({{"repo_id", o.repo_id}, {"local_folder", folder}, {"files", files}});
  else
    for (const auto& f : o.filenames) fmt::print("{}\n", base + f);
  return k_exit_ok;
}

int run_files(const ResolveOptions& o, RepoType type, const Config& c) {
  if (auto folder = local_model_folder(o.repo_id)) return run_folder_files(o, type, *folder);
  CacheLookupOptions lo{o.revision, type, c.hub_cache.value};
  nlohmann::json files = nlohmann::json::object();
  std::vector<std::string> paths, missing, absent;
  std::string commit, hint, cached_commit;
  for (const auto& f : o.filenames) {
    auto r = try_to_load_from_cache(o.repo_id, f, lo);
    if (!r) return report_error(r.error(), o.common.json);
    if (!r->commit.empty()) commit = r->commit;
    if (!r->hint.empty()) hint = r->hint;
    if (!r->cached_commit.empty()) cached_commit = r->cached_commit;
    switch (r->kind) {
      case CacheLookup::Kind::Found:
        paths.push_back(r->path);
        files[f] = r->path;
        break;
      case CacheLookup::Kind::NoExist:
        absent.push_back(f);
        files[f] = nullptr;
        break;
      case CacheLookup::Kind::NotCached:
        missing.push_back(f);
        files[f] = nullptr;
        break;
    }
  }
  if (missing.empty() && absent.empty()) {
    if (o.common.json)
      print_json({{"repo_id", o.repo_id}, {"repo_type", to_string(type)}, {"commit", commit}, {"files", files}});
    else
      for (const auto& p : paths) fmt::print("{}\n", p);
    return k_exit_ok;
  }
  std::string msg;
  if (!absent.empty()) {
    msg += fmt::format("{} '{}' has no file named", to_string(type), o.repo_id);
    for (const auto& a : absent) msg += " '" + a + "'";
    msg += fmt::format(" at commit {} (recorded in .no_exist).", commit);
  }
  if (!missing.empty()) {
    if (!msg.empty()) msg += "\n";
    msg += fmt::format("not in the cache '{}' for {} '{}' revision '{}':", c.hub_cache.value, to_string(type), o.repo_id,
                       o.revision);
    for (const auto& m : missing) msg += "\n  - " + m;
    msg += "\nFetch with: hubcache download " + o.repo_id;
    for (const auto& m : missing) msg += " '" + m + "'";
    if (type != RepoType::Model) msg += std::string(" --repo-type ") + to_string(type);
    if (o.revision != "main") msg += " --revision " + o.revision;
    if (!hint.empty()) msg += "\n" + hint.substr(1);  // the library's: the cached commits
  }
  Error e{missing.empty() ? ErrorCode::EntryNotFound : ErrorCode::LocalEntryNotFound, msg, {}, std::nullopt, missing};
  if (!cached_commit.empty()) e = std::move(e).with_remedy(Remedy::UseRevision, cached_commit);
  for (const auto& a : absent) e.missing.push_back(a);
  return report_error(e, o.common.json);
}

int run_snapshot(const ResolveOptions& o, RepoType type, const Config& c) {
  SnapshotLookupOptions so;
  so.revision = o.revision;
  so.repo_type = type;
  so.cache_dir = c.hub_cache.value;
  so.filter = PathFilter::make(o.include.empty() ? std::nullopt : std::optional(o.include), o.exclude);
  auto r = resolve_snapshot(o.repo_id, so);
  if (!r) return report_error(r.error(), o.common.json);
  for (const auto& w : r->warnings) print_warning(w);
  if (o.common.json)
    print_json({{"repo_id", o.repo_id},
                {"repo_type", to_string(type)},
                {"commit", r->commit},
                {"snapshot_path", r->snapshot_dir},
                {"files", r->files},
                {"verified_complete", r->verified_complete}});
  else
    fmt::print("{}\n", r->snapshot_dir);
  return k_exit_ok;
}

}  // namespace

void add_resolve_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ResolveOptions>();
  auto* cmd = app.add_subcommand("resolve", "Resolve a repo (or files of it) to local paths, offline");
  cmd->add_option("repo_id", o->repo_id,
                  "Repo id, e.g. org/name, or the path of a local model folder (an existing folder wins, as in from_pretrained)")
      ->required();
  cmd->add_option("filenames", o->filenames, "Files to resolve; without them, the snapshot folder");
  cmd->add_option("--revision", o->revision, "Branch, tag, refs/pr/N or commit hash (default main)");
  add_repo_type_option(*cmd, o->repo_type);
  cmd->add_option("--include", o->include, "Only files matching this pattern (repeatable)");
  cmd->add_option("--exclude", o->exclude, "Skip files matching this pattern (repeatable)");
  add_cache_dir_option(*cmd, o->common);
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] {
    const Config c = load_config(ctx, o->common);
    const RepoType type = *parse_repo_type(o->repo_type);
    set_hint_repo(o->repo_id, type, o->revision);
    if (!o->filenames.empty() && (!o->include.empty() || !o->exclude.empty()))
      print_warning("--include/--exclude are ignored when file names are given");
    if (const int rc = check_filename_args(o->filenames, o->common.json); rc != k_exit_ok) {
      ctx.exit_code = rc;
      return;
    }
    ctx.exit_code = o->filenames.empty() ? run_snapshot(*o, type, c) : run_files(*o, type, c);
  });
}

}  // namespace hubcache::cli

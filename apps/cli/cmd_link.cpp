// `hubcache link REPO [DEST]`: a cached snapshot as a plain folder of links of the cache's blobs
// (hygiene/views.hpp); `--lmstudio` places GGUF files where LM Studio looks.
#include <fmt/core.h>

#include <climits>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"
#include "hubcache/hygiene/views.hpp"
#include "hubcache/resolve/offline.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct LinkOptions {
  CommonOptions common;
  std::string repo_id, dest, revision = "main", repo_type = "model", link = "auto";
  std::vector<std::string> include, exclude;
  bool lmstudio = false;
};

int run_link(const Context& ctx, const LinkOptions& o) {
  const RepoType type = *parse_repo_type(o.repo_type);
  std::string dest = o.dest;
  std::vector<std::string> include = o.include;
  if (o.lmstudio) {
    if (!dest.empty())
      return report_error(Error{ErrorCode::InvalidArgument, "--lmstudio chooses the folder itself: give no DEST"}, o.common.json);
    const auto home = ctx.env.get_nonempty("HOME");
    const std::string models = stores::lm_studio_models_folder(home ? expand_path(*home, ctx.env) : "");
    if (models.empty())
      return report_error(Error{ErrorCode::InvalidArgument, "HOME is not set: LM Studio's folder is unknown"}, o.common.json);
    // LM Studio indexes <publisher>/<model>/<file>, exactly two folders deep.
    const auto slash = o.repo_id.find('/');
    dest = models + "/" + (slash == std::string::npos ? "hubcache/" + o.repo_id : o.repo_id);
    if (include.empty()) include = {"*.gguf"};
  }
  if (dest.empty()) return report_error(Error{ErrorCode::InvalidArgument, "give the DEST folder (or --lmstudio)"}, o.common.json);
  const Config c = load_config(ctx, o.common, /*quiet=*/true);
  SnapshotLookupOptions so;
  so.revision = o.revision;
  so.repo_type = type;
  so.cache_dir = c.hub_cache.value;
  so.filter = PathFilter::make(include.empty() ? std::nullopt : std::optional(include), o.exclude);
  auto snap = resolve_snapshot(o.repo_id, so);
  if (!snap) return report_error(snap.error(), o.common.json);
  std::vector<hygiene::ViewFile> files;
  for (const auto& f : snap->files) {
    char buf[PATH_MAX];
    const std::string pointer = snap->snapshot_dir + "/" + f;
    if (!::realpath(pointer.c_str(), buf))
      return report_error(errno_error(errno, "cannot read the cached file", pointer), o.common.json);
    files.push_back({f, buf});
  }
  if (files.empty())
    return report_error(Error{ErrorCode::NotFound, "no cached file of " + o.repo_id + " at " + snap->commit + " matches"},
                        o.common.json);
  const auto kind = hygiene::parse_link_kind(o.link).value_or(hygiene::LinkKind::Auto);  // checked by IsMember
  const RepoLayout layout(c.hub_cache.value, RepoRef{type, o.repo_id});
  auto view = hygiene::link_view(files, dest, kind, &layout);
  if (!view) return report_error(view.error(), o.common.json);
  if (o.common.json) {
    print_json({{"repo_id", o.repo_id},
                {"commit", snap->commit},
                {"dest", dest},
                {"linked", view->linked},
                {"already", view->already},
                {"reflinks", view->reflinks},
                {"bytes", view->bytes}});
  } else {
    fmt::print("{}: {} file{} ({}) linked into {}{}{}\n", o.repo_id, view->linked, view->linked == 1 ? "" : "s",
               format_size(static_cast<double>(view->bytes)), dest,
               view->already ? fmt::format(", {} already there", view->already) : std::string(),
               view->reflinks ? fmt::format(" ({} as reflinks)", view->reflinks) : std::string());
    for (const auto& w : snap->warnings) print_warning(w);
  }
  return k_exit_ok;
}

}  // namespace

void add_link_command(CLI::App& app, Context& ctx) {
  auto* cmd =
      app.add_subcommand("link",
                         "Make a cached snapshot a plain folder whose files are links of the cache's blobs (no second copy); "
                         "--lmstudio places its GGUF files where LM Studio looks");
  auto o = std::make_shared<LinkOptions>();
  cmd->add_option("repo_id", o->repo_id, "Repo id, e.g. org/name")->required();
  cmd->add_option("DEST", o->dest, "Folder to fill (created if missing)");
  cmd->add_option("--revision", o->revision, "Branch, tag or commit (default main)");
  add_repo_type_option(*cmd, o->repo_type);
  cmd->add_option("--include", o->include, "Only files matching this pattern (repeatable)");
  cmd->add_option("--exclude", o->exclude, "Skip files matching this pattern (repeatable)");
  cmd->add_flag("--lmstudio", o->lmstudio,
                "Into LM Studio's models folder (<publisher>/<model>/, GGUF files unless --include says otherwise)");
  cmd->add_option("--link", o->link, "reflink, hardlink or symlink (default: reflink where possible, else hardlink)")
      ->check(CLI::IsMember({"auto", "reflink", "hardlink", "symlink"}));
  add_cache_dir_option(*cmd, o->common);
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] { ctx.exit_code = run_link(ctx, *o); });
}

}  // namespace hubcache::cli

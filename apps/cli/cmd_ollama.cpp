// `hubcache ollama link REPO [FILE.gguf]`: a cached GGUF registered in Ollama's store without a copy
// (hygiene/ollama_link.hpp).
#include <fmt/core.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"
#include "hubcache/hygiene/ollama_link.hpp"
#include "hubcache/resolve/offline.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::cli {
namespace {

struct OllamaLinkOptions {
  CommonOptions common;
  std::string repo_id, file, name, revision = "main", models;
  bool force = false;
};

// The cached file behind snapshot path `rel`: its bytes and its ETag (the pointer's blob name).
Result<hygiene::OllamaLinkFile> cached_file(const std::string& snapshot, const std::string& rel) {
  const std::string pointer = snapshot + "/" + rel;
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(pointer.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return fail(ErrorCode::InvalidArgument, "'" + pointer + "' is not a pointer into the cache's blobs", pointer);
  std::string target(buf, static_cast<std::size_t>(n));
  const std::string etag = target.substr(target.rfind('/') + 1);
  if (digest_kind_of(etag) != DigestKind::Sha256)
    return fail(ErrorCode::InvalidArgument, "'" + rel + "' is not an LFS file (its blob is not named by a SHA-256)", pointer);
  if (!::realpath(pointer.c_str(), buf)) return fail(errno_error(errno, "cannot read the cached file", pointer));
  return hygiene::OllamaLinkFile{buf, etag};
}

int run_ollama_link(const Context& ctx, const OllamaLinkOptions& o) {
  const Config c = load_config(ctx, o.common, /*quiet=*/true);
  SnapshotLookupOptions so;
  so.revision = o.revision;
  so.cache_dir = c.hub_cache.value;
  so.filter = PathFilter::make(std::vector<std::string>{"*.gguf"}, {});
  auto snap = resolve_snapshot(o.repo_id, so);
  if (!snap) return report_error(snap.error(), o.common.json);
  std::vector<std::string> weights, projectors;
  for (const auto& f : snap->files) {
    const std::string base = f.substr(f.rfind('/') + 1);
    (base.rfind("mmproj", 0) == 0 ? projectors : weights).push_back(f);
  }
  std::string file = o.file;
  if (file.empty()) {
    if (weights.size() != 1) {
      std::string list;
      for (const auto& w : weights) list += "\n  " + w;
      return report_error(
          Error{ErrorCode::InvalidArgument, weights.empty() ? "no cached GGUF file of " + o.repo_id + " at " + snap->commit
                                                            : "name the GGUF file to link; the cache holds:" + list},
          o.common.json);
    }
    file = weights.front();
  }
  hygiene::OllamaLinkRequest req;
  auto model = cached_file(snap->snapshot_dir, file);
  if (!model) return report_error(model.error(), o.common.json);
  req.model = *model;
  if (projectors.size() == 1) {
    auto p = cached_file(snap->snapshot_dir, projectors.front());
    if (!p) return report_error(p.error(), o.common.json);
    req.projector = *p;
  }
  req.name = o.name.empty() ? "hf.co/" + o.repo_id + ":latest" : o.name;
  req.force = o.force;
  auto models = find_ollama_models(ctx, o.models);
  if (!models) return report_error(models.error(), o.common.json);
  req.models_dir = *models;
  auto report = hygiene::ollama_link(req);
  if (!report) return report_error(report.error(), o.common.json);
  if (o.common.json) {
    print_json({{"model", report->model},
                {"manifest", report->manifest},
                {"manifest_written", report->manifest_written},
                {"blobs_linked", report->blobs_linked},
                {"blobs_present", report->blobs_present},
                {"blobs_separate", report->blobs_separate}});
    return k_exit_ok;
  }
  fmt::print("{} {} in Ollama as {} (no copy: {} blob{} linked to the cache's)\n", file,
             report->manifest_written ? "registered" : "was already registered", report->model, report->blobs_linked,
             report->blobs_linked == 1 ? "" : "s");
  if (report->blobs_separate)
    print_note("Ollama already held these bytes as a separate copy; `hubcache dedupe` links them to the cache's");
  fmt::print("Run it with: ollama run {}\n", report->model);
  return k_exit_ok;
}

}  // namespace

Result<std::string> find_ollama_models(const Context& ctx, const std::string& given) {
  if (!given.empty()) return given;
  const auto models = ctx.env.get_nonempty("OLLAMA_MODELS");
  const auto home = ctx.env.get_nonempty("HOME");
  for (const auto& d :
       stores::ollama_models_candidates(models ? expand_path(*models, ctx.env) : "", home ? expand_path(*home, ctx.env) : ""))
    if (fs::is_dir(d)) return d;
  return fail(ErrorCode::NotFound,
              "no Ollama models folder here (OLLAMA_MODELS, ~/.ollama/models, /usr/share/ollama/.ollama/models): run "
              "Ollama once, or give --ollama-models");
}

void add_ollama_command(CLI::App& app, Context& ctx) {
  auto* ollama = app.add_subcommand("ollama", "Share cached models with Ollama without copies");
  ollama->require_subcommand(1);
  auto* cmd = ollama->add_subcommand(
      "link", "Register a cached GGUF in Ollama's store as a link of the cache's blob, as `ollama pull` would write it");
  auto o = std::make_shared<OllamaLinkOptions>();
  cmd->add_option("repo_id", o->repo_id, "Repo id, e.g. org/name-GGUF")->required();
  cmd->add_option("FILE", o->file, "The GGUF file in the repo (needed when it holds several)");
  cmd->add_option("--name", o->name, "Ollama model name (default hf.co/<repo_id>:latest)");
  cmd->add_option("--revision", o->revision, "Branch, tag or commit (default main)");
  cmd->add_option("--ollama-models", o->models, "Ollama's models folder (default: OLLAMA_MODELS, ~/.ollama/models, ...)");
  cmd->add_flag("--force", o->force, "Replace another model of that name");
  add_cache_dir_option(*cmd, o->common);
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] { ctx.exit_code = run_ollama_link(ctx, *o); });
}

}  // namespace hubcache::cli

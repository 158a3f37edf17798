// `hubcache download`: a drop-in for `hf download` (docs/cache-management.md#download).
#include <fmt/core.h>
#include <unistd.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "hubcache/hygiene/views.hpp"
#include "download_progress.hpp"
#include "net_transport.hpp"
#include "hubcache/resolve/download.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct DownloadArgs {
  std::string repo_id;
  std::vector<std::string> filenames;
  std::optional<std::string> repo_type;
  std::optional<std::string> revision;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::optional<std::string> cache_dir;
  std::optional<std::string> local_dir;
  bool link = false;  // --local-dir as links of the cache's blobs
  bool force = false;
  std::optional<std::string> token;
  unsigned max_workers = 0;        // adapt
  std::optional<std::string> xet;  // off | auto | on
  bool dry_run = false;
  std::optional<std::string> for_target;  // --for transformers|diffusers|gguf[:QUANT]
  bool with_base = false;
  bool quiet = false;
  bool json = false;
  bool offline = false;
  // Flags of older huggingface_hub guides, accepted with a note (they are no longer needed).
  std::optional<std::string> local_dir_use_symlinks;
  bool resume_download = false;
};

std::shared_ptr<CancelToken> g_cancel;
volatile std::sig_atomic_t g_signal = 0;  // the signal that cancelled, for the exit code
extern "C" void on_signal(int sig) {
  g_signal = sig;
  if (g_cancel) g_cancel->cancel();
}

// --json output is one object per line (progress events, then the result or the error).
// Ctrl-C (or SIGTERM) keeps every finished blob and the partial ones (.incomplete, .parts.*): the
// message says so and that the same command resumes, in --json too (the message is the error's).
int print_error(const Error& e, const DownloadArgs& a) {
  if (e.code != ErrorCode::Cancelled) return report_error(e, a.json, false);
  Error cancelled = e;
  cancelled.message += ". What was already downloaded is kept: rerun the same command to resume.";
  (void)report_error(cancelled, a.json, false);
  // 128 + the signal, as a shell reports a process it stopped: 130 for Ctrl-C, 143 for SIGTERM.
  return g_signal != 0 ? 128 + static_cast<int>(g_signal) : k_exit_interrupted;
}

void print_result(const std::string& path, const DownloadArgs& a, const nlohmann::json& extra) {
  if (a.json) {
    nlohmann::json j = extra;
    j["path"] = path;
    print_json(j, false);
  } else {
    // Like `hf download`: stdout is the path alone, so MODEL=$(hubcache download ...) works.
    if (!a.quiet) fmt::print(stderr, "{} Downloaded\n", isatty(STDERR_FILENO) ? "\u2713" : "[OK]");
    fmt::print("{}\n", path);
  }
}

nlohmann::json dry_run_json(const SnapshotResult& r, const std::string& repo_id) {
  std::size_t n = 0;
  std::uint64_t bytes = 0;
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : r.files) {
    files.push_back({{"file", f.path}, {"size", f.size}, {"cached", f.cached}});
    if (!f.cached) {
      ++n;
      bytes += f.size;
    }
  }
  nlohmann::json j = {
      {"dry_run", true}, {"repo_id", repo_id}, {"commit", r.commit}, {"will_download", n}, {"total_files", r.repo_files},
      {"bytes", bytes},  {"files", files},     {"path", r.path}};
  if (!r.left_out.empty()) j["left_out"] = left_out_json(r.left_out);
  return j;
}

void print_dry_run_text(const SnapshotResult& r, const std::string& repo_id) {
  std::size_t n = 0;
  std::uint64_t bytes = 0;
  for (const auto& f : r.files)
    if (!f.cached) {
      ++n;
      bytes += f.size;
    }
  fmt::print("[dry-run] Will download {} file{} (out of {}) totalling {}B.\n", n, n == 1 ? "" : "s", r.files.size(),
             format_size(static_cast<double>(bytes)));
  std::size_t w = 4;
  for (const auto& f : r.files) w = std::max(w, f.path.size());
  fmt::print("{:<{}}  {:>8}\n", "FILE", w, "SIZE");
  for (const auto& f : r.files)
    fmt::print("{:<{}}  {:>8}\n", f.path, w, f.cached ? std::string("-") : format_size(static_cast<double>(f.size)) + "B");
  if (!r.left_out.empty()) {
    std::uint64_t left = 0;
    for (const auto& l : r.left_out) left += l.size;
    fmt::print("[dry-run] Left out {} file{} ({}B) of {} the framework does not load:\n", r.left_out.size(),
               r.left_out.size() == 1 ? "" : "s", format_size(static_cast<double>(left)), repo_id);
    for (const auto& line : left_out_lines(r.left_out)) fmt::print("{}\n", line);
  }
}

int print_dry_run(const SnapshotResult& r, const DownloadArgs& a) {
  if (a.json) {
    nlohmann::json j = dry_run_json(r, a.repo_id);
    if (!r.bases.empty()) {
      j["bases"] = nlohmann::json::array();
      for (const auto& b : r.bases) {
        auto bj = dry_run_json(b.snapshot, b.repo_id);
        bj["adapter_repo_id"] = b.adapter_repo_id;
        j["bases"].push_back(std::move(bj));
      }
    }
    print_json(j, false);
    return k_exit_ok;
  }
  print_dry_run_text(r, a.repo_id);
  for (const auto& b : r.bases) {
    fmt::print("[dry-run] Base model {} (adapter_config.json of {}):\n", b.repo_id, b.adapter_repo_id);
    print_dry_run_text(b.snapshot, b.repo_id);
  }
  return k_exit_ok;
}

// --local-dir DIR --link: DIR's files become links of the snapshot's blobs, with the records
// huggingface_hub keeps for a local dir (hygiene/views.hpp link_local_dir). Returns the number of
// files linked now.
Result<std::size_t> link_into(const std::string& dir, const std::string& snapshot, const std::string& commit,
                              const std::vector<PlannedFile>& files) {
  std::vector<hygiene::LocalDirFile> view;
  for (const auto& f : files) {
    char buf[PATH_MAX];
    const std::string pointer = snapshot + "/" + f.path;
    if (!::realpath(pointer.c_str(), buf)) return fail(errno_error(errno, "cannot read the cached file", pointer));
    view.push_back({f.path, buf, f.etag});
  }
  HUBCACHE_TRY_ASSIGN(auto report, hygiene::link_local_dir(view, commit, dir, hygiene::LinkKind::Auto));
  return report.linked;
}

int run(const Context& ctx, DownloadArgs a) {
  if (a.local_dir_use_symlinks && !a.quiet)
    print_note(
        "--local-dir-use-symlinks is no longer needed (huggingface_hub dropped it in 0.23): --local-dir always "
        "holds real files; ignoring it.");
  if (a.resume_download && !a.quiet)
    print_note("--resume-download is no longer needed: interrupted downloads always resume; ignoring it.");
  RepoType type = RepoType::Model;
  std::string revision = a.revision.value_or("main");
  // hf:// URIs (docs/cache-management.md#hf-uri).
  if (a.repo_id.rfind("hf://", 0) == 0) {
    if (a.repo_type || a.revision) return usage_error("--repo-type and --revision cannot be combined with an hf:// URI");
    auto uri = parse_hf_uri(a.repo_id);
    if (!uri) return usage_error(uri.error().message);
    if (!uri->path.empty() && !a.filenames.empty()) return usage_error("a path in the hf:// URI excludes FILENAMES");
    a.repo_id = uri->repo_id;
    type = uri->type;
    if (uri->revision) revision = *uri->revision;
    if (!uri->path.empty()) a.filenames.push_back(uri->path);
  } else if (a.repo_type) {
    type = *parse_repo_type(*a.repo_type);
  }
  set_hint_repo(a.repo_id, type, revision);
  if (a.link && !a.local_dir)
    return usage_error("--link needs --local-dir: it makes that folder's files links of the cache's blobs");
  // --link: download into the cache as usual, then make the local dir a view of it.
  const std::optional<std::string> link_dir = a.link && !a.dry_run ? a.local_dir : std::nullopt;
  if (link_dir) a.local_dir.reset();
  if (const int rc = check_filename_args(a.filenames, a.json, false); rc != k_exit_ok) return rc;
  // FILENAMES: folders become patterns; one regular name means single-file mode.
  std::vector<std::string> names, folders;
  for (const auto& f : a.filenames) (f.size() > 1 && f.back() == '/' ? folders : names).push_back(f);
  if (!folders.empty() && (!a.include.empty() || !a.exclude.empty()))
    return usage_error("folder names (ending in '/') cannot be combined with --include/--exclude");
  if (!names.empty() && (!a.include.empty() || !a.exclude.empty()) && !a.quiet)
    print_warning("--include/--exclude are ignored when file names are given");

  std::optional<model::ModelTarget> target;
  if (a.for_target) {
    auto t = model::ModelTarget::parse(*a.for_target);
    if (!t) {  // a usage error, reported as JSON under --json like an invalid repo id
      Error e = std::move(t).error();
      e.message = "--for: " + e.message;
      return print_error(e, a);
    }
    target = *t;
  }

  Overrides ov = cli_overrides();
  ov.cache_dir = a.cache_dir;
  ov.token = a.token;
  if (a.offline) ov.offline = true;
  Config config = Config::from_env(ctx.env, ov);
  if (!a.quiet)
    for (const auto& w : config.warnings) print_warning(w);
  DownloadOptions opts = DownloadOptions::from_env(config);
  opts.max_workers = a.max_workers;
  if (a.xet) opts.xet = *a.xet == "off" ? XetMode::Off : *a.xet == "on" ? XetMode::On : XetMode::Auto;
  opts.transport = net_transport(config);
  g_cancel = std::make_shared<CancelToken>();
  opts.cancel = g_cancel;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto mode = ProgressRenderer::Mode::None;
  if (a.json)
    mode = ProgressRenderer::Mode::JsonLines;
  else if (!a.quiet && !a.dry_run) {
    // HF_HUB_DISABLE_PROGRESS_BARS is tri-state: true = off, false = forced on, unset = on a terminal.
    const bool bars = config.disable_progress_bars ? !*config.disable_progress_bars : isatty(STDERR_FILENO) != 0;
    if (bars) mode = ProgressRenderer::Mode::Bar;
  }
  auto renderer = std::make_shared<ProgressRenderer>(mode, a.quiet);
  opts.progress = [renderer](const DownloadEvent& e) { renderer->on_event(e); };
  Downloader downloader(opts);

  if (names.size() == 1 && folders.empty() && !a.dry_run && !target && !a.with_base) {
    FileRequest req;
    req.repo_id = a.repo_id;
    req.repo_type = type;
    req.filename = names[0];
    req.revision = revision;
    req.force_download = a.force;
    req.local_dir = a.local_dir;
    auto r = downloader.download_file(req);
    renderer->finish();
    if (!r) return print_error(r.error(), a);
    if (!a.quiet)
      for (const auto& w : r->warnings) print_warning(w);
    if (link_dir) {
      auto view = link_into(*link_dir, r->path.substr(0, r->path.size() - names[0].size() - 1), r->commit,
                            {{names[0], r->size, r->etag, true}});
      if (!view) return print_error(view.error(), a);
      print_result(*link_dir + "/" + names[0], a, {{"commit", r->commit}, {"transferred", r->transferred}, {"linked", *view}});
      return k_exit_ok;
    }
    print_result(r->path, a, {{"commit", r->commit}, {"transferred", r->transferred}});
    return k_exit_ok;
  }
  SnapshotRequest req;
  req.repo_id = a.repo_id;
  req.repo_type = type;
  req.revision = revision;
  req.force_download = a.force;
  req.local_dir = a.local_dir;
  req.dry_run = a.dry_run;
  req.target = target;
  req.with_base = a.with_base;
  if (!names.empty() || !folders.empty()) {
    std::vector<std::string> allow = names;
    for (const auto& f : folders) allow.push_back(f + "**");
    req.allow_patterns = allow;
  } else {
    if (!a.include.empty()) req.allow_patterns = a.include;
    req.ignore_patterns = a.exclude;
  }
  auto r = downloader.snapshot_download(req);
  renderer->finish();
  if (!r) return print_error(r.error(), a);
  if (!a.quiet) {
    for (const auto& w : r->warnings) print_warning(w);
    for (const auto& b : r->bases)
      for (const auto& w : b.snapshot.warnings) print_warning(w);
  }
  // The patterns (or the names given) select nothing: an error, for a dry run too.
  if (r->files.empty() && r->repo_files > 0 && (req.allow_patterns || !req.ignore_patterns.empty())) {
    std::string pats;  // after "matches"
    std::string what;  // what selects, as a subject
    if (!names.empty() || !folders.empty()) {
      for (const auto& f : a.filenames) what += std::string(what.empty() ? "" : ", ") + "'" + f + "'";
      what = (a.filenames.size() == 1 ? "the name " : "the names ") + what;
      pats = " " + what;
    } else {
      for (const auto& p : req.allow_patterns.value_or(std::vector<std::string>{})) pats += " --include '" + p + "'";
      for (const auto& p : req.ignore_patterns) pats += " --exclude '" + p + "'";
      what = "the patterns" + pats;
    }
    const std::string where = a.repo_id + (r->commit.empty() ? std::string(" (a local folder)") : " at " + r->commit);
    const std::string list = " List them with: hubcache download " + a.repo_id +
                             (type == RepoType::Model ? "" : " --repo-type " + std::string(to_string(type))) + " --dry-run";
    std::string msg;
    if (target && !r->left_out.empty()) {
      // Files match the patterns, but --for leaves each of them out.
      std::string matched;
      std::size_t shown = 0;
      for (const auto& l : r->left_out) {
        if (shown++ == 3) {
          matched += ", ...";
          break;
        }
        matched += (matched.empty() ? "" : ", ") + l.path + " (" + l.reason + ")";
      }
      msg = what + " and --for " + target->to_string() + " together select nothing of " + where + ": --for " +
            target->to_string() + " leaves out " + std::to_string(r->left_out.size()) +
            (r->left_out.size() == 1 ? " file" : " files") + " they match: " + matched + ". Nothing was downloaded." + list +
            " --for " + target->to_string();
    } else {
      msg = "no file of " + where + " matches" + pats + " (the repo has " + std::to_string(r->repo_files) +
            " files; nothing was downloaded)." + list;
    }
    return print_error(Error{ErrorCode::EntryNotFound, msg, {}, {}, {}}, a);
  }
  if (a.dry_run) return print_dry_run(*r, a);
  if (link_dir) {
    auto view = link_into(*link_dir, r->path, r->commit, r->files);
    if (!view) return print_error(view.error(), a);
    print_result(
        *link_dir, a,
        {{"commit", r->commit}, {"files", r->files.size()}, {"bytes_transferred", r->bytes_transferred}, {"linked", *view}});
    return k_exit_ok;
  }
  nlohmann::json extra = {{"commit", r->commit}, {"files", r->files.size()}, {"bytes_transferred", r->bytes_transferred}};
  if (target) extra["left_out"] = r->left_out.size();
  if (a.with_base) {
    extra["bases"] = nlohmann::json::array();
    for (const auto& b : r->bases) {
      extra["bases"].push_back({{"repo_id", b.repo_id},
                                {"adapter_repo_id", b.adapter_repo_id},
                                {"path", b.snapshot.path},
                                {"commit", b.snapshot.commit},
                                {"files", b.snapshot.files.size()},
                                {"bytes_transferred", b.snapshot.bytes_transferred}});
      // stdout stays the adapter's path alone (MODEL=$(...)); the base goes to stderr.
      if (!a.json && !a.quiet)
        fmt::print(stderr, "Base model {} (adapter_config.json of {}): {}\n", b.repo_id, b.adapter_repo_id, b.snapshot.path);
    }
  }
  print_result(r->path, a, extra);
  return k_exit_ok;
}

}  // namespace

void add_download_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<DownloadArgs>();
  auto* cmd = app.add_subcommand("download", "Download files or a snapshot of a Hub repo into the cache (like `hf download`)");
  cmd->add_option(
         "repo_id", a->repo_id,
         "Repo id (org/name), hf:// URI, or the path of a local model folder (an existing folder wins, as in from_pretrained)")
      ->required();
  cmd->add_option("filenames", a->filenames, "Files to download (a name ending in '/' is a folder)");
  add_repo_type_option(*cmd, a->repo_type);
  cmd->add_option("--revision", a->revision, "Branch, tag, refs/pr/N or commit hash (default main)");
  // One value per occurrence (repeat the flag), so patterns never swallow FILENAMES.
  cmd->add_option("--include", a->include, "Only files matching this pattern (repeatable)")->allow_extra_args(false)->take_all();
  cmd->add_option("--exclude", a->exclude, "Skip files matching this pattern (repeatable)")->allow_extra_args(false)->take_all();
  cmd->add_option("--cache-dir", a->cache_dir, "Hub cache folder (beats HF_HUB_CACHE and HF_HOME)");
  cmd->add_option("--local-dir", a->local_dir,
                  "Download into this folder as real files instead of the cache (files already in the cache, or in "
                  "--cache-dir, are copied from it, not downloaded)");
  cmd->add_flag("--link", a->link,
                "With --local-dir: fill the cache as usual and make the folder's files links of its blobs (reflink, "
                "else hardlink) with the local-dir records, so the model is on disk once and both the repo id and "
                "the folder load it");
  cmd->add_flag("--force-download", a->force, "Download again even if cached");
  cmd->add_option("--token", a->token, "Hub token (beats HF_TOKEN and the token file)");
  cmd->add_option("--max-workers", a->max_workers, "Files downloaded in parallel (default: adapt to latency, 8 to 128)")
      ->check(CLI::Range(1, 128));
  cmd->add_option("--xet", a->xet,
                  "Files the Hub stores with Xet: auto (default; Xet, falling back to plain HTTP on a Xet error), on "
                  "(Xet, errors are errors) or off (plain HTTP; also HF_HUB_DISABLE_XET=1). The flag, when given, wins over "
                  "HF_HUB_DISABLE_XET")
      ->check(CLI::IsMember({"off", "auto", "on"}));
  cmd->add_flag("--dry-run", a->dry_run, "Show what would be downloaded; transfer nothing");
  cmd->add_option("--for", a->for_target,
                  "Only the files a framework loads: transformers (from_pretrained: config, tokenizer, code, one weight "
                  "format), diffusers (model_index.json and each component's files) or gguf[:QUANT] (one GGUF variant, "
                  "default Q4_K_M, with its split parts and one mmproj). The plan says what is left out and why; "
                  "--include/--exclude still apply");
  cmd->add_flag("--with-base", a->with_base,
                "For a PEFT adapter: also download the base model its adapter_config.json names "
                "(base_model_name_or_path), at main, into the cache under its own id");
  cmd->add_flag("-q,--quiet", a->quiet, "Print only the resulting path");
  cmd->add_flag("--json", a->json,
                "One JSON object per line: progress events (plan, file_start, progress, file_done, file_cached, "
                "lock_wait, xet_fallback), then the result");
  cmd->add_option("--local-dir-use-symlinks", a->local_dir_use_symlinks, "No longer needed (older guides); ignored with a note")
      ->group("Deprecated");
  cmd->add_flag("--resume-download", a->resume_download, "No longer needed: downloads always resume; ignored with a note")
      ->group("Deprecated");
  cmd->add_flag("--offline", a->offline, "Use only the cache; open no network connection (like HF_HUB_OFFLINE=1)");
  cmd->callback([&ctx, a] { ctx.exit_code = run(ctx, *a); });
}

}  // namespace hubcache::cli

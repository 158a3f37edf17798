// `hubcache import DIR --repo ORG/NAME`: adopt a folder (plain, or made by `hf download --local-dir`)
// into the cache so offline loads find it; `--from-ollama NAME:TAG` instead of DIR adopts an Ollama
// model's GGUF (hygiene/ollama_import.hpp).
#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "cli.hpp"
#include "hubcache/hygiene/ollama_import.hpp"
#include "hubcache/manage/import.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct ImportCliOptions {
  CommonOptions common;
  std::string dir;
  std::string repo_id;
  std::string repo_type = "model";
  std::string revision = "main";
  std::optional<std::string> commit;
  bool link = false, copy = false, move = false;
  bool ignore_metadata = false;
  std::string untracked = "refuse";
  bool dry_run = false;
  bool force = false;
  bool keep = false;
  std::string from_ollama, file, ollama_models;
};

constexpr const char* k_footer = R"(Blobs are named as the Hub names them: SHA-256 for files the Hub stores in LFS (its default
.gitattributes patterns, filter=lfs lines of DIR/.gitattributes, any file over 10 MiB), the git
blob SHA-1 for the rest. Skipped: .cache/huggingface/ and .git. Refused: unsafe names, symlinks
leaving DIR, special files.

Commit: --commit (or a 40-hex --revision), else the commit recorded by `hf download --local-dir`,
else derived: the git tree id of the imported files (`git write-tree` of a repo holding them, all
modes 100644, LFS files as LFS pointers). Same files and contents give the same id.

Refs: refs/<revision> is never moved off another commit's complete cached snapshot without
--force. Files of a known commit are imported under it and the ref stays ("refs/main stays at
<old>; pass --force to move it to <new>"); a derived commit is refused, nothing changed.

Folders made by `hf download --local-dir`: each file must match its recorded ETag; files without
metadata are refused unless --untracked skip; metadata of several commits is refused (re-run
`hf download --local-dir`, or use --ignore-metadata to import plain files under a derived commit).

Modes: --link (default on one filesystem) hardlinks the files, so editing a file of DIR in place
afterwards also changes the cache; --copy (default otherwise); --move links or copies, then
removes the files from DIR once the import is complete. Re-running an import is safe.

From Ollama (--from-ollama NAME:TAG instead of DIR): the model's GGUF (and projector) become a
cache entry whose blob is a hardlink of Ollama's blob, checked against the manifest's SHA-256;
Ollama's files stay as they are. The file is named --file (default <model>-<tag>.gguf, since
Ollama does not keep the Hub's name); a projector goes beside it as mmproj-<file>. Ollama's store
on another filesystem is refused unless --copy.)";

const char* mode_words(ImportMode m) {
  switch (m) {
    case ImportMode::Link:
      return "hardlink";
    case ImportMode::Move:
      return "move";
    default:
      return "copy";
  }
}

std::string commit_note(const ImportPlan& p) {
  switch (p.commit_source) {
    case CommitSource::Derived:
      return "derived from the files, as no commit was known; see `hubcache import --help`";
    case CommitSource::LocalDirMetadata:
      return "recorded by `hf download --local-dir`";
    case CommitSource::Explicit:
      return "given";
  }
  return "";
}

std::string bytes(std::uint64_t n) { return fmt::format("{} bytes ({})", n, format_size(static_cast<double>(n))); }

nlohmann::json to_json(const ImportPlan& p, const ImportResult* r) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : p.files)
    files.push_back({{"path", f.path}, {"size", f.size}, {"blob", f.blob}, {"lfs", f.lfs}, {"new_blob", !f.blob_exists}});
  nlohmann::json warnings = p.warnings;
  nlohmann::json j = {
      {"dry_run", r == nullptr},
      {"repo_id", p.options.repo.id},
      {"repo_type", to_string(p.options.repo.type)},
      {"revision", p.options.revision},
      {"ref", p.writes_ref() ? nlohmann::json("refs/" + p.options.revision) : nlohmann::json(nullptr)},
      {"ref_kept", p.keep_ref},
      {"commit", p.commit},
      {"commit_source", to_string(p.commit_source)},
      {"commit_derived", p.commit_source == CommitSource::Derived},
      {"mode", to_string(p.mode)},
      {"same_filesystem", p.same_filesystem},
      {"source_dir", p.options.source_dir},
      {"snapshot_path", p.snapshot_dir},
      {"file_count", p.files.size()},
      {"total_bytes", p.total_bytes},
      {"transfer_bytes", p.transfer_bytes},
      {"new_blobs", p.new_blobs},
      {"files", files},
      {"skipped", p.skipped},
  };
  if (r != nullptr) {
    j["blobs_written"] = r->blobs_written;
    j["blobs_copied"] = r->blobs_copied;
    j["pointers_written"] = r->pointers_written;
    j["sources_removed"] = r->sources_removed;
    for (const auto& w : r->warnings) warnings.push_back(w);
  }
  j["warnings"] = warnings;
  return j;
}

void print_ref(const ImportPlan& p) {
  if (p.writes_ref())
    fmt::print("Ref: refs/{} -> {}\n", p.options.revision, p.commit);
  else if (p.keep_ref && p.previous_ref)
    fmt::print("Ref: refs/{} stays at {}; pass --force to move it to {}\n", p.options.revision, *p.previous_ref, p.commit);
}

void print_dry_run(const ImportPlan& p) {
  fmt::print("Dry run: would import {} file(s), {} from '{}' into {} '{}' by {}. Nothing was changed.\n", p.files.size(),
             bytes(p.total_bytes), p.options.source_dir, to_string(p.options.repo.type), p.options.repo.id, mode_words(p.mode));
  std::size_t w = 4;
  for (const auto& f : p.files) w = std::max(w, f.path.size());
  fmt::print("  {:<{}}  {:>12}  {:<4}  {:<64}  {}\n", "PATH", w, "SIZE", "KIND", "BLOB", "ACTION");
  for (const auto& f : p.files)
    fmt::print("  {:<{}}  {:>12}  {:<4}  {:<64}  {}\n", f.path, w, f.size, f.lfs ? "lfs" : "git", f.blob,
               f.blob_exists ? "cached" : "new");
  for (const auto& s : p.skipped) fmt::print("  skipped (no download metadata): {}\n", s);
  fmt::print("Bytes to {}: {} in {} new blob(s)\n", mode_words(p.mode), bytes(p.transfer_bytes), p.new_blobs);
  fmt::print("Commit: {} ({})\n", p.commit, commit_note(p));
  print_ref(p);
  fmt::print("{}\n", p.snapshot_dir);
}

void print_done(const ImportResult& r) {
  const ImportPlan& p = r.plan;
  fmt::print("Imported {} file(s), {} from '{}' into {} '{}' by {}.\n", p.files.size(), bytes(p.total_bytes),
             p.options.source_dir, to_string(p.options.repo.type), p.options.repo.id, mode_words(p.mode));
  std::string blobs = fmt::format("Blobs: {} written", r.blobs_written);
  if (r.blobs_copied > 0 && p.mode != ImportMode::Copy)
    blobs += fmt::format(" ({} copied: the filesystem refused a hardlink)", r.blobs_copied);
  std::set<std::string> distinct;
  for (const auto& f : p.files) distinct.insert(f.blob);
  blobs += fmt::format(", {} already cached", distinct.size() - r.blobs_written);
  fmt::print("{}; {} snapshot entr{} written\n", blobs, r.pointers_written, r.pointers_written == 1 ? "y" : "ies");
  if (!p.skipped.empty()) fmt::print("Skipped {} file(s) without download metadata\n", p.skipped.size());
  if (p.mode == ImportMode::Move) fmt::print("Removed {} source file(s)\n", r.sources_removed);
  fmt::print("Commit: {} ({})\n", p.commit, commit_note(p));
  print_ref(p);
  fmt::print("{}\n", p.snapshot_dir);
}

nlohmann::json ollama_json(const hygiene::OllamaImportPlan& p) {
  return {{"model", p.model}, {"manifest", p.manifest}, {"left_out", p.left_out}, {"already_cached", p.already_cached}};
}

// The import's plan and an Ollama part for the output, or an exit code.
struct Planned {
  ImportPlan plan;
  std::optional<hygiene::OllamaImportPlan> ollama;
};

int run(const ImportCliOptions& o, const Config& c, const Context& ctx) {
  ImportOptions io;
  io.source_dir = o.dir;
  io.repo = RepoRef{*parse_repo_type(o.repo_type), o.repo_id};
  io.revision = o.revision;
  io.commit = o.commit;
  io.cache_dir = c.hub_cache.value;
  set_hint_repo(io.repo.id, io.repo.type, io.revision, io.cache_dir);
  io.mode = o.link ? ImportMode::Link : o.copy ? ImportMode::Copy : o.move ? ImportMode::Move : ImportMode::Auto;
  io.metadata = o.ignore_metadata ? MetadataPolicy::Ignore : MetadataPolicy::Use;
  io.untracked = o.untracked == "skip" ? UntrackedPolicy::Skip : UntrackedPolicy::Refuse;
  io.force = o.force;
  io.keep = o.keep;
  io.disable_symlinks = c.disable_symlinks;
  Planned planned;
  if (!o.from_ollama.empty()) {
    auto models = find_ollama_models(ctx, o.ollama_models);
    if (!models) return report_error(models.error(), o.common.json);
    hygiene::OllamaImportRequest req;
    req.models_dir = expand_path(*models, ctx.env);
    req.name = o.from_ollama;
    req.import = io;
    req.file = o.file;
    req.copy = o.copy;
    auto p = hygiene::plan_ollama_import(req);
    if (!p) return report_error(p.error(), o.common.json);
    planned.plan = p->import;
    planned.ollama = std::move(*p);
  } else {
    auto p = plan_import(io);
    if (!p) return report_error(p.error(), o.common.json);
    planned.plan = std::move(*p);
  }
  const ImportPlan& plan = planned.plan;
  const auto* ollama = planned.ollama ? &*planned.ollama : nullptr;
  if (ollama && !ollama->already_cached.empty()) {
    if (o.common.json) {
      auto j = to_json(plan, nullptr);
      j["dry_run"] = o.dry_run;
      j["ollama"] = ollama_json(*ollama);
      print_json(j);
    } else {
      fmt::print("{} is already in the cache of {} '{}' as {}: nothing to do\n", ollama->model, to_string(plan.options.repo.type),
                 plan.options.repo.id, join(ollama->already_cached, ", "));
    }
    return k_exit_ok;
  }
  if (!o.common.json) {
    for (const auto& w : plan.warnings) print_warning(w);
    if (ollama) {
      fmt::print("Ollama model {} ({})\n", ollama->model, ollama->manifest);
      if (!ollama->left_out.empty()) print_note("left in Ollama only (not repo files): " + join(ollama->left_out, ", "));
    }
  }
  if (o.dry_run) {
    if (o.common.json) {
      auto j = to_json(plan, nullptr);
      if (ollama) j["ollama"] = ollama_json(*ollama);
      print_json(j);
    } else {
      print_dry_run(plan);
    }
    return k_exit_ok;
  }
  auto done = execute_import(plan);
  if (!done) return report_error(done.error(), o.common.json);
  if (o.common.json) {
    auto j = to_json(done->plan, &*done);
    if (ollama) j["ollama"] = ollama_json(*ollama);
    print_json(j);
  } else {
    for (const auto& w : done->warnings) print_warning(w);
    print_done(*done);
  }
  return k_exit_ok;
}

}  // namespace

void add_import_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ImportCliOptions>();
  auto* cmd = app.add_subcommand(
      "import", "Adopt a folder (plain or made by `hf download --local-dir`), or an Ollama model, into the cache");
  cmd->footer(k_footer);
  auto* dir = cmd->add_option("dir", o->dir, "Folder holding the repo files");
  auto* from_ollama =
      cmd->add_option("--from-ollama", o->from_ollama, "Import an Ollama model's GGUF (NAME[:TAG]) as a link of its blob");
  dir->excludes(from_ollama);
  auto* file = cmd->add_option("--file", o->file, "With --from-ollama: the GGUF's path in the repo (default <model>-<tag>.gguf)");
  auto* models = cmd->add_option("--ollama-models", o->ollama_models,
                                 "With --from-ollama: Ollama's models folder (default: OLLAMA_MODELS, ~/.ollama/models, ...)");
  file->needs(from_ollama);
  models->needs(from_ollama);
  cmd->add_option("--repo", o->repo_id, "Repo id the files belong to, e.g. org/name")->required();
  add_repo_type_option(*cmd, o->repo_type);
  cmd->add_option("--revision", o->revision, "Ref to point at the snapshot (default main); a commit hash writes no ref");
  cmd->add_option("--commit", o->commit, "The commit the files are at, when known (40 hex)");
  auto* link = cmd->add_flag("--link", o->link, "Hardlink the files into the cache (default on one filesystem)");
  auto* copy = cmd->add_flag("--copy", o->copy, "Copy the files (default across filesystems)");
  auto* move = cmd->add_flag("--move", o->move, "Move the files: link or copy, then remove them from DIR");
  link->excludes(copy)->excludes(move);
  copy->excludes(move);
  move->excludes(from_ollama);
  cmd->add_flag("--ignore-metadata", o->ignore_metadata,
                "Ignore `hf download --local-dir` metadata; import plain files under a derived commit")
      ->excludes(from_ollama);
  cmd->add_option("--untracked", o->untracked, "Local-dir files without metadata: refuse (default) or skip")
      ->check(CLI::IsMember({"refuse", "skip"}))
      ->excludes(from_ollama);
  cmd->add_flag("--keep", o->keep,
                "For a folder inside the cache (a --local-dir into the hub folder): link instead of move, and keep it")
      ->excludes(from_ollama);
  cmd->add_flag("--force", o->force, "Move the ref even away from a complete cached snapshot of another commit");
  cmd->add_flag("--dry-run", o->dry_run, "Print the plan (files, sizes, blob names, bytes) and change nothing");
  add_cache_dir_option(*cmd, o->common);
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] {
    if (o->dir.empty() && o->from_ollama.empty()) {
      ctx.exit_code = usage_error("import takes a folder (DIR) or --from-ollama NAME:TAG");
      return;
    }
    const Config c = load_config(ctx, o->common, o->common.json);
    ctx.exit_code = run(*o, c, ctx);
  });
}

}  // namespace hubcache::cli

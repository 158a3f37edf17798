#pragma once
// `hubcache migrate PROJECT_DIR...`: a project's own model storage (a `./model_cache` in the Hub
// layout, any folder holding `models--*`) merged into the central Hub cache, its configuration
// pointed there, and the project cache removed or replaced by a link, in an order that never loses
// a byte and can be run again after a crash (docs/cache-management.md#migrate).
//
// Flow: plan_migrate() finds the project caches and model folders (doctor's walk: bounded depth,
// one filesystem, never into a symlinked folder), plans each merge (manage/merge.hpp), each model
// folder's import (manage/import.hpp) and the configuration edits, and writes nothing (the dry
// run). execute_migrate() then:
//   1. merges every project cache into the central one and imports every model folder (Link or
//      Copy: the folder's files stay), then verifies that each file they held resolves there to the
//      same bytes; if any does not, it stops here: nothing in any project has been changed;
//   2. with `rewrite_config`, applies the edits (each file written atomically, the original kept as
//      `<file>.hubcache-bak`);
//   3. retires each project cache (manage's retire_merged_cache: renamed aside, or exchanged with a
//      symlink to the central cache with `leave_link`, then removed) and each model folder (its
//      imported files and local-dir metadata removed, then the folder if empty; with `leave_link`
//      it stays, each file a link of its blob: hardlinks already on one filesystem, symlinks made
//      by hygiene's link_local_dir across filesystems).
// A crash at any point leaves every file in the project, in the central cache, or both; a rerun
// finds what is left (a project cache, its renamed `.<name>.hubcache-merged`, a model folder's
// remaining files) and finishes.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/manage/import.hpp"
#include "hubcache/manage/merge.hpp"

namespace hubcache::hygiene {

/// A model folder the user names (`--model DIR=ORG/NAME[@REVISION]`): a `--local-dir` download or
/// a plain folder of the repo's files, imported as that repo.
struct ModelFolderSpec {
  std::string dir;
  RepoRef repo;
  std::string revision = "main";  // the ref the import sets (import.hpp: a commit hash sets none)
};

struct MigrateOptions {
  std::vector<std::string> projects;  // project folders
  std::vector<ModelFolderSpec> models;
  std::string cache_dir;  // the central Hub cache (Config::hub_cache, or --to)
  bool rewrite_config = false;
  bool leave_link = false;
  int max_depth = 4;  // how deep below a project folder to look for caches
  unsigned threads = 0;
  bool disable_symlinks = false;  // HF_HUB_DISABLE_SYMLINKS for the central cache
};

/// One project cache to merge.
struct ProjectCache {
  std::string project;    // the project folder it was found in (absolute)
  std::string path;       // the cache folder (absolute)
  bool leftover = false;  // a project cache an interrupted migrate had already moved aside
  MergePlan merge;
};

/// A model folder to import (manage/import.hpp: Link on one filesystem, else Copy; never Move:
/// the folder's files are removed by migrate only after every file of the run verified).
struct FolderImport {
  std::string project;        // the project it was found in, or "" when named by --model only
  std::string path;           // the folder (absolute)
  std::string identified_by;  // "--model", or how the repo was found ("its commit <c> is a snapshot of <repo>")
  ImportPlan import;
  /// No ref of the repo points at the commit (a detached revision): execute pins it, so gc and
  /// prune keep it, as a merge does for a project's revision.
  bool pins = false;
  /// The revision to load it by from the central cache: "" for main (a ref main names it, or the
  /// import writes refs/main), else a ref naming it, the revision given, or the commit.
  std::string load_revision;
};

/// A model folder found in a project and left alone, and why.
struct LeftFolder {
  std::string path;
  std::string why;
};

/// A configuration line to change: the whole line before and after.
struct ConfigEdit {
  std::string file;  // absolute
  int line = 0;      // 1-based
  std::string before, after;
};

/// A configuration line that points at a project cache but is not rewritten, and why.
struct ManualEdit {
  std::string file;
  int line = 0;
  std::string text;
  std::string why;
};

struct MigratePlan {
  MigrateOptions options;  // projects and cache_dir absolute and symlink-resolved
  std::vector<ProjectCache> caches;
  std::vector<ConfigEdit> edits;   // by file, then line
  std::vector<ManualEdit> manual;  // for a person
  std::string
      diff;  // the edits as a unified diff, file after file (labels relative to the folder above the project: a/projA/.env)
  /// Model folders to import: `--local-dir` downloads whose metadata's commit is a snapshot of
  /// exactly one repo in the central cache or a project cache being merged, and --model folders.
  std::vector<FolderImport> folders;
  /// Model folders found in the projects and left alone: the repo is not known (a plain folder, a
  /// `--local-dir` download of a commit no cache holds, or of one two repos hold; `--model
  /// DIR=ORG/NAME` brings one in), or import refused it (the reason says why).
  std::vector<LeftFolder> model_folders;
  std::vector<std::string> warnings;  // folders that could not be read
};

/// Finds and plans. Writes nothing. Errors: NotFound / InvalidArgument for a project path that
/// does not exist or is not a folder (naming it); InvalidArgument when a project is the central
/// cache, lies inside it or holds it; the first merge plan's error (manage/merge.hpp: a download
/// running, two caches with different bytes under one blob name, ...), naming the project.
Result<MigratePlan> plan_migrate(const MigrateOptions& options);

struct MigrateReport {
  std::vector<MergeReport> merges;  // per ProjectCache, in plan order
  std::size_t files_rewritten = 0;  // configuration files changed
  std::vector<std::string> backups;
  std::size_t caches_retired = 0;
  std::size_t folders_imported = 0;
  std::vector<std::string> folders_pinned;  // model folders whose revision was pinned (FolderImport::pins)
  std::size_t folder_files_verified = 0;    // model folder files that resolve from the central cache to their bytes
  /// Model folders kept because they hold files that were not imported (not in the local-dir
  /// metadata): their imported files are removed (or linked), the rest stays.
  std::vector<std::string> folders_kept;
  /// Files that did not verify (then nothing was rewritten or retired).
  std::vector<std::string> unverified;
};

/// Carries out a plan (steps above). Errors: a merge's error (nothing in the projects changed); a
/// configuration file that changed since the plan (Conflict: nothing rewritten or retired, run
/// again); retire_merged_cache's errors. A report with `unverified` files is not an error: the
/// caller reports it, nothing was rewritten or retired.
Result<MigrateReport> execute_migrate(const MigratePlan& plan);

}  // namespace hubcache::hygiene

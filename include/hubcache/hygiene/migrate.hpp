#pragma once
// `hubcache migrate PROJECT_DIR...`: a project's own model storage (a `./model_cache` in the Hub
// layout, any folder holding `models--*`) merged into the central Hub cache, its configuration
// pointed there, and the project cache removed or replaced by a link, in an order that never loses
// a byte and can be run again after a crash (docs/cache-management.md#migrate).
//
// Flow: plan_migrate() finds the project caches (doctor's walk: bounded depth, one filesystem,
// never into a symlinked folder), plans each merge (manage/merge.hpp) and the configuration edits,
// and writes nothing (the dry run). execute_migrate() then:
//   1. merges every project cache into the central one and verifies that each file the project
//      cache held resolves there to the same bytes; if any does not, it stops here: nothing in any
//      project has been changed;
//   2. with `rewrite_config`, applies the edits (each file written atomically, the original kept as
//      `<file>.hubcache-bak`);
//   3. retires each project cache (manage's retire_merged_cache: renamed aside, or exchanged with a
//      symlink to the central cache with `leave_link`, then removed).
// A crash at any point leaves every file in the project cache, in the central cache, or both; a
// rerun finds what is left (a project cache, or its renamed `.<name>.hubcache-merged`) and finishes.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/manage/merge.hpp"

namespace hubcache::hygiene {

struct MigrateOptions {
  std::vector<std::string> projects;  // project folders
  std::string cache_dir;              // the central Hub cache (Config::hub_cache, or --to)
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
  /// `--local-dir` downloads and other model folders found in the projects: not Hub caches, so not
  /// merged (`hubcache import DIR ORG/NAME` brings one in).
  std::vector<std::string> model_folders;
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
  /// Files that did not verify (then nothing was rewritten or retired).
  std::vector<std::string> unverified;
};

/// Carries out a plan (steps above). Errors: a merge's error (nothing in the projects changed); a
/// configuration file that changed since the plan (Conflict: nothing rewritten or retired, run
/// again); retire_merged_cache's errors. A report with `unverified` files is not an error: the
/// caller reports it, nothing was rewritten or retired.
Result<MigrateReport> execute_migrate(const MigratePlan& plan);

}  // namespace hubcache::hygiene

// `hubcache migrate` (hygiene/migrate.hpp): project caches into the central one.
#include "hubcache/hygiene/migrate.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "config_edit.hpp"
#include "migrate_folders.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"
#include "settings_scan.hpp"
#include "walk_roots.hpp"

namespace hubcache::hygiene {
namespace {

constexpr std::string_view k_backup_suffix = ".hubcache-bak";

std::string base_name(const std::string& p) { return p.substr(p.rfind('/') + 1); }

Result<std::string> project_folder(const std::string& given, const std::string& central) {
  struct stat st {};
  if (::stat(given.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return fail(ErrorCode::NotFound, "project folder '" + given + "' does not exist: name the folder that holds the project",
                  given);
    return fail(errno_error(errno, "cannot read the project folder", given));
  }
  if (!S_ISDIR(st.st_mode))
    return fail(
        ErrorCode::InvalidArgument,
        "'" + given +
            "' is a file, not a project folder: name the folder that holds the project (its ./model_cache is found below it)",
        given);
  HUBCACHE_TRY_ASSIGN(std::string real, fs::real_path(given));
  if (real == central || fs::is_within(central, real))
    return fail(ErrorCode::InvalidArgument,
                "'" + given + "' is the central cache " + central + " or lies inside it: name a project folder outside it",
                given);
  return real;
}

// The edits and manual settings of one project cache's project.
void plan_edits(const ProjectCache& c, const std::string& central, MigratePlan& plan, std::set<std::pair<std::string, int>>& seen,
                std::map<std::string, std::string>& texts) {
  const std::string named = c.leftover ? original_of_retired_cache(c.path) : c.path;
  const std::string folder_name = base_name(named) == "hub" ? base_name(fs::parent(named)) : base_name(named);
  const detail::CacheMove move{c.project, named, central};
  for (const auto& s : detail::project_settings(c.project, c.path, folder_name)) {
    if (!seen.emplace(s.file, s.line).second) continue;
    auto [it, fresh] = texts.try_emplace(s.file);
    if (fresh) it->second = fs::read_file(s.file, 1u << 20).value_or("");
    bool final_newline = true;
    const auto lines = detail::split_lines(it->second, final_newline);
    if (s.line < 1 || static_cast<std::size_t>(s.line) > lines.size()) continue;
    std::optional<detail::ManualSetting> manual;
    if (auto e = detail::edit_for(s, lines[static_cast<std::size_t>(s.line) - 1], move, manual))
      plan.edits.push_back({e->file, e->line, e->before, e->after});
    else if (manual)
      plan.manual.push_back({manual->file, manual->line, manual->text, manual->why});
  }
}

std::string diff_of(const MigratePlan& plan, const std::map<std::string, std::string>& texts) {
  std::string out;
  for (std::size_t i = 0; i < plan.edits.size();) {
    const std::string& file = plan.edits[i].file;
    std::vector<detail::LineEdit> edits;
    for (; i < plan.edits.size() && plan.edits[i].file == file; ++i)
      edits.push_back({file, plan.edits[i].line, plan.edits[i].before, plan.edits[i].after});
    // Relative to the folder above the project ("projA/.env"): unambiguous across projects.
    std::string label = file;
    for (const auto& p : plan.options.projects)
      if (fs::is_within(p, file)) {
        const std::string above = fs::parent(p);
        label = file.substr(above == "/" ? 1 : above.size() + 1);
      }
    bool final_newline = true;
    const auto lines = detail::split_lines(texts.at(file), final_newline);
    out += detail::unified_diff(label, lines, final_newline, edits);
  }
  return out;
}

// Every edit's file still holds the planned line; then each file is backed up once and rewritten.
Result<std::vector<std::string>> apply_edits(const std::vector<ConfigEdit>& edits) {
  struct Rewrite {
    std::string text;
    unsigned mode = 0644;
    std::vector<std::string> lines;
    bool final_newline = true;
  };
  std::map<std::string, Rewrite> files;
  for (const auto& e : edits) {
    auto [it, fresh] = files.try_emplace(e.file);
    if (fresh) {
      struct stat st {};
      if (::stat(e.file.c_str(), &st) != 0) return fail(errno_error(errno, "cannot read", e.file));
      it->second.mode = st.st_mode & 07777;
      HUBCACHE_TRY_ASSIGN(it->second.text, fs::read_file(e.file, 1u << 20));
      it->second.lines = detail::split_lines(it->second.text, it->second.final_newline);
    }
    auto& lines = it->second.lines;
    if (e.line < 1 || static_cast<std::size_t>(e.line) > lines.size() || lines[static_cast<std::size_t>(e.line) - 1] != e.before)
      return fail(ErrorCode::Conflict,
                  e.file + ":" + std::to_string(e.line) + " changed since the plan: nothing was rewritten; run migrate again",
                  e.file);
    lines[static_cast<std::size_t>(e.line) - 1] = e.after;
  }
  std::vector<std::string> backups;
  for (const auto& [file, r] : files) {
    const std::string backup = file + std::string(k_backup_suffix);
    struct stat st {};
    if (::lstat(backup.c_str(), &st) != 0) HUBCACHE_TRY(fs::write_file_atomic(backup, r.text, r.mode));
    std::string text;
    for (std::size_t i = 0; i < r.lines.size(); ++i) text += r.lines[i] + (i + 1 < r.lines.size() || r.final_newline ? "\n" : "");
    HUBCACHE_TRY(fs::write_file_atomic(file, text, r.mode));
    backups.push_back(backup);
  }
  return backups;
}

std::string store_text(stores::StoreKind kind) {
  switch (kind) {
    case stores::StoreKind::HubCache:
      return "a Hub cache";
    case stores::StoreKind::Ollama:
      return "an Ollama store";
    case stores::StoreKind::ModelFolder:
      return "another model folder";
    case stores::StoreKind::LmStudio:
      return "LM Studio's models folder";
    case stores::StoreKind::LlamaCpp:
      return "llama.cpp's cache";
    case stores::StoreKind::DatasetsDownloads:
      return "a datasets downloads folder";
  }
  return "a store";
}

// The model folders to import: those named with --model, and the `--local-dir` downloads found
// whose commit is a snapshot of exactly one repo in the central cache or a project cache.
Result<void> plan_folders(MigratePlan& plan, const std::vector<std::pair<std::string, std::string>>& found) {
  const MigrateOptions& o = plan.options;
  // A source file with other names (a hardlink elsewhere) is copied, not linked: once the folder
  // goes, the blob must not share an inode with a file the user may still write.
  auto plan_one = [&](const ImportOptions& i) -> Result<ImportPlan> {
    auto p = plan_import(i);
    if (!p || p->mode != ImportMode::Link || detail::already_linked(*p)) return p;
    const RepoLayout layout(p->options.cache_dir, p->options.repo);
    for (const auto& f : p->files) {
      struct stat st {
      }, blob{};
      const bool is_blob = ::stat(layout.blob_path(f.blob).c_str(), &blob) == 0;  // an earlier run's link
      if (::stat(f.read_from.c_str(), &st) == 0 && st.st_nlink > 1 &&
          !(is_blob && blob.st_dev == st.st_dev && blob.st_ino == st.st_ino)) {
        p->mode = p->options.mode = ImportMode::Copy;  // the hashes stand; only how blobs are made changes
        return p;
      }
    }
    return p;
  };
  auto import_options = [&](const std::string& dir, const RepoRef& repo, const std::string& revision) {
    ImportOptions i;
    i.source_dir = dir;
    i.repo = repo;
    i.revision = revision;
    i.cache_dir = o.cache_dir;
    i.mode = ImportMode::Auto;
    i.untracked = UntrackedPolicy::Skip;
    i.threads = o.threads;
    i.disable_symlinks = o.disable_symlinks;
    return i;
  };
  std::set<std::string> named;
  for (const auto& m : o.models) {
    struct stat st {};
    if (::stat(m.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return fail(ErrorCode::InvalidArgument, "--model " + m.dir + "=" + m.repo.id + ": '" + m.dir + "' is not a folder", m.dir);
    const std::string dir = fs::absolute_real(m.dir);
    const std::string what = "--model " + m.dir + "=" + m.repo.id + ": ";
    if (dir == o.cache_dir || fs::is_within(o.cache_dir, dir) || fs::is_within(dir, o.cache_dir))
      return fail(ErrorCode::InvalidArgument, what + "the folder is, holds or lies inside the central cache " + o.cache_dir,
                  m.dir);
    // The project itself only as a `--local-dir` download (its other files, without metadata, stay).
    for (const auto& pr : o.projects)
      if ((dir == pr && detail::local_dir_commit(dir).empty()) || fs::is_within(dir, pr))
        return fail(ErrorCode::InvalidArgument,
                    what + "the folder is or holds the project " + pr +
                        "; name the folder that holds the model's files (all its files are imported, then removed)",
                    m.dir);
    for (const auto& other : named)
      if (other == dir || fs::is_within(other, dir) || fs::is_within(dir, other))
        return fail(ErrorCode::InvalidArgument,
                    what + "the folder is, holds or lies inside " + other + ", named by another --model: name each folder once",
                    m.dir);
    // A folder holding a store (an HF_HOME with its hub/, an Ollama store, another model folder):
    // its files are not one repo's.
    for (const auto& s : detail::walk_for_stores(dir, o.max_depth, false, {}).stores)
      if (const std::string root = fs::absolute_real(s.root); root != dir || s.kind != stores::StoreKind::ModelFolder)
        return fail(ErrorCode::InvalidArgument,
                    what + "the folder holds " + store_text(s.kind) + " at " + root +
                        ", not one repo's files: name the model folder itself (a Hub cache is merged by naming its project)",
                    m.dir);
    for (const auto& c : plan.caches)
      if (dir == c.path || fs::is_within(c.path, dir) || fs::is_within(dir, c.path))
        return fail(ErrorCode::InvalidArgument,
                    what + "the folder is, holds or lies inside the project cache " + c.path + ", which migrate merges", m.dir);
    named.insert(dir);
    auto p = plan_one(import_options(dir, m.repo, m.revision));
    if (!p) {
      Error e = std::move(p).error();
      e.message = what + e.message;
      // import's remedies name its own flags; say them in --model's terms.
      if (e.remedy == Remedy::ForceRef)
        e.message += " With migrate: --model " + m.dir + "=" + m.repo.id + "@imported (another ref name) or @" + e.remedy_value +
                     " (by commit).";
      else if (e.remedy == Remedy::IgnoreMetadata)
        e.message +=
            " With migrate: fix the folder with `hf download --local-dir`, or import it first with `hubcache import "
            "--ignore-metadata`.";
      e.remedy = Remedy::None;
      e.remedy_value.clear();
      return fail(std::move(e));
    }
    if (o.leave_link && detail::already_linked(*p)) continue;  // a finished --leave-link run
    std::string project;
    for (const auto& pr : o.projects)
      if (fs::is_within(pr, dir)) project = pr;
    const bool pins = !p->writes_ref() && !detail::commit_has_ref(RepoLayout(o.cache_dir, m.repo), p->commit);
    const std::string load = p->writes_ref() ? (m.revision == "main" ? "" : m.revision) : p->commit;
    plan.folders.push_back({project, dir, "--model", std::move(*p), pins, load});
  }
  std::vector<std::string> roots{o.cache_dir};
  for (const auto& c : plan.caches) roots.push_back(c.path);
  for (const auto& [project, dir] : found) {
    if (named.contains(dir)) continue;
    const std::string commit = detail::local_dir_commit(dir);
    const auto repos = commit.empty() ? std::vector<RepoRef>{} : detail::repos_with_commit(roots, commit);
    const std::string name_it = "`--model " + dir + "=ORG/NAME` imports it as that repo";
    if (commit.empty()) {
      plan.model_folders.push_back({dir, "no `--local-dir` metadata names its commit, so its repo is not known: " + name_it});
      continue;
    }
    if (repos.empty()) {
      plan.model_folders.push_back(
          {dir, "its `--local-dir` metadata names commit " + commit.substr(0, 12) + ", which no cache here holds: " + name_it});
      continue;
    }
    if (repos.size() > 1) {
      std::string names;
      for (const auto& r : repos) names += (names.empty() ? "" : ", ") + r.id;
      plan.model_folders.push_back({dir, "its commit " + commit.substr(0, 12) + " is a snapshot of " + names + ": `--model " +
                                             dir + "=ORG/NAME` says which"});
      continue;
    }
    // The commit as the revision: no ref is written (the cache holding the snapshot has its refs).
    auto p = plan_one(import_options(dir, repos.front(), commit));
    if (!p) {
      plan.model_folders.push_back({dir, "it cannot be imported as " + repos.front().id + ": " + p.error().message});
      continue;
    }
    if (o.leave_link && detail::already_linked(*p)) continue;  // a finished --leave-link run
    const auto refs = detail::refs_naming(RepoLayout(o.cache_dir, repos.front()), commit);
    const std::string load = std::find(refs.begin(), refs.end(), "main") != refs.end() ? ""
                             : refs.empty()                                            ? commit
                                                                                       : refs.front();
    plan.folders.push_back({project, dir, "its commit " + commit.substr(0, 12) + " is a snapshot of " + repos.front().label(),
                            std::move(*p), refs.empty(), load});
  }
  return {};
}

// Without --leave-link a model folder goes: lines that load it are for a person (loading the
// repo id from the central cache replaces them; only a person knows the call).
void folder_settings(const FolderImport& f, const std::string& central, MigratePlan& plan,
                     std::set<std::pair<std::string, int>>& seen) {
  if (f.project.empty() || f.path == f.project) return;
  const std::string id = f.import.options.repo.id;
  const detail::CacheMove move{f.project, f.path, central};
  for (const auto& s : detail::project_settings(f.project, f.path, f.path.substr(f.project.size() + 1))) {
    const std::string text = fs::read_file(s.file, 1u << 20).value_or("");
    bool final_newline = true;
    const auto lines = detail::split_lines(text, final_newline);
    if (s.line < 1 || static_cast<std::size_t>(s.line) > lines.size()) continue;
    std::optional<detail::ManualSetting> manual;
    const auto edit = detail::edit_for(s, lines[static_cast<std::size_t>(s.line) - 1], move, manual);
    if ((!edit && !manual) || !seen.emplace(s.file, s.line).second) continue;
    plan.manual.push_back({s.file, s.line, s.text,
                           "it names " + f.path + ", a copy of " + id + " that migrate removes: load \"" + id +
                               "\" (from the central cache) instead, or migrate with --leave-link"});
  }
}

}  // namespace

Result<MigratePlan> plan_migrate(const MigrateOptions& options) {
  if (options.projects.empty()) return fail(ErrorCode::InvalidArgument, "name at least one project folder to migrate");
  MigratePlan plan;
  plan.options = options;
  const std::string central = fs::absolute_real(options.cache_dir);
  plan.options.cache_dir = central;
  std::set<std::pair<dev_t, ino_t>> skip;
  if (struct stat st{}; ::stat(central.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return fail(ErrorCode::InvalidArgument,
                  "the central cache " + central + " is not a folder: give the cache folder with --to (or set HF_HUB_CACHE)",
                  central);
    skip.emplace(st.st_dev, st.st_ino);
  } else {
    plan.warnings.push_back("the central cache " + central + " does not exist yet: migrate creates it");
  }
  plan.options.projects.clear();
  for (const auto& given : options.projects) {
    HUBCACHE_TRY_ASSIGN(std::string project, project_folder(given, central));
    if (std::find(plan.options.projects.begin(), plan.options.projects.end(), project) == plan.options.projects.end())
      plan.options.projects.push_back(project);
  }
  std::set<std::string> found;
  std::vector<std::pair<std::string, std::string>> found_folders;  // (project, folder)
  for (const auto& project : plan.options.projects) {
    auto walked = detail::walk_for_stores(project, options.max_depth, false, skip);
    plan.warnings.insert(plan.warnings.end(), walked.warnings.begin(), walked.warnings.end());
    for (const auto& s : walked.stores) {
      const std::string path = fs::absolute_real(s.root);
      if (s.kind == stores::StoreKind::ModelFolder) found_folders.emplace_back(project, path);
      if (s.kind != stores::StoreKind::HubCache || !found.insert(path).second) continue;
      ProjectCache c;
      c.project = project;
      c.path = path;
      c.leftover = is_retired_cache_path(path);
      MergeOptions m{path, central, options.threads, options.disable_symlinks};
      auto merge = plan_cache_merge(m);
      if (!merge) {
        Error e = std::move(merge).error();
        e.message = "project " + project + ": " + e.message;
        return fail(std::move(e));
      }
      c.merge = std::move(*merge);
      plan.caches.push_back(std::move(c));
    }
  }
  HUBCACHE_TRY(plan_folders(plan, found_folders));
  // Every copy of the run must fit, not just each one by itself.
  std::uint64_t copies = 0;
  for (const auto& c : plan.caches) copies += c.merge.copy_bytes;
  for (const auto& f : plan.folders)
    if (f.import.mode == ImportMode::Copy) copies += f.import.transfer_bytes;
  const std::string landing = fs::nearest_existing(central);
  if (auto free = fs::free_space(landing); copies > 0 && free && *free < copies)
    return fail(ErrorCode::DiskFull,
                "migrating copies " + format_size(static_cast<double>(copies)) + " (" + std::to_string(copies) +
                    " bytes) into the central cache but only " + format_size(static_cast<double>(*free)) + " (" +
                    std::to_string(*free) + " bytes) are free on " + landing +
                    ": nothing was changed. Free space there, or migrate into a cache on the projects' filesystem (files are "
                    "then linked, not copied)",
                landing);
  // What execute changes in the projects must be changeable, or nothing is done at all.
  for (const auto& f : plan.folders) {
    // Its files are removed (or, with --leave-link, replaced by links), then the folder itself.
    const std::string parent = fs::parent(f.path);
    const std::string& blocked = ::access(f.path.c_str(), W_OK) != 0                          ? f.path
                                 : !options.leave_link && ::access(parent.c_str(), W_OK) != 0 ? parent
                                                                                              : std::string();
    if (!blocked.empty())
      return fail(ErrorCode::PermissionDenied,
                  "migrate " +
                      std::string(options.leave_link ? "replaces the files of the model folder " : "removes the model folder ") +
                      f.path + " once it is imported, but " + blocked + " is not writable (" + std::strerror(errno) +
                      "). Nothing was changed; run migrate as a user who may change the project",
                  f.path);
  }
  for (const auto& c : plan.caches) {
    const std::string parent = fs::parent(c.path);
    if (::access(parent.c_str(), W_OK) != 0)
      return fail(ErrorCode::PermissionDenied,
                  "the project cache " + c.path + " could not be removed after the merge: " + parent + " is not writable (" +
                      std::strerror(errno) + "). Nothing was changed; run migrate as a user who may change the project",
                  parent);
  }
  std::set<std::pair<std::string, int>> seen;
  std::map<std::string, std::string> texts;
  for (const auto& c : plan.caches) plan_edits(c, central, plan, seen, texts);
  if (!options.leave_link)
    for (const auto& f : plan.folders) folder_settings(f, central, plan, seen);
  if (options.rewrite_config)
    for (const auto& e : plan.edits)
      if (::access(e.file.c_str(), W_OK) != 0 || ::access(fs::parent(e.file).c_str(), W_OK) != 0)
        return fail(ErrorCode::PermissionDenied,
                    "--rewrite-config cannot rewrite " + e.file +
                        " (it or its folder is not writable): nothing was changed. "
                        "Run without --rewrite-config and change the lines by hand",
                    e.file);
  auto by_place = [](const auto& a, const auto& b) { return std::tie(a.file, a.line) < std::tie(b.file, b.line); };
  std::sort(plan.edits.begin(), plan.edits.end(), by_place);
  std::sort(plan.manual.begin(), plan.manual.end(), by_place);
  plan.diff = diff_of(plan, texts);
  return plan;
}

Result<MigrateReport> execute_migrate(const MigratePlan& plan) {
  MigrateReport report;
  for (const auto& c : plan.caches) {
    auto r = execute_cache_merge(c.merge);
    if (!r) {
      Error e = std::move(r).error();
      e.message = "merging " + c.path + ": " + e.message;
      return fail(std::move(e));
    }
    report.unverified.insert(report.unverified.end(), r->unverified.begin(), r->unverified.end());
    report.merges.push_back(std::move(*r));
  }
  // Imports are planned again now: the merges may have brought their repo's refs and blobs.
  std::vector<ImportPlan> imported;
  for (const auto& f : plan.folders) {
    ImportOptions again = f.import.options;  // the plan's digests stand for files that did not change
    for (const auto& file : f.import.files)
      again.known_digests[file.read_from] = KnownDigest{file.size, file.blob, file.lfs, file.stamp};
    auto done = import_folder(again);
    if (!done) {
      Error e = std::move(done).error();
      e.message = "importing " + f.path + ": " + e.message;
      return fail(std::move(e));
    }
    // A revision no ref names is pinned, so gc and prune never remove the only copy left.
    const RepoLayout layout(done->plan.options.cache_dir, done->plan.options.repo);
    if (!done->plan.writes_ref() && !detail::commit_has_ref(layout, done->plan.commit)) {
      HUBCACHE_TRY(add_pin(layout, done->plan.commit));
      report.folders_pinned.push_back(f.path);
    }
    const auto bad = detail::verify_import(done->plan);
    report.unverified.insert(report.unverified.end(), bad.begin(), bad.end());
    report.folder_files_verified += done->plan.files.size() - bad.size();
    imported.push_back(std::move(done->plan));
    ++report.folders_imported;
  }
  if (!report.unverified.empty()) return report;
  if (plan.options.rewrite_config && !plan.edits.empty()) {
    HUBCACHE_TRY_ASSIGN(report.backups, apply_edits(plan.edits));
    report.files_rewritten = report.backups.size();
  }
  for (const auto& c : plan.caches) {
    HUBCACHE_TRY(retire_merged_cache(c.merge, plan.options.leave_link));
    ++report.caches_retired;
  }
  for (const auto& i : imported) {
    HUBCACHE_TRY_ASSIGN(const bool kept, detail::retire_folder(i, plan.options.leave_link));
    if (kept) report.folders_kept.push_back(i.options.source_dir);
  }
  return report;
}

}  // namespace hubcache::hygiene

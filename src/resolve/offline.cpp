#include "hubcache/resolve/offline.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <functional>

#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/resolve/local_folder.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache {
namespace {

using fs::is_file;

// Lists files (following symlinks; broken links skipped) below `dir`, as '/'-joined relative paths.
std::vector<std::string> list_files(const std::string& dir) {
  std::vector<std::string> out;
  fs::walk_folder(
      dir, nullptr,
      [&](const fs::FolderEntry& e) {
        if (S_ISREG(e.lst.st_mode) || (S_ISLNK(e.lst.st_mode) && is_file(e.path))) out.push_back(e.rel);
      },
      [](const std::string&, int, fs::WalkFailure) {});
  return out;
}

std::string list_some(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += "\n  - " + n;
  return out;
}

// A cache root that exists but is not a directory is a configuration mistake worth naming.
Result<void> check_cache_root(const std::string& root) {
  // Never the working directory by accident (CacheLookupOptions{} has no cache_dir).
  if (root.empty())
    return fail(Error{ErrorCode::InvalidArgument, "no cache directory configured: set cache_dir (Config::hub_cache)"}.with_remedy(
        Remedy::UseCacheDir));
  struct stat st {};
  if (::stat(root.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
    return fail(Error{ErrorCode::NotADirectory,
                      "the hub cache '" + root + "' is not a directory; point HF_HUB_CACHE (or the cache_dir option) at a folder",
                      root}
                    .with_remedy(Remedy::UseCacheDir));
  return {};
}

// from_pretrained step 1 for a whole model: the folder is the model, complete by definition.
Result<SnapshotLookup> resolve_local_folder(const std::string& folder, const SnapshotLookupOptions& opt) {
  SnapshotLookup out;
  out.snapshot_dir = folder;
  out.verified_complete = true;
  if (opt.filenames.empty()) {
    HUBCACHE_TRY_ASSIGN(out.files, local_folder_files(folder, opt.filter));
    return out;
  }
  std::vector<std::string> missing;
  for (const auto& f : opt.filenames) {
    auto p = local_folder_file(folder, f);
    if (p)
      out.files.push_back(f);
    else if (p.error().code == ErrorCode::NotFound)
      missing.push_back(f);
    else
      return fail(std::move(p).error());
  }
  if (!missing.empty()) {
    std::string msg = "the local folder '" + folder + "' does not have";
    for (const auto& m : missing) msg += " '" + m + "'";
    msg +=
        ". A name that is an existing folder is used as the model itself (as from_pretrained does); to use the "
        "Hub repo of that name, run from another directory.";
    return fail(Error{ErrorCode::NotFound, msg, folder, std::nullopt, missing});
  }
  std::sort(out.files.begin(), out.files.end());
  return out;
}

}  // namespace

Result<CacheLookup> try_to_load_from_cache(const std::string& repo_id, const std::string& filename,
                                           const CacheLookupOptions& opt) {
  if (auto folder = local_model_folder(repo_id)) {  // from_pretrained step 1: the folder itself
    HUBCACHE_TRY_ASSIGN(std::string path, local_folder_file(*folder, filename));
    CacheLookup out;
    out.kind = CacheLookup::Kind::Found;
    out.path = std::move(path);
    return out;
  }
  HUBCACHE_TRY(validate_model_name(repo_id));
  HUBCACHE_TRY(validate_revision(opt.revision));
  HUBCACHE_TRY(validate_repo_path(filename));
  HUBCACHE_TRY(check_cache_root(opt.cache_dir));
  const RepoLayout layout(opt.cache_dir, RepoRef{opt.repo_type, repo_id});
  CacheLookup out;
  HUBCACHE_TRY_ASSIGN(const bool present, check_repo_folder(layout));  // a symlinked folder is an error
  if (!present) return out;
  auto resolved = resolve_commit(layout, opt.revision);
  if (!resolved || !resolved->has_value()) {  // unreadable or absent ref: not cached (PY)
    auto other = cached_commits_hint(layout.repo(), opt.revision, opt.cache_dir);
    out.hint = std::move(other.text);
    out.cached_commit = std::move(other.commit);
    if (!resolved) out.hint = " The " + resolved.error().message + "." + out.hint;  // say why, not just "not cached"
    return out;
  }
  const std::string commit = **resolved;
  out.commit = commit;
  HUBCACHE_TRY(check_snapshot_folder(layout, commit));
  if (is_file(layout.no_exist_path(commit, filename))) {
    out.kind = CacheLookup::Kind::NoExist;
    return out;
  }
  const std::string pointer = layout.pointer_path(commit, filename);
  if (is_file(pointer)) {
    out.kind = CacheLookup::Kind::Found;
    out.path = pointer;
    record_use(layout, commit);
  }
  return out;
}

CachedCommitsHint cached_commits_hint(const RepoRef& repo, std::string_view revision, const std::string& cache_dir) {
  if (!validate_repo_id(repo.id)) return {};
  const RepoLayout layout(cache_dir, repo);
  const auto commits = cached_commits(layout);
  if (commits.empty()) return {};
  if (auto c = resolve_commit(layout, revision);
      c && c->has_value() && std::find(commits.begin(), commits.end(), **c) != commits.end())
    return {};  // the revision itself is cached: another commit is no answer
  std::string s = commits.size() == 1 ? " The cache holds a snapshot at commit " : " The cache holds snapshots at commits";
  for (std::size_t i = 0; i < commits.size() && i < 5; ++i) s += (commits.size() == 1 ? "" : " ") + commits[i];
  if (commits.size() > 5) s += " (and " + std::to_string(commits.size() - 5) + " more)";
  return {s + (commits.size() == 1 ? ": use that commit as the revision." : ": use one of them as the revision."),
          commits.front()};
}

Error with_cache_remedy(Error e, const CachedCommitsHint& other, Remedy otherwise, std::string value) {
  return other.commit.empty() ? std::move(e).with_remedy(otherwise, std::move(value))
                              : std::move(e).with_remedy(Remedy::UseRevision, other.commit);
}

Result<SnapshotLookup> resolve_snapshot(const std::string& repo_id, const SnapshotLookupOptions& opt) {
  if (auto folder = local_model_folder(repo_id)) return resolve_local_folder(*folder, opt);
  HUBCACHE_TRY(validate_model_name(repo_id));
  HUBCACHE_TRY(validate_revision(opt.revision));
  for (const auto& f : opt.filenames) HUBCACHE_TRY(validate_repo_path(f));
  HUBCACHE_TRY(check_cache_root(opt.cache_dir));
  const RepoRef repo{opt.repo_type, repo_id};
  const RepoLayout layout(opt.cache_dir, repo);
  const std::string what = std::string(to_string(opt.repo_type)) + " '" + repo_id + "'";

  HUBCACHE_TRY_ASSIGN(const bool repo_present, check_repo_folder(layout));  // a symlinked folder is an error
  if (!repo_present)
    return fail(Error{ErrorCode::LocalEntryNotFound, what + " is not in the cache '" + opt.cache_dir + "'.", layout.folder(),
                      std::nullopt, opt.filenames}
                    .with_remedy(Remedy::Download, opt.revision));
  auto commit_r = resolve_commit(layout, opt.revision);
  if (!commit_r) return fail(std::move(commit_r).error());
  if (!commit_r->has_value()) {
    const auto other = cached_commits_hint(layout.repo(), opt.revision, opt.cache_dir);
    return fail(with_cache_remedy(
        Error{ErrorCode::LocalEntryNotFound,
              "revision '" + opt.revision + "' of " + what + " is not in the cache (no refs/" + opt.revision + ")." + other.text,
              layout.ref_path(opt.revision), std::nullopt, opt.filenames},
        other, Remedy::Download, opt.revision));
  }
  const std::string commit = **commit_r;
  SnapshotLookup out;
  out.commit = commit;
  out.snapshot_dir = layout.snapshot_dir(commit);
  HUBCACHE_TRY_ASSIGN(const bool snapshot_present, check_snapshot_folder(layout, commit));
  if (!snapshot_present)
    return fail(Error{ErrorCode::LocalEntryNotFound, "commit " + commit + " of " + what + " has no cached snapshot.",
                      out.snapshot_dir, std::nullopt, opt.filenames}
                    .with_remedy(Remedy::Download, opt.revision));

  std::vector<std::string> expected;  // what must be present
  if (!opt.filenames.empty()) {
    expected = opt.filenames;
    out.verified_complete = true;
  } else {
    auto tree = read_tree_file(layout, commit);
    if (!tree) {
      out.warnings.push_back(tree.error().message);
    } else if (tree->has_value()) {
      for (const auto& e : **tree)
        if (opt.filter.selects(e.path)) expected.push_back(e.path);
      out.verified_complete = true;
    }
  }
  std::vector<std::string> missing;
  for (const auto& f : expected)
    if (!is_file(layout.pointer_path(commit, f))) missing.push_back(f);
  if (!missing.empty()) {
    std::sort(missing.begin(), missing.end());
    return fail(Error{ErrorCode::IncompleteSnapshot,
                      "cached snapshot of " + what + " at revision '" + opt.revision + "' (commit " + commit + ") is missing " +
                          std::to_string(missing.size()) + " file(s):" + list_some(missing),
                      out.snapshot_dir, std::nullopt, missing}
                    .with_remedy(Remedy::Download, opt.revision));
  }
  if (!out.verified_complete)
    out.warnings.push_back("cannot tell whether the snapshot of " + what + " at commit " + commit +
                           " is complete: the cache holds no file list for that commit (trees/" + commit +
                           ".json, written by a snapshot download). Listing the files present; a snapshot download of commit " +
                           commit + " completes it.");
  for (auto& p : list_files(out.snapshot_dir))
    if (opt.filter.selects(p)) out.files.push_back(std::move(p));
  std::sort(out.files.begin(), out.files.end());
  record_use(layout, commit);
  return out;
}

}  // namespace hubcache

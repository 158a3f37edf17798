#pragma once
// Model folders in `hubcache migrate` (hygiene/migrate.hpp): which repo a `--local-dir` download
// holds, whether its import verified, and what is left of the folder afterwards.
#include <string>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/hygiene/migrate.hpp"

namespace hubcache::hygiene::detail {

/// The commit the folder's `--local-dir` metadata records (the first valid record, in path
/// order), or "" when there is none.
std::string local_dir_commit(const std::string& dir);

/// The repos of the caches (Hub cache roots) that hold a snapshot folder of `commit`.
std::vector<RepoRef> repos_with_commit(const std::vector<std::string>& caches, const std::string& commit);

/// The refs of the repo (refs/**, without following symlinks) that name `commit`, sorted.
std::vector<std::string> refs_naming(const RepoLayout& layout, const std::string& commit);
inline bool commit_has_ref(const RepoLayout& layout, const std::string& commit) { return !refs_naming(layout, commit).empty(); }

/// The import's files that do not resolve from the cache to the same bytes ("<folder>/<path>:
/// why"): the same inode as the source, or compared byte for byte.
std::vector<std::string> verify_import(const ImportPlan& plan);

/// Every file of the import is already a link of its blob in the cache (a finished --leave-link
/// migration: a hardlink, or a symlink to the blob).
bool already_linked(const ImportPlan& plan);

/// Step 3 for a model folder (migrate.hpp). Returns true when the folder stays because it holds
/// files that were not imported, or that changed since they were.
Result<bool> retire_folder(const ImportPlan& plan, bool leave_link);

}  // namespace hubcache::hygiene::detail

#pragma once
// Repo folders moved out of the cache by `cache move ORG/NAME --to DIR` (manage/repo_move.hpp,
// docs/cache-format.md#moved-repos). The folder moves to DIR/<folder name> (its home) and
// <root>/<folder name> becomes a symlink to it, so huggingface_hub (which follows a symlinked repo
// folder) and huggingface.js keep reading it, and the snapshot links (relative, `../../blobs/..`)
// resolve inside the home. hubcache follows such a symlink only when the home names this cache
// back: <home>/.hubcache/moved-from holds the cache root (absolute, symlink-resolved) and a newline.
// Any other symlinked repo folder stays refused (cache/folders.hpp): a stray link cannot make files
// from elsewhere pass for cached ones.
#include <optional>
#include <string>
#include <string_view>

#include "hubcache/cache/layout.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

inline constexpr std::string_view k_moved_from_record = "moved-from";  // <home>/.hubcache/moved-from

/// The home of a moved repo: lstat(layout.folder()) is a symlink whose text is an absolute,
/// symlink-free path ending in "/<folder name>", lstat of that path is a real directory, and its
/// .hubcache/moved-from (a regular file, opened without following links) names the cache root
/// (compared with realpath(layout.cache_dir())). nullopt when any of that fails (no error: such a
/// folder is simply not a moved repo, and check_repo_folder reports the symlink).
std::optional<std::string> moved_repo_home(const RepoLayout& layout);

/// Why the symlinked repo folder of `layout` is not followed although it looks like a moved repo
/// (its text is an absolute path ending in the folder name): its home is missing (an archive disk
/// not mounted?), is not a folder, or its record names another cache or is spelled otherwise.
/// nullopt when it is followed (moved_repo_home) or does not look like a moved repo at all (a
/// link made by hand: the home has no record).
std::optional<std::string> moved_repo_problem(const RepoLayout& layout);

/// True when `dir` holds repo folders and every one of them is a moved repo's home (a real folder
/// with a moved-from record): an archive folder of `cache move --to`, not a Hub cache.
bool is_archive_of_homes(const std::string& dir);

/// The lock one `cache move ORG/NAME --to/--back` holds for the repo: <root>/.locks/<folder name>.hubcache-move.lock
/// (beside the repo's download locks, which live in <root>/.locks/<folder name>/).
std::string repo_move_lock_path(const RepoLayout& layout);

/// The cache root a home's moved-from record names, or nullopt (no record, not a regular file,
/// unreadable, not one absolute path and a newline).
std::optional<std::string> read_moved_from(const std::string& home);

/// Writes <home>/.hubcache/moved-from = `cache_root` + "\n" atomically and durably (creating
/// .hubcache/ mode 0755 when missing). Errors: Io / PermissionDenied with the path.
Result<void> record_moved_from(const std::string& home, const std::string& cache_root);

/// Removes <home>/.hubcache/moved-from (absent is fine). Errors: Io with the path.
Result<void> forget_moved_from(const std::string& home);

}  // namespace hubcache

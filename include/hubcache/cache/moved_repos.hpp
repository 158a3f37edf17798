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

/// The cache root a home's moved-from record names, or nullopt (no record, not a regular file,
/// unreadable, not one absolute path and a newline).
std::optional<std::string> read_moved_from(const std::string& home);

/// Writes <home>/.hubcache/moved-from = `cache_root` + "\n" atomically and durably (creating
/// .hubcache/ mode 0755 when missing). Errors: Io / PermissionDenied with the path.
Result<void> record_moved_from(const std::string& home, const std::string& cache_root);

/// Removes <home>/.hubcache/moved-from (absent is fine). Errors: Io with the path.
Result<void> forget_moved_from(const std::string& home);

}  // namespace hubcache

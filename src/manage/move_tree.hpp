#pragma once
// Internal to the manage module: the verified, resumable tree copy under `cache move NEW_DIR`
// (manage/move.hpp) and `cache move ORG/NAME --to DIR` (manage/repo_move.hpp), and the state
// folder both keep next to their destination.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/manage/move.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::move_detail {

inline constexpr std::string_view k_move_suffix = ".hubcache-move";
inline constexpr std::string_view k_old_suffix = ".hubcache-old";

/// strerror(errno), for messages.
inline std::string errno_text() { return std::strerror(errno); }

inline std::string base_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }
/// <parent>/.<name><suffix>: the state folder or trash next to `path`.
inline std::string sibling(const std::string& path, std::string_view suffix) {
  return fs::parent(path) + "/." + base_name(path) + std::string(suffix);
}

struct Entry {
  enum Kind { Dir, File, Link } kind = File;
  std::string rel;
  struct ::stat st {};
};

/// The tree below `root` (lstat, no link followed): directories first-visited before their
/// contents. Fifos, sockets and devices go to `skipped`. Errors: Io naming what cannot be read.
Result<std::vector<Entry>> list_tree(const std::string& root, std::vector<std::string>& skipped);

/// What a copy of the tree writes: regular files (hardlinks of one inode once), links, bytes, and
/// the bytes of files also hardlinked outside it.
struct TreeFigures {
  std::size_t files = 0, links = 0;
  std::uint64_t bytes = 0, outside_link_bytes = 0;
};
TreeFigures measure_tree(const std::vector<Entry>& entries);

/// list_tree + measure_tree.
struct TreeScan {
  std::vector<Entry> entries;
  TreeFigures figures;
};
Result<TreeScan> scan_tree(const std::string& root);

/// Where a move of `from` to `to` lands: one filesystem (never on a resume: the copy goes on), and
/// the space free there. For a copy of `bytes` (what an earlier run already has in
/// state_dir/data counted off), DiskFull names `what` and both figures when it does not fit.
struct Landing {
  bool same_filesystem = false;
  std::uint64_t free_bytes = 0;
};
Result<Landing> check_landing(const std::string& from, const std::string& to, bool resume, const TreeScan& tree,
                              std::uint64_t bytes, const std::string& state_dir, const std::string& what);

/// state.json of a state folder: {"version":1,"from":..,"to":..}.
struct MoveState {
  std::string from, to;
};
std::optional<MoveState> read_state(const std::string& state_dir);
Result<void> write_state(const std::string& state_dir, const std::string& from, const std::string& to);

/// Copies the tree `from` into `data` (created if missing; what an earlier run copied there is
/// re-verified and kept), every file hashed on the new side: a blob against its name
/// (`rel_prefix` + rel names it in cache terms, e.g. "models--a--b/" for a repo folder), any
/// other file against the source. Then what changed meanwhile, then drops what the source no longer
/// holds, applies directory metadata and syncs the filesystem. Absolute links into `from` are
/// pointed below `to`. Errors: those of execute_cache_move; the source is never modified.
Result<void> copy_verified(const std::string& from, const std::string& to, const std::string& data, const std::string& rel_prefix,
                           std::uint64_t total, const CacheMoveOptions& options, CacheMoveReport& report);

}  // namespace hubcache::move_detail

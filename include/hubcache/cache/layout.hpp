#pragma once
// The one place that knows the Hub cache's on-disk names (docs/cache-format.md#layout). Pure functions:
// no I/O. Callers validate repo ids, revisions, paths and ETags (repo.hpp) before using them.
#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include "hubcache/core/repo_id.hpp"

namespace hubcache {

/// "models--org--name" for (model, "org/name").
std::string repo_folder_name(const RepoRef& repo);
/// Inverse of repo_folder_name; nullopt when the name has no "--" or an unknown type.
std::optional<RepoRef> parse_repo_folder_name(std::string_view folder);

/// What part of a Hub cache a folder is, if any (classify_hub_folder).
struct HubFolderKind {
  enum Kind { None, CacheRoot, RepoFolder, SnapshotFolder } kind = None;
  std::optional<RepoRef> repo;  // RepoFolder / SnapshotFolder when the folder name parses
  std::string commit;           // SnapshotFolder: its 40-hex name
};
/// Recognises the Hub cache layout (huggingface_hub's file_download / scan_cache_dir):
/// - CacheRoot: holds at least one `models--*`, `datasets--*`, `spaces--*` or `kernels--*` folder;
/// - RepoFolder: holds `blobs/` and `snapshots/` (and usually `refs/`) folders;
/// - SnapshotFolder: named 40 hex, inside a `snapshots/` folder whose parent holds `blobs/`.
/// Reads only directory entries; never follows the folder's own contents' symlinks.
HubFolderKind classify_hub_folder(const std::string& dir);

/// Relative symlink target of snapshots/<commit>/<path>: "../" * (2 + slashes) + "blobs/<etag>".
std::string pointer_target(std::string_view repo_path, std::string_view etag);

/// The exact bytes of CACHEDIR.TAG.
std::string_view cachedir_tag_content();

/// The folders of a repo folder, for code that works relative to its descriptor (cache/walk.hpp);
/// everything else builds paths with RepoLayout.
inline constexpr std::string_view k_blobs_dir = "blobs";
inline constexpr std::string_view k_refs_dir = "refs";
inline constexpr std::string_view k_snapshots_dir = "snapshots";
inline constexpr std::string_view k_no_exist_dir = ".no_exist";
inline constexpr std::string_view k_trees_dir = "trees";  // hubcache's tree records (trees/<commit>.json)
inline constexpr std::string_view k_cachedir_tag = "CACHEDIR.TAG";
/// "<repo_path>/<dir>" or "<repo_path>/<dir>/<name>" for one of the folders above, for code that
/// holds a repo folder's path but not its RepoRef (a scan of folders that may be malformed).
std::string repo_subpath(std::string_view repo_path, std::string_view dir, std::string_view name = {});
inline constexpr std::string_view k_locks_dir = ".locks";
/// hubcache's records inside a repo folder (use records, pins): a folder the Python and JS
/// scanners never read (they read blobs/, refs/ and snapshots/ only).
inline constexpr std::string_view k_records_dir = ".hubcache";
inline constexpr std::string_view k_incomplete_suffix = ".incomplete";
/// A split (parallel ranges) download of blobs/<etag> keeps its data in <etag>.parts.incomplete
/// and the ranges done so far in <etag>.parts.state, written atomically (via a hidden
/// .<etag>.parts.state.<8hex>.tmp). All of them belong to the download until the blob exists.
inline constexpr std::string_view k_parts_incomplete_suffix = ".parts.incomplete";
inline constexpr std::string_view k_parts_state_suffix = ".parts.state";

/// Paths of one repo inside a cache. `cache_dir` should be absolute and symlink-resolved.
class RepoLayout {
 public:
  RepoLayout(std::string cache_dir, RepoRef repo);
  /// The layout of an existing repo folder path ("<root>/models--org--name"): its parent is the
  /// root, its name gives the repo. nullopt when the name is not a repo folder name
  /// (parse_repo_folder_name). No I/O.
  static std::optional<RepoLayout> of_folder(const std::string& folder);

  const std::string& cache_dir() const { return m_root; }
  const RepoRef& repo() const { return m_repo; }
  const std::string& folder() const { return m_folder; }  // <root>/<folder name>

  std::string blobs_dir() const;
  std::string blob_path(std::string_view etag) const;
  std::string incomplete_path(std::string_view etag) const;  // blobs/<etag>.incomplete
  std::string refs_dir() const;
  std::string ref_path(std::string_view revision) const;  // refs/<rev>; "refs/pr/1" -> refs/refs/pr/1
  std::string snapshots_dir() const;
  std::string snapshot_dir(std::string_view commit) const;
  std::string pointer_path(std::string_view commit, std::string_view path) const;
  std::string no_exist_path(std::string_view commit, std::string_view path) const;
  std::string trees_dir() const;
  std::string tree_path(std::string_view commit) const;  // trees/<commit>.json
  std::string locks_dir() const;                         // <root>/.locks/<folder name>
  /// hubcache's own records of the repo (cache/use_records.hpp): <folder>/.hubcache
  std::string records_dir() const;
  std::string use_record_path(std::string_view commit) const;  // .hubcache/used/<commit>
  std::string pins_path() const;                               // .hubcache/pins
  std::string lock_path(std::string_view etag) const;

 private:
  std::string m_root;
  RepoRef m_repo;
  std::string m_folder;
  std::string m_folder_name;
};

/// The repo folders directly under `cache_dir` (real directories, not symlinks, whose names are
/// repo folder names), in directory order; empty when it cannot be read. One directory read.
std::vector<RepoLayout> list_repo_layouts(const std::string& cache_dir);

}  // namespace hubcache

#pragma once
// hubcache.lock: the repos, commits and files a project needs, pinned (issue 13, docs/lockfile.md).
// One JSON file per project, meant to be committed: keys in a fixed order, files sorted by path,
// 2-space indent, a final newline, so the same inputs always give the same bytes.
//
//   {"lockfile_version": 1, "endpoint": "https://huggingface.co",
//    "repos": [{"repo_type": "model", "repo_id": "org/name", "revision": "main",
//               "commit": "<40 hex>", "include": ["*.json"], "exclude": [],
//               "files": [{"path": "config.json", "size": 123, "git_oid": "<40 hex>"},
//                         {"path": "model.safetensors", "size": 9, "git_oid": "<40 hex>",
//                          "lfs_sha256": "<64 hex>"}]}]}
//
// Per file: what the Hub's tree listing gives (path, size, git blob id, LFS SHA-256), so a lock
// is made without downloading any content. For an LFS file `git_oid` is the id of its pointer.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache::lock {

inline constexpr int k_lockfile_version = 1;
inline constexpr const char* k_default_lockfile = "hubcache.lock";

struct LockedFile {
  std::string path;  // '/'-separated repo path (validate_repo_path)
  std::uint64_t size = 0;
  std::string git_oid;                    // 40 lower-case hex
  std::optional<std::string> lfs_sha256;  // 64 lower-case hex, for LFS files
  /// The name of its blob in a Hub cache (huggingface_hub's etag): the SHA-256 for LFS, else the git oid.
  const std::string& blob_name() const { return lfs_sha256 ? *lfs_sha256 : git_oid; }
};

struct LockedRepo {
  RepoRef repo;
  std::string revision;                       // as asked ("main", a tag, or the commit itself)
  std::string commit;                         // what it resolved to (40 hex)
  std::vector<std::string> include, exclude;  // the patterns the files were chosen with (fnmatch, as download's)
  std::vector<LockedFile> files;              // sorted by path, unique
};

struct Lockfile {
  std::string endpoint;  // the Hub the commits come from ("https://huggingface.co")
  std::vector<LockedRepo> repos;
};

/// Parses and validates a lockfile. Fails with InvalidArgument naming `source` (a path, for
/// messages) and the place ("repos[0].files[3].path: ...") on malformed JSON, another
/// lockfile_version, an invalid repo type, id, revision, commit, path, hash or size, a path listed
/// twice, or the same repo and revision locked twice.
Result<Lockfile> parse_lockfile(std::string_view text, const std::string& source);
/// read + parse_lockfile; Io when the file cannot be read (a lock is at most 64 MiB).
Result<Lockfile> read_lockfile(const std::string& path);

/// The canonical text (see the top of this file). Files are written in the order held; callers
/// sort them (sort_files) first.
std::string serialize_lockfile(const Lockfile& lock);
/// Writes serialize_lockfile atomically (temp file, fsync, rename) to `path`.
Result<void> write_lockfile(const std::string& path, const Lockfile& lock);

/// Sorts a repo's files by path (byte order).
void sort_files(LockedRepo& repo);

}  // namespace hubcache::lock

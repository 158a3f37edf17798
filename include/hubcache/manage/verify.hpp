#pragma once
// Offline integrity check of one cached revision (the local half of `hf cache verify`, docs/cache-management.md#verify).
//
// Revision resolution (docs/cache-management.md#verify step 1): a 40-hex `revision` is used as is; another
// revision reads refs/<revision> (read_ref: stripped) and fails with "Revision '<r>' could not be
// resolved in cache" (RevisionNotFound) when that ref is missing, or CacheCorrupted when it does
// not hold a 40-hex commit; no revision reads refs/main the same way, else takes the only 40-hex
// snapshot dir, else fails with "Ambiguous cached revision". The snapshot dir must exist.
//
// Each file of the snapshot (any depth) is hashed from its blob and compared with:
// - its entry in trees/<commit>.json when that file is present and valid: lfs_sha256 (SHA-256)
//   for LFS files, else blob_id (git blob SHA-1);
// - otherwise its blob name: 64 hex = SHA-256, 40 hex = git blob SHA-1. A file with neither
//   (a no-symlink copy without tree file, an odd blob name) is listed as unverified.
// A repo blob that links into the marked shared blob store is named (and checked) by its entry
// <repo>/blobs/<etag>, its bytes read through the link; a dangling one is a MissingBlob.
// Distinct blobs are hashed once each, in parallel across files (OpenSSL).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

enum class VerifyProblemKind {
  Mismatch,         // content hash differs from the expected one
  MissingBlob,      // the pointer targets <repo>/blobs/<name>, which does not exist
  DanglingPointer,  // a symlink to nothing elsewhere, or to outside the cache (not followed)
  MissingFile,      // listed in trees/<commit>.json but absent from the snapshot (only with
                    // VerifyOptions::fail_on_missing_files, else VerifyReport::missing_files)
  Unreadable,       // the blob could not be read (permissions, I/O error)
};

/// "mismatch", "missing_blob", "dangling_pointer", "missing_file", "unreadable".
const char* to_string(VerifyProblemKind kind);

struct VerifyProblem {
  VerifyProblemKind kind = VerifyProblemKind::Mismatch;
  std::string path;       // relative to the snapshot
  std::string expected;   // Mismatch
  std::string got;        // Mismatch
  std::string algorithm;  // "sha256" or "git-sha1" (Mismatch)
  std::string detail;     // the blob path, the link target or the error
};

struct VerifyReport {
  RepoRef repo;
  std::string commit;
  std::string snapshot_path;
  bool tree_file_used = false;
  std::size_t checked = 0;              // files whose hash was compared (equal or not)
  std::vector<std::string> unverified;  // files with no expected hash
  std::uint64_t bytes_hashed = 0;
  std::vector<VerifyProblem> problems;  // sorted by path
  /// Files listed in trees/<commit>.json but absent from the snapshot (e.g. left out by
  /// --include), sorted: warnings, not problems, unless VerifyOptions::fail_on_missing_files
  /// (then they are MissingFile problems and this list is empty).
  std::vector<std::string> missing_files;
  std::vector<std::string> notes;  // e.g. an ignored malformed tree file
  bool ok() const { return problems.empty(); }
};

struct VerifyOptions {
  unsigned threads = 0;  // 0 = hardware concurrency
  /// A partial snapshot is fine by default, as in `hf cache verify`; true makes every file
  /// missing from it a MissingFile problem.
  bool fail_on_missing_files = false;
};

/// Verifies `repo` at `revision` in the cache at `cache_dir`. Fails (NotFound, RevisionNotFound,
/// InvalidRevision, ...) when the revision cannot be resolved to an existing snapshot, and with
/// CacheCorrupted naming the folder when the repo folder, snapshots/ or snapshots/<commit> is a
/// symlink or a file (cache/folders.hpp: never followed, so files from outside the cache are never
/// vouched for); every per-file finding is in the report instead.
Result<VerifyReport> verify_repo(const std::string& cache_dir, const RepoRef& repo, const std::optional<std::string>& revision,
                                 const VerifyOptions& options = {});

}  // namespace hubcache

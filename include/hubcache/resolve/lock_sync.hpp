#pragma once
// `hubcache lock` and `hubcache sync`: a lockfile made from the Hub's listings (no file content
// read), and a cache made to hold exactly what a lock names (issue 13, docs/lockfile.md).
#include <string>
#include <vector>

#include "hubcache/lock/cache_check.hpp"
#include "hubcache/lock/lockfile.hpp"
#include "hubcache/resolve/download.hpp"

namespace hubcache {

struct LockRequest {
  RepoRef repo;
  std::string revision = "main";
  std::vector<std::string> include, exclude;  // as snapshot_download's allow/ignore patterns
};

/// Resolves `request.revision` to a commit (GET /api/T/<id>/revision/<rev>) and lists the commit's
/// files recursively (the tree API), keeping those the patterns select, with path, size, git
/// blob id and LFS SHA-256 as the Hub lists them. Never offline: LocalEntryNotFound when
/// `options.offline`. Errors: HubApi::repo_info's and list_tree's (RepoNotFound, Gated,
/// RevisionNotFound, Unauthorized, Http, Network, ...).
Result<lock::LockedRepo> lock_repo(const DownloadOptions& options, const LockRequest& request);

struct SyncOptions {
  bool hash = true;  // hash the cached blobs against the lock (false: pointer, name and size only)
  /// Move refs/<revision> to the locked commit when it points elsewhere (default: leave it,
  /// and warn: code loading the branch offline then gets the other commit).
  bool set_refs = false;
};

struct SyncReport {
  std::size_t files = 0;       // locked files
  std::size_t already = 0;     // held and verified before: nothing done
  std::size_t downloaded = 0;  // fetched now (missing, or mismatched and fetched again)
  std::uint64_t bytes_transferred = 0;
  bool offline = true;                    // no request was made: everything was in the cache
  std::vector<std::string> refs_written;  // "org/name: refs/main -> <commit>"
  std::vector<std::string> warnings;      // refs left pointing elsewhere, ...
};

/// Makes the cache (options.cache_dir) hold exactly the files `lock` names, at the locked
/// commits: checks what is there (lock::check_cache_against_lock), downloads only what is
/// missing or does not match (from `options.endpoint`; a blob that fails its check is fetched
/// again and replaced), then checks again, hashing. Writes refs/<revision> for a branch or tag
/// that the cache lacks (so `from_pretrained(id)` offline finds the commit). No request at all
/// when everything is held. Errors: LocalEntryNotFound (offline with files missing; Error::missing
/// lists them), Integrity (a file still differs from the lock after its download: the endpoint
/// serves other bytes than the lock names), the Downloader's errors.
Result<SyncReport> sync_lockfile(const DownloadOptions& options, const lock::Lockfile& lock, const SyncOptions& sync = {});

}  // namespace hubcache

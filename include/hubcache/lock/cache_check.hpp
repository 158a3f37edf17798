#pragma once
// A lockfile against a Hub cache, offline: what a cached snapshot pins, and whether a cache holds
// exactly what a lock names (`hubcache cache verify --lock`, `hubcache sync`'s first step).
#include <string>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/lock/lockfile.hpp"

namespace hubcache::lock {

/// The files of a cached snapshot as a LockedRepo (for `bundle create ORG/NAME`, and for a lock
/// made offline): `revision` (a ref or a commit) is resolved through refs/; the files come from
/// trees/<commit>.json when the cache holds it, else from the snapshot's pointers (git oid and
/// SHA-256 from the blob names, the LFS pointer's id computed); `include`/`exclude` filter paths as
/// download does. Fails with RevisionNotFound (no such ref/snapshot) or CacheCorrupted (a
/// pointer without its blob, a blob named by neither kind of hash).
Result<LockedRepo> locked_repo_from_cache(const std::string& cache_dir, const RepoRef& repo, const std::string& revision,
                                          const std::vector<std::string>& include = {},
                                          const std::vector<std::string>& exclude = {});

struct FileCheck {
  enum class State {
    Ok,          // the snapshot's pointer leads to a blob of the locked name and size (and, hashed, bytes)
    Missing,     // no pointer, or a pointer without its blob
    Mismatched,  // the blob's size or bytes differ from the lock
  };
  RepoRef repo;
  std::string commit, path;
  State state = State::Ok;
  std::string why;  // for Missing and Mismatched: what was found
};

struct LockCheck {
  std::vector<FileCheck> files;  // one per locked file, in lock order
  std::size_t missing = 0, mismatched = 0;
  bool ok() const { return missing == 0 && mismatched == 0; }
};

/// Checks every locked file in `cache_dir`: its snapshot pointer, its blob's name and size, and,
/// with `hash`, the blob's bytes (SHA-256 or git SHA-1, as its name says). Never writes. Fails
/// only when the cache folder cannot be read.
Result<LockCheck> check_cache_against_lock(const std::string& cache_dir, const Lockfile& lock, bool hash);

}  // namespace hubcache::lock

#pragma once
// Delete and prune plans over a scan (docs/cache-management.md#delete, #rm). A plan is computed first,
// frozen, shown to the user, and only then executed.
//
// Blob accounting follows huggingface_hub's delete_revisions: when every revision of a repo is
// selected the whole repo folder goes (freeing the repo's size); otherwise each selected
// revision loses its snapshot dir and its refs, and a blob is deleted (and counted) only if no
// kept revision uses it; a file copied into the snapshot (no-symlink mode) is counted and goes
// with the snapshot. Safety rules beyond PY:
// - nothing outside the cache root is ever deleted, and no symlink is followed while deleting
//   (every path is reached from the root through real directories);
// - a blob outside the repo's own blobs/ (a pointer into another repo) is neither deleted nor counted;
// - an `.incomplete` file whose per-blob lock (.locks/<folder>/<etag>.lock) is held by a live
//   download is left alone, and so is the folder holding it (the repo's revisions are then
//   deleted one by one instead of the whole folder).
// Shared blob store (cache/shared_blobs.hpp, research note 4.2-4.4), when the store is marked:
// - deleting a shared entry (<repo>/blobs/<etag> linking into the store) unlinks only that link;
//   the repo's own size counts only its other blobs;
// - each touched payload is counted once, with its size only if its manifest is readable and
//   every valid reference in it is among the entries being deleted (all plan targets together),
//   else 0 (another repo still uses it, or the manifest is missing/unreadable: kept);
// - execute() then sweeps only the touched hashes, each under its lock (the sweep re-checks the
//   manifest, so a reference created since the plan keeps the payload), and reports what it freed;
// - prune also lists every payload whose manifest is readable and has no valid reference.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/manage/scan.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

/// A `cache rm` target, parsed.
struct DeleteTarget {
  enum class Kind {
    Revision,      // 40 hex digits (any case): that revision in every repo holding it
    Repo,          // "type/id" or "hf://[type/]ns/name": exactly that repo (case-insensitive)
    BareId,        // "id" or "ns/name" without a type: the one cached repo of any type with that id
    RepoRevision,  // `commit` in exactly the repo `type`/`id` (as the scan names it); never parsed from
                   // text: built by callers that pick from a scan (the CLI's selection list)
  };
  Kind kind = Kind::Repo;
  std::string text;              // as given
  std::string commit;            // Revision (lower-cased), RepoRevision
  std::optional<RepoType> type;  // Repo, RepoRevision (required)
  std::string id;                // Repo, BareId, RepoRevision (exact case)

  /// A RepoRevision target; `text` reads "type/id@commit" (as unknown_targets() shows it).
  static DeleteTarget revision_of(const RepoRef& repo, std::string_view commit);
};

/// Parses one target. Fails (InvalidArgument) on an empty target and on hf:// URIs that are not
/// repo-level (a revision, a path, a singular type prefix, no namespace, buckets).
Result<DeleteTarget> parse_delete_target(std::string_view text);

struct PlannedRevision {
  std::string commit;
  std::vector<std::string> refs;  // sorted
  std::uint64_t size_on_disk = 0;
};

struct PlannedRepo {
  RepoRef repo;
  std::string path;
  bool entire = false;                     // the whole folder goes
  bool broken = false;                     // a repo the scan skipped (only ever deleted entirely)
  std::vector<PlannedRevision> revisions;  // the selected ones, sorted by commit
  std::uint64_t size_on_disk = 0;          // what deleting it frees (entire) or its revisions' share
  std::string label() const { return repo.label(); }
};

struct PlannedIncomplete {
  std::string path;
  std::string lock_path;              // .locks/<folder>/<etag>.lock
  std::uint64_t size = 0;             // with the sidecars
  std::vector<std::string> sidecars;  // split-download state files that go with it (IncompleteFile)
};

/// A payload of the shared blob store that execute() sweeps.
struct PlannedSharedBlob {
  std::string hash;
  std::string path;           // <root>/blobs/<h[:2]>/<h>
  std::uint64_t size = 0;     // what the plan expects the sweep to free (0: it keeps the payload)
  bool unreferenced = false;  // prune: no valid reference at planning time
};

struct DeleteProblem {
  std::string path;
  std::string message;
  ErrorCode code = ErrorCode::Io;
};

struct DeleteReport {
  std::size_t repos_deleted = 0;
  std::size_t revisions_deleted = 0;  // every deleted revision, including those of entire repos
  std::size_t incomplete_deleted = 0;
  std::size_t shared_blobs_deleted = 0;     // payloads removed from the shared blob store
  std::size_t xet_records_deleted = 0;      // Xet records of deleted blobs (cache/xet_records.hpp)
  std::uint64_t freed_bytes = 0;            // the plan's figure minus what could not be deleted
  std::vector<DeleteProblem> problems;      // missing paths, permission errors: reported, not fatal
  std::vector<std::string> skipped_locked;  // .incomplete files whose download became live
};

class DeletePlan {
 public:
  const std::string& cache_dir() const { return m_root; }
  /// Affected repos sorted by (type, lower-case id), as the CLI prints them.
  const std::vector<PlannedRepo>& repos() const { return m_repos; }
  const std::vector<std::string>& repo_dirs() const { return m_repo_dirs; }
  const std::vector<std::string>& snapshot_dirs() const { return m_snapshot_dirs; }
  const std::vector<std::string>& ref_files() const { return m_ref_files; }
  const std::vector<std::string>& blob_files() const { return m_blob_files; }
  const std::vector<PlannedIncomplete>& incomplete_files() const { return m_incomplete; }
  /// `.incomplete` files left alone because a live download holds their lock.
  const std::vector<PlannedIncomplete>& locked_incomplete() const { return m_locked; }
  /// Shared store payloads execute() sweeps, sorted by hash (touched by the deletion, or
  /// unreferenced ones for prune).
  const std::vector<PlannedSharedBlob>& shared_blobs() const { return m_shared; }
  std::size_t unreferenced_shared_count() const;
  /// Targets that matched nothing in the cache.
  const std::vector<std::string>& unknown_targets() const { return m_unknown; }
  /// prune: detached revisions kept because they are pinned (cache/use_records.hpp), as
  /// "<repo label> <commit>" (a repo whose pins file is broken keeps all of them).
  const std::vector<std::string>& kept_pinned() const { return m_kept_pinned; }
  /// prune: repos moved out of the cache (`cache move ORG/NAME --to DIR`), left alone whole, as
  /// "<repo label> at <home>" (their interrupted downloads too).
  const std::vector<std::string>& kept_moved() const { return m_kept_moved; }

  std::uint64_t revisions_bytes() const { return m_revisions_bytes; }
  std::uint64_t incomplete_bytes() const;
  std::uint64_t shared_bytes() const;
  std::uint64_t freed_bytes() const { return m_revisions_bytes + incomplete_bytes() + shared_bytes(); }
  std::size_t entire_repo_count() const;
  std::size_t partial_revision_count() const;  // selected revisions of repos not deleted entirely
  std::size_t total_revision_count() const;
  bool empty() const { return m_repos.empty() && m_incomplete.empty() && unreferenced_shared_count() == 0; }

  /// Deletes, in this order: repo folders, snapshot dirs, refs (and ref dirs left empty), blobs,
  /// then sweeps the shared payloads (the planned ones plus those linked from repo folders being
  /// removed, recorded just before), then `.incomplete` files (each under its lock, skipped if a
  /// download took it meanwhile);
  /// finally removes repo folders left without any snapshot or download. Never fails as a
  /// whole: every problem is in the report.
  DeleteReport execute() const;

 private:
  friend class DeletePlanBuilder;
  friend Result<DeletePlan> plan_prune(const HFCacheInfo& cache);
  DeletePlan() = default;

  std::string m_root;
  std::vector<PlannedRepo> m_repos;
  std::vector<std::string> m_repo_dirs, m_snapshot_dirs, m_ref_files, m_blob_files;
  std::vector<PlannedIncomplete> m_incomplete, m_locked;
  std::vector<PlannedSharedBlob> m_shared;
  std::vector<std::string> m_unknown, m_kept_pinned, m_kept_moved;
  std::vector<std::uint64_t> m_repo_dir_sizes, m_snapshot_sizes, m_blob_sizes;  // parallel to the lists
  std::vector<std::string> m_touched_repos;                                     // folders to drop if left without content
  std::uint64_t m_revisions_bytes = 0;
};

/// Plan for `cache rm TARGET...`. The scan must have collected blobs (ScanOptions::collect_blobs; fails
/// with InvalidArgument otherwise). Fails (InvalidArgument) on
/// a malformed target, on a bare id matching several repos (the message lists them) and on a
/// target in a repo moved out of the cache (`cache move --to`; the message says how to delete it);
/// unmatched targets land in unknown_targets().
Result<DeletePlan> plan_delete(const HFCacheInfo& cache, const std::vector<std::string>& targets);
/// The same over parsed (or built) targets; also fails (InvalidArgument) on a RepoRevision
/// target without a type. A RepoRevision selects that commit in that repo only, even when
/// another cached repo holds the same commit.
Result<DeletePlan> plan_delete_targets(const HFCacheInfo& cache, const std::vector<DeleteTarget>& targets);

/// Plan for `cache prune`: every detached revision (no ref) that is not pinned (`cache pin`: a
/// pin of the whole repo or of that commit; hubcache's own rule, huggingface_hub has no pins) and every `.incomplete` file (with
/// its split-download state files, or such a state file alone) not locked by a live download,
/// and every unreferenced payload of the shared blob store. Needs blobs, like plan_delete.
Result<DeletePlan> plan_prune(const HFCacheInfo& cache);

}  // namespace hubcache

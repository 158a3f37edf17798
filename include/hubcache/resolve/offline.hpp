#pragma once
// Offline resolution, exactly like huggingface_hub's try_to_load_from_cache and the offline
// branch of snapshot_download (docs/hub-protocol.md#try-to-load, #offline-snapshot). Never the network. The one write:
// a found file or snapshot records its use (cache/use_records.hpp: record_use, the mtime of
// <repo>/.hubcache/used/<commit>), best effort and silent, so `cache gc` knows what is in use.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/util/pattern.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

struct CacheLookupOptions {
  std::string revision = "main";
  RepoType repo_type = RepoType::Model;
  std::string cache_dir;  // the hub cache (Config::hub_cache); required. A relative one is used as given,
                          // like Python's os.path.join, and so are the paths returned.
};

struct CacheLookup {
  enum class Kind {
    Found,     // `path` is snapshots/<commit>/<filename> and resolves to a file
    NoExist,   // .no_exist/<commit>/<filename> records that the file is absent at `commit`
    NotCached  // nothing known locally
  };
  Kind kind = Kind::NotCached;
  std::string path;    // snapshot path (never the blob path) when Found
  std::string commit;  // the commit the revision mapped to, when known
  // NotCached because the revision has no ref while snapshots of other commits are cached (a
  // download by commit): cached_commits_hint's text and commit, else "". When the ref exists but
  // does not hold a commit hash (empty, garbage), the text starts with " The ref '<path>' ...":
  // still NotCached, as PY's try_to_load_from_cache answers None, but the reason is named.
  std::string hint;
  std::string cached_commit;
};

/// try_to_load_from_cache(repo_id, filename, {revision, repo_type, cache_dir}).
/// `repo_id` may be the path of a local model folder (local_folder.hpp, from_pretrained step 1):
/// an existing folder wins; its file is Found with `path` = `<folder>/<filename>` as given, and
/// a file it lacks is NotFound naming the folder. Otherwise errors on invalid input
/// (InvalidRepoId: neither a folder nor a repo id; InvalidRevision; InvalidPath) and with
/// CacheCorrupted naming the folder when the repo folder, its snapshots/ or the snapshot is a
/// symlink or a file (cache/folders.hpp: never followed out of the cache); InvalidArgument when
/// `cache_dir` is empty, NotADirectory when it is a file.
Result<CacheLookup> try_to_load_from_cache(const std::string& repo_id, const std::string& filename,
                                           const CacheLookupOptions& options);

struct SnapshotLookupOptions {
  std::string revision = "main";
  RepoType repo_type = RepoType::Model;
  std::string cache_dir;
  PathFilter filter;                   // include/exclude patterns
  std::vector<std::string> filenames;  // when non-empty: exactly these files must be present
};

struct SnapshotLookup {
  std::string snapshot_dir;  // <cache>/<repo folder>/snapshots/<commit>
  std::string commit;
  std::vector<std::string> files;     // paths present and selected, sorted
  bool verified_complete = false;     // a tree file (or an explicit file list) was checked
  std::vector<std::string> warnings;  // e.g. an ignored malformed tree file
};

/// Resolves a revision to its cached snapshot. Fails with LocalEntryNotFound when the repo,
/// ref or snapshot is absent, and with IncompleteSnapshot (Error::missing lists every missing
/// file) when trees/<commit>.json or `filenames` name files that are not cached. The error
/// message says which command fetches them; when the revision has no ref but snapshots of other
/// commits are cached (a download by commit), it names them and the --revision to use. Without
/// a tree record (completeness unknown) it succeeds with verified_complete false and a warning
/// that says so. A `repo_id` that is an existing folder is the model itself (local_folder.hpp):
/// snapshot_dir is the folder as given, files its selected files, verified_complete true, and
/// `filenames` it lacks are one NotFound error naming the folder (Error::missing lists them).
/// CacheCorrupted names a repo folder, snapshots/ or snapshot that is a symlink or a file
/// (cache/folders.hpp: never followed out of the cache).
Result<SnapshotLookup> resolve_snapshot(const std::string& repo_id, const SnapshotLookupOptions& options);

/// Other cached commits of a repo, for an offline miss.
struct CachedCommitsHint {
  /// " The cache holds a snapshot at commit <c>: use that commit as the revision." (or the first
  /// five of several), or "".
  std::string text;
  std::string commit;  // the first of them ("" when none): what to pass as the revision
};

/// The cached commits when `revision` maps to no cached snapshot (no ref, or a commit without a
/// snapshot folder) but snapshots of other commits are cached; empty otherwise (also when the
/// repo has no snapshot folder or it is a symlink). The one builder of that hint: every offline
/// miss carries it -- resolve_snapshot's error (with Remedy::UseRevision and the commit),
/// CacheLookup::hint, and the LocalEntryNotFound errors of Downloader::download_file /
/// snapshot_download offline or with local_files_only.
/// Empty for a repo id that fails validate_repo_id.
CachedCommitsHint cached_commits_hint(const RepoRef& repo, std::string_view revision, const std::string& cache_dir);
/// `e` with Remedy::UseRevision naming other.commit, or with `otherwise` and `value` when none.
Error with_cache_remedy(Error e, const CachedCommitsHint& other, Remedy otherwise, std::string value = {});

}  // namespace hubcache

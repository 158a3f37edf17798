// plan_import: validate, walk, read local-dir metadata, hash, decide blob names and the commit.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/parallel.hpp"
#include "hubcache/util/digest.hpp"
#include "import_internal.hpp"

namespace hubcache {
namespace {

// The digest an earlier plan computed for `path`, when the file is unchanged (ImportOptions::known_digests);
// an empty digest otherwise.
import_detail::HashedSource known_digest(const ImportOptions& options, const std::string& path, bool lfs) {
  const auto it = options.known_digests.find(path);
  struct stat st {};
  if (it == options.known_digests.end() || it->second.lfs != lfs || ::stat(path.c_str(), &st) != 0) return {};
  const KnownDigest& k = it->second;
  if (static_cast<std::uint64_t>(st.st_size) != k.size || st.st_dev != k.stamp.dev || st.st_ino != k.stamp.ino ||
      fs::mtime_ns(st) != k.stamp.mtime_ns)
    return {};
  return import_detail::HashedSource{k.size, k.digest, k.stamp};
}

using import_detail::Problem;

// st_dev of `path`, or of its nearest existing ancestor.
std::optional<dev_t> device_of(const std::string& path) {
  struct stat st {};
  if (::stat(fs::nearest_existing(path).c_str(), &st) == 0) return st.st_dev;
  return std::nullopt;
}

Result<void> check_inputs(const ImportOptions& o) {
  HUBCACHE_TRY(validate_repo_id(o.repo.id));
  HUBCACHE_TRY(validate_revision(o.revision));
  if (o.commit && !is_commit_hash(*o.commit))
    return fail(ErrorCode::InvalidRevision,
                "the commit must be a full 40-character lower-case commit hash, got '" + *o.commit + "'");
  if (o.commit && is_commit_hash(o.revision) && *o.commit != o.revision)
    return fail(ErrorCode::InvalidArgument,
                "revision " + o.revision + " and commit " + *o.commit + " disagree; pass only one of them");
  if (o.cache_dir.empty()) return fail(ErrorCode::InvalidArgument, "no cache directory given");
  if (o.source_dir.empty()) return fail(ErrorCode::InvalidArgument, "no folder to import given");
  if (!o.files.empty() && o.mode == ImportMode::Move)
    return fail(ErrorCode::InvalidArgument,
                "a list of files is linked or copied into the cache, never moved: they belong to another tool");
  return {};
}

Result<std::string> resolve_source(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return fail(ErrorCode::NotFound, "folder to import '" + dir + "' does not exist", dir);
    return fail(errno_error(errno, "cannot access folder to import", dir));
  }
  if (!S_ISDIR(st.st_mode))
    return fail(ErrorCode::NotADirectory, "'" + dir + "' is not a folder; import takes the folder holding the repo files", dir);
  return fs::real_path(dir);
}

// A Hub cache, or a repo or snapshot folder of one, is not a folder of repo files: importing it
// would file its .locks, blobs and refs as repo files and move the ref to that junk snapshot.
Result<void> refuse_hub_layout(const std::string& root, const std::string& cache, const ImportOptions& o) {
  const HubFolderKind kind = classify_hub_folder(root);
  if (kind.kind == HubFolderKind::None) return {};
  std::string what, commit;
  const RepoRef named = kind.repo.value_or(o.repo);
  if (kind.kind == HubFolderKind::CacheRoot) what = "a Hub cache (it holds models--*/datasets--* folders)";
  if (kind.kind == HubFolderKind::RepoFolder) what = "a repo folder of a Hub cache (blobs/, refs/, snapshots/)";
  if (kind.kind == HubFolderKind::SnapshotFolder) {
    what = "the snapshot of commit " + kind.commit + " in a Hub cache";
    commit = kind.commit;
  }
  const std::string source_cache = kind.kind == HubFolderKind::CacheRoot    ? root
                                   : kind.kind == HubFolderKind::RepoFolder ? fs::parent(root)
                                                                            : fs::parent(fs::parent(fs::parent(root)));
  return fail(Error{ErrorCode::InvalidArgument,
                    "'" + root + "' is " + what + ", not a folder of repo files: importing it as " + o.repo.id +
                        " would file its internals as repo files. Nothing was changed. Use that cache as it is (HF_HUB_CACHE='" +
                        source_cache + "'), or copy its repos into '" + cache +
                        "' verified, by downloading them from a local mirror that serves it.",
                    source_cache}
                  .with_remedy(Remedy::MirrorCache,
                               "hf://" + (named.type == RepoType::Model ? std::string() : std::string(plural(named.type)) + "/") +
                                   named.id + (commit.empty() ? "" : "@" + commit)));
}

// A folder inside the cache may be imported in place only where no cache data lives: a folder
// directly in the cache root that is not cache-internal (`<cache>/tiny`, the trap of
// `hf download --local-dir ~/.cache/huggingface/hub/tiny`), or the repo's own folder holding only
// local-dir files (`--local-dir .../hub/models--org--tiny`). Anything deeper is cache data.
Result<void> check_in_place(const std::string& root, const std::string& cache, const ImportOptions& o, ImportPlan& plan) {
  const std::string rel = root.substr(cache.size() + (cache.size() < root.size() ? 1 : 0));
  auto refuse = [&](const std::string& why) {
    return fail(ErrorCode::InvalidArgument,
                "'" + root + "' is inside the cache '" + cache + "' and " + why + "; nothing was changed", root);
  };
  if (rel.empty() || rel.find('/') != std::string::npos) return refuse("holds cache data (it is already cached)");
  if (rel.front() == '.') return refuse("is a cache-internal folder");
  if (auto named = parse_repo_folder_name(rel)) {
    if (!(*named == o.repo))
      return refuse("is the cache folder of " + std::string(to_string(named->type)) + " '" + named->id + "', not of '" +
                    o.repo.id + "'");
    for (const std::string_view internal : {k_blobs_dir, k_refs_dir, k_snapshots_dir, k_no_exist_dir, k_trees_dir}) {
      struct stat st {};
      if (::lstat(repo_subpath(root, internal).c_str(), &st) == 0)
        return refuse("already holds cache data ('" + std::string(internal) +
                      "'); import the local-dir files from a folder outside the cache");
    }
  }
  plan.in_place = true;
  return {};
}

// The commit the files are at when the caller named one.
std::optional<std::string> explicit_commit(const ImportOptions& o) {
  if (o.commit) return o.commit;
  if (is_commit_hash(o.revision)) return o.revision;
  return std::nullopt;
}

// Applies local-dir metadata: which files are tracked (with their ETag) and at which commit.
// Returns the commit, or an error naming untracked files, mixed commits or a conflicting commit.
Result<std::optional<std::string>> apply_metadata(const import_detail::LocalDirMetadata& meta, const ImportOptions& o,
                                                  std::vector<import_detail::SourceEntry>& entries,
                                                  std::map<std::string, std::string>& etags, ImportPlan& plan) {
  for (const auto& u : meta.unreadable)
    plan.warnings.push_back("ignoring unreadable local-dir metadata '" + u + "' (its file counts as untracked)");
  std::set<std::string> present;
  std::vector<import_detail::SourceEntry> kept;
  std::vector<std::string> untracked;
  std::map<std::string, std::vector<std::string>> by_commit;
  for (auto& e : entries) {
    present.insert(e.path);
    auto it = meta.records.find(e.path);
    if (it == meta.records.end()) {
      untracked.push_back(e.path);
      continue;
    }
    etags[e.path] = it->second.etag;
    by_commit[it->second.commit].push_back(e.path);
    kept.push_back(std::move(e));
  }
  for (const auto& [path, rec] : meta.records)
    if (!present.count(path))
      plan.warnings.push_back("local-dir metadata names '" + path + "', which is not in the folder; ignored");
  if (!untracked.empty() && o.untracked == UntrackedPolicy::Refuse) {
    std::vector<Problem> ps;
    for (const auto& u : untracked) ps.push_back(Problem{ErrorCode::Conflict, u, fs::join(plan.options.source_dir, u)});
    return fail(
        import_detail::problems_error(
            "'" + plan.options.source_dir + "' was made by `hf download --local-dir`, but " + std::to_string(untracked.size()) +
                " file(s) have no download metadata, so their commit is unknown. Leave them out (UntrackedPolicy::Skip), or "
                "import the folder as plain files (`hubcache import --ignore-metadata`). Nothing was changed. Files:",
            ps)
            .with_remedy(Remedy::IgnoreMetadata, "untracked"));
  }
  plan.skipped = std::move(untracked);
  entries = std::move(kept);
  if (by_commit.size() > 1) {
    std::vector<Problem> ps;
    for (const auto& [c, files] : by_commit)
      ps.push_back(
          Problem{ErrorCode::Conflict, c + ": " + std::to_string(files.size()) + " file(s), e.g. '" + files.front() + "'", ""});
    return fail(
        import_detail::problems_error(
            "the local-dir metadata of '" + plan.options.source_dir +
                "' records files of different commits; a snapshot holds one commit. Re-run `hf download --local-dir` "
                "to bring every file to one commit, or import the folder as plain files (`hubcache import --ignore-metadata`). "
                "Nothing was changed. Commits:",
            ps)
            .with_remedy(Remedy::IgnoreMetadata));
  }
  if (by_commit.empty()) return std::optional<std::string>{};
  const std::string commit = by_commit.begin()->first;
  if (auto given = explicit_commit(o); given && *given != commit)
    return fail(Error{
        ErrorCode::Conflict,
        "the local-dir metadata records commit " + commit + ", not " + *given +
            "; drop the commit/revision you gave or ignore the metadata (`hubcache import --ignore-metadata`)",
        {}}.with_remedy(Remedy::IgnoreMetadata));
  return std::optional<std::string>{commit};
}

// The snapshot of `commit` is cached and, where trees/<commit>.json records the commit's files,
// holds every one of them. An unreadable tree record counts as complete (the safe side: the ref
// is not moved without force).
bool holds_complete_snapshot(const RepoLayout& layout, const std::string& commit) {
  const std::filesystem::path dir = layout.snapshot_dir(commit);
  std::error_code ec;
  if (std::filesystem::is_empty(dir, ec) || ec) return false;
  auto tree = read_tree_file(layout, commit);
  if (!tree || !tree->has_value()) return true;
  for (const auto& f : **tree)
    if (!std::filesystem::exists(dir / f.path, ec)) return false;
  return true;
}

}  // namespace

const char* to_string(ImportMode mode) {
  switch (mode) {
    case ImportMode::Auto:
      return "auto";
    case ImportMode::Link:
      return "link";
    case ImportMode::Copy:
      return "copy";
    case ImportMode::Move:
      return "move";
  }
  return "?";
}

std::optional<ImportMode> parse_import_mode(std::string_view s) {
  for (auto m : {ImportMode::Auto, ImportMode::Link, ImportMode::Copy, ImportMode::Move})
    if (s == to_string(m)) return m;
  return std::nullopt;
}

const char* to_string(CommitSource source) {
  switch (source) {
    case CommitSource::Explicit:
      return "explicit";
    case CommitSource::LocalDirMetadata:
      return "local_dir_metadata";
    case CommitSource::Derived:
      return "derived";
  }
  return "?";
}

bool ImportPlan::writes_ref() const { return !keep_ref && !is_commit_hash(options.revision); }

Result<ImportPlan> plan_import(const ImportOptions& options) {
  HUBCACHE_TRY(check_inputs(options));
  ImportPlan plan;
  plan.options = options;
  plan.options.cache_dir = fs::absolute_real(options.cache_dir);
  HUBCACHE_TRY_ASSIGN(plan.options.source_dir, resolve_source(options.source_dir));
  const std::string& root = plan.options.source_dir;
  const std::string& cache = plan.options.cache_dir;
  const bool listed = !options.files.empty();
  if (!listed) HUBCACHE_TRY(refuse_hub_layout(root, cache, options));
  if (fs::is_within(root, cache))
    return fail(ErrorCode::InvalidArgument,
                "the cache '" + cache + "' is inside the folder to import '" + root + "'; pick another folder or cache", root);
  if (fs::is_within(cache, root)) {
    if (listed)
      return fail(ErrorCode::InvalidArgument, "'" + root + "' is inside the cache '" + cache + "'; nothing was changed", root);
    HUBCACHE_TRY(check_in_place(root, cache, options, plan));
  }

  std::vector<import_detail::SourceEntry> entries;
  if (listed) {
    HUBCACHE_TRY_ASSIGN(entries, import_detail::list_named_sources(root, options.files));
  } else {
    HUBCACHE_TRY_ASSIGN(entries, import_detail::walk_source(root, cache));
  }
  std::map<std::string, std::string> etags;  // path -> recorded ETag (local-dir mode)
  std::optional<std::string> meta_commit;
  if (options.metadata == MetadataPolicy::Use && !listed) {
    HUBCACHE_TRY_ASSIGN(auto meta, import_detail::read_local_dir_metadata(root));
    if (meta.present) {
      HUBCACHE_TRY_ASSIGN(meta_commit, apply_metadata(meta, options, entries, etags, plan));
    }
  }
  if (entries.empty())
    return fail(ErrorCode::InvalidArgument,
                "nothing to import: '" + root + "' holds no files" + (plan.skipped.empty() ? "" : " with download metadata"),
                root);

  LfsRules rules = LfsRules::hub_defaults();
  for (const auto& e : entries)
    if (e.path == ".gitattributes" && etags.empty()) {
      HUBCACHE_TRY_ASSIGN(std::string text, fs::read_file(e.read_from, 4u << 20));
      rules.add_gitattributes(text);
    }

  // Hash every file once: by its recorded ETag's algorithm, else by the LFS rules.
  plan.files.resize(entries.size());
  std::vector<std::optional<Error>> errors(entries.size());
  std::vector<Problem> mismatches;
  std::mutex mismatch_mutex;
  parallel_for(entries.size(), options.threads, [&](std::size_t i) {
    const auto& e = entries[i];
    ImportFile& f = plan.files[i];
    f.path = e.path;
    f.source = e.source;
    f.read_from = e.read_from;
    auto rec = etags.find(e.path);
    f.lfs = rec != etags.end() ? digest_kind_of(rec->second) == DigestKind::Sha256 : (e.lfs || rules.is_lfs(e.path, e.size));
    Result<import_detail::HashedSource> h = known_digest(options, e.read_from, f.lfs);
    if (h && h->digest.empty()) h = import_detail::hash_source(e.read_from, f.lfs ? DigestKind::Sha256 : DigestKind::GitSha1);
    if (!h) {
      errors[i] = std::move(h).error();
      return;
    }
    f.size = h->size;
    f.blob = h->digest;
    f.stamp = h->stamp;
    if (rec == etags.end() && !e.lfs && f.lfs != rules.is_lfs(e.path, f.size)) {
      errors[i] = Error{ErrorCode::Conflict, "'" + e.source + "' changed size while being imported; re-run", e.source};
    } else if (rec != etags.end() && rec->second != f.blob) {
      std::lock_guard lock(mismatch_mutex);
      mismatches.push_back(
          Problem{ErrorCode::Conflict,
                  "'" + e.path + "': recorded ETag " + rec->second + ", content " + (f.lfs ? "SHA-256 " : "git SHA-1 ") + f.blob,
                  e.source});
    }
  });
  for (auto& err : errors)
    if (err) return fail(std::move(*err));
  if (!mismatches.empty()) {
    std::sort(mismatches.begin(), mismatches.end(), [](const Problem& a, const Problem& b) { return a.message < b.message; });
    return fail(
        import_detail::problems_error(
            "file(s) in '" + root +
                "' no longer match what `hf download` recorded (edited after download?). Restore "
                "them with `hf download --local-dir`, or import the folder as plain files (`hubcache import --ignore-metadata`). "
                "Nothing was changed. Mismatches:",
            mismatches)
            .with_remedy(Remedy::IgnoreMetadata));
  }

  if (auto given = explicit_commit(options)) {
    plan.commit = *given;
    plan.commit_source = meta_commit ? CommitSource::LocalDirMetadata : CommitSource::Explicit;
  } else if (meta_commit) {
    plan.commit = *meta_commit;
    plan.commit_source = CommitSource::LocalDirMetadata;
  } else {
    std::vector<TreeItem> items;
    for (const auto& f : plan.files) items.push_back(TreeItem{f.path, f.size, f.blob, f.lfs});
    plan.commit = derive_commit_id(items);
    plan.commit_source = CommitSource::Derived;
  }

  const RepoLayout layout(cache, plan.options.repo);
  // The destination follows the cache's one rule (cache/folders.hpp): a repo folder, snapshots/ or
  // snapshot that is a symlink is refused before anything is planned into it.
  HUBCACHE_TRY(check_snapshot_folder(layout, plan.commit));
  plan.repo_folder = layout.folder();
  plan.snapshot_dir = layout.snapshot_dir(plan.commit);
  std::set<std::string> seen;
  for (auto& f : plan.files) {
    plan.total_bytes += f.size;
    struct stat st {};
    f.blob_exists = ::lstat(layout.blob_path(f.blob).c_str(), &st) == 0;
    if (!f.blob_exists && seen.insert(f.blob).second) {
      ++plan.new_blobs;
      plan.transfer_bytes += f.size;
    }
  }
  if (plan.writes_ref()) {
    auto prev = read_ref(layout, plan.options.revision);
    if (!prev)
      plan.warnings.push_back(prev.error().message + " (it will be replaced)");
    else if (prev->has_value()) {
      plan.previous_ref = **prev;
      if (**prev != plan.commit) {
        const bool cached = holds_complete_snapshot(layout, **prev);
        const std::string ref = "refs/" + plan.options.revision;
        if (cached && plan.commit_source == CommitSource::Derived && !options.force)
          return fail(Error{ErrorCode::Conflict,
                            ref + " of " + plan.options.repo.id + " points to commit " + **prev +
                                ", whose snapshot is cached; importing '" + root +
                                "' (files of no known commit, given the derived id " + plan.commit +
                                ") would move the ref away from it, and whatever resolves '" + plan.options.revision +
                                "' offline would get the imported files instead. Nothing was changed. Import under another "
                                "revision name or by commit (" +
                                plan.commit + "), or force the import to move the ref.",
                            layout.ref_path(plan.options.revision)}
                          .with_remedy(Remedy::ForceRef, plan.commit));
        if (cached && !options.force) {
          // A commit the Hub named is imported (nothing is lost), but a ref that resolves to a
          // complete snapshot is never moved unasked: an old local-dir copy would turn it back.
          plan.keep_ref = true;
          plan.warnings.push_back(ref + " stays at " + **prev + "; force the import to move it to " + plan.commit +
                                  " (the files are imported as commit " + plan.commit + ": use that commit as the revision " +
                                  "to reach them)");
        } else {
          plan.warnings.push_back(ref + " pointed to " + **prev + "; the import moves it to " + plan.commit);
        }
      }
    }
  }
  const auto src_dev = device_of(root);
  const auto cache_dev = device_of(cache);
  plan.same_filesystem = src_dev && cache_dev && *src_dev == *cache_dev;
  plan.mode = options.mode != ImportMode::Auto ? options.mode
              : plan.in_place && !options.keep ? ImportMode::Move
                                               : (plan.same_filesystem ? ImportMode::Link : ImportMode::Copy);
  return plan;
}

}  // namespace hubcache

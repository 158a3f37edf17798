// A lockfile against a Hub cache, offline: a cached snapshot as a LockedRepo, and a cache's
// files checked against a lock (pointer, blob name, size, and bytes when hashing).
#include "hubcache/lock/cache_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <map>
#include <mutex>

#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/lfs_pointer.hpp"
#include "hubcache/cache/moved_repos.hpp"
#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/cache/walk.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/parallel.hpp"
#include "hubcache/util/pattern.hpp"

namespace hubcache::lock {
namespace {

// The commit a revision names in the cache (a commit hash, or a ref).
Result<std::string> cached_commit(const RepoLayout& layout, const std::string& revision) {
  if (is_commit_hash(revision)) return revision;
  if (auto v = validate_revision(revision); !v) return fail(v.error());
  HUBCACHE_TRY_ASSIGN(auto ref, read_ref(layout, revision));
  if (!ref)
    return fail(ErrorCode::RevisionNotFound,
                "no ref '" + revision + "' in " + layout.folder() + ": download the repo first, or name a commit",
                layout.folder());
  return *ref;
}

// The repo's folders opened as the cache's walks open them.
struct OpenRepo {
  SharedBlobStore store;
  RepoDirs dirs;
  Fd blobs;
  OpenRepo(const std::string& cache_dir, const RepoLayout& layout)
      : store(cache_dir), dirs{cache_dir, layout.folder(), -1, &store, {}, {}} {
    if (auto home = moved_repo_home(layout)) dirs.home = std::move(*home);
    blobs = Fd(::open(layout.blobs_dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    dirs.blobs_fd = blobs.get();
  }
};

}  // namespace

Result<LockedRepo> locked_repo_from_cache(const std::string& cache_dir, const RepoRef& repo, const std::string& revision,
                                          const std::vector<std::string>& include, const std::vector<std::string>& exclude) {
  const RepoLayout layout(cache_dir, repo);
  HUBCACHE_TRY_ASSIGN(const bool present, check_repo_folder(layout));
  if (!present)
    return fail(ErrorCode::NotFound,
                "the cache holds no " + std::string(to_string(repo.type)) + " '" + repo.id + "' (" + layout.folder() +
                    "): download it first",
                layout.folder());
  LockedRepo out;
  out.repo = repo;
  out.revision = revision;
  out.include = include;
  out.exclude = exclude;
  HUBCACHE_TRY_ASSIGN(out.commit, cached_commit(layout, revision));
  HUBCACHE_TRY_ASSIGN(const bool snapshot, check_snapshot_folder(layout, out.commit));
  if (!snapshot)
    return fail(ErrorCode::RevisionNotFound, "no snapshot " + out.commit + " in " + layout.folder() + ": download it first",
                layout.folder());
  std::map<std::string, TreeFileEntry> listed;
  if (auto tree = read_tree_file(layout, out.commit); tree && *tree)
    for (auto& e : **tree) listed.emplace(e.path, std::move(e));
  const PathFilter filter =
      PathFilter::make(include.empty() ? std::nullopt : std::optional<std::vector<std::string>>(include), exclude);

  OpenRepo open(cache_dir, layout);
  const std::string snap_path = layout.snapshot_dir(out.commit);
  Fd snap(::open(snap_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!snap.valid()) return fail(errno_error(errno, "cannot open snapshot", snap_path));
  std::optional<Error> error;
  Target t;
  auto on_error = [&](const std::string& path, int err) {
    if (!error) error = errno_error(err, "cannot read", path);
  };
  auto on_file = [&](int dirfd, const std::string& dir_path, int depth, const std::string& rel, const char* name, bool is_link) {
    if (error || !filter.selects(rel)) return;
    if (!resolve_entry(open.dirs, dirfd, dir_path, depth, name, is_link, t)) return on_error(dir_path + "/" + name, errno);
    if (t.kind == TargetKind::Directory) return;
    if (!is_reachable(open.dirs, t)) {
      error = Error{ErrorCode::CacheCorrupted,
                    snap_path + "/" + rel + " does not lead to a blob of the cache (" + (t.link.empty() ? t.blob_path : t.link) +
                        "): run `hubcache cache verify " + repo.id + "`",
                    snap_path + "/" + rel};
      return;
    }
    LockedFile f;
    f.path = rel;
    f.size = static_cast<std::uint64_t>(t.st.st_size);
    if (auto it = listed.find(rel); it != listed.end()) {
      f.git_oid = it->second.blob_id;
      f.lfs_sha256 = it->second.lfs_sha256;
    } else if (t.kind == TargetKind::Blob) {
      const std::string blob(blob_name(t));
      if (digest_kind_of(blob) == DigestKind::Sha256) {
        f.lfs_sha256 = blob;
        f.git_oid = git_blob_sha1_hex(lfs_pointer_text(blob, f.size));
      } else if (digest_kind_of(blob) == DigestKind::GitSha1) {
        f.git_oid = blob;
      }
    }
    if (f.git_oid.empty()) {  // a plain copy in the snapshot, or a blob named by no hash: its bytes say
      auto h = hash_file(t.blob_path, HashWhat::GitSha1);
      if (!h) {
        error = h.error();
        return;
      }
      f.git_oid = h->git_sha1;
    }
    out.files.push_back(std::move(f));
  };
  walk_tree(std::move(snap), snap_path, 2, "", on_file, on_error);
  if (error) return fail(*error);
  sort_files(out);
  return out;
}

Result<LockCheck> check_cache_against_lock(const std::string& cache_dir, const Lockfile& lock, bool hash) {
  LockCheck out;
  struct HashJob {
    std::size_t file;
    std::string blob_path;
  };
  std::vector<HashJob> jobs;
  for (const auto& locked : lock.repos) {
    const RepoLayout layout(cache_dir, locked.repo);
    OpenRepo open(cache_dir, layout);
    for (const auto& f : locked.files) {
      FileCheck c{locked.repo, locked.commit, f.path, FileCheck::State::Ok, {}};
      Target t;
      if (!resolve_pointer(open.dirs, locked.commit, f.path, t) || t.kind == TargetKind::Dangling ||
          !is_reachable(open.dirs, t)) {
        c.state = FileCheck::State::Missing;
        c.why =
            t.kind == TargetKind::Dangling && !t.blob_path.empty() ? "its pointer leads to a missing blob" : "not in the cache";
      } else if (t.kind == TargetKind::Blob && blob_name(t) != f.blob_name()) {
        c.state = FileCheck::State::Mismatched;
        c.why = "the snapshot's pointer leads to blob " + std::string(blob_name(t)) + ", the lock names " + f.blob_name();
      } else if (static_cast<std::uint64_t>(t.st.st_size) != f.size) {
        c.state = FileCheck::State::Mismatched;
        c.why = "the blob holds " + std::to_string(t.st.st_size) + " bytes, the lock says " + std::to_string(f.size);
      } else if (hash) {
        jobs.push_back({out.files.size(), t.blob_path});
      }
      out.files.push_back(std::move(c));
    }
  }
  // Hash what passed the cheap checks, two at a time (2 cores), against the lock's digest.
  std::vector<const LockedFile*> locked_of;
  for (const auto& r : lock.repos)
    for (const auto& f : r.files) locked_of.push_back(&f);
  parallel_for(jobs.size(), 2, [&](std::size_t k) {
    const LockedFile& f = *locked_of[jobs[k].file];
    FileCheck& c = out.files[jobs[k].file];
    auto h = hash_file(jobs[k].blob_path, f.lfs_sha256 ? HashWhat::Sha256 : HashWhat::GitSha1);
    if (!h) {
      c.state = FileCheck::State::Mismatched;
      c.why = "cannot be read: " + h.error().message;
      return;
    }
    const std::string& got = f.lfs_sha256 ? h->sha256 : h->git_sha1;
    if (got != f.blob_name()) {
      c.state = FileCheck::State::Mismatched;
      c.why = "its bytes hash to " + got + ", the lock names " + f.blob_name() + " (corrupted)";
    }
  });
  for (const auto& c : out.files) {
    out.missing += c.state == FileCheck::State::Missing;
    out.mismatched += c.state == FileCheck::State::Mismatched;
  }
  return out;
}

}  // namespace hubcache::lock

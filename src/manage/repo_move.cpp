// `cache move ORG/NAME --to DIR` / `--back` (include/hubcache/manage/repo_move.hpp).
#include "hubcache/manage/repo_move.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/moved_repos.hpp"
#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/lock.hpp"
#include "move_tree.hpp"

namespace hubcache {
namespace {

using move_detail::k_move_suffix;
using move_detail::k_old_suffix;
using move_detail::sibling;

using move_detail::errno_text;
constexpr std::string_view k_link_suffix = ".hubcache-link";

bool empty_dir(const std::string& path) {
  fs::Fd d{::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (!d) return false;
  fs::DirReader reader(d.get());
  const char* name = nullptr;
  unsigned char type = 0;
  return !reader.next(name, type);
}

// The link a same-filesystem move makes at the home before the exchange (its text is its own path).
bool is_self_link(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 && std::string(buf, static_cast<std::size_t>(n)) == path;
}

bool real_dir(const std::string& path) {
  struct ::stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string command_of(const RepoRef& repo) {
  return "hubcache cache move " + repo.id +
         (repo.type == RepoType::Model ? "" : " --repo-type " + std::string(to_string(repo.type)));
}

/// The shared-store entries of <folder>/blobs: entry path -> hash.
std::map<std::string, std::string> shared_entries_of(const SharedBlobStore& store, const std::string& folder) {
  std::map<std::string, std::string> out;
  if (!store.marked()) return out;
  const std::string blobs = folder + "/" + std::string(k_blobs_dir);
  fs::Fd d{::open(blobs.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (!d) return out;
  fs::DirReader reader(d.get());
  const char* name = nullptr;
  unsigned char type = 0;
  while (reader.next(name, type)) {
    const std::string entry = blobs + "/" + name;
    auto hash = store.hash_of_entry(entry);
    if (hash && *hash) out[entry] = **hash;
  }
  return out;
}

/// Step 0: each shared entry becomes a plain blob (a hardlink of its payload renamed over the
/// link, under the store's lock for that hash). Returns the hashes touched.
Result<std::set<std::string>> make_plain(const SharedBlobStore& store, const std::string& folder, std::size_t& made) {
  std::set<std::string> hashes;
  for (const auto& [entry, hash] : shared_entries_of(store, folder)) {
    HUBCACHE_TRY_ASSIGN(auto lock, store.lock(hash));
    const auto payload = store.linked_payload(entry);
    if (!payload) continue;  // already changed by someone else
    const std::string tmp = fs::parent(entry) + "/." + move_detail::base_name(entry) + ".hubcache-plain";
    ::unlink(tmp.c_str());
    if (::link(payload->path.c_str(), tmp.c_str()) != 0)
      return fail(ErrorCode::Io, "cannot link " + payload->path + " as " + tmp + ": " + errno_text(), tmp);
    if (::rename(tmp.c_str(), entry.c_str()) != 0) {
      ::unlink(tmp.c_str());
      return fail(ErrorCode::Io, "cannot replace the shared entry " + entry + ": " + errno_text(), entry);
    }
    hashes.insert(hash);
    ++made;
  }
  return hashes;
}

/// Step 2: payloads that lost their last reference go (a failure only keeps bytes).
std::uint64_t sweep(const SharedBlobStore& store, const std::set<std::string>& hashes) {
  std::uint64_t freed = 0;
  for (const auto& h : hashes)
    if (auto n = store.sweep(h)) freed += *n;
  return freed;
}

/// A symlink at `path` to `target`, made under a temporary name and exchanged atomically with
/// what is at `path` (a real folder), which then sits at the temporary name (remove_old_folder's).
Result<void> exchange_with_link(const std::string& path, const std::string& target) {
  const std::string tmp = sibling(path, k_link_suffix);
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    return fail(ErrorCode::Io, "cannot create the link " + tmp + ": " + errno_text(), tmp);
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) != 0) {
    ::unlink(tmp.c_str());
    return fail(ErrorCode::Io, "cannot put the link to " + target + " at " + path + ": " + errno_text(), path);
  }
  return {};
}

/// Removes the old repo folder a forward move set aside: under the exchange's temporary name (a
/// kill before its rename) or as trash. Only once the home is complete.
Result<void> remove_old_folder(const RepoMovePlan& plan) {
  const std::string aside = sibling(plan.link, k_link_suffix), trash = sibling(plan.link, k_old_suffix);
  if (real_dir(aside) && ::rename(aside.c_str(), trash.c_str()) != 0)
    return fail(ErrorCode::Io, "cannot set the old folder aside as " + trash + ": " + errno_text(), aside);
  return fs::remove_all(trash);
}

Result<void> finish_forward(const RepoMovePlan& plan) {
  HUBCACHE_TRY(record_moved_from(plan.to, plan.cache_dir));
  HUBCACHE_TRY(remove_old_folder(plan));  // a kill between an earlier run's exchange and its rename
  if (real_dir(plan.link)) {
    HUBCACHE_TRY(exchange_with_link(plan.link, plan.to));
    HUBCACHE_TRY(fs::fsync_dir(plan.cache_dir));
    HUBCACHE_TRY(remove_old_folder(plan));
  }
  return fs::remove_all(plan.state_dir);
}

Result<void> finish_back(const RepoMovePlan& plan) {
  // The real folder is in the cache: what is left is the home (only when it still names this
  // cache), set aside first so that a kill while removing it leaves no half folder under its name.
  const std::string trash = sibling(plan.from, k_old_suffix);
  if (real_dir(plan.from) && read_moved_from(plan.from) == plan.cache_dir && ::rename(plan.from.c_str(), trash.c_str()) != 0)
    return fail(ErrorCode::Io, "cannot set the old folder aside as " + trash + ": " + errno_text(), plan.from);
  HUBCACHE_TRY(fs::remove_all(trash));
  HUBCACHE_TRY(forget_moved_from(plan.to));
  return fs::remove_all(plan.state_dir);
}

}  // namespace

Result<RepoMovePlan> plan_repo_move(const std::string& cache_dir, const RepoRef& repo, const std::string& dir, bool back) {
  HUBCACHE_TRY(validate_repo_id(repo.id));
  if (!back && dir.empty())
    return fail(ErrorCode::InvalidArgument, "no destination given: name the folder the repo moves to with --to DIR, or --back");
  RepoMovePlan plan;
  plan.repo = repo;
  plan.back = back;
  plan.cache_dir = fs::absolute_real(cache_dir);
  if (plan.cache_dir.find('\n') != std::string::npos)
    return fail(ErrorCode::InvalidArgument,
                "the cache path contains a newline: a moved repo's record could not name it; move the cache to a plain "
                "path first (`hubcache cache move NEW_DIR`)");
  const RepoLayout layout(plan.cache_dir, repo);
  const std::string name = repo_folder_name(repo);
  plan.link = layout.folder();
  struct ::stat st {};
  const bool present = ::lstat(plan.link.c_str(), &st) == 0;
  const bool is_link = present && S_ISLNK(st.st_mode);
  const auto home = is_link ? moved_repo_home(layout) : std::nullopt;
  if (is_link && !home) HUBCACHE_TRY(check_repo_folder(layout));  // a link hubcache did not make: its error
  if (present && !is_link && !S_ISDIR(st.st_mode)) HUBCACHE_TRY(check_repo_folder(layout));

  if (back) {
    plan.to = plan.link;
    plan.state_dir = sibling(plan.link, k_move_suffix);
    auto state = move_detail::read_state(plan.state_dir);
    if (state && state->to == plan.to) {
      plan.from = state->from;
      plan.resume = true;
      plan.switched = real_dir(plan.link);
      if (plan.switched) return plan;
    } else if (home) {
      plan.from = *home;
    } else if (present) {
      plan.already_done = true;  // a real folder: in the cache already
      return plan;
    } else {
      return fail(ErrorCode::NotFound, repo.label() + " is not in the cache at " + plan.cache_dir + ": nothing to move back",
                  plan.link);
    }
  } else {
    plan.to = fs::absolute_real(dir) + "/" + name;
    plan.state_dir = sibling(plan.to, k_move_suffix);
    if (home) {
      if (*home == plan.to) {
        plan.from = plan.link;
        plan.already_done = true;
        return plan;
      }
      return fail(ErrorCode::InvalidArgument,
                  repo.label() + " was already moved to " + *home + ": move it back first (`" + command_of(repo) +
                      " --back`), then to " + dir,
                  plan.link);
    }
    if (!present)
      return fail(ErrorCode::NotFound, repo.label() + " is not in the cache at " + plan.cache_dir + ": nothing to move",
                  plan.link);
    plan.from = plan.link;
    if (fs::is_within(plan.cache_dir, plan.to))
      return fail(ErrorCode::InvalidArgument,
                  "the destination " + fs::parent(plan.to) + " is inside the cache " + plan.cache_dir +
                      ": choose a folder on the archive disk, outside the cache",
                  plan.to);
    if (fs::is_within(fs::parent(plan.to), plan.cache_dir))
      return fail(
          ErrorCode::InvalidArgument,
          "the destination " + fs::parent(plan.to) + " holds the cache " + plan.cache_dir + ": choose a folder outside it",
          plan.to);
    auto state = move_detail::read_state(plan.state_dir);
    if (state) {
      if (state->from != plan.from || state->to != plan.to)
        return fail(ErrorCode::InvalidArgument,
                    "an interrupted move from " + state->from + " to " + state->to + " is recorded in " + plan.state_dir +
                        ": finish it first, or remove that folder",
                    plan.state_dir);
      plan.resume = true;
      plan.switched = !real_dir(plan.state_dir + "/data") && real_dir(plan.to);
      if (plan.switched) return plan;
    } else if (::lstat(plan.to.c_str(), &st) == 0 && !(S_ISDIR(st.st_mode) && empty_dir(plan.to)) && !is_self_link(plan.to)) {
      return fail(ErrorCode::InvalidArgument,
                  plan.to + " already exists: the repo folder moves to " + plan.to + ", which must be absent or an empty folder",
                  plan.to);
    }
    // Not inside any repo folder (another repo's home included) nor any Hub cache: their rm, gc
    // or --back would take this repo along.
    for (std::string d = fs::parent(plan.to); d.size() > 1; d = fs::parent(d)) {
      if (parse_repo_folder_name(move_detail::base_name(d)))
        return fail(ErrorCode::InvalidArgument,
                    "the destination " + fs::parent(plan.to) + " is inside the repo folder " + d +
                        ": choose a folder that belongs to no repo",
                    plan.to);
      if (classify_hub_folder(d).kind == HubFolderKind::CacheRoot && !is_archive_of_homes(d))
        return fail(ErrorCode::InvalidArgument,
                    "the destination " + fs::parent(plan.to) + (d == fs::parent(plan.to) ? " is" : " is inside") +
                        " a Hub cache (" + d +
                        "): its `cache rm` or `gc` would delete the moved repo; choose a folder of its own",
                    plan.to);
    }
  }

  plan.download_locks_held = count_held_locks(layout.locks_dir());
  if (plan.download_locks_held > 0)
    return fail(ErrorCode::Conflict,
                std::to_string(plan.download_locks_held) + " download(s) of " + repo.label() + " are running (locks held under " +
                    layout.locks_dir() + "): let them finish, then move the repo",
                plan.link);
  HUBCACHE_TRY_ASSIGN(const auto tree, move_detail::scan_tree(plan.from));
  plan.files = tree.figures.files;
  plan.links = tree.figures.links;
  plan.bytes = tree.figures.bytes;
  plan.outside_link_bytes = tree.figures.outside_link_bytes;
  const SharedBlobStore store(plan.cache_dir);
  if (!back)
    for (const auto& [entry, hash] : shared_entries_of(store, plan.from))
      if (auto payload = store.linked_payload(entry)) {
        ++plan.shared_entries;
        ++plan.files;
        --plan.links;
        plan.bytes += payload->size;
      }
  HUBCACHE_TRY_ASSIGN(const auto landing, move_detail::check_landing(plan.from, plan.to, plan.resume, tree, plan.bytes,
                                                                     plan.state_dir, repo.label()));
  plan.same_filesystem = landing.same_filesystem;
  plan.free_bytes = landing.free_bytes;
  if (plan.same_filesystem) plan.bytes = 0;
  return plan;
}

namespace {

bool same_course(const RepoMovePlan& a, const RepoMovePlan& b) {
  return a.from == b.from && a.to == b.to && a.back == b.back && a.already_done == b.already_done && a.switched == b.switched &&
         a.resume == b.resume;
}

Result<RepoMoveReport> execute_locked(const RepoMovePlan& plan, const CacheMoveOptions& options);

}  // namespace

Result<RepoMoveReport> execute_repo_move(const RepoMovePlan& plan, const CacheMoveOptions& options) {
  // One move of a repo at a time; what the plan saw must still hold under the lock.
  const RepoLayout layout(plan.cache_dir, plan.repo);
  const std::string lock_path = repo_move_lock_path(layout);
  HUBCACHE_TRY(fs::make_dirs(fs::parent(lock_path)));
  HUBCACHE_TRY_ASSIGN(auto lock, FileLock::try_acquire(lock_path));
  if (!lock.held())
    return fail(ErrorCode::Conflict,
                "another `cache move` of " + plan.repo.label() + " is running: let it finish, then run again", plan.link);
  HUBCACHE_TRY_ASSIGN(const RepoMovePlan now,
                      plan_repo_move(plan.cache_dir, plan.repo, plan.back ? "" : fs::parent(plan.to), plan.back));
  if (!same_course(plan, now))
    return fail(ErrorCode::Conflict,
                plan.repo.label() + " changed since the plan was made (another move ran meanwhile): run the command again",
                plan.link);
  return execute_locked(now, options);
}

namespace {

Result<RepoMoveReport> execute_locked(const RepoMovePlan& plan, const CacheMoveOptions& options) {
  RepoMoveReport report;
  if (plan.already_done) {
    // A run killed after its switch: what it left aside (only names this move makes).
    if (!plan.back) HUBCACHE_TRY(remove_old_folder(plan));
    if (auto state = move_detail::read_state(plan.state_dir); !state || state->to == plan.to)
      HUBCACHE_TRY(fs::remove_all(plan.state_dir));
    // A --back killed while copying, given up for --to again: its copy in the cache goes.
    const std::string back_state = sibling(plan.link, k_move_suffix);
    if (auto state = move_detail::read_state(back_state);
        !plan.back && real_dir(back_state) && (!state || state->to == plan.link))
      HUBCACHE_TRY(fs::remove_all(back_state));
    return report;
  }
  if (plan.switched) {
    HUBCACHE_TRY(plan.back ? finish_back(plan) : finish_forward(plan));
    return report;
  }
  const SharedBlobStore store(plan.cache_dir);
  std::set<std::string> hashes;
  if (!plan.back) {
    HUBCACHE_TRY_ASSIGN(hashes, make_plain(store, plan.from, report.shared_made_plain));
  }
  const std::string name = move_detail::base_name(plan.link);

  // Same filesystem: one exchange. EXDEV (two mounts of one filesystem, e.g. a bind mount) falls
  // through to the copy.
  if (plan.same_filesystem && plan.back) {
    // The home and the link trade places: the real folder is in the cache, the home a link.
    if (::renameat2(AT_FDCWD, plan.from.c_str(), AT_FDCWD, plan.to.c_str(), RENAME_EXCHANGE) == 0) {
      HUBCACHE_TRY(fs::fsync_dir(plan.cache_dir));
      ::unlink(plan.from.c_str());
      HUBCACHE_TRY(forget_moved_from(plan.to));
      return report;
    }
    if (errno != EXDEV)
      return fail(ErrorCode::Io, "cannot move " + plan.from + " back to " + plan.to + ": " + errno_text(), plan.from);
  } else if (plan.same_filesystem) {
    HUBCACHE_TRY(fs::make_dirs(fs::parent(plan.to)));
    if (real_dir(plan.to) || is_self_link(plan.to)) ::remove(plan.to.c_str());  // the empty folder the plan accepted
    HUBCACHE_TRY(record_moved_from(plan.from, plan.cache_dir));
    // A link at the home's place (to itself), exchanged with the folder: atomically, the folder is
    // at its home and the cache holds the link.
    if (::symlink(plan.to.c_str(), plan.to.c_str()) != 0)
      return fail(ErrorCode::Io, "cannot create the link " + plan.to + ": " + errno_text(), plan.to);
    if (::renameat2(AT_FDCWD, plan.from.c_str(), AT_FDCWD, plan.to.c_str(), RENAME_EXCHANGE) == 0) {
      HUBCACHE_TRY(fs::fsync_dir(plan.cache_dir));
      HUBCACHE_TRY(fs::fsync_dir(fs::parent(plan.to)));
      report.shared_bytes_freed = sweep(store, hashes);
      return report;
    }
    const int err = errno;
    ::unlink(plan.to.c_str());
    (void)forget_moved_from(plan.from);
    if (err != EXDEV)
      return fail(ErrorCode::Io, "cannot move " + plan.from + " to " + plan.to + ": " + std::strerror(err), plan.from);
  }

  HUBCACHE_TRY(fs::make_dirs(plan.state_dir));
  if (!move_detail::read_state(plan.state_dir)) HUBCACHE_TRY(move_detail::write_state(plan.state_dir, plan.from, plan.to));
  const std::string data = plan.state_dir + "/data";
  HUBCACHE_TRY(move_detail::copy_verified(plan.from, plan.to, data, name + "/", plan.bytes, options, report.copy));
  if (plan.back) {
    HUBCACHE_TRY(forget_moved_from(data));
    // The copy and the link trade places: the cache holds the real folder, `data` the link.
    if (::renameat2(AT_FDCWD, data.c_str(), AT_FDCWD, plan.to.c_str(), RENAME_EXCHANGE) != 0)
      return fail(ErrorCode::Io, "cannot put the copy in place at " + plan.to + ": " + errno_text(), plan.to);
    HUBCACHE_TRY(fs::fsync_dir(plan.cache_dir));
    ::unlink(data.c_str());
    HUBCACHE_TRY(finish_back(plan));
    return report;
  }
  if (real_dir(plan.to)) ::rmdir(plan.to.c_str());
  if (::rename(data.c_str(), plan.to.c_str()) != 0)
    return fail(ErrorCode::Io, "cannot put the copy in place at " + plan.to + ": " + errno_text(), plan.to);
  HUBCACHE_TRY(fs::fsync_dir(fs::parent(plan.to)));
  HUBCACHE_TRY(finish_forward(plan));
  report.shared_bytes_freed = sweep(store, hashes);
  return report;
}

}  // namespace

}  // namespace hubcache

// `cache move NEW_DIR` (include/hubcache/manage/move.hpp).
#include "hubcache/manage/move.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "move_tree.hpp"
#include "relink.hpp"

namespace hubcache {
namespace {

using move_detail::errno_text;
using move_detail::k_move_suffix;
using move_detail::k_old_suffix;
using move_detail::sibling;

/// After the switch: the old cache aside (or exchanged with a link) and removed, state removed.
Result<void> finish_switched(const CacheMovePlan& plan, const CacheMoveOptions& options, CacheMoveReport& report) {
  move_detail::relink_recorded_folders(plan.from, plan.to, report);
  const std::string trash = sibling(plan.from, k_old_suffix);
  struct ::stat st {};
  const bool old_dir = !plan.from.empty() && ::lstat(plan.from.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (old_dir) {
    if (options.leave_link) {
      const std::string tmp = sibling(plan.from, ".hubcache-link");
      ::unlink(tmp.c_str());
      if (::symlink(plan.to.c_str(), tmp.c_str()) != 0 ||
          ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, plan.from.c_str(), RENAME_EXCHANGE) != 0)
        return fail(ErrorCode::Io, "cannot leave a link at " + plan.from + ": " + errno_text(), plan.from);
      if (::rename(tmp.c_str(), trash.c_str()) != 0)
        return fail(ErrorCode::Io, "cannot set the old cache aside as " + trash + ": " + errno_text(), tmp);
    } else if (::rename(plan.from.c_str(), trash.c_str()) != 0) {
      return fail(ErrorCode::Io, "cannot set the old cache aside as " + trash + ": " + errno_text(), plan.from);
    }
  } else if (options.leave_link && !plan.from.empty() && ::lstat(plan.from.c_str(), &st) != 0) {
    if (::symlink(plan.to.c_str(), plan.from.c_str()) != 0)
      return fail(ErrorCode::Io, "cannot leave a link at " + plan.from + ": " + errno_text(), plan.from);
  }
  if (!plan.from.empty()) HUBCACHE_TRY(fs::remove_all(trash));
  return fs::remove_all(plan.state_dir);
}

}  // namespace

Result<CacheMovePlan> plan_cache_move(const std::string& cache_dir, const std::string& new_dir) {
  if (new_dir.empty()) return fail(ErrorCode::InvalidArgument, "no destination given: name the folder the cache moves to");
  CacheMovePlan plan;
  plan.to = fs::absolute_real(new_dir);
  plan.state_dir = sibling(plan.to, k_move_suffix);
  const bool cache_exists = fs::is_dir(cache_dir);
  const std::string from = cache_exists ? fs::absolute_real(cache_dir) : fs::normalize(fs::absolute_real(cache_dir));
  if (auto state = move_detail::read_state(plan.state_dir)) {
    if (state->to != plan.to || (cache_exists && state->from != from && from != plan.to))
      return fail(ErrorCode::InvalidArgument,
                  "an interrupted move from " + state->from + " to " + state->to + " is recorded in " + plan.state_dir +
                      "; finish it with `hubcache cache move " + state->to + "` and HF_HUB_CACHE=" + state->from +
                      ", or remove that folder",
                  plan.state_dir);
    plan.from = state->from;
    plan.resume = true;
    plan.switched = !fs::is_dir(plan.state_dir + "/data") && fs::is_dir(plan.to);
    if (plan.switched) return plan;
    if (!fs::is_dir(plan.from))
      return fail(ErrorCode::NotFound,
                  "the cache being moved, " + plan.from + ", is gone and the copy in " + plan.state_dir +
                      " is incomplete: nothing can finish this move",
                  plan.from);
  } else {
    // Nothing to do: a rerun after a finished move (the old place is gone, or is the link a
    // --leave-link move left, so the cache resolves to the destination), or the cache already is
    // the destination. Only when the destination is a Hub cache (any other folder: a typo).
    if ((!cache_exists || from == plan.to) && classify_hub_folder(plan.to).kind == HubFolderKind::CacheRoot) {
      plan.from = fs::normalize(cache_dir);
      plan.already_done = true;
      return plan;
    }
    if (!cache_exists)
      return fail(ErrorCode::NotFound, "no cache at " + cache_dir + ": nothing to move (set HF_HUB_CACHE or --cache-dir)",
                  cache_dir);
    plan.from = from;
  }
  if (plan.to == plan.from || fs::is_within(plan.from, plan.to))
    return fail(
        ErrorCode::InvalidArgument,
        "the destination " + plan.to + " is the cache itself or inside it (" + plan.from + "): choose a folder outside it",
        plan.to);
  for (std::string d = plan.to; d.size() > 1; d = fs::parent(d))
    if (parse_repo_folder_name(move_detail::base_name(d)))
      return fail(ErrorCode::InvalidArgument,
                  "the destination " + plan.to + " is inside the repo folder " + d +
                      " (a repo's folder, perhaps one moved out with `cache move --to`): choose a folder that belongs to no repo",
                  plan.to);
  struct ::stat st {};
  if (::lstat(plan.to.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return fail(ErrorCode::InvalidArgument, "the destination " + plan.to + " exists and is not a folder", plan.to);
    fs::Fd d{::open(plan.to.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    fs::DirReader reader(d.get());
    const char* name = nullptr;
    unsigned char type = 0;
    if (d && reader.next(name, type))
      return fail(
          ErrorCode::InvalidArgument,
          "the destination " + plan.to + " is not empty: the cache moves into a new or empty folder (it becomes the cache root)",
          plan.to);
  }
  plan.download_locks_held = count_held_locks(plan.from + "/" + std::string(k_locks_dir));
  if (plan.download_locks_held > 0)
    return fail(ErrorCode::Conflict,
                std::to_string(plan.download_locks_held) + " download(s) are running in " + plan.from +
                    " (locks held under .locks/): let them finish, then move the cache",
                plan.from);

  HUBCACHE_TRY_ASSIGN(const auto tree, move_detail::scan_tree(plan.from));
  plan.files = tree.figures.files;
  plan.links = tree.figures.links;
  plan.bytes = tree.figures.bytes;
  plan.outside_link_bytes = tree.figures.outside_link_bytes;
  HUBCACHE_TRY_ASSIGN(const auto landing,
                      move_detail::check_landing(plan.from, plan.to, plan.resume, tree, plan.bytes, plan.state_dir, "the cache"));
  plan.same_filesystem = landing.same_filesystem;
  plan.free_bytes = landing.free_bytes;
  if (plan.same_filesystem) plan.bytes = 0;
  return plan;
}

Result<CacheMoveReport> execute_cache_move(const CacheMovePlan& plan, const CacheMoveOptions& options) {
  CacheMoveReport report;
  if (plan.already_done) {
    // A run killed while removing its state folder leaves it without state.json: nothing in it.
    if (fs::is_dir(plan.state_dir) && !fs::is_dir(plan.state_dir + "/data")) HUBCACHE_TRY(fs::remove_all(plan.state_dir));
    // A run killed after its rename, before the links outside were re-pointed (idempotent).
    move_detail::relink_recorded_folders(plan.from, plan.to, report);
    return report;
  }
  if (plan.switched) {
    HUBCACHE_TRY(finish_switched(plan, options, report));
    return report;
  }
  HUBCACHE_TRY(fs::make_dirs(fs::parent(plan.to)));
  if (plan.same_filesystem) {
    if (fs::is_dir(plan.to)) ::rmdir(plan.to.c_str());
    if (::rename(plan.from.c_str(), plan.to.c_str()) == 0) {
      HUBCACHE_TRY(fs::fsync_dir(fs::parent(plan.to)));
      if (options.leave_link && ::symlink(plan.to.c_str(), plan.from.c_str()) != 0)
        return fail(ErrorCode::Io,
                    "the cache moved to " + plan.to + " but no link could be left at " + plan.from + ": " + errno_text(),
                    plan.from);
      // Absolute links into the old place (relative ones, the Hub's, move with the tree).
      report.links_rewritten = move_detail::relink_links_in(plan.to, plan.from, plan.to, report.warnings);
      move_detail::relink_recorded_folders(plan.from, plan.to, report);
      return report;
    }
    if (errno != EXDEV)
      return fail(ErrorCode::Io, "cannot rename " + plan.from + " to " + plan.to + ": " + errno_text(), plan.from);
  }

  HUBCACHE_TRY(fs::make_dirs(plan.state_dir));
  if (!move_detail::read_state(plan.state_dir)) HUBCACHE_TRY(move_detail::write_state(plan.state_dir, plan.from, plan.to));
  const std::string data = plan.state_dir + "/data";
  CacheMoveReport copied;
  HUBCACHE_TRY(move_detail::copy_verified(plan.from, plan.to, data, "", plan.bytes, options, copied));
  if (fs::is_dir(plan.to)) ::rmdir(plan.to.c_str());
  if (::rename(data.c_str(), plan.to.c_str()) != 0)
    return fail(ErrorCode::Io, "cannot put the copy in place at " + plan.to + ": " + errno_text(), plan.to);
  HUBCACHE_TRY(fs::fsync_dir(fs::parent(plan.to)));
  HUBCACHE_TRY(finish_switched(plan, options, copied));
  return copied;
}

}  // namespace hubcache

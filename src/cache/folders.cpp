#include "hubcache/cache/folders.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "hubcache/cache/moved_repos.hpp"
#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/error.hpp"

namespace hubcache {
namespace {

// lstat(path): a real directory is true, an absent one false, anything else an error that names
// the folder, what it is and what to do.
Result<bool> check_real_dir(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return fail(errno_error(errno, "cannot examine " + what, path));
  }
  if (S_ISDIR(st.st_mode)) return true;
  if (S_ISLNK(st.st_mode)) {
    std::string target(4096, '\0');
    const ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    target.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return fail(ErrorCode::CacheCorrupted,
                std::string("The ") + what + " " + path + " is a symlink" + (target.empty() ? "" : " to " + target) +
                    ", not followed: hubcache reads and writes only real folders inside the cache, so a link cannot "
                    "make files from elsewhere pass for cached ones. Move the folder itself to that path, or remove "
                    "the link (rm " +
                    path + ") and download again." +
                    (what == "repo folder" ? " (To keep a repo on another disk, `hubcache cache move ORG/NAME --to DIR` "
                                             "makes a link that hubcache follows.)"
                                           : ""),
                path);
  }
  return fail(ErrorCode::CacheCorrupted,
              std::string("The ") + what + " " + path + " is not a directory. Remove it (rm " + path + ") and download again.",
              path);
}

}  // namespace

Result<bool> check_cache_folder(const std::string& path, std::string_view what) {
  return check_real_dir(path, std::string(what));
}

Result<bool> check_repo_folder(const RepoLayout& layout) {
  if (moved_repo_home(layout)) return true;  // moved out by `cache move ORG/NAME --to DIR`, and its home says so
  if (auto problem = moved_repo_problem(layout))
    return fail(ErrorCode::CacheCorrupted,
                "The repo folder " + layout.folder() + " is a symlink, not followed: " + *problem + ".", layout.folder());
  return check_real_dir(layout.folder(), "repo folder");
}

Result<bool> check_snapshots_folder(const RepoLayout& layout) {
  HUBCACHE_TRY_ASSIGN(bool repo, check_repo_folder(layout));
  if (!repo) return false;
  return check_real_dir(layout.snapshots_dir(), "snapshots folder");
}

Result<bool> check_snapshot_folder(const RepoLayout& layout, std::string_view commit) {
  if (!is_commit_hash(commit))
    return fail(ErrorCode::InvalidRevision, "'" + std::string(commit) + "' is not a 40-hex commit hash");
  HUBCACHE_TRY_ASSIGN(bool snapshots, check_snapshots_folder(layout));
  if (!snapshots) return false;
  return check_real_dir(layout.snapshot_dir(commit), "snapshot folder");
}

}  // namespace hubcache

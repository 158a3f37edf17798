#include "hubcache/cache/moved_repos.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "hubcache/core/error.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache {
namespace {

std::string record_path(const std::string& home) {
  return home + "/" + std::string(k_records_dir) + "/" + std::string(k_moved_from_record);
}

std::string base_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

std::optional<std::string> read_moved_from(const std::string& home) {
  auto text = fs::read_regular_file(record_path(home), PATH_MAX + 1);
  if (!text || text->size() < 2 || text->back() != '\n' || text->front() != '/') return std::nullopt;
  text->pop_back();
  if (text->find('\n') != std::string::npos || text->find('\0') != std::string::npos) return std::nullopt;
  return *text;
}

std::optional<std::string> moved_repo_home(const RepoLayout& layout) {
  struct stat st {};
  if (::lstat(layout.folder().c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return std::nullopt;
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(layout.folder().c_str(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  const std::string home(buf, static_cast<std::size_t>(n));
  if (home.front() != '/' || base_name(home) != base_name(layout.folder())) return std::nullopt;
  if (::lstat(home.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  auto real = fs::real_path(home);
  if (!real || *real != home) return std::nullopt;  // nothing symlinked on the way, no "..": one spelling
  auto root = fs::real_path(layout.cache_dir());
  auto named = read_moved_from(home);
  if (!root || !named || *named != *root) return std::nullopt;
  return home;
}

std::optional<std::string> moved_repo_problem(const RepoLayout& layout) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(layout.folder().c_str(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  const std::string home(buf, static_cast<std::size_t>(n));
  if (home.front() != '/' || base_name(home) != base_name(layout.folder()) || moved_repo_home(layout)) return std::nullopt;
  struct stat st {};
  if (::lstat(home.c_str(), &st) != 0)
    return "its target " + home +
           " is missing: if the repo was moved to an archive disk (`cache move --to`), mount that disk again; if it is gone, "
           "remove the link (rm " +
           layout.folder() + ") and download again";
  if (!S_ISDIR(st.st_mode)) return "its target " + home + " is not a folder";
  const auto named = read_moved_from(home);
  if (!named) return std::nullopt;  // a link made by hand: the usual refusal
  auto root = fs::real_path(layout.cache_dir());
  if (root && *named != *root)
    return "its target " + home + " records another cache (" + *named + "): it was moved out of that cache, not this one";
  return "its target " + home + " is not spelled as hubcache recorded it (a symlink or '..' on the way)";
}

bool is_archive_of_homes(const std::string& dir) {
  fs::Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (!d) return false;
  fs::DirReader reader(d.get());
  const char* name = nullptr;
  unsigned char type = 0;
  bool any = false;
  while (reader.next(name, type)) {
    if (!parse_repo_folder_name(name)) continue;
    struct stat st {};
    const std::string home = dir + "/" + name;
    if (::lstat(home.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !read_moved_from(home)) return false;
    any = true;
  }
  return any;
}

std::string repo_move_lock_path(const RepoLayout& layout) {
  return layout.cache_dir() + "/" + std::string(k_locks_dir) + "/" + base_name(layout.folder()) + ".hubcache-move.lock";
}

Result<void> record_moved_from(const std::string& home, const std::string& cache_root) {
  const std::string dir = home + "/" + std::string(k_records_dir);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return fail(errno_error(errno, "cannot create", dir));
  return fs::write_file_atomic(record_path(home), cache_root + "\n");
}

Result<void> forget_moved_from(const std::string& home) {
  const std::string path = record_path(home);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail(errno_error(errno, "cannot remove", path));
  return {};
}

}  // namespace hubcache

#include "hubcache/cache/moved_repos.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "hubcache/core/error.hpp"
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

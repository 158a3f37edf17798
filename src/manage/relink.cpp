#include "relink.hpp"

#include <climits>

#include "hubcache/cache/moved_repos.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::move_detail {

std::size_t relink_links_in(const std::string& folder, const std::string& from, const std::string& to,
                            std::vector<std::string>& warnings) {
  std::size_t rewritten = 0;
  fs::walk_folder(
      folder, nullptr,
      [&](const fs::FolderEntry& e) {
        if (!S_ISLNK(e.lst.st_mode)) return;
        std::string target(static_cast<std::size_t>(e.lst.st_size) + 1, '\0');
        const ssize_t n = ::readlink(e.path.c_str(), target.data(), target.size());
        if (n <= 0 || static_cast<std::size_t>(n) >= target.size()) return;  // hubcache's links are absolute
        target.resize(static_cast<std::size_t>(n));
        if (target.front() != '/' || !fs::is_within(from, target)) return;
        const std::string moved = to + target.substr(from.size());
        const std::string temp = e.path + ".hubcache-relink-" + fs::random_hex(8);  // symlink(2) never replaces
        if (::symlink(moved.c_str(), temp.c_str()) == 0 && ::rename(temp.c_str(), e.path.c_str()) == 0) {
          ++rewritten;
        } else {
          warnings.push_back("cannot point " + e.path + " at " + moved + ": " + std::strerror(errno));
          ::unlink(temp.c_str());
        }
      },
      [&](const std::string& path, int err, fs::WalkFailure) {
        warnings.push_back("cannot read " + path + " to point its links at the new place: " + std::strerror(err));
      });
  return rewritten;
}

void relink_recorded_folders(const std::string& from, const std::string& to, CacheMoveReport& report) {
  if (from.empty() || from == to) return;
  DIR* d = ::opendir(to.c_str());
  if (d == nullptr) return;
  std::vector<RepoRef> repos;
  while (const dirent* e = ::readdir(d))
    if (auto repo = parse_repo_folder_name(e->d_name)) repos.push_back(*repo);
  ::closedir(d);
  for (const auto& repo : repos) {
    const RepoLayout layout(to, repo);
    // A repo moved out of the cache (`cache move ORG/NAME --to DIR`): its home names the cache.
    char text[PATH_MAX];
    if (const ssize_t n = ::readlink(layout.folder().c_str(), text, sizeof text - 1); n > 0) {
      const std::string home(text, static_cast<std::size_t>(n));
      if (read_moved_from(home) == from) {
        if (auto r = record_moved_from(home, to); r)
          ++report.moved_repos_repointed;
        else
          report.warnings.push_back(r.error().message + ": the repo moved out to " + home +
                                    " is not followed until its .hubcache/moved-from names " + to);
      }
    }
    for (const auto& folder : read_linked_folders(layout)) {
      struct ::stat st {};
      if (::lstat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        forget_linked_folder(layout, folder);
        report.linked_folders_gone.push_back(folder);
        continue;
      }
      report.outside_links_rewritten += relink_links_in(folder, from, to, report.warnings);
    }
  }
}

}  // namespace hubcache::move_detail

#include "safe_remove.hpp"

#include <cstring>

#include "hubcache/util/fs.hpp"
#include "hubcache/cache/walk.hpp"

namespace hubcache::manage_detail {
namespace {

DeleteProblem problem(const std::string& path, int err, const std::string& what) {
  const ErrorCode code = err == ENOENT                                     ? ErrorCode::NotFound
                         : (err == EACCES || err == EPERM || err == EROFS) ? ErrorCode::PermissionDenied
                                                                           : ErrorCode::Io;
  return {path, what + " '" + path + "': " + std::strerror(err), code};
}

// Empties directory `dirfd` (absolute `path`), never following symlinks.
void empty_dir(int dirfd, const std::string& path, std::vector<DeleteProblem>& problems) {
  std::vector<std::pair<std::string, unsigned char>> entries;
  DirReader reader(dirfd);
  const char* entry = nullptr;
  unsigned char entry_type = DT_UNKNOWN;
  while (reader.next(entry, entry_type)) entries.emplace_back(entry, entry_type);
  if (reader.error() != 0) problems.push_back(problem(path, reader.error(), "cannot read"));
  for (const auto& [name, type] : entries) {
    const std::string child = path + "/" + name;
    if (type == DT_DIR) {
      Fd sub = open_dir_at(dirfd, name.c_str());
      if (!sub.valid()) {
        if (errno != ENOENT) problems.push_back(problem(child, errno, "cannot open"));
        continue;
      }
      empty_dir(sub.get(), child, problems);
      if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        problems.push_back(problem(child, errno, "cannot remove"));
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
      problems.push_back(problem(child, errno, "cannot remove"));
    }
  }
}

// Opens the parent directory of `path` by walking from `root` with O_NOFOLLOW. On success,
// `leaf` is the last component.
Fd open_parent(const std::string& root, const std::string& path, std::string& leaf, RemoveOutcome& out) {
  const std::string norm = fs::normalize(path);
  if (!fs::is_within(root, norm) || norm == fs::normalize(root)) {
    out.problems.push_back(
        {path, "refusing to delete '" + path + "': it is not inside the cache '" + root + "'", ErrorCode::InvalidPath});
    return Fd();
  }
  std::string rel = norm.substr(fs::normalize(root).size());
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    out.problems.push_back(problem(root, errno, "cannot open"));
    return Fd();
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = rel.find('/', start);
    if (slash == std::string::npos) break;
    const std::string comp = rel.substr(start, slash - start);
    Fd next = open_dir_at(dir.get(), comp.c_str());
    if (!next.valid()) {
      const int err = errno;
      const std::string at = fs::normalize(root) + "/" + rel.substr(0, slash);
      if (err == ENOENT) {
        out.missing = true;
      } else if (err == ELOOP || err == ENOTDIR) {
        out.problems.push_back(
            {path, "refusing to delete '" + path + "': '" + at + "' is a symlink or not a directory", ErrorCode::InvalidPath});
      } else {
        out.problems.push_back(problem(at, err, "cannot open"));
      }
      return Fd();
    }
    dir = std::move(next);
    start = slash + 1;
  }
  leaf = rel.substr(start);
  return dir;
}

}  // namespace

RemoveOutcome safe_remove(const std::string& root, const std::string& path) {
  RemoveOutcome out;
  std::string leaf;
  Fd parent = open_parent(root, path, leaf, out);
  if (!parent.valid()) return out;
  struct stat st {};
  if (::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      out.missing = true;
    else
      out.problems.push_back(problem(path, errno, "cannot stat"));
    return out;
  }
  if (S_ISDIR(st.st_mode)) {
    Fd dir = open_dir_at(parent.get(), leaf.c_str());
    if (!dir.valid()) {
      out.problems.push_back(problem(path, errno, "cannot open"));
      return out;
    }
    empty_dir(dir.get(), path, out.problems);
    if (::unlinkat(parent.get(), leaf.c_str(), AT_REMOVEDIR) != 0) {
      if (out.problems.empty()) out.problems.push_back(problem(path, errno, "cannot remove"));
      return out;
    }
  } else if (::unlinkat(parent.get(), leaf.c_str(), 0) != 0) {
    out.problems.push_back(problem(path, errno, "cannot remove"));
    return out;
  }
  out.removed = true;
  return out;
}

bool remove_empty_dir(const std::string& root, const std::string& dir) {
  RemoveOutcome ignored;
  std::string leaf;
  Fd parent = open_parent(root, dir, leaf, ignored);
  return parent.valid() && ::unlinkat(parent.get(), leaf.c_str(), AT_REMOVEDIR) == 0;
}

std::uint64_t tree_size(const std::string& path) {
  std::uint64_t total = 0;
  Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return 0;
  auto on_file = [&](int dirfd, const std::string&, int, const std::string&, const char* name, bool is_link) {
    struct stat st {};
    if (!is_link && ::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      total += static_cast<std::uint64_t>(st.st_size);
  };
  auto on_error = [](const std::string&, int) {};
  walk_tree(std::move(dir), path, 0, "", on_file, on_error);
  return total;
}

}  // namespace hubcache::manage_detail

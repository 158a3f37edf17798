#include "hubcache/util/dir_walk.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace hubcache::fs {
namespace {
constexpr long k_dir_buffer = 32768;

void walk_folder_at(int dirfd, const std::string& dir_path, const std::string& rel_prefix,
                    const std::function<bool(const std::string&, const std::string&)>& enter,
                    const std::function<void(const FolderEntry&)>& visit,
                    const std::function<void(const std::string&, int, WalkFailure)>& on_error) {
  std::vector<std::string> names;
  {
    DirReader reader(dirfd);
    const char* name = nullptr;
    unsigned char type = DT_UNKNOWN;
    while (reader.next(name, type)) names.emplace_back(name);
    if (reader.error() != 0) {
      on_error(dir_path, reader.error(), WalkFailure::ReadFolder);
      return;
    }
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string path = dir_path + "/" + name;
    const std::string rel = rel_prefix.empty() ? name : rel_prefix + "/" + name;
    struct ::stat lst {};
    if (::fstatat(dirfd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
      on_error(path, errno, WalkFailure::StatEntry);
      continue;
    }
    if (!S_ISDIR(lst.st_mode)) {
      visit(FolderEntry{path, rel, name, lst});
      continue;
    }
    if (enter && !enter(rel, name)) continue;
    Fd sub = open_dir_at(dirfd, name.c_str());
    if (!sub.valid()) {
      on_error(path, errno, WalkFailure::ReadFolder);
      continue;
    }
    walk_folder_at(sub.get(), path, rel, enter, visit, on_error);
  }
}

}  // namespace

const char* to_string(WalkFailure f) { return f == WalkFailure::ReadFolder ? "cannot read folder" : "cannot stat"; }

DirReader::DirReader(int fd) : m_fd(fd), m_buf(new char[k_dir_buffer]) {}

bool DirReader::next(const char*& name, unsigned char& type) {
  for (;;) {
    if (m_pos >= m_len) {
      if (m_fd < 0) {
        m_error = EBADF;
        return false;
      }
      const ssize_t n = ::getdents64(m_fd, m_buf.get(), k_dir_buffer);
      if (n <= 0) {
        m_error = n < 0 ? errno : 0;
        return false;
      }
      m_len = n;
      m_pos = 0;
    }
    const auto* e = reinterpret_cast<const dirent64*>(m_buf.get() + m_pos);
    m_pos += e->d_reclen;
    const char* n = e->d_name;
    if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
    name = n;
    type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(m_fd, n, &st, AT_SYMLINK_NOFOLLOW) == 0)
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    } else if (type != DT_DIR && type != DT_LNK && type != DT_REG) {
      type = DT_UNKNOWN;  // fifos, sockets, devices: never cache content
    }
    return true;
  }
}

void walk_folder(const std::string& root, const std::function<bool(const std::string&, const std::string&)>& enter,
                 const std::function<void(const FolderEntry&)>& visit,
                 const std::function<void(const std::string&, int, WalkFailure)>& on_error) {
  Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    on_error(root, errno, WalkFailure::ReadFolder);
    return;
  }
  walk_folder_at(dir.get(), root, "", enter, visit, on_error);
}

}  // namespace hubcache::fs

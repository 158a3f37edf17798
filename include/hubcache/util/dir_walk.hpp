#pragma once
// The one recursive directory walker: every walk in hubcache (the cache's snapshots and refs,
// import's source folder, a --local-dir's metadata, a local model folder, an offline snapshot's
// files) goes through walk_tree. Work goes through directory fds (openat/fstatat) and never
// follows a symlink into a directory, so a walk stays inside the folder it was given.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <string>

#include "hubcache/util/fs.hpp"

namespace hubcache::fs {

/// openat(dirfd, name) as a directory, refusing to follow a final symlink (errno ELOOP/ENOTDIR).
inline Fd open_dir_at(int dirfd, const char* name) {
  return Fd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

/// Lists a directory fd (borrowed, freshly opened) with getdents64: no DIR stream, no dup.
class DirReader {
 public:
  explicit DirReader(int fd);
  /// The next entry other than "." and "..", with its DT_* type (DT_UNKNOWN only for entries
  /// that vanished or are not files, dirs or symlinks). False at the end or on error.
  bool next(const char*& name, unsigned char& type);
  /// errno of a failed read, 0 after a clean end.
  int error() const { return m_error; }

 private:
  int m_fd;
  std::unique_ptr<char[]> m_buf;
  long m_len = 0, m_pos = 0;
  int m_error = 0;
};

/// Walks the directory tree of `dir` (closed at the end) without following symlinks. Calls
/// on_file(dirfd, dir_path, depth, rel_path, name, is_link) for each file or symlink (other
/// kinds are skipped) and on_error(path, errno) for each sub-directory that cannot be opened or
/// read. `depth` is that of `dir_path` (the cache's walks count from the repo folder). Entries
/// are visited in readdir order.
template <typename OnFile, typename OnError>
void walk_tree(Fd dir, const std::string& dir_path, int depth, const std::string& rel_prefix, OnFile& on_file,
               OnError& on_error) {
  DirReader reader(dir.get());
  const char* name = nullptr;
  unsigned char type = DT_UNKNOWN;
  while (reader.next(name, type)) {
    std::string rel = rel_prefix.empty() ? std::string(name) : rel_prefix + "/" + name;
    if (type == DT_DIR) {
      Fd sub = open_dir_at(dir.get(), name);
      const std::string sub_path = dir_path + "/" + name;
      if (!sub.valid()) {
        on_error(sub_path, errno);
      } else {
        walk_tree(std::move(sub), sub_path, depth + 1, rel, on_file, on_error);
      }
    } else if (type != DT_UNKNOWN) {
      on_file(dir.get(), dir_path, depth, rel, name, type == DT_LNK);
    }
  }
  if (reader.error() != 0) on_error(dir_path, reader.error());
}

/// One entry below the folder walk_folder walks.
struct FolderEntry {
  const std::string& path;   // the folder's path + "/" + rel
  const std::string& rel;    // '/'-joined, relative to the folder
  const std::string& name;   // the last component
  const struct ::stat& lst;  // lstat of the entry: a symlink is reported as one, not followed
};

/// What walk_folder could not do: read a folder (the root or one below it), or stat an entry
/// (it vanished, or its folder denies it).
enum class WalkFailure { ReadFolder, StatEntry };
/// "cannot read folder" / "cannot stat", for messages.
const char* to_string(WalkFailure f);

/// Walks the folder at `root` (a symlink as `root` itself is followed) depth-first, each folder's
/// names in byte order, for folders that are not the cache: a user's model folder or the source
/// of an import. Never enters a symlinked directory. For each directory below `root`, enter(rel,
/// name) decides whether to descend (null = always). visit(entry) gets every entry that is not
/// a directory: files, symlinks (to anything) and special files alike. on_error(path, errno,
/// failure) gets `root` or a folder that cannot be read (ReadFolder) and an entry that vanished
/// or cannot be stat'ed (StatEntry); the walk goes on past it.
void walk_folder(const std::string& root, const std::function<bool(const std::string& rel, const std::string& name)>& enter,
                 const std::function<void(const FolderEntry&)>& visit,
                 const std::function<void(const std::string& path, int err, WalkFailure failure)>& on_error);

}  // namespace hubcache::fs

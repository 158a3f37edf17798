#pragma once
// Pieces every reader shares: the root check and the figures of one file.
#include <sys/stat.h>

#include <string>
#include <string_view>
#include <utility>

#include "hubcache/core/result.hpp"
#include "hubcache/stores/store.hpp"

namespace hubcache::stores::detail {

/// The store's root must be a real folder: NotFound when absent, InvalidArgument when it is a
/// symlink or not a folder, PermissionDenied / Io when it cannot be examined.
Result<void> check_root(const std::string& root, const char* what);

/// The '/'-joined relative path `rel` is `dir` or lies below it.
inline bool within(std::string_view rel, std::string_view dir) {
  return rel.starts_with(dir) && (rel.size() == dir.size() || rel[dir.size()] == '/');
}

/// Fills the figures of `f` from `st` (the content's stat).
void set_figures(StoredFile& f, const struct ::stat& st);

/// `f` for the entry at `path` whose lstat is `lst`: a regular file, or a symlink followed (stat) to
/// one and marked linked. False (errno set) for a dangling or unreadable link, a link to something
/// else (EISDIR), or a special file (ENOTSUP).
bool describe_entry(StoredFile& f, const std::string& path, const struct ::stat& lst);

/// The warning for an entry describe_entry refused with `err`.
std::string entry_warning(const std::string& path, int err);

/// For readers of folders people arrange by hand (model folders, LM Studio, llama.cpp, datasets):
/// an entry describe_entry refused with `err`. A symlinked folder is simply not entered (it is where
/// it is; measure it there), a symlink whose target is gone (ENOENT) is a DanglingEntry filed under
/// `model`, anything else a warning.
void note_refused_entry(StoreListing& out, const std::string& path, int err, const std::string& model = {});

/// What every reader shares: its root, and the start of a listing.
class RootedReader : public StoreReader {
 public:
  explicit RootedReader(std::string root) : m_root(std::move(root)) {}
  const std::string& root() const override { return m_root; }

 protected:
  /// check_root (`what` names the store in errors), then an empty listing of kind() at the root.
  Result<StoreListing> start_listing(const char* what) const;

  std::string m_root;
};

}  // namespace hubcache::stores::detail

#pragma once
// Views: a cached snapshot as a plain folder whose files are links of the cache's blobs (one copy of
// the bytes, both layouts working) -- `hubcache link`, `download --local-dir --link`, LM Studio's
// models folder.
#include <cstdint>
#include <string>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/hygiene/dedupe.hpp"

namespace hubcache::hygiene {

/// One file of a view: where it goes below the view's folder, and the blob it is a link of.
struct ViewFile {
  std::string path;    // relative, '/'-separated, already validated (a repo path)
  std::string source;  // absolute path of the bytes (a blob: the link target resolved)
};

struct ViewReport {
  std::size_t linked = 0;    // files made
  std::size_t already = 0;   // files that already were a link of their source (same inode, or a symlink to it)
  std::size_t reflinks = 0;  // of `linked`, made as reflinks (the rest as `kind` says or hardlinks)
  std::uint64_t bytes = 0;   // apparent bytes the view shows
};

/// Makes each file at `<dest>/<path>` a link of its source: LinkKind::Auto = a reflink where the
/// filesystem supports it, else a hardlink; Reflink / Hardlink / Symlink (absolute) as named. Never a
/// copy. `dest` and its parents are created as needed; folders below it too, none of which may be a symlink (a view never writes
/// outside `dest`). Each file is made under a temporary name in its folder and renamed into place. Errors (nothing further is
/// made; files already made stay, each complete):
/// - Conflict: `<dest>/<path>` exists and is not a link of its source (the message names it: move
///   it away, or choose another folder; a view never replaces a file it did not make);
/// - InvalidArgument: dest is not a folder (or is a symlink), or it is on another filesystem than a
///   source and the kind is not Symlink (links cannot cross filesystems);
/// - the errno of a failed mkdir/link/rename, naming the path.
/// With `record_in` (the repo the sources belong to) and LinkKind::Symlink, `dest` is recorded in
/// that repo's link records (cache/use_records.hpp) before the first link is made, so that
/// `cache move` points the links at the cache's new place.
Result<ViewReport> link_view(const std::vector<ViewFile>& files, const std::string& dest, LinkKind kind,
                             const RepoLayout* record_in = nullptr);

/// One file of a `--local-dir` view: as ViewFile, with the ETag it was downloaded at.
struct LocalDirFile {
  std::string path;
  std::string source;
  std::string etag;  // 64 hex (SHA-256, LFS) or 40 hex (git blob SHA-1)
};

/// `download --local-dir DEST --link`: link_view, where an existing file that holds exactly the
/// bytes its ETag names (a plain `--local-dir` copy) is replaced by the link too, then the
/// records huggingface_hub keeps for a local dir (cache/local_dir.hpp: `.cache/huggingface/
/// download/<path>.metadata` with `commit`, the ETag and the time; `.gitignore`), so
/// `hf download --local-dir DEST` and from_pretrained(DEST) take the files as current while the
/// bytes live once, in the cache. Errors as link_view; a record that cannot be written fails
/// with its errno (the links made stay, each complete). `record_in` as for link_view.
Result<ViewReport> link_local_dir(const std::vector<LocalDirFile>& files, const std::string& commit, const std::string& dest,
                                  LinkKind kind, const RepoLayout* record_in = nullptr);

}  // namespace hubcache::hygiene

#pragma once
// The one rule every command applies to the folders of a repo in a cache (huggingface_hub's
// scan_cache_dir refuses them too): the repo folder `<root>/<type>s--org--name`, its `snapshots/`
// and each `snapshots/<commit>` are used only when they are real directories. A symlink there is
// never followed (it can lead out of the cache, so `verify` would vouch for, `serve` would serve and
// `download` would write files that are not the cache's). The cache root itself may be a symlink
// (HF_HUB_CACHE=/link is fine), a repo folder moved out by `cache move ORG/NAME --to DIR` is a
// symlink to its home that names this cache back (cache/moved_repos.hpp), and the file pointers inside a snapshot are symlinks
// into
// ../../blobs by design: those are checked by whoever reads them.
#include <optional>
#include <string>
#include <string_view>

#include "hubcache/cache/layout.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

/// The primitive: lstat(path) is a real directory (true) or absent (false); a symlink or a file is
/// a CacheCorrupted error naming `what` and the path, with what to do.
Result<bool> check_cache_folder(const std::string& path, std::string_view what);

/// Checks <root>/<folder>: true when it is a real directory or a moved repo's symlink to its home
/// (moved_repo_home), false when it does not exist.
/// Errors: CacheCorrupted when it is a symlink (named with its target) or not a directory, with
/// what to do; Io / PermissionDenied when it cannot be examined.
Result<bool> check_repo_folder(const RepoLayout& layout);

/// Checks the repo folder, then its snapshots/ the same way (false when either is absent).
Result<bool> check_snapshots_folder(const RepoLayout& layout);

/// Checks the repo folder, snapshots/ and snapshots/<commit> the same way (false when any is
/// absent). Errors: those of check_repo_folder; InvalidRevision when `commit` is not 40 hex.
Result<bool> check_snapshot_folder(const RepoLayout& layout, std::string_view commit);

}  // namespace hubcache

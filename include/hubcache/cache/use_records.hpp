#pragma once
// hubcache's own per-repo records, kept in <repo folder>/.hubcache/ (k_records_dir), a folder the
// Python and JS scanners never read (docs/cache-format.md#hubcache-records):
// - use records: .hubcache/used/<commit>, an empty file whose mtime is the last time a resolution
//   or a download used that revision. `atime` cannot say this (noatime, relatime), so `cache gc`
//   orders revisions by these records and falls back to blob atime/mtime for revisions without one;
// - pins: .hubcache/pins, one pin per line: "*" (the whole repo) or a revision (a commit or a ref
//   name) that `cache gc` never removes. They live in the cache, so every user of it sees them.
// - link records: .hubcache/links/<16 hex>, each holding one absolute path (and a newline): a
//   folder outside the cache where hubcache made symlinks to the repo's blobs (`hubcache link
//   --symlink`, `migrate --leave-link` across filesystems), so that `cache move` can point them at
//   the new place. The name is the first 16 hex of the path's SHA-256.
// - the upstream access record: .hubcache/access, "gated" or "private" and a newline: what the
//   upstream said about who may read the repo when the pull-through proxy last asked (no file:
//   public, or never asked). The proxy keeps restricted repos from anonymous clients with it
//   when the upstream cannot be asked (after a restart, while it is down).
// Nothing here ever follows a symlink: .hubcache/, used/ and the records are opened with
// O_NOFOLLOW below the repo folder, and a symlink in their place counts as absent.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

/// Records that `commit` of the repo was used now: sets the mtime of .hubcache/used/<commit> to
/// the current time, creating the file (mode 0666 & ~umask, so a group-shared cache lets each
/// member record) and its folders when missing. Best effort and silent: a read-only cache, a full
/// disk, a missing repo folder, a commit that is not 40 hex or a symlink in the way change nothing
/// (a lookup never fails because its record could not be written). Never creates the repo folder.
void record_use(const RepoLayout& layout, std::string_view commit) noexcept;

/// Records a use of `commit` at `when` (epoch seconds) unless its record already says later: a
/// merged cache's last uses come along (manage/merge.hpp). Best effort and silent, like record_use.
void record_use_at(const RepoLayout& layout, std::string_view commit, double when) noexcept;

/// Removes the use record of `commit` (after its revision was deleted). Best effort and silent.
void forget_use(const RepoLayout& layout, std::string_view commit) noexcept;

/// Every use record of the repo: commit -> epoch seconds (with sub-second part) of its last
/// recorded use. Empty when there is none or the folder cannot be read. Names that are not 40
/// lower-case hex and entries that are not regular files are ignored.
std::map<std::string, double> read_use_records(const RepoLayout& layout);

/// Records that `folder` (absolute) holds symlinks to the repo's blobs. Best effort and silent,
/// like record_use: written atomically, never through a symlink, never creating the repo folder.
void record_linked_folder(const RepoLayout& layout, const std::string& folder) noexcept;

/// The folders recorded by record_linked_folder (sorted); records that are not a regular file of
/// at most 4 KiB holding an absolute path are ignored.
std::vector<std::string> read_linked_folders(const RepoLayout& layout);

/// Removes the record of `folder` (it is gone). Best effort and silent.
void forget_linked_folder(const RepoLayout& layout, const std::string& folder) noexcept;

/// The name of the upstream access record in .hubcache/.
inline constexpr std::string_view k_access_record = "access";

/// Records what the upstream says about access: "gated", "private", or "" (public: the record is
/// removed). Best effort and silent, like record_linked_folder; other values change nothing.
void record_upstream_access(const RepoLayout& layout, std::string_view access) noexcept;

/// The recorded access: "gated", "private", or "" when there is no record. A record that holds
/// anything else reads as "private" (the safe side).
std::string read_upstream_access(const RepoLayout& layout);

/// The pin that stands for the whole repo.
inline constexpr std::string_view k_pin_all = "*";

/// The repo's pins, in file order: k_pin_all or revisions. A missing file is no pin.
/// Fails with CacheCorrupted naming the file when it is not a regular file, is larger than
/// 64 KiB or holds a line that is neither "*" nor a valid revision (validate_revision; no
/// whitespace anywhere: "main " would pin nothing); callers
/// that remove things must then treat the whole repo as pinned.
Result<std::vector<std::string>> read_pins(const RepoLayout& layout);

/// Adds `pin` (k_pin_all or a revision as given) unless it is there already; returns whether it
/// was added. Written atomically (temp file + rename) under .hubcache/pins.lock so that
/// concurrent pins do not lose each other. InvalidRevision for a malformed revision, NotFound
/// when the repo folder is missing, CacheCorrupted from read_pins, Io on a write failure.
Result<bool> add_pin(const RepoLayout& layout, std::string_view pin);

/// Removes `pin`; returns whether it was there. Same errors as add_pin.
Result<bool> remove_pin(const RepoLayout& layout, std::string_view pin);

}  // namespace hubcache

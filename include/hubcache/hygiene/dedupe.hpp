#pragma once
// `hubcache dedupe`: one copy of every content across stores. Plan (which files hold the same
// bytes, which one each group keeps, what the others become, the bytes freed), then execute: each
// other file is replaced, under its own name, by a link of the kept one. The rules (docs/dedupe.md):
// - contents are grouped by their free identity (stores.hpp) and, with `deep`, by SHA-256 of the
//   files without one whose sizes collide (size, then a sampled head/tail hash, then the full hash,
//   as fclones and jdupes do);
// - execute proves both sides identical immediately before each link (SHA-256 of both, equal to
//   each other and to a SHA-256 name), and skips a file changed since the plan, open for writing
//   by another process, or locked by a download;
// - replacement is atomic: the link is made under a temporary name in the file's own folder and
//   renamed over it, so a kill -9 at any instant leaves every name with its full content;
// - reflinks (FICLONE: a new inode sharing the extents, the replaced file's owner, mode and times
//   kept) where the filesystem supports them, else hardlinks; never across filesystems (reported);
//   symlinks only when asked;
// - a hardlink is made only when the replaced file's owner can still read the kept one (Ollama's
//   service user, for one); only regular files are replaced, never a symlinked entry (the Hub's
//   links into the shared store).
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache::hygiene {

enum class LinkKind {
  Auto,      // reflink where the filesystem supports it, else hardlink
  Reflink,   // FICLONE only: a file on a filesystem without reflinks is skipped
  Hardlink,  // link(2)
  Symlink,   // an absolute symlink to the kept file (tools differ on following them: only on request)
};
/// "auto", "reflink", "hardlink", "symlink".
const char* to_string(LinkKind kind);
/// The inverse of to_string; nullopt for any other text.
std::optional<LinkKind> parse_link_kind(std::string_view text);

struct DedupeOptions {
  bool deep = false;  // also hash files without a free identity whose sizes collide
  LinkKind link = LinkKind::Auto;
  unsigned threads = 0;  // hashing threads; 0 = hardware concurrency
};

/// A file that becomes a link of its group's kept file.
struct PlannedReplace {
  std::string path;  // keeps its name
  stores::StoreKind store = stores::StoreKind::HubCache;
  std::string store_root;  // the root of the store listing it
  std::uint64_t size = 0;
  std::uint64_t disk_bytes = 0;  // allocated bytes it holds now
  dev_t device = 0;
  ino_t inode = 0;
  std::int64_t mtime_ns = 0;  // as planned: a different one at execute means "changed since the plan"
  bool frees = false;         // every name of its inode is replaced here, so its blocks are freed
};

struct DedupeGroup {
  DigestKind kind = DigestKind::None;
  std::string hex;      // the content's identity
  bool hashed = false;  // the identity was computed here (--deep), not read from a name
  std::string keep;     // the file the others become links of (a regular file; a link's target)
  dev_t device = 0;     // the filesystem of `keep` and of every replaced file
  std::vector<PlannedReplace> replace;
  std::uint64_t freed_bytes = 0;  // allocated bytes freed when every replacement is done
};

struct DedupePlan {
  LinkKind link = LinkKind::Auto;
  std::vector<DedupeGroup> groups;    // most bytes freed first, then by identity
  std::vector<std::string> warnings;  // copies left as they are, and why (another filesystem, owner, ...)
  std::uint64_t freed_bytes = 0;
  std::size_t hashed_files = 0;  // files hashed to plan (--deep)
  std::uint64_t hashed_bytes = 0;
};

/// Plans over `listings` (the stores to make one copy across). Reads (and with `deep` hashes)
/// only; never fails for a file: what cannot be read is a warning and stays out of the plan.
/// Takes the listings by value (move them in: `deep` writes identities into them, and they are
/// freed before the plan returns).
DedupePlan plan_dedupe(std::vector<stores::StoreListing> listings, const DedupeOptions& options);

struct DedupeReport {
  std::size_t linked = 0;            // files replaced by a link
  std::uint64_t freed_bytes = 0;     // allocated bytes freed (of replaced files that were the last name)
  std::vector<std::string> skipped;  // files left as they are, each with the reason (changed, busy, differs, ...)
  std::size_t integrity = 0;         // of those, files whose bytes are not what their group's identity says
  std::vector<std::string> errors;   // operations that failed (the file is left as it was)
};

/// Executes `plan`: for each replaced file, the checks above (the kept file too must not be open
/// for writing), then link + rename; a replaced `--local-dir` file's record is moved to now when it
/// names these bytes, so huggingface_hub still takes the file as current. Removes first the
/// temporary names a killed earlier run left in the planned folders, each only when removing it
/// loses no bytes (a symlink, a name of a file with other names, or a clone of a kept file). Never
/// fails as a whole.
DedupeReport execute_dedupe(const DedupePlan& plan);

}  // namespace hubcache::hygiene

#pragma once
// The cross-repo shared blob store of huggingface_hub >= 1.32 (research note shared-blobs.md):
// the one place that knows its disk format. Everyone else (scan, verify, delete, prune, the
// mirror, download reuse) asks this class.
//
// Layout, relative to the cache root:
//   blobs/.huggingface-shared-blobs   marker, a regular file holding exactly "1\n"
//   blobs/<h[:2]>/<h>                 payload (h = Xet file hash, 64 lower-case hex)
//   blobs/<h[:2]>/<h>.refs            manifest: one "<repo_folder>/blobs/<etag>\n" per reference
//   blobs/<h[:2]>/<h>.lock            per-hash lock (flock, the same lock Python's filelock takes)
//   <repo_folder>/blobs/<etag>        symlink "../../blobs/<h[:2]>/<h>" (a shared entry)
// A store without the marker (or whose blobs/ or marker is a symlink) is not a store: nothing
// here treats it as one. Nothing here follows a link other than the ones it checks lexically.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/util/lock.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

inline constexpr std::string_view k_shared_store_dir = "blobs";
inline constexpr std::string_view k_shared_marker = ".huggingface-shared-blobs";
inline constexpr std::string_view k_shared_marker_content = "1\n";

/// True iff `h` is a Xet file hash usable as a payload name: exactly 64 lower-case hex digits.
bool is_xet_hash(std::string_view h);

/// What a manifest says about its payload (research note 1.4).
struct ManifestEval {
  std::vector<std::string> valid;  // valid references, deduplicated, component-sorted
  std::size_t stale = 0;           // lines that are not (or no longer) references
};

/// One payload file of the store.
struct SharedPayload {
  std::string hash;
  std::string path;  // <root>/blobs/<h[:2]>/<h>
  std::uint64_t size = 0;
};

class SharedBlobStore {
 public:
  /// `cache_dir`: the cache root, absolute and symlink-resolved (links are compared lexically to it).
  /// Checks the marker once: lstat says <root>/blobs is a directory and the marker a regular file
  /// whose whole content is "1\n" (Python's rule; "1" without newline is not a store).
  explicit SharedBlobStore(std::string cache_dir);

  bool marked() const { return m_marked; }
  const std::string& cache_dir() const { return m_root; }
  std::string dir() const;                                 // <root>/blobs
  std::string payload_path(std::string_view hash) const;   // <root>/blobs/<h[:2]>/<h>
  std::string manifest_path(std::string_view hash) const;  // ...<h>.refs
  std::string lock_path(std::string_view hash) const;      // ...<h>.lock

  /// Pure: the hash whose payload the link text of the repo blob entry `entry_path`
  /// (<root>/<folder>/blobs/<name>) names, after joining it to the entry's directory and
  /// normalising lexically (never realpath); nullopt if it names anything else.
  std::optional<std::string> hash_of_link(const std::string& entry_path, std::string_view link_text) const;

  /// lstat + readlink of `entry_path`: the hash if the entry is a symlink into this (marked)
  /// store; nullopt if the store is unmarked, the entry is not a symlink, is missing, or links
  /// elsewhere. Fails only on I/O errors other than "not found".
  Result<std::optional<std::string>> hash_of_entry(const std::string& entry_path) const;

  /// The payload of a shared entry, if it is servable: the store is marked, the prefix dir is a
  /// real directory and the payload a regular file (lstat: no further symlink). Else nullopt.
  std::optional<SharedPayload> linked_payload(const std::string& entry_path) const;

  /// research note 1.3: lstat regular file, size == expected_size, readable (access R_OK).
  bool payload_usable(std::string_view hash, std::uint64_t expected_size) const;
  /// The payload's bytes hash to `etag` (SHA-256) at `size` bytes: Python links to any payload
  /// of the right size; hubcache links only to one holding this file (reads the whole payload).
  bool payload_holds(std::string_view hash, std::string_view etag, std::uint64_t size) const;

  /// Evaluates <h>.refs (research note 1.4). Fails (= "unknown references": keep the payload)
  /// when the store is unmarked, the manifest is missing, not a regular file, unreadable, not
  /// UTF-8, or checking a line hit an I/O error other than "not found".
  Result<ManifestEval> evaluate_manifest(std::string_view hash) const;

  /// Makes <root>/blobs a marked store (note 1.2) if it is not one yet; false when it cannot be.
  Result<bool> ensure_marked();

  /// Takes <h>.lock: created O_NOFOLLOW mode 0666 (best-effort fchmod 0666), then FileLock
  /// (flock(LOCK_EX), which excludes Python's filelock, plus an OFD lock). Blocks. The prefix
  /// directory must exist (NotFound otherwise; it is never created here).
  Result<FileLock> lock(std::string_view hash) const;

  /// Rewrites <h>.refs to exactly `refs` (already valid, deduplicated and sorted), each + "\n":
  /// <h>.refs.<8hex>.tmp, chmod 0666, fsync, rename. The caller holds lock(hash).
  Result<void> rewrite_manifest(std::string_view hash, const std::vector<std::string>& refs) const;

  /// research note 4.3, takes the lock itself: unknown manifest => keep (0); valid references =>
  /// rewrite the manifest, keep the payload (0); none => unlink the payload (if a regular file)
  /// and its manifest (the .lock stays) and return the payload's size. A failure frees nothing.
  /// No prefix directory (nothing stored for that hash): 0, no lock file is created.
  Result<std::uint64_t> sweep(std::string_view hash) const;

  /// Every payload file of the marked store (prefix dirs that are real directories, names that
  /// are Xet hashes matching their prefix, regular files), referenced or not; sorted by hash.
  /// Empty when the store is unmarked or absent.
  Result<std::vector<SharedPayload>> payloads() const;

  /// Payloads whose manifest is readable and has zero valid references (what prune removes).
  Result<std::vector<SharedPayload>> unreferenced() const;

  /// research note 3.4 (reuse): holding lock(hash), checks the payload is usable for
  /// `expected_size` and that its SHA-256 equals `etag` (the payload is never modified), then
  /// creates blobs/.<etag>.<8hex>.shared -> ../../blobs/<h[:2]>/<h>, appends + fsyncs the manifest
  /// line and renames the temp link over blobs/<etag>. Returns false (a miss: download normally)
  /// when the store is unmarked, the hash or etag is unsuitable, or the payload is unusable or
  /// has other bytes; fails on I/O errors (callers treat that as a miss too).
  Result<bool> try_link(const RepoLayout& layout, std::string_view etag, std::string_view hash,
                        std::uint64_t expected_size) const;

  /// research note 3.3 (publish after a verified Xet download, huggingface_hub >= 1.32's default):
  /// `file` (a regular file in the cache's filesystem holding `expected_size` verified bytes whose
  /// SHA-256 is `etag`) becomes the payload of `hash` unless a usable payload is there already
  /// (then `file` is removed; with `replace_existing`, a force download, it replaces it; a
  /// payload of another size or unreadable is replaced, as Python does; one of the right size
  /// whose SHA-256 is not `etag` is left alone and `file` stays repo-local: false), and
  /// blobs/<etag> becomes the link ../../blobs/<h[:2]>/<h>, its manifest line appended and fsynced
  /// first, all under lock(hash). Marks the store first when needed (note 1.2: <root>/blobs is
  /// created, or adopted only when empty but for abandoned marker temporaries), with the modes of
  /// note 2.4 derived from the cache root's (payload read-only; directories the root's bits with
  /// setgid; the payload's group the prefix directory's). The caller holds the repo's blob lock.
  /// Returns false with `file` untouched when the store cannot be used (a `blobs` that is not a
  /// store, a symlink in the way, an unsuitable hash, etag or repo folder, a group that cannot be
  /// set on a group-only payload); fails on I/O errors, after which `file` is still in place
  /// unless it became the payload (then blobs/<etag> is restored as a copy or the error says so).
  Result<bool> publish(const RepoLayout& layout, std::string_view etag, std::string_view hash, std::uint64_t expected_size,
                       const std::string& file, bool replace_existing);

 private:
  std::string m_root;
  bool m_marked = false;
};

}  // namespace hubcache

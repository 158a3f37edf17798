#pragma once
// Import: adopt a plain folder, or a folder made by `hf download --local-dir`, into a Hub cache
// so offline resolution (`try_to_load_from_cache`, `from_pretrained`) finds it without a download.
//
// Flow: plan_import() reads and hashes the folder and decides everything (it writes nothing, so it
// is also the dry run); execute_import() writes the cache in a crash-safe order:
//   1. CACHEDIR.TAG, blobs/, refs/, snapshots/;
//   2. per blob, under its lock (.locks/<folder>/<blob>.lock): publish the blob if absent (temp name
//      blobs/<blob>.<8hex>.incomplete, then rename; an existing blob is never rewritten), then create
//      the snapshot symlinks of every file with that content;
//   3. refs/<revision> last (no trailing newline);
//   4. with ImportMode::Move only: unlink the source files.
// An interrupted import leaves only complete blobs and correct pointers, and re-running it finishes
// the job; re-running a finished import changes nothing (idempotent).
//
// Blob names follow the Hub: SHA-256 of the content for files the Hub stores in LFS, the git blob
// SHA-1 otherwise (see LfsRules). trees/<commit>.json is never written: the full remote tree is
// unknown, and huggingface_hub >= 1.22 would trust it and never fetch the missing files.
//
// Commit id, in this order:
//   - ImportOptions::commit, or the revision itself when it is a 40-hex commit ("explicit");
//   - the commit recorded in `hf download --local-dir` metadata ("local-dir metadata");
//   - otherwise derived from the files (derive_commit_id): the git tree id of the folder, as
//     `git write-tree` computes it for a repository holding exactly the imported files with every
//     mode 100644 and each LFS file stored as its LFS pointer text. Same paths + same contents (+
//     same LFS decisions) give the same id.
//
// Local-dir folders (DIR/.cache/huggingface/download/<path>.metadata: commit, ETag, timestamp):
//   - every file's content must match its recorded ETag (64 hex: SHA-256, 40 hex: git blob SHA-1),
//     else the import is refused naming the file; the blob is named by the ETag, so the result is
//     the entry `hf download` (without --local-dir) would have made at that commit;
//   - files without (valid) metadata are refused unless UntrackedPolicy::Skip leaves them out;
//   - metadata of more than one commit is refused (a snapshot holds one commit; putting an older
//     file under a newer commit would be a claim we cannot check). Re-run `hf download --local-dir`
//     to bring every file to one commit, or use MetadataPolicy::Ignore to import the folder as
//     plain files under a derived commit;
//   - metadata whose file is gone is ignored, with a warning; the mtime/timestamp staleness rule of
//     hf is not applied, because the content check is stronger.
// Skipped in every folder: .cache/huggingface/ at the top and any .git entry. Refused, naming the
// file: names failing validate_repo_path, dangling symlinks, symlinks leaving DIR or pointing at a
// directory, special files (fifo, socket, device). A symlink to a file inside DIR, or to a blob of the
// destination cache (`<cache>/<repo folder>/blobs/<name>`: what `hubcache link` and `migrate
// --leave-link` leave), is imported as a file with that content.
#include <cstdint>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

enum class ImportMode {
  Auto,  // Link when DIR and the cache are on one filesystem, else Copy
  Link,  // blobs are hardlinks of the source files (no bytes duplicated; falls back to a copy per
         // blob where the filesystem refuses the link). Editing a source file in place afterwards
         // also changes the cached blob: replace files instead of rewriting them.
  Copy,  // blobs are copies, verified against their name while copying
  Move,  // like Link (or Copy across filesystems), then the source files are unlinked once the
         // import is complete, so an interrupted move never loses a file
};
const char* to_string(ImportMode mode);
std::optional<ImportMode> parse_import_mode(std::string_view s);

enum class MetadataPolicy { Use, Ignore };
enum class UntrackedPolicy { Refuse, Skip };
enum class CommitSource { Explicit, LocalDirMetadata, Derived };
const char* to_string(CommitSource source);  // "explicit", "local_dir_metadata", "derived"

/// One file of an import from a list (ImportOptions::files) rather than a folder walk.
struct NamedSourceFile {
  std::string path;    // repo path, '/'-separated, relative (validate_repo_path)
  std::string source;  // absolute path of the file holding the bytes: inside source_dir (it may be a symlink out of it)
  bool lfs = false;    // an LFS file (blob named by SHA-256) whatever its name and size (LfsRules otherwise)
};

/// Identity of a source file when it was hashed; publishing refuses a file that changed since.
struct SourceStamp {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::int64_t mtime_ns = 0;
};

/// A digest an earlier plan of the same folder computed for a source file, reused while the file's
/// stamp and size are unchanged (ImportOptions::known_digests).
struct KnownDigest {
  std::uint64_t size = 0;
  std::string digest;  // SHA-256 when lfs, else the git blob SHA-1
  bool lfs = false;
  SourceStamp stamp;
};

struct ImportOptions {
  std::string source_dir;
  /// When not empty, these files are imported instead of walking source_dir (which must hold them
  /// all and decides the filesystem, so Link or Copy): the bytes of a file another tool owns (an
  /// Ollama blob, hygiene/ollama_import.hpp) under the repo path it has on the Hub. No local-dir
  /// metadata is read, nothing is imported in place, and ImportMode::Move is refused
  /// (InvalidArgument): the files stay their owner's. A path given twice, a path failing
  /// validate_repo_path, a source that is not a regular file (symlinks are followed) or whose
  /// name lies outside source_dir: InvalidArgument naming it.
  std::vector<NamedSourceFile> files;
  RepoRef repo;
  std::string revision = "main";      // refs/<revision> is written unless it is a commit hash
  std::optional<std::string> commit;  // the commit the files are at, when the caller knows it
  std::string cache_dir;              // hub cache (Config::hub_cache); made absolute and resolved
  ImportMode mode = ImportMode::Auto;
  MetadataPolicy metadata = MetadataPolicy::Use;
  UntrackedPolicy untracked = UntrackedPolicy::Refuse;
  unsigned threads = 0;  // hashing and publishing threads (0 = hardware concurrency)
  /// Move refs/<revision> even when it points to another commit whose snapshot is cached and
  /// complete (every file its trees/<commit>.json lists, when there is one). Without it the ref
  /// never moves off such a snapshot: for a derived commit (files of no known commit) plan_import
  /// refuses (Conflict, nothing changed); for a commit the Hub named (`commit`, a commit-hash
  /// revision, local-dir metadata) the files are imported under that commit, the ref stays
  /// (ImportPlan::keep_ref) and a warning says "refs/<revision> stays at <old>; pass --force to
  /// move it to <new>". An absent ref, or one at a missing or incomplete snapshot, is set as usual.
  bool force = false;
  /// A folder inside the cache (an `hf download --local-dir` into the hub folder: `<cache>/tiny`,
  /// or over the repo's own folder name) is imported in place, by Move, and then goes, with its
  /// local-dir metadata; `keep` links (or copies) instead and leaves it.
  bool keep = false;
  /// HF_HUB_DISABLE_SYMLINKS (Config::disable_symlinks): snapshot entries are real files, as a
  /// download makes them (docs/cache-format.md#no-symlinks): each path gets its own copy and no blob this import wrote
  /// stays in blobs/.
  bool disable_symlinks = false;
  /// Digests an earlier plan computed, by the file's `read_from` path: a file whose stat still
  /// gives the same device, inode, mtime and size, hashed with the same algorithm, is not read
  /// again (migrate plans a folder, merges, then plans it again). Publishing still refuses a file
  /// that changed since.
  std::map<std::string, KnownDigest> known_digests;
};

struct ImportFile {
  std::string path;       // repo path, '/'-separated, relative
  std::string source;     // absolute path inside DIR
  std::string read_from;  // regular file holding the bytes (differs from `source` for a symlink)
  std::uint64_t size = 0;
  std::string blob;  // blob name: SHA-256 (LFS) or git blob SHA-1
  bool lfs = false;
  bool blob_exists = false;  // the cache already had this blob when planned
  SourceStamp stamp;
};

struct ImportPlan {
  ImportOptions options;               // as given, with cache_dir and source_dir resolved
  ImportMode mode = ImportMode::Copy;  // never Auto
  bool same_filesystem = false;
  std::string commit;
  CommitSource commit_source = CommitSource::Derived;
  std::optional<std::string> previous_ref;  // refs/<revision> before the import, if any
  std::string repo_folder;
  std::string snapshot_dir;
  std::vector<ImportFile> files;     // sorted by path
  std::vector<std::string> skipped;  // paths left out (UntrackedPolicy::Skip)
  std::vector<std::string> warnings;
  std::uint64_t total_bytes = 0;     // sum of file sizes
  std::uint64_t transfer_bytes = 0;  // bytes of distinct blobs the cache lacks
  std::size_t new_blobs = 0;         // distinct blobs the cache lacks
  /// The folder is inside the cache (see ImportOptions::keep); with Move, execute_import also
  /// removes its `.cache/huggingface` metadata and, unless it became the repo's folder, itself.
  bool in_place = false;
  /// refs/<revision> points to another commit's complete snapshot and stays (see ImportOptions::force).
  bool keep_ref = false;
  /// refs/<revision> is written: the revision is a name, not a commit hash, and keep_ref is false.
  bool writes_ref() const;
};

struct ImportResult {
  ImportPlan plan;
  std::size_t blobs_written = 0;     // blobs published by this run
  std::size_t blobs_copied = 0;      // of those, copied (Copy mode, or a refused hardlink)
  std::size_t pointers_written = 0;  // snapshot entries created or corrected by this run
  std::size_t sources_removed = 0;   // Move only
  std::vector<std::string> warnings;
};

/// Validates input, walks and hashes DIR, checks local-dir metadata. Writes nothing.
/// CacheCorrupted when the destination repo folder, its snapshots/ or the snapshot is a symlink
/// or a file (cache/folders.hpp: never written through).
Result<ImportPlan> plan_import(const ImportOptions& options);
/// Carries out a plan (see the order above). Re-checks each source file against its stamp.
Result<ImportResult> execute_import(const ImportPlan& plan);
/// plan_import + execute_import.
Result<ImportResult> import_folder(const ImportOptions& options);

/// Which files the Hub stores in LFS: its default .gitattributes patterns, then the filter=lfs
/// lines of the repo's own .gitattributes (later lines win, as in git), and any file larger than
/// 10 MiB whatever its name.
class LfsRules {
 public:
  static constexpr std::uint64_t k_size_threshold = 10u * 1024u * 1024u;
  /// The Hub's default patterns.
  static LfsRules hub_defaults();
  /// Adds the lines of a .gitattributes at the repo root: `pattern attr...`; `filter=lfs` sets
  /// LFS, `filter=<other>`, `-filter` and `!filter` clear it. Comments, blank lines, negated and
  /// directory-only patterns are ignored.
  void add_gitattributes(std::string_view text);
  bool is_lfs(std::string_view path, std::uint64_t size) const;

 private:
  struct Rule {
    std::string pattern;
    bool anchored = false;  // pattern holds a '/': matched against the whole path
    bool lfs = false;
  };
  std::vector<Rule> m_rules;
};

/// Git-style match of one .gitattributes pattern ('*', '?', '[..]', '**'); `*` never crosses '/'.
bool gitattributes_match(std::string_view pattern, std::string_view path);

/// One file of a derived commit id.
struct TreeItem {
  std::string path;
  std::uint64_t size = 0;
  std::string blob;  // blob name (SHA-256 when lfs, else git blob SHA-1)
  bool lfs = false;
};
/// The derived commit id (see the header comment): git tree id of `items`.
std::string derive_commit_id(const std::vector<TreeItem>& items);

}  // namespace hubcache

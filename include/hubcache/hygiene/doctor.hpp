#pragma once
// `hubcache doctor`: finds every place models are stored on a machine (the stores where their tools
// keep them, and stores found by walking the given roots) and reports what wastes space or breaks a
// tool, each finding with the bytes at stake and the command that fixes it. Read-only: nothing is
// created, changed, locked for writing or deleted, and without `deep` nothing is hashed
// (identities come from the stores' names, stores.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "hubcache/config/config.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/stores/store.hpp"

namespace hubcache::hygiene {

enum class FindingKind {
  LocalDirInCache,         // an `hf download --local-dir` folder inside the Hub cache folder: lookups by id never read it
  LocalDirCopy,            // a model folder's files are also a Hub cache's blobs, not linked: the bytes are held twice
  LocalDirUncached,        // a `--local-dir` download no Hub cache holds: from_pretrained("org/name") downloads it again
  ProjectCache,            // a Hub-layout cache other than the configured one (a project's ./model_cache, ...)
  CacheSetting,            // a line in a project's files or shell profile that points a tool at another cache
  EnvConflict,             // cache variables of this environment that send tools to different caches
  DuplicateContent,        // the same bytes in two stores (or two places of one), not linked
  StalePartial,            // an unfinished download nothing is writing: bytes on disk no tool will use as they are
  DanglingPointer,         // a snapshot file whose blob is missing: the file fails to load
  DetachedRevision,        // a cached revision no ref points at (what `hubcache cache prune` removes)
  UnreferencedSharedBlob,  // a payload of the shared blob store no repo links to any more
  ContentMismatch,         // --deep: a hardlinked file whose bytes are not what its name says (one name was edited
                           // in place, which changes every name)
  StaleLock,               // a `.locks/<repo folder>` of a repo the cache no longer holds, none of its locks held
};

/// The stable id of `--json` output: "local-dir-in-cache", "local-dir-copy", "local-dir-uncached",
/// "project-cache", "cache-setting", "env-conflict", "duplicate-content", "stale-partial",
/// "dangling-pointer", "detached-revision", "unreferenced-shared-blob", "content-mismatch".
const char* to_string(FindingKind kind);

struct Finding {
  FindingKind kind = FindingKind::DuplicateContent;
  std::string summary;             // one sentence naming what was found, without a final '.'
  std::vector<std::string> paths;  // what it is about, the one the fix acts on first; a setting as "<file>:<line>"
  std::uint64_t bytes = 0;         // allocated bytes at stake (what the fix frees, or a second download would
                                   // cost); 0 for a setting
  std::string fix;                 // the command (or the edit) that fixes it
};

/// A store doctor read, and how it was found.
struct FoundStore {
  stores::StoreKind kind = stores::StoreKind::HubCache;
  std::string root;         // absolute, symlink-resolved
  bool configured = false;  // the configured Hub cache
  bool walked = false;      // found by walking a root (else: where its tool keeps it)
};

struct DoctorOptions {
  /// Folders to walk for stores (the CLI's default: the home folder). Each must be a folder.
  std::vector<std::string> roots;
  /// How deep below a root to look (a root's own entries are depth 1).
  int max_depth = 6;
  /// Walk into other filesystems below a root (off: like `du -x`, a mount below a root is skipped).
  bool cross_filesystems = false;
  /// Also hash files without a free identity whose sizes collide (`--deep`: size, then a sampled
  /// head/tail hash, then the full SHA-256), so copies whose names say nothing (LM Studio, plain
  /// folders) are found too; and check every hardlinked file whose name gives its identity (an
  /// in-place edit of one name changes them all). Without it nothing is hashed.
  bool deep = false;
};

struct DoctorReport {
  std::vector<FoundStore> stores;       // in the order read: the configured cache, the tools' places, then walked
  std::vector<Finding> findings;        // grouped by kind in FindingKind order, each kind by largest bytes, then path
  std::vector<std::string> warnings;    // what could not be read (the report may miss what lies there)
  std::uint64_t reclaimable_bytes = 0;  // sum of the findings' bytes that a fix frees (copies, partials, detached)
  std::size_t hashed_files = 0;         // --deep: files hashed whole
  std::uint64_t hashed_bytes = 0;
};

/// Runs the checks. `env` gives the configured caches and the tools' places (huggingface_hub's
/// precedence, config.hpp; OLLAMA_MODELS, LLAMA_CACHE, HF_DATASETS_CACHE, HOME for LM Studio and the
/// shell profiles). Errors: a root that does not exist (NotFound) or is not a folder
/// (InvalidArgument). Everything else unreadable is a warning.
Result<DoctorReport> run_doctor(const Environment& env, const DoctorOptions& options);

}  // namespace hubcache::hygiene

#pragma once
// Read-only readers of the places model files live on one machine: Hub caches (wherever they are)
// and the stores of other tools (Ollama, ...), each a small class behind one interface, listing the
// files it holds with what `du`, `doctor` and `dedupe` need: size, blocks, inode, and the content's
// identity where the store's names give it for free (no hashing).
//
// Every reader only reads: it never creates, renames, locks or deletes, and never follows a
// symlinked folder. A symlinked *file* is listed by its own path with the stat of its target when
// the store's tool would follow it (the shared blob store of huggingface_hub, Ollama's lookups);
// `linked` says so. The facts each reader follows are in docs/stores.md.
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache::stores {

enum class StoreKind {
  HubCache,  // huggingface_hub's cache layout: the central cache, a --cache-dir, a project's ./model_cache
  Ollama,    // Ollama's models folder: manifests/<host>/<namespace>/<model>/<tag>, blobs/sha256-<hex>
};

/// "hub-cache", "ollama": the stable ids of `--json` output.
const char* to_string(StoreKind kind);

/// One file a store holds.
struct StoredFile {
  std::string path;              // absolute path of the store's entry (blobs/<etag>, blobs/sha256-<hex>, ...)
  std::string model;             // what the store files it under, as its tool shows it: "model/org/name"
                                 // (RepoRef::label), "llama3:latest" (`ollama list`); "" when nothing refers to it
  std::string name;              // the file's name inside the model ("config.json", "model" for a GGUF layer, ...);
                                 // for a blob with several names, the first in name order; "" when none
  std::uint64_t size = 0;        // bytes (st_size of the content)
  std::uint64_t disk_bytes = 0;  // bytes allocated on disk (st_blocks * 512)
  dev_t device = 0;              // st_dev and st_ino of the content: equal for hardlinked names
  ino_t inode = 0;
  nlink_t links = 0;                     // st_nlink of the content
  bool linked = false;                   // the entry is a symlink and the figures above are its target's
  bool partial = false;                  // an unfinished download (*.incomplete, *.downloadInProgress, *-partial)
  DigestKind digest = DigestKind::None;  // the content's identity when the store's name gives it
  std::string digest_hex;                // lower-case hex of that digest ("" with DigestKind::None)
};

struct StoreListing {
  StoreKind kind = StoreKind::HubCache;
  std::string root;                   // absolute path of the store's folder
  std::vector<StoredFile> files;      // in path order
  std::vector<std::string> warnings;  // what was skipped and why (an unreadable folder, a corrupt manifest)
};

/// The interface every reader implements (restic's backends are the model: one small class each).
class StoreReader {
 public:
  virtual ~StoreReader() = default;
  virtual StoreKind kind() const = 0;
  /// The store's folder as given to its open_* function.
  virtual const std::string& root() const = 0;
  /// Lists the files. Errors: NotFound when the root does not exist, InvalidArgument when it is not a
  /// folder (or is a symlink: open the target instead), PermissionDenied / Io when it cannot be read.
  /// Whatever lies below the root and cannot be read is a warning, not an error.
  virtual Result<StoreListing> list() const = 0;
};

/// A Hub cache at `cache_dir` (huggingface_hub's scan_cache_dir layout): every `<type>s--<id>` repo
/// folder's blobs (named by ETag: 64 hex = SHA-256, 40 hex = git SHA-1), links into the cross-repo
/// shared blob store followed (bytes counted where they live), `*.incomplete` and llama.cpp's
/// `*.downloadInProgress` partials, and snapshot files stored without symlinks. A blob's `name` is
/// the snapshot path that points at it.
std::unique_ptr<StoreReader> open_hub_cache(std::string cache_dir);

/// Ollama's models folder (`$OLLAMA_MODELS`, `~/.ollama/models`, the Linux service's
/// `/usr/share/ollama/.ollama/models`): blobs `blobs/sha256-<hex>` (identity free), named by the
/// manifests `manifests/<host>/<namespace>/<model>/<tag>` (exactly four levels, as Ollama reads them)
/// that refer to them; `-partial` downloads. A manifest that is not Ollama's JSON is a warning.
std::unique_ptr<StoreReader> open_ollama(std::string models_dir);

/// Opens the reader for `kind` at `root`.
std::unique_ptr<StoreReader> open_store(StoreKind kind, std::string root);

/// What store the folder `path` is, by its layout alone: a Hub cache (a folder holding at least one
/// `<type>s--*` repo folder, cache/layout.hpp classify_hub_folder's CacheRoot) or an Ollama models
/// folder (holding `manifests/` and `blobs/` folders). Errors: NotFound when `path` does not exist,
/// InvalidArgument when it is not a folder or is neither store (the message names the path and
/// what was looked for).
Result<StoreKind> detect_store(const std::string& path);

/// Where Ollama keeps models on this machine, in the order Ollama's rules give (research notes in
/// docs/stores.md): `ollama_models` ($OLLAMA_MODELS) when set, else `<home>/.ollama/models`, then the
/// Linux service's `/usr/share/ollama/.ollama/models`. Candidates only: callers check existence.
std::vector<std::string> ollama_models_candidates(const std::string& ollama_models, const std::string& home);

/// The name `ollama list` shows for the manifest at manifests/<host>/<ns>/<model>/<tag>: the default
/// host `registry.ollama.ai` and namespace `library` are left out ("llama3:latest",
/// "me/mine:v1", "hf.co/org/repo:Q4_K_M").
std::string ollama_model_name(const std::string& host, const std::string& ns, const std::string& model, const std::string& tag);

}  // namespace hubcache::stores

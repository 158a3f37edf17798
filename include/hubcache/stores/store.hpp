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
  HubCache,           // huggingface_hub's cache layout: the central cache, a --cache-dir, a project's ./model_cache
  Ollama,             // Ollama's models folder: manifests/<host>/<namespace>/<model>/<tag>, blobs/sha256-<hex>
  ModelFolder,        // a plain model folder: a `--local-dir` download, a git clone, a copy
  LmStudio,           // LM Studio's models folder: <publisher>/<model>/<files>
  LlamaCpp,           // llama.cpp's legacy flat cache: <owner>_<repo>_<file> + manifest=<owner>=<repo>=<tag>.json
  DatasetsDownloads,  // the datasets library's downloads/ folder (2.x Hub files): <sha256(url)>[.<sha256(etag)>] + .json
};

/// "hub-cache", "ollama", "model-folder", "lm-studio", "llama-cpp", "datasets-downloads": the
/// stable ids of `--json` output.
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

/// A name the store's tool follows to bytes that are missing, so loading the model fails: a symlink
/// whose target is gone (a view made with symlinks whose blob `cache rm` removed), or an Ollama
/// manifest layer without its blob. (A Hub cache's own dangling pointers are manage's scan's.)
struct DanglingEntry {
  std::string path;     // the symlink, or the manifest
  std::string model;    // as StoredFile::model ("" when the store files it under no model)
  std::string missing;  // the symlink's target as written, or the blob the manifest names
};

struct StoreListing {
  StoreKind kind = StoreKind::HubCache;
  std::string root;                     // absolute path of the store's folder
  std::vector<StoredFile> files;        // in path order
  std::vector<std::string> warnings;    // what was skipped and why (an unreadable folder, a corrupt manifest)
  std::vector<DanglingEntry> dangling;  // in path order
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
/// the snapshot path that points at it. A shared-store payload that no repo's blob links to is
/// listed by its own path with no model (its Xet-hash name is not a SHA-256: no free identity).
std::unique_ptr<StoreReader> open_hub_cache(std::string cache_dir);

/// Ollama's models folder (`$OLLAMA_MODELS`, `~/.ollama/models`, the Linux service's
/// `/usr/share/ollama/.ollama/models`): blobs `blobs/sha256-<hex>` (identity free), named by the
/// manifests `manifests/<host>/<namespace>/<model>/<tag>` (exactly four levels, as Ollama reads them)
/// that refer to them; `-partial` downloads. A manifest that is not Ollama's JSON is a warning.
std::unique_ptr<StoreReader> open_ollama(std::string models_dir);

/// A plain model folder: every file below it (symlinked folders not entered; a symlinked file, as
/// huggingface_hub <= 0.22 left in local dirs, followed and marked linked), named by its path in
/// the folder; `model` is the folder's own name. Bookkeeping under `.cache/huggingface/` is not
/// listed, except a download's `*.incomplete` temp file (partial). A file's identity is free when
/// its `--local-dir` record (`.cache/huggingface/download/<path>.metadata`) is current by
/// huggingface_hub's rule (cache/local_dir.hpp local_metadata_is_current) and its ETag is a digest
/// (64 hex = SHA-256, 40 hex = git blob SHA-1). Of a git clone's `.git/`, only the LFS objects
/// (`.git/lfs/objects/<2>/<2>/<sha256>`, a second full copy of every large file) are listed.
std::unique_ptr<StoreReader> open_model_folder(std::string folder);

/// LM Studio's models folder (`<home>/models`, or settings.json's `downloadsFolder`):
/// `<publisher>/<model>/<file>` (anything deeper belongs to that model too: an MLX folder). A
/// file less than two folders deep is listed with no model: LM Studio does not index it. No
/// identity is free (the names are the publisher's).
std::unique_ptr<StoreReader> open_lm_studio(std::string models_dir);

/// llama.cpp's legacy flat cache (`$LLAMA_CACHE`, `~/.cache/llama.cpp`; before 2026-03 and still
/// for `-dr` Docker models): the files at its top level. `manifest=<owner>=<repo>=<tag>.json` names
/// its ggufFile / mmprojFile as `<owner>_<repo>_<rfilename, '/' as '_'>` with the LFS SHA-256;
/// those files get model "<owner>/<repo>:<tag>", name rfilename and that digest. Sidecars
/// (`<f>.json`, `<f>.etag`, `<f>.lastModified`) and manifests are not listed;
/// `*.downloadInProgress` is partial. The Hub-layout folders beside them (llama.cpp since 2026-03)
/// are open_hub_cache's.
std::unique_ptr<StoreReader> open_llama_cpp(std::string cache_dir);

/// The datasets library's downloads folder (`$HF_DATASETS_CACHE/downloads`, 2.x): each file named
/// `<sha256(url)>[.<sha256(etag)>][.py]` with its `<name>.json` sidecar {"url", "etag"}. A Hub URL
/// (`.../datasets/<org>/<name>/resolve/<rev>/<path>`) gives model "dataset/<org>/<name>" and name
/// `<path>`; another URL gives no model and the URL as name. `*.incomplete` is partial, `*.lock`
/// and sidecars are not listed, `extracted/` (unpacked archives) is listed with no model.
std::unique_ptr<StoreReader> open_datasets_downloads(std::string downloads_dir);

/// Opens the reader for `kind` at `root`.
std::unique_ptr<StoreReader> open_store(StoreKind kind, std::string root);

/// What stores the folder `path` is, by its layout alone, in this order (a folder can be two: since
/// 2026-03 llama.cpp writes the Hub layout beside its legacy files):
/// - a Hub cache: at least one `<type>s--*` repo folder (cache/layout.hpp classify_hub_folder);
/// - Ollama: `manifests/` and `blobs/` folders;
/// - llama.cpp legacy: a `manifest=*=*=*.json` file at its top;
/// - datasets downloads: a `<64 hex>*.json` sidecar at its top;
/// - LM Studio: a folder whose parent is an LM Studio home (holds `.internal/` or `settings.json`
///   and this folder is its `models/`);
/// - a model folder: `.cache/huggingface/download/`, `config.json`, `model_index.json`, or a
///   `*.gguf` / `*.safetensors` file at its top (only when it is none of the above).
/// Errors: NotFound when `path` does not exist, InvalidArgument when it is not a folder or is no
/// store (the message names the path and what was looked for), PermissionDenied when unreadable.
Result<std::vector<StoreKind>> detect_stores(const std::string& path);

/// Where Ollama keeps models on this machine, in the order Ollama's rules give (research notes in
/// docs/stores.md): `ollama_models` ($OLLAMA_MODELS) when set, else `<home>/.ollama/models`, then the
/// Linux service's `/usr/share/ollama/.ollama/models`. Candidates only: callers check existence.
std::vector<std::string> ollama_models_candidates(const std::string& ollama_models, const std::string& home);

/// Where LM Studio keeps models (lmstudio-js findLMStudioHome): the home is the content of
/// `<home>/.lmstudio-home-pointer` when that file exists, else `<home>/.cache/lm-studio` when it
/// exists (legacy), else `<home>/.lmstudio`; its models folder is settings.json's `downloadsFolder`
/// when set, else `<home>/models`. Reads those two small files; checks nothing else.
std::string lm_studio_models_folder(const std::string& home);

/// llama.cpp's cache folder (common.cpp fs_get_cache_directory): `llama_cache` ($LLAMA_CACHE) when
/// set, else `<xdg_cache_home>/llama.cpp`, else `<home>/.cache/llama.cpp`. "" when all are empty.
std::string llama_cpp_cache_folder(const std::string& llama_cache, const std::string& xdg_cache_home, const std::string& home);

/// The datasets library's downloads folder (datasets config.py): `<datasets_cache>/downloads` with
/// datasets_cache = $HF_DATASETS_CACHE, else `<hf_home>/datasets`. "" when both are empty.
std::string datasets_downloads_folder(const std::string& datasets_cache, const std::string& hf_home);

/// The name `ollama list` shows for the manifest at manifests/<host>/<ns>/<model>/<tag>: the default
/// host `registry.ollama.ai` and namespace `library` are left out ("llama3:latest",
/// "me/mine:v1", "hf.co/org/repo:Q4_K_M").
std::string ollama_model_name(const std::string& host, const std::string& ns, const std::string& model, const std::string& tag);

}  // namespace hubcache::stores

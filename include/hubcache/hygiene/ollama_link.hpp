#pragma once
// `hubcache ollama link`: a cached GGUF registered in Ollama's store without a copy: the blob as a
// link of the Hub cache's blob (named by the LFS SHA-256 it already is), a config blob and a
// manifest written as Ollama's own pull writes them (stores/ollama_format.hpp), so `ollama list`
// shows the model and `ollama run NAME` loads it. `ollama create` is not used: since Ollama 0.30
// it rewrites the GGUF, a full copy (docs/stores.md).
#include <optional>
#include <string>

#include "hubcache/core/result.hpp"

namespace hubcache::hygiene {

struct OllamaLinkFile {
  std::string path;    // the bytes (a Hub cache blob, the link target resolved)
  std::string sha256;  // its SHA-256 (its LFS ETag), lower-case hex
};

struct OllamaLinkRequest {
  std::string models_dir;                   // Ollama's models folder ($OLLAMA_MODELS, ~/.ollama/models, ...)
  std::string name;                         // the model name, "[host/][namespace/]model[:tag]"
  OllamaLinkFile model;                     // the GGUF weights
  std::optional<OllamaLinkFile> projector;  // an mmproj GGUF, as the projector layer
  bool force = false;                       // replace another manifest of that name
};

struct OllamaLinkReport {
  std::string manifest;            // the manifest's path
  std::string model;               // the name as `ollama list` shows it
  bool manifest_written = false;   // false: an identical manifest was already there
  std::size_t blobs_linked = 0;    // weights/projector blobs made now (reflink, else hardlink)
  std::size_t blobs_present = 0;   // already there as this very file (same inode)
  std::size_t blobs_separate = 0;  // already there as a separate copy of the same digest (left: `dedupe` links it)
};

/// Registers the model. The blobs are written before the manifest (Ollama prunes unreferenced blobs
/// only at start and after an hour). Nothing is placed in `blobs/` but digest-named files (a
/// temporary name lives for one rename). Checks, each a clear error that changes nothing:
/// - the folder is an Ollama store: `manifests/` and `blobs/` folders (NotFound: "run Ollama once"),
///   whose existing manifests are schemaVersion 2 JSON (InvalidArgument: a format this does not know);
/// - it is writable (PermissionDenied) and on the cache's filesystem (InvalidArgument: a link cannot
///   cross filesystems, and a symlink into a home folder is unreadable to Ollama's service user);
/// - the owner of `blobs/` (Ollama's service user) can read the cache's file (PermissionDenied);
/// - the file's bytes have the SHA-256 it claims (Integrity: Ollama never checks a blob it finds);
/// - another manifest already has that name (Conflict, unless `force`).
Result<OllamaLinkReport> ollama_link(const OllamaLinkRequest& request);

}  // namespace hubcache::hygiene

#pragma once
// `hubcache import --from-ollama NAME:TAG --repo ORG/NAME`: the reverse of `ollama link`. The GGUF of
// a model Ollama pulled becomes a Hub cache entry whose blob is a link of Ollama's blob (no copy):
// the weights layer, and a projector layer when there is one, imported by manage's import
// (hubcache/manage/import.hpp) from a list of files, so the crash-safe order, the locks, the ref
// rules and the commit rules are the import's.
//
// The blob is named by the SHA-256 of its bytes, which the import computes and which must equal the
// digest Ollama's manifest names, so a later online `hf_hub_download` of the same file at the Hub's
// real commit finds the blob and downloads nothing. Ollama's files are never modified, moved or
// renamed: their names, modes and owner stay as Ollama made them.
#include <string>
#include <vector>

#include "hubcache/core/result.hpp"
#include "hubcache/manage/import.hpp"

namespace hubcache::hygiene {

struct OllamaImportRequest {
  std::string models_dir;  // Ollama's models folder ($OLLAMA_MODELS, ~/.ollama/models, ...)
  std::string name;        // the model, "[host/][namespace/]model[:tag]" as `ollama list` shows it
  /// repo, revision, commit, cache_dir, force, disable_symlinks, threads as for a folder import;
  /// source_dir, files and mode are set from this request.
  ImportOptions import;
  /// The weights' path in the repo; empty: "<model>-<tag>.gguf" (Ollama does not keep the Hub's
  /// file name). A projector goes beside it as "mmproj-<file name>".
  std::string file;
  /// Copy the bytes when Ollama's store is on another filesystem than the cache (a link cannot
  /// cross filesystems); without it that case is refused.
  bool copy = false;
};

struct OllamaImportPlan {
  ImportPlan import;                  // what execute_import carries out
  std::string model;                  // the name as `ollama list` shows it
  std::string manifest;               // the manifest read
  std::vector<std::string> left_out;  // media types of layers that are Ollama's own (template, params, license...)
  /// The repo's snapshots already link every imported layer's blob (the model came from this cache
  /// by `ollama link`, or was imported before): where, as "<commit>/<path>". Then nothing is planned
  /// (`import` holds only options and repo_folder, and execute_import must not be called).
  std::vector<std::string> already_cached;
};

/// Reads the model's manifest and plans the import; writes nothing (it is also the dry run). The
/// plan's hashing proves Ollama's blob holds the bytes its digest names.
/// Errors, each changing nothing:
/// - InvalidArgument: a bad model name; a manifest this version does not know (see
///   stores::parse_ollama_manifest) or without exactly one weights layer; Ollama's store on another
///   filesystem than the cache without `copy`; the import's own input errors;
/// - NotFound: no Ollama store at models_dir (no manifests/ or blobs/), no model of that name
///   ("`ollama list` shows the names"), or a blob the manifest names is missing;
/// - Integrity: a blob whose size or SHA-256 is not what the manifest says (Ollama never rechecks
///   a blob it has: `ollama pull` it again);
/// - PermissionDenied: the cache folder (or its nearest existing parent) is not writable; without
///   `copy`, a blob the kernel would not let this user hardlink (fs.protected_hardlinks: not its
///   owner and not writable), which would otherwise silently become a copy.
/// A blob under Ollama's old name ("sha256:<hex>", before 0.1.30) is found as Ollama finds it.
Result<OllamaImportPlan> plan_ollama_import(const OllamaImportRequest& request);

}  // namespace hubcache::hygiene

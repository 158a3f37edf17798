#pragma once
// Step 1 of transformers' from_pretrained / cached_file: a model named by the path of a local
// folder is used directly. The decision is transformers' own: `os.path.isdir(name_or_path)` is
// asked first (relative to the working directory, symlinks followed), so a folder named like a
// repo id (`org/name`) that exists wins over the Hub repo; anything else must be a repo id.
// Every call of the resolve module that names a model (try_to_load_from_cache, resolve_snapshot,
// Downloader::download_file / snapshot_download) decides this way.
#include <optional>
#include <string>
#include <vector>

#include "hubcache/util/pattern.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

/// `name_or_path` itself when it names an existing folder (after following symlinks), else nullopt.
std::optional<std::string> local_model_folder(const std::string& name_or_path);

/// For a name that is not a folder: validate_repo_id, with a message that says both readings
/// failed. Errors: InvalidRepoId ("neither a folder that exists nor a valid repo id ...", ending
/// with validate_repo_id's message, so its advice -- e.g. --repo-type dataset and
/// hf://datasets/org/ds for "datasets/org/ds" -- is the last word).
Result<void> validate_model_name(const std::string& name_or_path);

/// `<folder>/<filename>` as given (not made absolute), like cached_file returns it.
/// Errors: InvalidPath (filename fails validate_repo_path), NotFound naming the folder when
/// there is no such file in it (transformers: "<folder> does not appear to have a file named ...").
Result<std::string> local_folder_file(const std::string& folder, const std::string& filename);

/// The files below `folder` (symlinks to files followed, '/'-joined, sorted) that `filter`
/// selects; hf's local-dir metadata (`.cache/huggingface/`) is left out. Errors: Io.
Result<std::vector<std::string>> local_folder_files(const std::string& folder, const PathFilter& filter);

}  // namespace hubcache

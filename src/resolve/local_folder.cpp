#include "hubcache/cache/local_dir.hpp"
#include "hubcache/resolve/local_folder.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/util/dir_walk.hpp"

namespace hubcache {

std::optional<std::string> local_model_folder(const std::string& name_or_path) {
  if (name_or_path.empty()) return std::nullopt;
  std::error_code ec;
  if (std::filesystem::is_directory(name_or_path, ec)) return name_or_path;
  return std::nullopt;
}

Result<void> validate_model_name(const std::string& name_or_path) {
  auto ok = validate_repo_id(name_or_path);
  if (ok) return ok;
  // The repo id's own advice (e.g. the repo type for "datasets/org/ds") is the last word, and its remedy the remedy.
  Error e = std::move(ok).error();
  e.message = "'" + name_or_path +
              "' is neither a folder that exists nor a valid repo id (give the path of a local "
              "model folder or a repo id like org/name): " +
              e.message;
  e.code = ErrorCode::InvalidRepoId;
  return fail(std::move(e));
}

Result<std::string> local_folder_file(const std::string& folder, const std::string& filename) {
  HUBCACHE_TRY(validate_repo_path(filename));
  const std::string path = folder + (folder.ends_with('/') ? "" : "/") + filename;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return fail(Error{ErrorCode::NotFound,
                      "the local folder '" + folder + "' does not have a file named '" + filename +
                          "'. A name that is an existing folder is used as the model itself (as from_pretrained "
                          "does); to use the Hub repo of that name, run from another directory.",
                      path,
                      std::nullopt,
                      {filename}});
  return path;
}

Result<std::vector<std::string>> local_folder_files(const std::string& folder, const PathFilter& filter) {
  std::vector<std::string> out;
  std::optional<Error> failure;
  fs::walk_folder(
      folder, [](const std::string& rel, const std::string&) { return rel != k_local_meta_dir; },
      [&](const fs::FolderEntry& e) {
        if ((S_ISREG(e.lst.st_mode) || (S_ISLNK(e.lst.st_mode) && fs::is_file(e.path))) && filter.selects(e.rel))
          out.push_back(e.rel);
      },
      [&](const std::string& path, int err, fs::WalkFailure what) {
        if (!failure)
          failure = Error(ErrorCode::Io,
                          "cannot list the local model folder '" + folder + "': " + fs::to_string(what) + " '" + path +
                              "': " + std::strerror(err) + ". Check its permissions.",
                          folder);
      });
  if (failure) return fail(std::move(*failure));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace hubcache

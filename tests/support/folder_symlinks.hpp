#pragma once
// Caches where one folder of a repo is a symlink out of the cache (issue 9 section 4): the repo
// folder, its snapshots/ or snapshots/<commit>. The link leads to a complete, healthy repo outside
// the cache (so a command that follows it finds files whose checksums match), while the cache
// holds real blobs/ and refs/ for the deeper variants. Every command must refuse such a folder
// (cache/folders.hpp) and never read, serve, delete or write through it.
#include <filesystem>
#include <string>

#include "cache_builder.hpp"

namespace hubcache::test {

enum class LinkedFolder { Repo, Snapshots, Snapshot };

inline const char* to_string(LinkedFolder f) {
  return f == LinkedFolder::Repo ? "repo folder" : f == LinkedFolder::Snapshots ? "snapshots folder" : "snapshot folder";
}

/// Builds `repo` at `commit` (config.json, refs/main) in `outside`/<folder> and links the chosen
/// folder of `cache_root` to it. Returns the path of the link in the cache.
inline std::string link_folder_out(const std::string& cache_root, const std::string& outside, const RepoRef& repo,
                                   const std::string& commit, LinkedFolder which) {
  namespace sfs = std::filesystem;
  CacheBuilder out(outside);
  out.add_file(repo, commit, "config.json", "{\"from\": \"outside\"}");
  out.add_ref(repo, "main", commit);
  const RepoLayout there = out.layout(repo);
  const RepoLayout here(cache_root, repo);
  sfs::create_directories(cache_root);
  if (which == LinkedFolder::Repo) {
    sfs::create_directory_symlink(there.folder(), here.folder());
    return here.folder();
  }
  sfs::create_directories(here.blobs_dir());
  CacheBuilder(cache_root).add_ref(repo, "main", commit);
  if (which == LinkedFolder::Snapshots) {
    sfs::create_directory_symlink(there.snapshots_dir(), here.snapshots_dir());
    return here.snapshots_dir();
  }
  sfs::create_directories(here.snapshots_dir());
  sfs::create_directory_symlink(there.snapshot_dir(commit), here.snapshot_dir(commit));
  return here.snapshot_dir(commit);
}

inline constexpr LinkedFolder k_linked_folders[] = {LinkedFolder::Repo, LinkedFolder::Snapshots, LinkedFolder::Snapshot};

}  // namespace hubcache::test

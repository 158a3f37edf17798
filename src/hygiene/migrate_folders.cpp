#include "migrate_folders.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/local_dir.hpp"
#include "hubcache/hygiene/views.hpp"
#include "hubcache/util/compare.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::hygiene::detail {

std::string local_dir_commit(const std::string& dir) {
  std::vector<std::string> records;
  fs::walk_folder(
      LocalDirLayout(dir).download_dir(), nullptr,
      [&](const fs::FolderEntry& e) {
        if (S_ISREG(e.lst.st_mode) && e.name.ends_with(k_local_metadata_suffix)) records.push_back(e.path);
      },
      [](const std::string&, int, fs::WalkFailure) {});
  std::sort(records.begin(), records.end());
  for (const auto& r : records)
    if (auto text = fs::read_file(r, 4096))
      if (auto m = parse_local_metadata(*text); m && is_commit_hash(m->commit)) return m->commit;
  return {};
}

std::vector<RepoRef> repos_with_commit(const std::vector<std::string>& caches, const std::string& commit) {
  std::vector<RepoRef> out;
  for (const auto& cache : caches) {
    DIR* d = ::opendir(cache.c_str());
    if (!d) continue;
    while (const dirent* e = ::readdir(d)) {
      auto repo = parse_repo_folder_name(e->d_name);
      if (!repo || !fs::is_dir(RepoLayout(cache, *repo).snapshot_dir(commit))) continue;
      if (std::find(out.begin(), out.end(), *repo) == out.end()) out.push_back(*repo);
    }
    ::closedir(d);
  }
  return out;
}

std::vector<std::string> verify_import(const ImportPlan& plan) {
  std::vector<std::string> out;
  const RepoLayout layout(plan.options.cache_dir, plan.options.repo);
  for (const auto& f : plan.files) {
    const std::string where = plan.options.source_dir + "/" + f.path;
    struct stat st {};
    if (::stat(layout.pointer_path(plan.commit, f.path).c_str(), &st) != 0) {
      out.push_back(where + ": not in the cache");
      continue;
    }
    if (static_cast<std::uint64_t>(st.st_size) != f.size) {
      out.push_back(where + ": the cache's file has another size");
      continue;
    }
    if (static_cast<std::uint64_t>(st.st_dev) == f.stamp.dev && static_cast<std::uint64_t>(st.st_ino) == f.stamp.ino) continue;
    auto same = fs::same_contents(f.read_from, layout.pointer_path(plan.commit, f.path));
    if (!same)
      out.push_back(where + ": " + same.error().message);
    else if (!*same)
      out.push_back(where + ": the cache's file holds other bytes");
  }
  return out;
}

bool already_linked(const ImportPlan& plan) {
  const RepoLayout layout(plan.options.cache_dir, plan.options.repo);
  for (const auto& f : plan.files) {
    struct stat st {};
    if (::stat(layout.blob_path(f.blob).c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_dev) != f.stamp.dev ||
        static_cast<std::uint64_t>(st.st_ino) != f.stamp.ino)
      return false;
  }
  return !plan.files.empty();
}

Result<bool> retire_folder(const ImportPlan& plan, bool leave_link) {
  const std::string& dir = plan.options.source_dir;
  const RepoLayout layout(plan.options.cache_dir, plan.options.repo);
  if (leave_link) {
    // Each file becomes a link of its blob (a copy across filesystems: a symlink), with the
    // local-dir records, so the folder keeps working and the bytes live once, in the cache.
    std::vector<LocalDirFile> files;
    for (const auto& f : plan.files)
      files.push_back({f.path, fs::absolute_real(layout.pointer_path(plan.commit, f.path)), f.blob});
    HUBCACHE_TRY(link_local_dir(files, plan.commit, dir, plan.same_filesystem ? LinkKind::Hardlink : LinkKind::Symlink, &layout));
    return !plan.skipped.empty();
  }
  bool kept = !plan.skipped.empty();
  for (const auto& f : plan.files) {
    struct stat st {};
    if (::lstat(f.source.c_str(), &st) != 0) continue;  // removed by an earlier, interrupted run
    if (static_cast<std::uint64_t>(st.st_ino) != f.stamp.ino && f.source == f.read_from) {
      kept = true;  // replaced since it was imported: not the file that verified
      continue;
    }
    if (::unlink(f.source.c_str()) != 0) return fail(errno_error(errno, "cannot remove", f.source));
  }
  if (kept) return true;
  HUBCACHE_TRY(fs::remove_all(LocalDirLayout(dir).meta_dir()));
  // Folders left empty, deepest first, then the folder itself.
  std::vector<std::string> folders;
  fs::walk_folder(
      dir,
      [&](const std::string& rel, const std::string&) {
        folders.push_back(dir + "/" + rel);
        return true;
      },
      [](const fs::FolderEntry&) {}, [](const std::string&, int, fs::WalkFailure) {});
  std::sort(folders.begin(), folders.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& f : folders) ::rmdir(f.c_str());
  return ::rmdir(dir.c_str()) != 0;
}

}  // namespace hubcache::hygiene::detail

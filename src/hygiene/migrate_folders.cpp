#include "migrate_folders.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

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

std::vector<std::string> refs_naming(const RepoLayout& layout, const std::string& commit) {
  std::vector<std::string> out;
  fs::walk_folder(
      layout.refs_dir(), nullptr,
      [&](const fs::FolderEntry& e) {
        if (S_ISREG(e.lst.st_mode) && e.lst.st_size <= 4096)
          if (auto text = fs::read_file(e.path, 4096); text && *text == commit) out.push_back(e.rel);
      },
      [](const std::string&, int, fs::WalkFailure) {});
  std::sort(out.begin(), out.end());
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
  // A file left in the folder (no metadata) that is a symlink to an imported one keeps its target.
  std::set<std::string> targets_kept;
  for (const auto& rel : plan.skipped) {
    struct stat st {};
    if (::lstat((dir + "/" + rel).c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      if (auto real = fs::real_path(dir + "/" + rel)) targets_kept.insert(*real);
  }
  bool kept = !plan.skipped.empty();
  const LocalDirLayout local(dir);
  std::set<std::string> emptied;  // folders that held what was removed
  for (const auto& f : plan.files) {
    struct stat st {};
    if (::lstat(f.source.c_str(), &st) != 0) continue;  // removed by an earlier, interrupted run
    if (targets_kept.contains(f.source) || (static_cast<std::uint64_t>(st.st_ino) != f.stamp.ino && f.source == f.read_from)) {
      kept = true;  // a kept link's target, or replaced since it was imported: not the file that verified
      continue;
    }
    if (::unlink(f.source.c_str()) != 0) return fail(errno_error(errno, "cannot remove", f.source));
    ::unlink(local.metadata_path(f.path).c_str());  // its record goes with it
    for (const std::string& p : {f.source, local.metadata_path(f.path)})
      for (std::string up = fs::parent(p); up != dir && fs::is_within(dir, up); up = fs::parent(up)) emptied.insert(up);
  }
  if (!kept) HUBCACHE_TRY(fs::remove_all(local.meta_dir()));
  // The folders this left empty (when the folder goes: every empty one), deepest first, then the
  // folder itself.
  std::vector<std::string> folders(emptied.begin(), emptied.end());
  if (!kept)
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

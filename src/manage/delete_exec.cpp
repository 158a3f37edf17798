// DeletePlan::execute: repos, snapshots, refs, blobs, then incomplete downloads (docs/cache-management.md#delete order).
#include <map>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/manage/delete_plan.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/lock.hpp"
#include "safe_remove.hpp"
#include "shared_refs.hpp"
#include "hubcache/cache/walk.hpp"

namespace hubcache {
namespace {

// <root>/<folder> for any path inside a repo folder.
std::string repo_folder_of(const std::string& root, const std::string& path) {
  const std::string rel = path.substr(root.size() + 1);
  return root + "/" + rel.substr(0, rel.find('/'));
}

bool has_entries(const std::string& dir, std::string_view suffix = {}) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return errno != ENOENT;  // unreadable: assume content, keep it
  DirReader reader(fd.get());
  const char* name = nullptr;
  unsigned char type = DT_UNKNOWN;
  while (reader.next(name, type)) {
    const std::string_view n = name;
    if (suffix.empty() || (n.size() > suffix.size() && n.ends_with(suffix))) return true;
  }
  return reader.error() != 0;  // unreadable: assume content, keep it
}

}  // namespace

DeleteReport DeletePlan::execute() const {
  DeleteReport report;
  auto remove = [&](const std::string& path) {
    auto out = manage_detail::safe_remove(m_root, path);
    for (auto& p : out.problems) report.problems.push_back(std::move(p));
    if (out.missing) report.problems.push_back({path, "already gone: '" + path + "'", ErrorCode::NotFound});
    return out.removed && out.problems.empty();
  };
  std::map<std::string, std::size_t> revisions_of;
  for (const auto& r : m_repos) revisions_of[r.path] = r.revisions.size();

  // The store targets of every shared entry going, recorded before anything is unlinked.
  const SharedBlobStore store(m_root);
  manage_detail::SharedEntries touched;
  for (const auto& s : m_shared) touched[s.hash];
  for (const auto& dir : m_repo_dirs) manage_detail::collect_shared_entries(store, dir, touched);

  std::vector<std::string> removed_repos;
  for (std::size_t i = 0; i < m_repo_dirs.size(); ++i) {
    if (!remove(m_repo_dirs[i])) continue;
    removed_repos.push_back(m_repo_dirs[i]);
    ++report.repos_deleted;
    report.revisions_deleted += revisions_of[m_repo_dirs[i]];
    report.freed_bytes += m_repo_dir_sizes[i];
  }
  for (std::size_t i = 0; i < m_snapshot_dirs.size(); ++i) {
    if (!remove(m_snapshot_dirs[i])) continue;
    ++report.revisions_deleted;
    report.freed_bytes += m_snapshot_sizes[i];
  }
  for (const auto& ref : m_ref_files) {
    remove(ref);
    // refs/refs/pr/1 leaves refs/refs/pr/ and refs/refs/ behind: drop them when empty.
    const std::string refs_dir = repo_folder_of(m_root, ref) + "/refs";
    for (std::string dir = fs::parent(ref); dir.size() > refs_dir.size() && fs::is_within(refs_dir, dir); dir = fs::parent(dir))
      if (!manage_detail::remove_empty_dir(m_root, dir)) break;
  }
  for (std::size_t i = 0; i < m_blob_files.size(); ++i)
    if (remove(m_blob_files[i])) report.freed_bytes += m_blob_sizes[i];

  // Sweep only the touched hashes, each under its lock (research note 4.3).
  for (const auto& [hash, entries] : touched) {
    auto freed = store.sweep(hash);
    if (!freed) {
      report.problems.push_back({store.payload_path(hash), freed.error().message, freed.error().code});
    } else if (*freed > 0) {
      ++report.shared_blobs_deleted;
      report.freed_bytes += *freed;
    }
  }

  // Xet records follow their blobs (cache/xet_records.hpp): after any removal no record names a
  // blob that is gone, whether this plan removed it or it went some other way (by hand, another
  // tool). A few directory reads per repo.
  for (const auto& layout : list_repo_layouts(m_root)) report.xet_records_deleted += remove_orphan_xet_records(layout);

  for (const auto& f : m_incomplete) {
    bool gone_with_repo = false;
    for (const auto& r : removed_repos) gone_with_repo = gone_with_repo || fs::is_within(r, f.path);
    if (gone_with_repo) {
      ++report.incomplete_deleted;
      report.freed_bytes += f.size;
      continue;
    }
    // Hold the download's lock while deleting, so a download starting now waits or sees no file.
    // No lock dir means no download ever locked in this repo: nothing to wait for.
    FileLock lock;
    struct stat st {};
    if (::lstat(fs::parent(f.lock_path).c_str(), &st) == 0) {
      auto l = FileLock::try_acquire(f.lock_path);
      if (!l || !l->held()) {
        report.skipped_locked.push_back(f.path);
        continue;
      }
      lock = std::move(*l);
    }
    for (const auto& sidecar : f.sidecars) remove(sidecar);  // a data file without its state is never resumed
    if (remove(f.path)) {
      ++report.incomplete_deleted;
      report.freed_bytes += f.size;
    }
  }

  // Repo folders left without any snapshot and any download in progress are useless: drop them.
  for (const auto& repo : m_touched_repos) {
    struct stat st {};
    if (::lstat(repo.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (has_entries(repo + "/snapshots") || has_entries(repo + "/blobs", k_incomplete_suffix)) continue;
    remove(repo);
  }
  return report;
}

}  // namespace hubcache

// plan_delete / plan_prune: selection of repos and revisions, then blob accounting (docs/cache-management.md#delete).
#include "hubcache/manage/delete_plan.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/lock.hpp"
#include "removal.hpp"
#include "safe_remove.hpp"
#include "shared_refs.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache {
namespace {

std::string folder_of(const std::string& root, const std::string& repo_path) { return repo_path.substr(root.size() + 1); }

/// True if a live download holds the per-blob lock of this `.incomplete` file. A missing lock
/// file means nobody holds it (and is not created: planning never writes).
bool held_by_download(const PlannedIncomplete& f) {
  struct stat st {};
  if (::lstat(f.lock_path.c_str(), &st) != 0) return false;
  auto lock = FileLock::try_acquire(f.lock_path);
  return !lock || !lock->held();  // an unreadable lock counts as held: stay on the safe side
}

struct Selection {
  std::set<std::size_t> revisions;  // indices into CachedRepoInfo::revisions
  bool whole = false;               // a repo target: the folder goes even with no revision
};

}  // namespace

std::uint64_t DeletePlan::incomplete_bytes() const {
  std::uint64_t n = 0;
  for (const auto& f : m_incomplete) n += f.size;
  return n;
}

std::uint64_t DeletePlan::shared_bytes() const {
  std::uint64_t n = 0;
  for (const auto& s : m_shared) n += s.size;
  return n;
}

std::size_t DeletePlan::unreferenced_shared_count() const {
  return static_cast<std::size_t>(std::count_if(m_shared.begin(), m_shared.end(), [](const auto& s) { return s.unreferenced; }));
}

std::size_t DeletePlan::entire_repo_count() const {
  return static_cast<std::size_t>(std::count_if(m_repos.begin(), m_repos.end(), [](const auto& r) { return r.entire; }));
}

std::size_t DeletePlan::partial_revision_count() const {
  std::size_t n = 0;
  for (const auto& r : m_repos)
    if (!r.entire) n += r.revisions.size();
  return n;
}

std::size_t DeletePlan::total_revision_count() const {
  std::size_t n = 0;
  for (const auto& r : m_repos) n += r.revisions.size();
  return n;
}

class DeletePlanBuilder {
 public:
  static DeletePlan build(const HFCacheInfo& cache, const std::map<std::size_t, Selection>& selected,
                          const std::set<std::size_t>& broken, bool prune, std::vector<std::string> unknown) {
    const bool prune_incomplete = prune;
    const SharedBlobStore store(cache.cache_dir);
    manage_detail::SharedEntries deleting;  // shared entries going, by hash
    DeletePlan plan;
    plan.m_root = cache.cache_dir;
    plan.m_unknown = std::move(unknown);

    // Live downloads: a folder holding one is never deleted as a whole.
    std::set<std::string> busy_folders;
    std::vector<PlannedIncomplete> incomplete;
    std::set<std::string> moved_folders;  // moved out of the cache (`cache move --to`): left alone
    for (const auto& r : cache.repos)
      if (!r.moved_to.empty()) moved_folders.insert(r.path.substr(r.path.find_last_of('/') + 1));
    for (const auto& f : cache.incomplete_files) {
      if (moved_folders.count(f.repo_folder)) continue;
      PlannedIncomplete p{f.path, cache.cache_dir + "/" + std::string(k_locks_dir) + "/" + f.repo_folder + "/" + f.etag + ".lock",
                          f.size, f.sidecars};
      if (held_by_download(p)) {
        busy_folders.insert(f.repo_folder);
        if (prune_incomplete) plan.m_locked.push_back(std::move(p));
      } else if (prune_incomplete) {
        incomplete.push_back(std::move(p));
      }
    }

    for (const auto& [idx, sel] : selected) {
      const CachedRepoInfo& repo = cache.repos[idx];
      PlannedRepo pr{repo.repo, repo.path, false, false, {}, 0};
      const bool all = sel.whole || sel.revisions.size() == repo.revisions.size();
      pr.entire = all && !busy_folders.count(folder_of(cache.cache_dir, repo.path));
      std::set<std::size_t> chosen = sel.revisions;
      if (all)
        for (std::size_t i = 0; i < repo.revisions.size(); ++i) chosen.insert(i);
      for (auto i : chosen) {
        const CachedRevisionInfo& rev = repo.revisions[i];
        pr.revisions.push_back({rev.commit, rev.refs, rev.size_on_disk});
      }
      if (pr.entire) {
        // Its shared entries free nothing by themselves: their payloads are counted below.
        pr.size_on_disk = repo.size_on_disk;
        for (const auto& b : repo.blobs)
          if (!b.shared_hash.empty()) pr.size_on_disk -= std::min(b.size, pr.size_on_disk);
        manage_detail::collect_shared_entries(store, repo.path, deleting);
        plan.m_repo_dirs.push_back(repo.path);
        plan.m_repo_dir_sizes.push_back(pr.size_on_disk);
      } else {
        pr.size_on_disk = plan_revisions(plan, repo, chosen, deleting);
        plan.m_touched_repos.push_back(repo.path);
      }
      plan.m_revisions_bytes += pr.size_on_disk;
      plan.m_repos.push_back(std::move(pr));
    }
    for (auto idx : broken) {
      const SkippedRepo& s = cache.skipped_repos[idx];
      PlannedRepo pr{s.repo, s.path, true, true, {}, manage_detail::tree_size(s.path)};
      if (busy_folders.count(folder_of(cache.cache_dir, s.path))) continue;  // a download is filling it
      manage_detail::collect_shared_entries(store, s.path, deleting);
      plan.m_repo_dirs.push_back(s.path);
      plan.m_repo_dir_sizes.push_back(pr.size_on_disk);
      plan.m_revisions_bytes += pr.size_on_disk;
      plan.m_repos.push_back(std::move(pr));
    }
    for (auto& f : incomplete) {
      plan.m_touched_repos.push_back(fs::parent(fs::parent(f.path)));
      plan.m_incomplete.push_back(std::move(f));
    }

    plan_shared(plan, store, deleting, prune);

    std::sort(plan.m_repos.begin(), plan.m_repos.end(), [](const PlannedRepo& a, const PlannedRepo& b) {
      const std::string ta = to_string(a.repo.type), tb = to_string(b.repo.type);
      if (ta != tb) return ta < tb;
      const std::string la = to_lower(a.repo.id), lb = to_lower(b.repo.id);
      return la != lb ? la < lb : a.repo.id < b.repo.id;
    });
    std::sort(plan.m_touched_repos.begin(), plan.m_touched_repos.end());
    plan.m_touched_repos.erase(std::unique(plan.m_touched_repos.begin(), plan.m_touched_repos.end()), plan.m_touched_repos.end());
    return plan;
  }

 private:
  // The payloads the deletion touches (research note 4.2): each counted once, and only when every
  // valid reference in its readable manifest is going. Prune adds the unreferenced ones (4.4).
  static void plan_shared(DeletePlan& plan, const SharedBlobStore& store, const manage_detail::SharedEntries& deleting,
                          bool prune) {
    if (!store.marked()) return;
    for (const auto& [hash, entries] : deleting) {
      PlannedSharedBlob s{hash, store.payload_path(hash), 0, false};
      auto eval = store.evaluate_manifest(hash);
      struct stat st {};
      const bool all_going =
          eval && !eval->valid.empty() &&
          std::all_of(eval->valid.begin(), eval->valid.end(), [&](const std::string& ref) { return entries.count(ref) > 0; });
      if (all_going && ::lstat(s.path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) s.size = static_cast<std::uint64_t>(st.st_size);
      plan.m_shared.push_back(std::move(s));
    }
    if (prune) {
      if (auto orphans = store.unreferenced()) {
        for (const auto& p : *orphans)
          if (!deleting.count(p.hash)) plan.m_shared.push_back({p.hash, p.path, p.size, true});
      }
    }
    std::sort(plan.m_shared.begin(), plan.m_shared.end(),
              [](const PlannedSharedBlob& a, const PlannedSharedBlob& b) { return a.hash < b.hash; });
  }

  // Snapshots, refs and no-longer-used blobs of some revisions of a repo; returns bytes freed
  // (shared entries are only unlinked: their payloads are planned by plan_shared).
  static std::uint64_t plan_revisions(DeletePlan& plan, const CachedRepoInfo& repo, const std::set<std::size_t>& chosen,
                                      manage_detail::SharedEntries& deleting) {
    // A blob goes when no kept revision names it (each blob once, however many revisions name it).
    std::vector<bool> kept(repo.blobs.size(), false), planned(repo.blobs.size(), false);
    for (std::size_t i = 0; i < repo.revisions.size(); ++i)
      if (!chosen.count(i))
        for (const auto id : repo.revisions[i].blob_ids) kept[id] = true;
    std::uint64_t freed = 0;
    for (auto i : chosen) {
      const CachedRevisionInfo& rev = repo.revisions[i];
      std::uint64_t in_snapshot = 0;
      std::vector<const CachedBlobInfo*> going;  // this revision's, by path
      for (const auto id : rev.blob_ids) {
        const CachedBlobInfo& b = repo.blobs[id];
        const manage_detail::Removal removal = manage_detail::removal_of(rev, b);
        if (removal == manage_detail::Removal::WithSnapshot) {
          in_snapshot += b.size;
        } else if (removal == manage_detail::Removal::BlobFile && !kept[id] && !planned[id]) {
          planned[id] = true;
          going.push_back(&b);
        }
      }
      std::sort(going.begin(), going.end(), [](const auto* a, const auto* b) { return a->path < b->path; });
      for (const auto* b : going) {
        const std::uint64_t size = b->shared_hash.empty() ? b->size : 0;
        if (!b->shared_hash.empty()) deleting[b->shared_hash].insert(b->path.substr(plan.m_root.size() + 1));
        plan.m_blob_files.push_back(b->path);
        plan.m_blob_sizes.push_back(size);
        freed += size;
      }
      plan.m_snapshot_dirs.push_back(rev.snapshot_path);
      plan.m_snapshot_sizes.push_back(in_snapshot);
      freed += in_snapshot;
      for (const auto& ref : rev.refs) plan.m_ref_files.push_back(repo_subpath(repo.path, k_refs_dir, ref));
    }
    return freed;
  }
};

Result<DeletePlan> plan_delete(const HFCacheInfo& cache, const std::vector<std::string>& targets) {
  std::vector<DeleteTarget> parsed;
  for (const auto& text : targets) {
    HUBCACHE_TRY_ASSIGN(DeleteTarget t, parse_delete_target(text));
    parsed.push_back(std::move(t));
  }
  return plan_delete_targets(cache, parsed);
}

Result<DeletePlan> plan_delete_targets(const HFCacheInfo& cache, const std::vector<DeleteTarget>& targets) {
  if (!cache.has_blobs) return fail(ErrorCode::InvalidArgument, "plan_delete needs a scan with ScanOptions::collect_blobs");
  std::map<std::size_t, Selection> selected;
  std::set<std::size_t> broken;
  std::vector<std::string> unknown;
  for (const auto& t : targets) {
    const std::string& text = t.text;
    if (t.kind == DeleteTarget::Kind::RepoRevision) {
      if (!t.type) return fail(ErrorCode::InvalidArgument, "revision target '" + text + "' names no repo type");
      bool found = false;
      for (std::size_t r = 0; r < cache.repos.size(); ++r) {
        if (cache.repos[r].repo.type != *t.type || cache.repos[r].repo.id != t.id) continue;
        for (std::size_t v = 0; v < cache.repos[r].revisions.size(); ++v)
          if (to_lower(cache.repos[r].revisions[v].commit) == to_lower(t.commit)) {
            selected[r].revisions.insert(v);
            found = true;
          }
      }
      if (!found) unknown.push_back(text);
      continue;
    }
    if (t.kind == DeleteTarget::Kind::Revision) {
      bool found = false;
      for (std::size_t r = 0; r < cache.repos.size(); ++r)
        for (std::size_t v = 0; v < cache.repos[r].revisions.size(); ++v)
          if (to_lower(cache.repos[r].revisions[v].commit) == t.commit) {
            selected[r].revisions.insert(v);
            found = true;
          }
      if (!found) unknown.push_back(text);
      continue;
    }
    // Repo targets: case-insensitive, an exact-case match wins over case variants.
    const auto matches = [&](const RepoRef& ref) {
      return (!t.type || ref.type == *t.type) && to_lower(ref.id) == to_lower(t.id);
    };
    std::vector<std::pair<bool, std::size_t>> hits;  // (broken, index)
    for (std::size_t r = 0; r < cache.repos.size(); ++r)
      if (matches(cache.repos[r].repo)) hits.push_back({false, r});
    for (std::size_t s = 0; s < cache.skipped_repos.size(); ++s)
      if (matches(cache.skipped_repos[s].repo)) hits.push_back({true, s});
    const auto ref_of = [&](const std::pair<bool, std::size_t>& h) -> const RepoRef& {
      return h.first ? cache.skipped_repos[h.second].repo : cache.repos[h.second].repo;
    };
    if (hits.size() > 1) {
      std::vector<std::pair<bool, std::size_t>> exact;
      for (const auto& h : hits)
        if (ref_of(h).id == t.id) exact.push_back(h);
      if (exact.size() != 1) {
        std::string names;
        for (const auto& h : hits) names += "\n  - " + ref_of(h).label();
        return fail(ErrorCode::InvalidArgument,
                    "target '" + text + "' matches several cached repos; name one as type/id:" + names);
      }
      hits = exact;
    }
    if (hits.empty()) {
      unknown.push_back(text);
    } else if (hits[0].first) {
      broken.insert(hits[0].second);
    } else {
      selected[hits[0].second].whole = true;
    }
  }
  for (const auto& [idx, sel] : selected)
    if (const auto& repo = cache.repos[idx]; !repo.moved_to.empty())
      return fail(ErrorCode::InvalidArgument,
                  repo.label() + " was moved out of the cache to " + repo.moved_to +
                      " (`cache move --to`): bring it back with `hubcache cache move " + repo.repo.id +
                      (repo.repo.type == RepoType::Model ? "" : " --repo-type " + std::string(to_string(repo.repo.type))) +
                      " --back` to delete from it, or remove " + repo.moved_to + " and then the link " + repo.path);
  return DeletePlanBuilder::build(cache, selected, broken, false, std::move(unknown));
}

Result<DeletePlan> plan_prune(const HFCacheInfo& cache) {
  if (!cache.has_blobs) return fail(ErrorCode::InvalidArgument, "plan_prune needs a scan with ScanOptions::collect_blobs");
  std::map<std::size_t, Selection> selected;
  std::vector<std::string> kept, moved;
  for (std::size_t r = 0; r < cache.repos.size(); ++r) {
    const auto& repo = cache.repos[r];
    if (!repo.moved_to.empty()) {
      moved.push_back(repo.label() + " at " + repo.moved_to);
      continue;
    }
    std::optional<Result<std::vector<std::string>>> pins;  // read once, only for repos with a detached revision
    for (std::size_t v = 0; v < repo.revisions.size(); ++v) {
      const auto& rev = repo.revisions[v];
      if (!rev.refs.empty()) continue;
      if (!pins) pins = read_pins(RepoLayout(cache.cache_dir, repo.repo));
      const bool pinned = !*pins || std::any_of((*pins)->begin(), (*pins)->end(),
                                                [&](const std::string& p) { return p == k_pin_all || p == rev.commit; });
      if (pinned)
        kept.push_back(repo.repo.label() + " " + rev.commit);
      else
        selected[r].revisions.insert(v);
    }
  }
  DeletePlan plan = DeletePlanBuilder::build(cache, selected, {}, true, {});
  plan.m_kept_pinned = std::move(kept);
  plan.m_kept_moved = std::move(moved);
  return plan;
}

}  // namespace hubcache

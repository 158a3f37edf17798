// `cache gc` plans (include/hubcache/manage/gc.hpp).
#include "hubcache/manage/gc.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/util/parallel.hpp"
#include "removal.hpp"

namespace hubcache {
namespace {

struct Candidate {
  const CachedRepoInfo* repo = nullptr;
  const CachedRevisionInfo* rev = nullptr;
  std::string protected_by;  // non-empty: never selected
  bool kept_newest = false;  // one of the repo's `keep` newest
};

/// Estimates, revision by revision, the bytes a removal frees: a blob when the last revision
/// of its repo using it goes and it was the inode's last name (a blob hardlinked into another repo
/// by dedupe, or from Ollama or LM Studio, frees nothing until every name goes; names outside the
/// cache never do), a shared payload when the last entry linking it goes. Counts are built per
/// repo on its first removal (a gc touches few repos of a large cache).
class FreedBytes {
 public:
  explicit FreedBytes(const HFCacheInfo& cache) : m_cache(cache) {}
  std::uint64_t remove(const CachedRepoInfo& repo, const CachedRevisionInfo& rev) {
    auto [it, fresh] = m_uses.try_emplace(&repo);
    std::vector<std::size_t>& uses = it->second;
    if (fresh) {
      uses.assign(repo.blobs.size(), 0);
      for (const auto& r : repo.revisions)
        for (const auto id : r.blob_ids) ++uses[id];
    }
    std::uint64_t freed = 0;
    for (const auto id : rev.blob_ids) {
      if (--uses[id] != 0) continue;
      const CachedBlobInfo& b = repo.blobs[id];
      if (manage_detail::removal_of(rev, b) == manage_detail::Removal::Keeps) continue;  // the plan leaves it
      if (!b.shared_hash.empty()) {
        if (--payload_uses()[b.shared_hash] == 0) freed += b.size;
        continue;
      }
      if (b.nlink <= 1 || ++m_names_gone[{b.dev, b.ino}] == b.nlink) freed += b.size;
    }
    return freed;
  }

 private:
  /// Shared payload -> repo entries linking it, over the whole cache (built once, when needed).
  std::unordered_map<std::string_view, std::size_t>& payload_uses() {
    if (!m_payloads) {
      m_payloads.emplace();
      for (const auto& repo : m_cache.repos)
        for (const auto& b : repo.blobs)
          if (!b.shared_hash.empty()) ++(*m_payloads)[b.shared_hash];
    }
    return *m_payloads;
  }
  const HFCacheInfo& m_cache;
  std::unordered_map<const CachedRepoInfo*, std::vector<std::size_t>> m_uses;     // revisions still using each blob
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t> m_names_gone;  // hardlinked blobs: names removed so far
  std::optional<std::unordered_map<std::string_view, std::size_t>> m_payloads;    // views of the scan's strings
};

/// The bytes the cache's blobs take: HFCacheInfo::size_on_disk (each shared payload once) with
/// each inode counted once, however many repos' tables hold it (a blob hardlinked under several
/// repos' blobs/ by dedupe, or one repo's pointer into another's blobs/), without the repos moved
/// out of the cache (their bytes are on another disk); apparent sizes.
std::uint64_t physical_size(const HFCacheInfo& cache) {
  using Inode = std::pair<std::uint64_t, std::uint64_t>;
  // Only two kinds of inode can be in several tables: a hardlinked blob, and the target of a name
  // outside the repo's own blobs/ (rare: a pointer into another repo's blobs/, a copied file;
  // found first, so that the common cache pays for its hardlinks alone).
  std::set<Inode> foreign;
  for (const auto& repo : cache.repos)
    if (repo.moved_to.empty())
      for (const auto& b : repo.blobs)
        if (b.shared_hash.empty() && !b.in_repo_blobs) foreign.insert({b.dev, b.ino});
  std::map<Inode, std::pair<std::uint64_t, std::size_t>> entries;  // inode -> size, table entries
  for (const auto& repo : cache.repos)
    if (repo.moved_to.empty())
      for (const auto& b : repo.blobs)
        if (b.shared_hash.empty() && (b.nlink > 1 || (!foreign.empty() && foreign.count({b.dev, b.ino})))) {
          auto& [size, count] = entries[{b.dev, b.ino}];
          size = b.size;
          ++count;
        }
  std::uint64_t total = cache.size_on_disk;
  for (const auto& repo : cache.repos)
    if (!repo.moved_to.empty()) total -= std::min(total, repo.size_on_disk);
  for (const auto& [inode, entry] : entries) total -= std::min(total, entry.first * (entry.second - 1));
  return total;
}

GcRevision describe(const Candidate& c, std::string reason) {
  return GcRevision{c.repo->repo, c.rev->commit, c.rev->refs, c.rev->last_used, c.rev->last_used_source, 0, std::move(reason)};
}

/// The revisions of one repo with their protection (pins, running download, keep).
void collect_repo(const CachedRepoInfo& repo, const GcOptions& o, std::vector<Candidate>& out,
                  std::vector<std::string>& warnings) {
  const auto layout = RepoLayout::of_folder(repo.path);
  std::string repo_protection;
  std::set<std::string> pinned_commits;
  if (layout) {
    auto pins = read_pins(*layout);
    if (!pins) {
      warnings.push_back(pins.error().message + "; keeping every revision of " + repo.label());
      repo_protection = "pins file unreadable";
    } else {
      for (const auto& p : *pins) {
        if (p == k_pin_all) repo_protection = "pinned";
        for (const auto& rev : repo.revisions)
          if (rev.commit == p || std::find(rev.refs.begin(), rev.refs.end(), p) != rev.refs.end())
            pinned_commits.insert(rev.commit);
      }
    }
    if (repo_protection.empty() && count_held_locks(layout->locks_dir(), 1) > 0) repo_protection = "a download is running";
    if (!repo.moved_to.empty()) repo_protection = "moved out of the cache to " + repo.moved_to;
  }
  std::vector<const CachedRevisionInfo*> newest;
  for (const auto& rev : repo.revisions) newest.push_back(&rev);
  std::sort(newest.begin(), newest.end(), [](const auto* a, const auto* b) {
    return a->last_modified != b->last_modified ? a->last_modified > b->last_modified : a->commit > b->commit;
  });
  std::set<const CachedRevisionInfo*> kept;
  if (o.keep)
    for (std::size_t i = 0; i < newest.size() && i < *o.keep; ++i) kept.insert(newest[i]);
  for (const auto& rev : repo.revisions) {
    Candidate c{&repo, &rev, repo_protection, kept.count(&rev) > 0};
    if (c.protected_by.empty() && pinned_commits.count(rev.commit)) c.protected_by = "pinned";
    out.push_back(std::move(c));
  }
}

std::optional<std::uint64_t> measured_free(const std::string& dir) {
  struct ::statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
}

}  // namespace

Result<GcPlan> plan_gc(const HFCacheInfo& cache, const GcOptions& o) {
  if (!o.max_size && !o.min_free && !o.unused_for && !o.keep)
    return fail(ErrorCode::InvalidArgument,
                "nothing to collect by: give --max-size SIZE, --min-free SIZE, --unused-for AGE or --keep N");
  if (o.keep && *o.keep == 0 && !o.max_size && !o.min_free && !o.unused_for)
    return fail(ErrorCode::InvalidArgument,
                "--keep 0 alone would remove every revision; use `cache rm` for that, or give another rule");
  if (!cache.has_blobs)
    return fail(ErrorCode::InvalidArgument, "plan_gc needs a scan that collected blobs (ScanOptions::collect_blobs)");

  // Pins and locks are files of each repo: read in parallel, kept in the scan's order.
  std::vector<std::vector<Candidate>> per_repo(cache.repos.size());
  std::vector<std::vector<std::string>> per_repo_warnings(cache.repos.size());
  parallel_for(cache.repos.size(), 0, [&](std::size_t i) { collect_repo(cache.repos[i], o, per_repo[i], per_repo_warnings[i]); });
  std::vector<std::string> warnings;
  std::vector<Candidate> all;
  all.reserve(cache.revision_count());
  for (std::size_t i = 0; i < per_repo.size(); ++i) {
    all.insert(all.end(), std::make_move_iterator(per_repo[i].begin()), std::make_move_iterator(per_repo[i].end()));
    warnings.insert(warnings.end(), std::make_move_iterator(per_repo_warnings[i].begin()),
                    std::make_move_iterator(per_repo_warnings[i].end()));
  }
  std::sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
    if (a.rev->last_used != b.rev->last_used) return a.rev->last_used < b.rev->last_used;
    if (a.repo->label() != b.repo->label()) return a.repo->label() < b.repo->label();
    return a.rev->commit < b.rev->commit;
  });

  std::optional<std::uint64_t> free_before;
  std::optional<std::uint64_t> needed;
  const std::uint64_t size_before = physical_size(cache);
  if (o.max_size) needed = size_before > *o.max_size ? size_before - *o.max_size : 0;
  if (o.min_free) {
    free_before = o.free_space ? o.free_space : measured_free(cache.cache_dir);
    if (!free_before) return fail(ErrorCode::Io, "cannot measure the free space of " + cache.cache_dir, cache.cache_dir);
    const std::uint64_t need = *free_before < *o.min_free ? *o.min_free - *free_before : 0;
    needed = std::max(needed.value_or(0), need);
  }

  FreedBytes estimate(cache);
  std::uint64_t freed = 0;
  std::vector<GcRevision> selected, kept;
  auto take = [&](const Candidate& c, std::string reason) {
    GcRevision r = describe(c, std::move(reason));
    r.freed = estimate.remove(*c.repo, *c.rev);
    freed += r.freed;
    selected.push_back(std::move(r));
  };
  std::vector<bool> taken(all.size(), false);
  // Pass 1: the rules that name revisions by themselves (age, keep alone).
  const bool keep_alone = o.keep && !o.max_size && !o.min_free && !o.unused_for;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Candidate& c = all[i];
    std::string reason;
    if (o.unused_for && c.rev->last_used < o.now - *o.unused_for)
      reason = "unused for longer than --unused-for";
    else if (keep_alone && !c.kept_newest)
      reason = "beyond the " + std::to_string(*o.keep) + " newest";
    if (reason.empty() || c.kept_newest) continue;
    if (!c.protected_by.empty()) {
      kept.push_back(describe(c, c.protected_by));
      continue;
    }
    take(c, std::move(reason));
    taken[i] = true;
  }
  // Pass 2: least recently used first until the size or free-space target is met.
  if (needed) {
    const std::string why = o.min_free ? "least recently used, for --min-free" : "least recently used, for --max-size";
    for (std::size_t i = 0; i < all.size() && freed < *needed; ++i) {
      const Candidate& c = all[i];
      if (taken[i] || c.kept_newest) continue;
      if (!c.protected_by.empty()) {
        kept.push_back(describe(c, c.protected_by));
        continue;
      }
      take(c, why);
      taken[i] = true;
    }
  }

  std::vector<DeleteTarget> targets;
  for (const auto& r : selected) targets.push_back(DeleteTarget::revision_of(r.repo, r.commit));
  HUBCACHE_TRY_ASSIGN(DeletePlan deletion, plan_delete_targets(cache, targets));
  const bool met = !needed || freed >= *needed;
  return GcPlan{std::move(selected), std::move(kept), std::move(warnings), size_before, free_before, needed, met,
                std::move(deletion)};
}

std::uint64_t GcPlan::freed_bytes() const {
  std::uint64_t total = 0;
  for (const auto& r : selected) total += r.freed;
  return total;
}

DeleteReport GcPlan::execute() const {
  DeleteReport report = deletion.execute();
  for (const auto& r : selected) {
    forget_use(RepoLayout(deletion.cache_dir(), r.repo), r.commit);
  }
  return report;
}

}  // namespace hubcache

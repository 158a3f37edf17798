// execute_cache_merge and retire_merged_cache (manage/merge.hpp).
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "hubcache/cache/store.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/cache/walk.hpp"
#include "hubcache/manage/merge.hpp"
#include "hubcache/util/compare.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/parallel.hpp"
#include "import_internal.hpp"
#include "merge_internal.hpp"
#include "safe_remove.hpp"

namespace hubcache {
namespace {

using merge_detail::blob_bytes;
using Inode = std::pair<dev_t, ino_t>;

// "holds the bytes its name says" or "does not (sha256 <x>)", for a conflict's message.
std::string name_verdict(const std::string& path, const std::string& etag) {
  const bool sha256 = digest_kind_of(etag) == DigestKind::Sha256;
  auto h = hash_file(path, sha256 ? HashWhat::Sha256 : HashWhat::GitSha1);
  if (!h) return "could not be hashed (" + h.error().message + ")";
  const std::string& d = sha256 ? h->sha256 : h->git_sha1;
  return d == etag ? "holds the bytes its name says" : "does not hold the bytes its name says (" + d + ")";
}

Error differ_error(const std::string& source, const std::string& cache, const std::string& etag) {
  return Error{ErrorCode::Conflict,
               "'" + source + "' and '" + cache + "' hold different bytes under the same blob name " + etag + ": '" + source +
                   "' " + name_verdict(source, etag) + ", '" + cache + "' " + name_verdict(cache, etag) +
                   ". Remove the wrong one (or its revision), then run again",
               source,
               std::nullopt,
               {}};
}

class Executor {
 public:
  explicit Executor(const MergePlan& plan) : m_plan(plan), m_store(plan.options.cache_dir), m_established(plan.repos.size()) {}

  Result<MergeReport> run() {
    std::vector<std::pair<std::size_t, const MergeBlob*>> compares, publishes;
    for (std::size_t i = 0; i < m_plan.repos.size(); ++i)
      for (const auto& b : m_plan.repos[i].blobs) {
        if (b.action == MergeBlobAction::Present) {
          struct stat st {};
          if (::stat(b.source_path.c_str(), &st) == 0) m_established[i][b.etag] = {st.st_dev, st.st_ino};
        } else {
          (b.action == MergeBlobAction::Compare ? compares : publishes).emplace_back(i, &b);
        }
      }
    // Every comparison before the first write: a conflict changes nothing.
    parallel_for(compares.size(), m_plan.options.threads,
                 [&](std::size_t k) { compare(compares[k].first, *compares[k].second); });
    if (m_error) return fail(std::move(*m_error));

    HUBCACHE_TRY(fs::make_dirs(m_plan.options.cache_dir));
    HUBCACHE_TRY(ensure_cachedir_tag(m_plan.options.cache_dir));
    for (const auto& r : m_plan.repos) HUBCACHE_TRY(init_repo_folder(layout_of(r)));
    parallel_for(publishes.size(), m_plan.options.threads, [&](std::size_t k) {
      if (!failed()) publish(publishes[k].first, *publishes[k].second);
    });
    for (const auto& r : m_plan.repos) (void)fs::fsync_dir(layout_of(r).blobs_dir());
    if (m_error) return fail(std::move(*m_error));

    for (const auto& r : m_plan.repos) HUBCACHE_TRY(write_entries(r));
    for (std::size_t i = 0; i < m_plan.repos.size(); ++i) verify(i);
    return std::move(m_report);
  }

 private:
  RepoLayout layout_of(const MergeRepoPlan& r) const { return RepoLayout(m_plan.options.cache_dir, r.repo); }

  bool failed() {
    std::lock_guard lock(m_mu);
    return m_error.has_value();
  }
  void set_error(Error e) {
    std::lock_guard lock(m_mu);
    if (!m_error) m_error = std::move(e);
  }
  void establish(std::size_t repo, const std::string& etag, const struct stat& st) {
    std::lock_guard lock(m_mu);
    m_established[repo][etag] = {st.st_dev, st.st_ino};
  }

  // The destination's blob of that name must hold the source's bytes.
  bool compare_with(std::size_t repo, const MergeBlob& b, const merge_detail::BlobBytes& have) {
    auto same = fs::same_contents(b.source_path, have.path);
    if (!same) {
      set_error(std::move(same).error());
      return false;
    }
    if (!*same) {
      set_error(differ_error(b.source_path, have.path, b.etag));
      return false;
    }
    establish(repo, b.etag, have.st);
    return true;
  }

  void compare(std::size_t repo, const MergeBlob& b) {
    const std::string entry = layout_of(m_plan.repos[repo]).blob_path(b.etag);
    auto have = blob_bytes(m_store, entry);
    if (!have) return set_error(std::move(have).error());
    if (!*have)
      return set_error(
          Error{ErrorCode::Conflict, "'" + entry + "' went away since the plan: run again", entry, std::nullopt, {}});
    if (compare_with(repo, b, **have)) {
      std::lock_guard lock(m_mu);
      ++m_report.blobs_compared;
    }
  }

  void publish(std::size_t repo, const MergeBlob& b) {
    const RepoLayout layout = layout_of(m_plan.repos[repo]);
    auto lock = lock_blob(layout, b.etag);
    if (!lock) return set_error(std::move(lock).error());
    const std::string entry = layout.blob_path(b.etag);
    auto have = blob_bytes(m_store, entry);
    if (!have) return set_error(std::move(have).error());
    if (*have) {  // published by someone else since the plan (a download, a rerun)
      if (compare_with(repo, b, **have)) {
        std::lock_guard l(m_mu);
        ++m_report.blobs_compared;
      }
      return;
    }
    const DigestKind kind = digest_kind_of(b.etag);
    auto hashed = import_detail::hash_source(b.source_path, kind);
    if (!hashed) return set_error(std::move(hashed).error());
    if (hashed->digest != b.etag)
      return set_error(Error{ErrorCode::Integrity,
                             "'" + b.source_path + "' does not hold the bytes its name says (its " +
                                 (kind == DigestKind::Sha256 ? "SHA-256" : "git blob SHA-1") + " is " + hashed->digest +
                                 "): it was not merged, and the cache it is in stays. `hubcache cache verify` names "
                                 "the revisions that use it: remove them or download them again, then run again",
                             b.source_path,
                             std::nullopt,
                             {}});
    ImportFile f;
    f.path = b.etag;
    f.source = f.read_from = b.source_path;
    f.size = hashed->size;
    f.blob = b.etag;
    f.lfs = kind == DigestKind::Sha256;
    f.stamp = hashed->stamp;
    auto copied = import_detail::publish_source_blob(layout, f, b.action == MergeBlobAction::Link);
    if (!copied) return set_error(std::move(copied).error());
    auto now = blob_bytes(m_store, entry);
    if (now && *now) establish(repo, b.etag, (*now)->st);
    std::lock_guard l(m_mu);
    ++(*copied ? m_report.blobs_copied : m_report.blobs_linked);
  }

  Result<void> write_entries(const MergeRepoPlan& r) {
    const RepoLayout layout = layout_of(r);
    const RepoLayout source = *RepoLayout::of_folder(r.source_folder);
    const LinkMode mode = m_plan.options.disable_symlinks ? LinkMode::Copy : LinkMode::Symlink;
    struct stat st {};
    for (const auto& f : r.files) {
      if (::lstat(layout.pointer_path(f.commit, f.path).c_str(), &st) == 0 && S_ISREG(st.st_mode)) continue;
      HUBCACHE_TRY_ASSIGN(const bool wrote, create_pointer(layout, f.commit, f.path, f.etag, mode));
      m_report.pointers_written += wrote ? 1 : 0;
    }
    for (const auto& m : r.no_exist) {
      if (::lstat(layout.pointer_path(m.commit, m.path).c_str(), &st) == 0) continue;  // the file is there
      if (::lstat(layout.no_exist_path(m.commit, m.path).c_str(), &st) == 0) continue;
      HUBCACHE_TRY(write_no_exist(layout, m.commit, m.path));
      ++m_report.markers_written;
    }
    for (const auto& commit : r.trees_to_copy) {
      if (::lstat(layout.tree_path(commit).c_str(), &st) == 0) continue;
      auto tree = read_tree_file(source, commit);
      if (!tree || !*tree) continue;  // unreadable in the source: the destination lists without it
      HUBCACHE_TRY(write_tree_file(layout, commit, **tree));
      ++m_report.trees_written;
    }
    for (const auto& [ref, commit] : r.refs_to_write) {
      HUBCACHE_TRY_ASSIGN(const auto now, read_ref(layout, ref));
      if (now) continue;  // set since the plan: the destination's ref stays
      HUBCACHE_TRY(write_ref(layout, ref, commit));
      ++m_report.refs_written;
    }
    // A revision whose ref stayed behind is detached here: pinned, so gc and prune keep it. The
    // source's own pins come along.
    std::vector<std::string> pins;
    for (const auto& c : r.ref_conflicts) pins.push_back(c.source_commit);
    if (auto mine = read_pins(source)) pins.insert(pins.end(), mine->begin(), mine->end());
    for (const auto& pin : pins) {
      HUBCACHE_TRY_ASSIGN(const bool added, add_pin(layout, pin));
      m_report.pins_written += added ? 1 : 0;
    }
    // Last uses come along (a later one here stays), so gc's LRU order sees the project's use.
    for (const auto& [commit, when] : read_use_records(source)) record_use_at(layout, commit, when);
    return {};
  }

  void verify(std::size_t i) {
    const MergeRepoPlan& r = m_plan.repos[i];
    Fd blobs(::open(layout_of(r).blobs_dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    RepoDirs dirs{m_plan.options.cache_dir, r.folder, blobs.get(), &m_store, {}, {}};
    Target t;
    for (const auto& f : r.files) {
      const std::string where = r.folder + "/snapshots/" + f.commit + "/" + f.path;
      std::string why;
      if (!resolve_pointer(dirs, f.commit, f.path, t)) {
        why = std::strerror(errno);
      } else if (t.kind == TargetKind::Self) {
        const auto it = std::find_if(r.blobs.begin(), r.blobs.end(), [&](const MergeBlob& b) { return b.etag == f.etag; });
        auto same = fs::same_contents(it->source_path, t.blob_path);
        if (!same || !*same) why = "a copy with other bytes";
      } else if (t.kind != TargetKind::Blob || !is_reachable(dirs, t)) {
        why = "not a blob of the repo";
      } else if (blob_name(t) != f.etag) {
        why = "blob " + std::string(blob_name(t)) + ", not " + f.etag;
      } else {
        const auto it = m_established[i].find(f.etag);
        if (it == m_established[i].end() || it->second != Inode{t.st.st_dev, t.st.st_ino})
          why = "its blob was not checked against the source's bytes";
      }
      if (why.empty())
        ++m_report.files_verified;
      else
        m_report.unverified.push_back(where + ": " + why);
    }
  }

  const MergePlan& m_plan;
  const SharedBlobStore m_store;
  std::vector<std::map<std::string, Inode>> m_established;  // per repo: blob -> the inode holding the source's bytes
  MergeReport m_report;
  std::mutex m_mu;
  std::optional<Error> m_error;
};

}  // namespace

Result<MergeReport> execute_cache_merge(const MergePlan& plan) { return Executor(plan).run(); }

Result<void> retire_merged_cache(const MergePlan& plan, bool leave_link) {
  const std::string& source = plan.options.source;
  const std::string parent = fs::parent(source);
  std::string retired = source;
  if (!is_retired_cache_path(source)) {
    retired = retired_cache_path(source);
    if (count_held_locks(source + "/" + std::string(k_locks_dir), 1) > 0)
      return fail(ErrorCode::Conflict,
                  "a download started into " + source + " since the merge: nothing was removed; let it finish, then run again",
                  source);
    struct stat st {};
    if (::lstat(retired.c_str(), &st) == 0) {
      // A link left by a crash before the exchange, or an older retired cache: both verified away.
      if (S_ISLNK(st.st_mode)) {
        if (::unlink(retired.c_str()) != 0) return fail(errno_error(errno, "cannot remove", retired));
      } else if (auto gone = manage_detail::safe_remove(parent, retired); !gone.problems.empty()) {
        return fail(ErrorCode::Io, gone.problems.front().message, retired);
      }
    }
    if (leave_link) {
      // Exchange with a symlink, so the old path always exists (a cache or a link to the new one).
      if (::symlink(plan.options.cache_dir.c_str(), retired.c_str()) != 0)
        return fail(errno_error(errno, "cannot create a link at", retired));
      if (::renameat2(AT_FDCWD, retired.c_str(), AT_FDCWD, source.c_str(), RENAME_EXCHANGE) != 0) {
        const int err = errno;
        ::unlink(retired.c_str());
        return fail(errno_error(err, "cannot replace with a link", source));
      }
    } else if (::rename(source.c_str(), retired.c_str()) != 0) {
      return fail(errno_error(errno, "cannot move aside", source));
    }
    (void)fs::fsync_dir(parent);
  } else if (leave_link) {
    const std::string original = parent + "/" + retired.substr(parent.size() + 2, retired.size() - parent.size() - 2 - 16);
    struct stat st {};
    if (::lstat(original.c_str(), &st) != 0 && ::symlink(plan.options.cache_dir.c_str(), original.c_str()) != 0)
      return fail(errno_error(errno, "cannot create a link at", original));
  }
  auto gone = manage_detail::safe_remove(parent, retired);
  if (!gone.problems.empty()) {
    std::string message = "the merged cache was moved aside to " + retired + " but not all of it could be removed:";
    for (const auto& p : gone.problems) message += "\n  - " + p.message;
    message += "\nRemove it by hand; the merged cache " + plan.options.cache_dir + " holds everything";
    return fail(ErrorCode::Io, message, retired);
  }
  return {};
}

}  // namespace hubcache

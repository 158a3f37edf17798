// plan_cache_merge: what merging one Hub cache into another would do (manage/merge.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/cache/walk.hpp"
#include "hubcache/manage/merge.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"
#include "merge_internal.hpp"

namespace hubcache {

const char* to_string(MergeBlobAction action) {
  switch (action) {
    case MergeBlobAction::Present:
      return "present";
    case MergeBlobAction::Compare:
      return "compare";
    case MergeBlobAction::Link:
      return "link";
    case MergeBlobAction::Copy:
      return "copy";
  }
  return "?";
}

std::size_t MergePlan::file_count() const {
  std::size_t n = 0;
  for (const auto& r : repos) n += r.files.size();
  return n;
}

std::size_t MergePlan::ref_conflict_count() const {
  std::size_t n = 0;
  for (const auto& r : repos) n += r.ref_conflicts.size();
  return n;
}

namespace merge_detail {

Result<std::optional<BlobBytes>> blob_bytes(const SharedBlobStore& store, const std::string& entry) {
  struct stat st {};
  if (::lstat(entry.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<BlobBytes>{};
    return fail(errno_error(errno, "cannot examine", entry));
  }
  if (S_ISREG(st.st_mode)) return std::optional<BlobBytes>{BlobBytes{entry, st}};
  if (S_ISLNK(st.st_mode))
    if (auto payload = store.linked_payload(entry)) {
      struct stat pst {};
      if (::stat(payload->path.c_str(), &pst) == 0) return std::optional<BlobBytes>{BlobBytes{payload->path, pst}};
    }
  return fail(ErrorCode::CacheCorrupted,
              "'" + entry +
                  "' is not a blob (neither a file nor a link into the cache's shared blob store); `hubcache cache verify` "
                  "names what is wrong with it",
              entry);
}

}  // namespace merge_detail

namespace {

/// The entries of a real folder (not followed through a symlink), or none.
std::vector<std::string> names_in(const std::string& folder) {
  std::vector<std::string> out;
  Fd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return out;
  DirReader reader(dir.get());
  const char* name = nullptr;
  unsigned char type = 0;
  while (reader.next(name, type)) out.emplace_back(name);
  return out;
}

using merge_detail::blob_bytes;

bool is_partial_name(std::string_view name) {
  return name.ends_with(k_incomplete_suffix) || name.ends_with(k_parts_state_suffix) || name.ends_with(".tmp");
}

// The problems that refuse a merge, all reported together.
struct Refusals {
  ErrorCode code = ErrorCode::InvalidArgument;
  std::vector<std::string> lines;
  std::string path;
  void add(ErrorCode c, std::string line, const std::string& p) {
    if (lines.empty()) {
      code = c;
      path = p;
    }
    lines.push_back(std::move(line));
  }
};

class RepoPlanner {
 public:
  RepoPlanner(MergePlan& plan, Refusals& refusals, const SharedBlobStore& src_store, const SharedBlobStore& dst_store)
      : m_plan(plan), m_refusals(refusals), m_src_store(src_store), m_dst_store(dst_store) {}

  void plan_repo(const RepoLayout& src, const RepoLayout& dst) {
    MergeRepoPlan r;
    r.repo = src.repo();
    r.source_folder = src.folder();
    r.folder = dst.folder();
    if (count_held_locks(src.locks_dir(), 1) > 0) {
      m_refusals.add(ErrorCode::Conflict,
                     "a download is running into " + src.folder() + " (a lock under " + src.locks_dir() +
                         " is held): let it finish, then run again",
                     src.folder());
      return;
    }
    if (auto ok = check_repo_folder(dst); !ok) {
      m_refusals.add(ok.error().code, ok.error().message, dst.folder());
      return;
    }
    std::map<std::string, MergeBlob> blobs;
    snapshots(src, r, blobs);
    other_blobs(src, blobs);
    for (auto& [etag, b] : blobs) {
      classify(dst, b);
      r.blobs.push_back(b);
    }
    pointer_conflicts(dst, r);
    refs(src, dst, r);
    markers(src, r);
    trees(src, dst, r);
    m_plan.repos.push_back(std::move(r));
  }

 private:
  void left_out(std::string what, std::uint64_t bytes = 0) {
    m_plan.left_out.push_back(std::move(what));
    m_plan.left_out_bytes += bytes;
  }

  void snapshots(const RepoLayout& src, MergeRepoPlan& r, std::map<std::string, MergeBlob>& blobs) {
    Fd blobs_fd(::open(src.blobs_dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    RepoDirs dirs{m_plan.options.source, src.folder(), blobs_fd.get(), &m_src_store, {}, {}};
    std::vector<std::string> names;
    const char* name = nullptr;
    unsigned char type = 0;
    Fd snaps(::open(src.snapshots_dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!snaps.valid()) return;  // no snapshots: blobs only
    DirReader reader(snaps.get());
    while (reader.next(name, type)) names.emplace_back(name);
    std::sort(names.begin(), names.end());
    for (const auto& commit : names) {
      if (is_os_junk(commit)) continue;
      const std::string dir = src.snapshot_dir(commit);
      Fd snap(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!is_commit_hash(commit) || !snap.valid()) {
        left_out(dir + " (not a snapshot folder)");
        continue;
      }
      Target t;
      auto on_error = [&](const std::string& path, int err) {
        m_refusals.add(ErrorCode::Io, errno_error(err, "cannot read", path).message, path);
      };
      auto on_file = [&](int dirfd, const std::string& dir_path, int depth, const std::string& rel, const char* entry,
                         bool is_link) {
        const std::string where = dir_path + "/" + entry;
        if (!resolve_entry(dirs, dirfd, dir_path, depth, entry, is_link, t)) return on_error(where, errno);
        if (t.kind == TargetKind::Self) {
          m_refusals.add(ErrorCode::CacheCorrupted,
                         "'" + where +
                             "' is a regular file, not a link to a blob: this cache was written with "
                             "HF_HUB_DISABLE_SYMLINKS. Bring it in with `hubcache import " +
                             dir + " " + r.repo.id + " --revision " + commit + "` instead",
                         where);
          return;
        }
        if (validate_repo_path(rel).has_value() == false) return left_out(where + " (not a valid repo path)");
        if (t.kind != TargetKind::Blob || !is_reachable(dirs, t)) {
          const char* why = t.kind == TargetKind::Dangling    ? "its blob is missing"
                            : t.kind == TargetKind::Escapes   ? "it points out of the cache"
                            : t.kind == TargetKind::Directory ? "it points at a folder"
                                                              : "it is not a blob of this repo";
          return left_out(where + " (" + why + ")");
        }
        const std::string etag(blob_name(t));
        r.files.push_back({commit, rel, etag});
        if (!blobs.contains(etag))
          blobs[etag] = MergeBlob{etag, t.shared_hash.empty() ? t.blob_path : t.payload_path,
                                  static_cast<std::uint64_t>(t.st.st_size), MergeBlobAction::Copy};
      };
      walk_tree(std::move(snap), dir, 2, "", on_file, on_error);
    }
    std::sort(r.files.begin(), r.files.end(),
              [](const MergeFile& a, const MergeFile& b) { return std::tie(a.commit, a.path) < std::tie(b.commit, b.path); });
  }

  // Blobs no snapshot points at are merged too (nothing in a source is dropped); partial downloads
  // are left out, with their bytes.
  void other_blobs(const RepoLayout& src, std::map<std::string, MergeBlob>& blobs) {
    for (const std::string& n : names_in(src.blobs_dir())) {
      if (blobs.contains(n) || is_os_junk(n)) continue;
      const std::string path = src.blob_path(n);
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0) continue;
      if (is_partial_name(n)) {
        left_out(path + " (an unfinished download, " + format_size(static_cast<double>(st.st_size)) + ")",
                 static_cast<std::uint64_t>(st.st_size));
        continue;
      }
      if (!validate_etag(n)) {
        left_out(path + " (not a blob name)");
        continue;
      }
      auto bytes = blob_bytes(m_src_store, path);
      if (!bytes || !*bytes) {
        left_out(path + " (not a blob)");
        continue;
      }
      blobs[n] = MergeBlob{n, (*bytes)->path, static_cast<std::uint64_t>((*bytes)->st.st_size), MergeBlobAction::Copy};
    }
  }

  void classify(const RepoLayout& dst, MergeBlob& b) {
    const std::string entry = dst.blob_path(b.etag);
    auto have = blob_bytes(m_dst_store, entry);
    if (!have) return m_refusals.add(have.error().code, have.error().message, entry);
    struct stat src_st {};
    const bool src_ok = ::stat(b.source_path.c_str(), &src_st) == 0;
    if (!*have) {
      b.action = m_plan.same_filesystem ? MergeBlobAction::Link : MergeBlobAction::Copy;
      (b.action == MergeBlobAction::Link ? m_plan.link_bytes : m_plan.copy_bytes) += b.size;
    } else if (src_ok && src_st.st_dev == (*have)->st.st_dev && src_st.st_ino == (*have)->st.st_ino) {
      b.action = MergeBlobAction::Present;
      m_plan.present_bytes += b.size;
    } else if (static_cast<std::uint64_t>((*have)->st.st_size) != b.size) {
      m_refusals.add(ErrorCode::Conflict,
                     "'" + b.source_path + "' (" + std::to_string(b.size) + " bytes) and '" + (*have)->path + "' (" +
                         std::to_string((*have)->st.st_size) + " bytes) hold different bytes under the same blob name " + b.etag +
                         "; `hubcache cache verify` in each cache tells which one is wrong: remove it, then run again",
                     b.source_path);
    } else {
      b.action = MergeBlobAction::Compare;
      m_plan.compare_bytes += b.size;
    }
  }

  // A file the destination already holds at the same commit and path must be the same blob.
  void pointer_conflicts(const RepoLayout& dst, const MergeRepoPlan& r) {
    for (const auto& f : r.files) {
      const std::string p = dst.pointer_path(f.commit, f.path);
      char buf[4096];
      const ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
      if (n <= 0) continue;  // absent, or a regular file (a no-symlink cache): checked after the merge
      const std::string_view text(buf, static_cast<std::size_t>(n));
      if (text == pointer_target(f.path, f.etag)) continue;
      const auto slash = text.rfind('/');
      const std::string_view other = slash == std::string_view::npos ? text : text.substr(slash + 1);
      if (validate_etag(other).has_value() && other != f.etag)
        m_refusals.add(ErrorCode::Conflict,
                       "'" + p + "' is blob " + std::string(other) + " but '" + r.source_folder + "/snapshots/" + f.commit + "/" +
                           f.path + "' is blob " + f.etag +
                           ": the same file of one commit cannot hold two contents, so one cache is damaged. "
                           "`hubcache cache verify` tells which; remove that revision, then run again",
                       p);
    }
  }

  void refs(const RepoLayout& src, const RepoLayout& dst, MergeRepoPlan& r) {
    for (const auto& name : list_ref_names(src.folder())) {
      auto mine = read_ref(src, name);
      if (!mine || !*mine) {
        left_out(src.ref_path(name) + " (not a commit hash)");
        continue;
      }
      auto theirs = read_ref(dst, name);
      if (!theirs) {
        m_refusals.add(theirs.error().code, theirs.error().message, dst.ref_path(name));
        continue;
      }
      if (!*theirs)
        r.refs_to_write.emplace_back(name, **mine);
      else if (**theirs != **mine)
        r.ref_conflicts.push_back({name, **mine, **theirs});
    }
  }

  void markers(const RepoLayout& src, MergeRepoPlan& r) {
    const std::string root = repo_subpath(src.folder(), k_no_exist_dir);
    Fd top(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!top.valid()) return;
    auto ignore = [](const std::string&, int) {};
    auto on_file = [&](int, const std::string&, int, const std::string& rel, const char*, bool is_link) {
      const auto slash = rel.find('/');
      if (is_link || slash == std::string::npos) return;
      const std::string commit = rel.substr(0, slash), path = rel.substr(slash + 1);
      if (is_commit_hash(commit) && validate_repo_path(path).has_value()) r.no_exist.push_back({commit, path, ""});
    };
    walk_tree(std::move(top), root, 1, "", on_file, ignore);
    std::sort(r.no_exist.begin(), r.no_exist.end(),
              [](const MergeFile& a, const MergeFile& b) { return std::tie(a.commit, a.path) < std::tie(b.commit, b.path); });
  }

  void trees(const RepoLayout& src, const RepoLayout& dst, MergeRepoPlan& r) {
    for (const std::string& n : names_in(src.trees_dir())) {
      if (!n.ends_with(".json")) continue;
      const std::string commit = n.substr(0, n.size() - 5);
      struct stat st {};
      if (is_commit_hash(commit) && ::lstat(dst.tree_path(commit).c_str(), &st) != 0) r.trees_to_copy.push_back(commit);
    }
    std::sort(r.trees_to_copy.begin(), r.trees_to_copy.end());
  }

  MergePlan& m_plan;
  Refusals& m_refusals;
  const SharedBlobStore& m_src_store;
  const SharedBlobStore& m_dst_store;
};

}  // namespace

namespace {
constexpr std::string_view k_retired_suffix = ".hubcache-merged";
}

std::string retired_cache_path(const std::string& source) {
  const auto slash = source.rfind('/');
  return source.substr(0, slash + 1) + "." + source.substr(slash + 1) + std::string(k_retired_suffix);
}

std::string original_of_retired_cache(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name.size() <= 1 + k_retired_suffix.size() || !name.starts_with('.') || !name.ends_with(k_retired_suffix)) return {};
  return std::string(path.substr(0, path.size() - name.size())) +
         std::string(name.substr(1, name.size() - 1 - k_retired_suffix.size()));
}

bool is_retired_cache_path(std::string_view path) { return !original_of_retired_cache(path).empty(); }

Result<MergePlan> plan_cache_merge(const MergeOptions& options) {
  MergePlan plan;
  plan.options = options;
  struct stat st {};
  if (::stat(options.source.c_str(), &st) != 0) return fail(errno_error(errno, "cannot read the cache to merge", options.source));
  if (!S_ISDIR(st.st_mode))
    return fail(ErrorCode::InvalidArgument, "'" + options.source + "' is not a folder: name a Hub cache folder", options.source);
  HUBCACHE_TRY_ASSIGN(plan.options.source, fs::real_path(options.source));
  plan.options.cache_dir = fs::absolute_real(options.cache_dir);
  const std::string& from = plan.options.source;
  const std::string& to = plan.options.cache_dir;
  const bool staged = options.source_is_staging && fs::is_within(to + "/" + std::string(k_locks_dir), from);
  if (from == to || fs::is_within(from, to) || (fs::is_within(to, from) && !staged))
    return fail(ErrorCode::InvalidArgument,
                "'" + from + "' and '" + to + "' are the same cache or one lies inside the other: merge two separate caches",
                from);
  // A retired cache whose removal a crash cut short may hold no repo folder any more: an empty
  // plan, and retire_merged_cache finishes the removal.
  if (classify_hub_folder(from).kind != HubFolderKind::CacheRoot && !is_retired_cache_path(from))
    return fail(ErrorCode::InvalidArgument,
                "'" + from + "' is not a Hub cache: it holds no models--*, datasets--* or spaces--* folder", from);
  struct stat to_st {};
  const std::string landing = fs::nearest_existing(to);
  plan.same_filesystem = ::stat(landing.c_str(), &to_st) == 0 && to_st.st_dev == st.st_dev;

  std::vector<std::string> folders;
  {
    Fd dir(::open(from.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) return fail(errno_error(errno, "cannot read", from));
    DirReader reader(dir.get());
    const char* name = nullptr;
    unsigned char type = 0;
    while (reader.next(name, type))
      if (parse_repo_folder_name(name)) folders.emplace_back(name);
    std::sort(folders.begin(), folders.end());
  }
  Refusals refusals;
  const SharedBlobStore src_store(from), dst_store(to);
  RepoPlanner planner(plan, refusals, src_store, dst_store);
  for (const auto& folder : folders) {
    auto src = RepoLayout::of_folder(from + "/" + folder);
    if (!src) continue;
    auto present = check_repo_folder(*src);
    if (!present) {
      refusals.add(present.error().code, present.error().message, src->folder());
      continue;
    }
    if (!*present) continue;
    planner.plan_repo(*src, RepoLayout(to, src->repo()));
  }
  if (!refusals.lines.empty()) {
    std::string message = "cannot merge " + from + " into " + to + " (nothing was changed):";
    for (const auto& l : refusals.lines) message += "\n  - " + l;
    return fail(refusals.code, message, refusals.path);
  }
  if (plan.copy_bytes > 0)
    if (auto free = fs::free_space(landing); free && *free < plan.copy_bytes)
      return fail(ErrorCode::DiskFull,
                  "merging " + from + " into " + to + " copies " + format_size(static_cast<double>(plan.copy_bytes)) + " (" +
                      std::to_string(plan.copy_bytes) + " bytes) but only " + format_size(static_cast<double>(*free)) + " (" +
                      std::to_string(*free) + " bytes) are free on " + landing +
                      ": nothing was changed. Free space there, "
                      "or merge into a cache on the same filesystem as " +
                      from + " (blobs are then linked, not copied)",
                  to);
  return plan;
}

}  // namespace hubcache

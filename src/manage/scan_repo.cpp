// One repo folder of a scan: refs, revisions, pointers, blobs (the rules are in scan.hpp).
#include "scan_repo.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/moved_repos.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/util/text.hpp"
#include "hubcache/cache/walk.hpp"
#include "move_tree.hpp"

namespace hubcache::manage_detail {
namespace {
double to_seconds(const timespec& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9; }
}  // namespace

namespace {

std::string errno_text(int err) { return std::strerror(err); }

/// The ETag a split download's sidecar belongs to: "<etag>.parts.state" or the leftover of its
/// atomic write ".<etag>.parts.state.<8hex>.tmp"; "" for any other name.
std::string_view sidecar_etag(std::string_view name) {
  if (name.ends_with(k_parts_state_suffix)) return name.substr(0, name.size() - k_parts_state_suffix.size());
  const std::string marker = std::string(k_parts_state_suffix) + ".";
  if (name.size() > 1 && name[0] == '.' && name.ends_with(".tmp")) {
    const auto at = name.find(marker);
    if (at != std::string_view::npos && at > 1) return name.substr(1, at - 1);
  }
  return {};
}

/// Lists <repo>/blobs/*.incomplete (PY: <root>/*/blobs/*.incomplete), with each split download's
/// state files as sidecars of its <etag>.parts.incomplete. State files whose data file is gone
/// (e.g. removed by `hf cache prune`) make an entry of their own. Returns the number of entries read
/// (a bound on the repo's blobs, to size the scan's tables once).
std::size_t list_incomplete(int blobs_fd, const std::string& repo_path, const std::string& folder,
                            std::vector<IncompleteFile>& out) {
  DirReader reader(blobs_fd);
  const char* cname = nullptr;
  unsigned char type = DT_UNKNOWN;
  const std::size_t first = out.size();
  std::map<std::string, std::vector<std::pair<std::string, std::uint64_t>>> sidecars;  // etag -> (name, size)
  std::size_t entries = 0;
  while (reader.next(cname, type)) {
    ++entries;
    const std::string_view name = cname;
    if (type != DT_REG) continue;
    const std::string_view side = sidecar_etag(name);
    // A file named just ".incomplete" belongs to no download.
    if (side.empty() && (name.size() <= k_incomplete_suffix.size() || !name.ends_with(k_incomplete_suffix))) continue;
    struct stat st {};
    if (::fstatat(blobs_fd, cname, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    if (!side.empty()) {
      sidecars[std::string(side)].emplace_back(std::string(name), static_cast<std::uint64_t>(st.st_size));
      continue;
    }
    IncompleteFile f;
    f.path = repo_subpath(repo_path, k_blobs_dir, name);
    f.repo_folder = folder;
    f.etag = std::string(name.substr(0, name.find('.')));  // <etag>[.<8hex>|.parts].incomplete
    f.size = static_cast<std::uint64_t>(st.st_size);
    out.push_back(std::move(f));
  }
  for (auto& [etag, files] : sidecars) {
    std::sort(files.begin(), files.end());
    IncompleteFile* owner = nullptr;
    for (std::size_t i = first; i < out.size() && !owner; ++i)
      if (out[i].etag == etag && out[i].path.ends_with(k_parts_incomplete_suffix)) owner = &out[i];
    if (!owner) {
      IncompleteFile f;
      f.path = repo_subpath(repo_path, k_blobs_dir, files.front().first);
      f.repo_folder = folder;
      f.etag = etag;
      f.size = files.front().second;
      out.push_back(std::move(f));
      owner = &out.back();
      files.erase(files.begin());
    }
    for (const auto& [name, size] : files) {
      owner->sidecars.push_back(repo_subpath(repo_path, k_blobs_dir, name));
      owner->size += size;
    }
  }
  return entries;
}

class RepoScanner {
 public:
  RepoScanner(const std::string& root, int root_fd, std::string folder, const ScanOptions& options, const SharedBlobStore* store)
      : m_root_fd(root_fd),
        m_folder(std::move(folder)),
        m_collect(options.collect_files),
        m_collect_blobs(options.keeps_blobs()) {
    m_dirs.cache_dir = root;
    m_dirs.store = store;
    m_dirs.repo_path = root + "/" + m_folder;
    m_dirs.known_blob = [this](const std::string& blob_path) { return m_blob_ids.count(blob_path) > 0; };
  }

  RepoScan run(unsigned char dtype);

 private:
  void skip(std::string message, const std::string& path) {
    m_out.warnings.push_back({path, std::move(message), true});
    if (m_ref) m_out.skipped = SkippedRepo{*m_ref, m_dirs.repo_path};
  }
  void note(std::string message, const std::string& path) { m_out.warnings.push_back({path, std::move(message), false}); }

  bool read_refs(Fd refs);
  bool scan_revision(int snapshots_fd, const std::string& commit, CachedRevisionInfo& rev);
  std::uint32_t blob_index(const Target& t);

  int m_root_fd;
  std::string m_folder;
  bool m_collect;
  bool m_collect_blobs;
  RepoDirs m_dirs;
  std::optional<RepoRef> m_ref;
  RepoScan m_out;
  std::map<std::string, std::vector<std::string>> m_refs_by_commit;  // stripped value -> ref names
  std::unordered_map<std::string, std::uint32_t> m_blob_ids;         // blob path -> index in m_blobs
  std::vector<CachedBlobInfo> m_blobs;                               // paths filled in at the end, from m_blob_ids
  std::size_t m_files_hint = 0;                                      // expected files of the next revision
  std::vector<std::string> m_dangling;                               // "<blob> (pointer <path>)"
  std::vector<std::string> m_escaping;                               // "<path> -> <target>"
  std::string m_failed_dir;                                          // first unreadable folder
  int m_failed_errno = 0;
};

std::uint32_t RepoScanner::blob_index(const Target& t) {
  const struct stat& st = t.st;
  auto [it, inserted] = m_blob_ids.try_emplace(t.blob_path, static_cast<std::uint32_t>(m_blobs.size()));
  if (inserted)
    m_blobs.push_back({{},
                       static_cast<std::uint64_t>(st.st_size),
                       to_seconds(st.st_atim),
                       to_seconds(st.st_mtim),
                       t.shared_hash,
                       static_cast<std::uint64_t>(st.st_dev),
                       static_cast<std::uint64_t>(st.st_ino),
                       static_cast<std::uint64_t>(st.st_nlink),
                       t.in_repo_blobs});
  return it->second;
}

bool RepoScanner::read_refs(Fd refs) {
  bool ok = true;
  auto on_error = [&](const std::string& path, int err) {
    if (m_failed_dir.empty()) {
      m_failed_dir = path;
      m_failed_errno = err;
    }
    ok = false;
  };
  auto on_file = [&](int dirfd, const std::string& dir_path, int, const std::string& rel, const char* name, bool is_link) {
    if (is_os_junk(name)) return;
    if (is_link) {
      note("Ref is a symlink, not followed: " + dir_path + "/" + name, dir_path + "/" + name);
      return;
    }
    Fd f(::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    char buf[256];
    const ssize_t n = f.valid() ? ::read(f.get(), buf, sizeof buf) : -1;
    if (n < 0) {
      on_error(dir_path + "/" + name, errno);
      return;
    }
    m_refs_by_commit[std::string(trim(std::string_view(buf, static_cast<std::size_t>(n))))].push_back(rel);
  };
  walk_tree(std::move(refs), repo_subpath(m_dirs.repo_path, k_refs_dir), 1, "", on_file, on_error);
  return ok;
}

bool RepoScanner::scan_revision(int snapshots_fd, const std::string& commit, CachedRevisionInfo& rev) {
  rev.commit = commit;
  rev.snapshot_path = repo_subpath(m_dirs.repo_path, k_snapshots_dir, commit);
  Fd dir = open_dir_at(snapshots_fd, commit.c_str());
  struct stat dst {};
  if (!dir.valid() || ::fstat(dir.get(), &dst) != 0) {
    m_failed_dir = rev.snapshot_path;
    m_failed_errno = errno;
    return false;
  }
  std::vector<std::uint32_t> ids;
  // The previous revision's file count, or for the first the blobs/ entries: one allocation in the common case.
  ids.reserve(m_files_hint);
  if (m_collect) rev.files.reserve(m_files_hint);
  bool ok = true;
  Target t;
  auto on_error = [&](const std::string& path, int err) {
    if (m_failed_dir.empty()) {
      m_failed_dir = path;
      m_failed_errno = err;
    }
    ok = false;
  };
  auto on_file = [&](int dirfd, const std::string& dir_path, int depth, const std::string& rel, const char* name, bool is_link) {
    if (!resolve_entry(m_dirs, dirfd, dir_path, depth, name, is_link, t)) {
      if (errno != ENOENT) on_error(dir_path + "/" + name, errno);
      return;
    }
    switch (t.kind) {
      case TargetKind::Directory:
      case TargetKind::Special:
        return;
      case TargetKind::Dangling:
        rev.dangling.push_back(rel);
        m_dangling.push_back(t.blob_path + " (pointer " + dir_path + "/" + name + ")");
        return;
      case TargetKind::Escapes:
        m_escaping.push_back(dir_path + "/" + name + " -> " + t.link);
        return;
      case TargetKind::Blob:
      case TargetKind::Self:
        break;
    }
    ids.push_back(blob_index(t));
    if (m_collect) {
      const CachedBlobInfo& b = m_blobs[ids.back()];
      rev.files.push_back({rel, t.blob_path, b.size, b.atime, b.mtime, b.shared_hash, b.dev, b.ino, b.nlink});
    }
  };
  walk_tree(std::move(dir), rev.snapshot_path, 2, "", on_file, on_error);
  if (!ok) return false;
  m_files_hint = ids.size();

  rev.nb_files = ids.size();
  rev.last_modified = to_seconds(dst.st_mtim);
  rev.last_accessed = to_seconds(dst.st_atim);
  if (!ids.empty()) {
    rev.last_modified = 0;
    rev.last_accessed = 0;
    for (auto id : ids) {
      rev.last_modified = std::max(rev.last_modified, m_blobs[id].mtime);
      rev.last_accessed = std::max(rev.last_accessed, m_blobs[id].atime);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (auto id : ids) rev.size_on_disk += m_blobs[id].size;
  if (m_collect_blobs) rev.blob_ids = std::move(ids);
  std::sort(rev.files.begin(), rev.files.end(), [](const CachedFileInfo& a, const CachedFileInfo& b) { return a.path < b.path; });
  std::sort(rev.dangling.begin(), rev.dangling.end());
  return true;
}

RepoScan RepoScanner::run(unsigned char dtype) {
  const std::string& path = m_dirs.repo_path;
  m_ref = parse_repo_folder_name(m_folder);  // so that a skipped repo stays deletable by its id
  struct stat st {};
  if (dtype == DT_UNKNOWN || dtype == DT_LNK) {
    if (::fstatat(m_root_fd, m_folder.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::move(m_out);  // vanished
    dtype = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
  }
  if (dtype == DT_LNK) {
    // Followed only for a repo moved out by `cache move ORG/NAME --to DIR` (its home names this cache).
    const auto layout = m_ref ? RepoLayout::of_folder(path) : std::nullopt;
    auto home = layout ? moved_repo_home(*layout) : std::nullopt;
    if (!home) {
      const auto problem = layout ? moved_repo_problem(*layout) : std::nullopt;
      skip("Repo path is a symlink, not followed: " + path + (problem ? " (" + *problem + ")" : ""), path);
      return std::move(m_out);
    }
    m_dirs.home = std::move(*home);
  } else if (dtype != DT_DIR) {
    skip("Repo path is not a directory: " + path, path);
    return std::move(m_out);
  }
  Fd repo = m_dirs.home.empty() ? open_dir_at(m_root_fd, m_folder.c_str())
                                : Fd(::open(m_dirs.home.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!repo.valid()) {
    skip("Cannot read repo folder " + path + ": " + errno_text(errno), path);
    return std::move(m_out);
  }
  Fd blobs = open_dir_at(repo.get(), k_blobs_dir.data());
  m_dirs.blobs_fd = blobs.get();
  if (blobs.valid()) {
    const std::size_t entries = list_incomplete(blobs.get(), path, m_folder, m_out.incomplete);
    m_blobs.reserve(entries);
    m_blob_ids.reserve(entries);
    m_files_hint = std::min<std::size_t>(entries, 4096);
  }

  if (m_folder.starts_with(".") && (m_folder.ends_with(move_detail::k_move_suffix) ||
                                    m_folder.ends_with(move_detail::k_old_suffix) || m_folder.ends_with(".hubcache-link"))) {
    skip("An interrupted `hubcache cache move` of a repo left " + path +
             ": run the same move again to finish it (the repo itself is readable), or remove that folder",
         path);
    return std::move(m_out);
  }
  const auto sep = m_folder.find("--");
  if (sep == std::string::npos) {
    skip("Repo path is not a valid HuggingFace cache directory: " + path, path);
    return std::move(m_out);
  }
  if (!m_ref) {
    const std::string prefix = m_folder.substr(0, sep);
    skip("Repo type must be `dataset`, `model` or `space`, found `" + prefix.substr(0, prefix.empty() ? 0 : prefix.size() - 1) +
             "` (" + path + ")",
         path);
    return std::move(m_out);
  }

  const std::string snapshots_path = repo_subpath(path, k_snapshots_dir);
  if (::fstatat(repo.get(), k_snapshots_dir.data(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !(S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))) {
    skip("Snapshots dir doesn't exist in cached repo: " + snapshots_path, snapshots_path);
    return std::move(m_out);
  }
  if (S_ISLNK(st.st_mode)) {
    skip("Snapshots dir is a symlink, not followed: " + snapshots_path, snapshots_path);
    return std::move(m_out);
  }

  const std::string refs_path = repo_subpath(path, k_refs_dir);
  if (::fstatat(repo.get(), k_refs_dir.data(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    note("Refs dir doesn't exist in cached repo: " + refs_path + " (accepted; @huggingface/hub's scanner skips such repos)",
         refs_path);
  } else if (S_ISLNK(st.st_mode)) {
    skip("Refs dir is a symlink, not followed: " + refs_path, refs_path);
    return std::move(m_out);
  } else if (!S_ISDIR(st.st_mode)) {
    skip("Refs directory cannot be a file: " + refs_path, refs_path);
    return std::move(m_out);
  } else {
    Fd refs = open_dir_at(repo.get(), k_refs_dir.data());
    if (!refs.valid() || !read_refs(std::move(refs))) {
      const std::string where = m_failed_dir.empty() ? refs_path : m_failed_dir;
      skip("Cannot read " + where + ": " + errno_text(m_failed_dir.empty() ? errno : m_failed_errno), where);
      return std::move(m_out);
    }
  }

  Fd snapshots = open_dir_at(repo.get(), k_snapshots_dir.data());
  if (!snapshots.valid()) {
    skip("Cannot read " + snapshots_path + ": " + errno_text(errno), snapshots_path);
    return std::move(m_out);
  }
  std::vector<std::string> commits;
  std::string problem;
  DirReader reader(snapshots.get());
  const char* cname = nullptr;
  unsigned char type = DT_UNKNOWN;
  while (reader.next(cname, type)) {
    const std::string name = cname;
    if (is_os_junk(name)) continue;
    if (type == DT_DIR) {
      commits.push_back(name);
    } else if (problem.empty()) {
      problem = type == DT_LNK ? "Snapshots folder corrupted. Found a symlink, not followed: " + snapshots_path + "/" + name
                               : "Snapshots folder corrupted. Found a file: " + snapshots_path + "/" + name;
    }
  }
  if (reader.error() != 0) {
    skip("Cannot read " + snapshots_path + ": " + errno_text(reader.error()), snapshots_path);
    return std::move(m_out);
  }
  if (!problem.empty()) {
    skip(problem, problem.substr(problem.find(": ") + 2));
    return std::move(m_out);
  }
  std::sort(commits.begin(), commits.end());

  CachedRepoInfo info;
  info.repo = *m_ref;
  info.path = path;
  info.moved_to = m_dirs.home;
  for (const auto& commit : commits) {
    CachedRevisionInfo rev;
    if (!scan_revision(snapshots.get(), commit, rev)) {
      skip("Cannot read " + m_failed_dir + ": " + errno_text(m_failed_errno), m_failed_dir);
      return std::move(m_out);
    }
    if (auto it = m_refs_by_commit.find(commit); it != m_refs_by_commit.end()) {
      rev.refs = std::move(it->second);
      std::sort(rev.refs.begin(), rev.refs.end());
      m_refs_by_commit.erase(it);
    }
    info.refs.insert(info.refs.end(), rev.refs.begin(), rev.refs.end());
    info.revisions.push_back(std::move(rev));
  }
  if (!m_refs_by_commit.empty()) {
    std::string msg = "Reference(s) refer to missing commit hashes: {";
    bool first = true;
    for (const auto& [commit, refs] : m_refs_by_commit) {
      msg += (first ? "'" : ", '") + commit + "': {";
      for (std::size_t i = 0; i < refs.size(); ++i) msg += (i ? ", '" : "'") + refs[i] + "'";
      msg += "}";
      first = false;
    }
    skip(msg + "} (" + path + ")", path);
    return std::move(m_out);
  }
  std::sort(info.refs.begin(), info.refs.end());

  if (!m_dangling.empty()) {
    std::sort(m_dangling.begin(), m_dangling.end());
    note("Blob missing (broken symlink): " + m_dangling.front() +
             (m_dangling.size() > 1 ? " (and " + std::to_string(m_dangling.size() - 1) + " more)" : "") +
             "; the file(s) are left out of the repo's numbers",
         m_dangling.front().substr(0, m_dangling.front().find(" (pointer ")));
  }
  if (!m_escaping.empty()) {
    std::sort(m_escaping.begin(), m_escaping.end());
    note("Symlink points outside the cache, not followed: " + m_escaping.front() +
             (m_escaping.size() > 1 ? " (and " + std::to_string(m_escaping.size() - 1) + " more)" : ""),
         m_escaping.front().substr(0, m_escaping.front().find(" -> ")));
  }

  info.nb_files = m_blobs.size();
  if (m_blobs.empty()) {
    if (::fstat(repo.get(), &st) == 0) {
      info.last_accessed = to_seconds(st.st_atim);
      info.last_modified = to_seconds(st.st_mtim);
    }
  } else {
    for (const auto& b : m_blobs) {
      info.size_on_disk += b.size;
      if (b.shared_hash.empty()) m_out.physical_size += b.size;
      info.last_accessed = std::max(info.last_accessed, b.atime);
      info.last_modified = std::max(info.last_modified, b.mtime);
    }
  }
  if (m_collect_blobs) {
    while (!m_blob_ids.empty()) {
      auto node = m_blob_ids.extract(m_blob_ids.begin());
      m_blobs[node.mapped()].path = std::move(node.key());
    }
    info.blobs = std::move(m_blobs);
  }
  apply_use_records(info);
  m_out.info = std::move(info);
  return std::move(m_out);
}

}  // namespace

void apply_use_records(CachedRepoInfo& info) {
  const auto layout = RepoLayout::of_folder(info.path);
  const auto records = layout ? read_use_records(*layout) : std::map<std::string, double>{};
  info.last_used = 0;
  for (auto& rev : info.revisions) {
    rev.last_used = rev.last_accessed;
    rev.last_used_source = UseSource::Atime;
    if (rev.last_modified > rev.last_used) {
      rev.last_used = rev.last_modified;
      rev.last_used_source = UseSource::Mtime;
    }
    if (auto it = records.find(rev.commit); it != records.end()) {
      rev.last_used = it->second;
      rev.last_used_source = UseSource::Record;
    }
    if (rev.last_used >= info.last_used) {
      info.last_used = rev.last_used;
      info.last_used_source = rev.last_used_source;
    }
  }
  if (info.revisions.empty()) {
    info.last_used = std::max(info.last_accessed, info.last_modified);
    info.last_used_source = info.last_accessed >= info.last_modified ? UseSource::Atime : UseSource::Mtime;
  }
}

RepoScan scan_repo(const std::string& root, int root_fd, const std::string& folder, unsigned char dtype,
                   const ScanOptions& options, const SharedBlobStore* store) {
  RepoScanner scanner(root, root_fd, folder, options, store);
  return scanner.run(dtype);
}

}  // namespace hubcache::manage_detail

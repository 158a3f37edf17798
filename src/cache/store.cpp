#include "hubcache/core/repo_id.hpp"
#include "hubcache/cache/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "hubcache/cache/folders.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache {
namespace {

// Guards against writing through a path that input could have bent outside the repo folder.
Result<void> check_inside(const std::string& dir, const std::string& path) {
  if (!fs::is_within(dir, path) || fs::normalize(dir) == fs::normalize(path))
    return fail(ErrorCode::InvalidPath, "Invalid pointer path: '" + path + "' is not inside '" + dir + "'", path);
  return {};
}

// The target of the symlink at `path`, or "" if it is not a symlink (or unreadable).
std::string read_link(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

}  // namespace

Result<void> ensure_cachedir_tag(const std::string& cache_dir) {
  HUBCACHE_TRY(fs::make_dirs(cache_dir));
  const std::string path = fs::join(cache_dir, k_cachedir_tag);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return {};
  // Write via a temp + link(2) so a reader never sees a partial tag and an existing one wins.
  const std::string tmp = path + "." + fs::random_hex(8) + ".tmp";
  HUBCACHE_TRY(fs::create_file_exclusive(tmp, cachedir_tag_content(), 0644));
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0 && err != EEXIST) return fail(errno_error(err, "cannot create", path));
  return {};
}

Result<void> init_repo_folder(const RepoLayout& layout) {
  HUBCACHE_TRY(check_repo_folder(layout));  // never create blobs/ etc. through a symlink out of the cache
  HUBCACHE_TRY(fs::make_dirs(layout.blobs_dir()));
  HUBCACHE_TRY(fs::make_dirs(layout.refs_dir()));
  HUBCACHE_TRY(fs::make_dirs(layout.snapshots_dir()));
  HUBCACHE_TRY(check_repo_folder(layout));
  HUBCACHE_TRY(check_cache_folder(layout.blobs_dir(), "blobs folder"));
  HUBCACHE_TRY(check_cache_folder(layout.refs_dir(), "refs folder"));
  HUBCACHE_TRY(check_snapshots_folder(layout));
  return {};
}

Result<void> init_snapshot_folder(const RepoLayout& layout, std::string_view commit) {
  if (!is_commit_hash(commit))
    return fail(ErrorCode::InvalidRevision, "'" + std::string(commit) + "' is not a 40-hex commit; a snapshot is named by one");
  HUBCACHE_TRY(init_repo_folder(layout));
  HUBCACHE_TRY(fs::make_dirs(layout.snapshot_dir(commit)));
  HUBCACHE_TRY(check_cache_folder(layout.snapshot_dir(commit), "snapshot folder"));
  return {};
}

Result<std::optional<std::string>> read_ref(const RepoLayout& layout, std::string_view revision) {
  HUBCACHE_TRY(validate_revision(revision));
  const std::string path = layout.ref_path(revision);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::optional<std::string>{};
  HUBCACHE_TRY_ASSIGN(std::string raw, fs::read_file(path, 4096));
  std::string commit(trim(raw));
  if (!is_commit_hash(commit))
    return fail(ErrorCode::CacheCorrupted,
                "ref '" + path + "' does not hold a 40-hex commit hash; delete it or re-download the revision", path);
  return std::optional<std::string>{std::move(commit)};
}

Result<void> write_ref(const RepoLayout& layout, std::string_view revision, std::string_view commit) {
  HUBCACHE_TRY(validate_revision(revision));
  if (!is_commit_hash(commit))
    return fail(ErrorCode::InvalidRevision, "refusing to write ref to non-commit '" + std::string(commit) + "'");
  const std::string path = layout.ref_path(revision);
  HUBCACHE_TRY(check_inside(layout.refs_dir(), path));
  auto existing = fs::read_file(path, 4096);
  if (existing && *existing == commit) return {};
  HUBCACHE_TRY(fs::make_dirs(fs::parent(path)));
  return fs::write_file_atomic(path, commit, 0644);
}

std::vector<std::string> cached_commits(const RepoLayout& layout) {
  std::vector<std::string> out;
  auto real = check_snapshots_folder(layout);  // a symlinked repo folder or snapshots/ holds nothing
  if (!real || !*real) return out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(layout.snapshots_dir(), ec)) {
    const std::string name = e.path().filename().string();
    std::error_code sec;
    if (is_commit_hash(name) && e.is_directory(sec) && !e.is_symlink(sec)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::optional<std::string>> resolve_commit(const RepoLayout& layout, std::string_view revision) {
  if (is_commit_hash(revision)) return std::optional<std::string>{std::string(revision)};
  return read_ref(layout, revision);
}

Result<void> publish_blob(const RepoLayout& layout, const std::string& tmp, std::string_view etag, fs::DirSync dir_sync) {
  HUBCACHE_TRY(validate_etag(etag));
  HUBCACHE_TRY(fs::make_dirs(layout.blobs_dir()));
  return fs::publish(tmp, layout.blob_path(etag), dir_sync);
}

Result<void> publish_blob(const RepoLayout& layout, const std::string& tmp, std::string_view etag, fs::GroupCommit& group) {
  HUBCACHE_TRY(validate_etag(etag));
  HUBCACHE_TRY(fs::make_dirs(layout.blobs_dir()));
  return group.publish(tmp, layout.blob_path(etag));
}

Result<void> publish_blob_later(const RepoLayout& layout, const std::string& tmp, std::string_view etag, fs::GroupCommit& group,
                                fs::GroupCommit::Then then) {
  HUBCACHE_TRY(validate_etag(etag));
  HUBCACHE_TRY(fs::make_dirs(layout.blobs_dir()));
  group.publish_later(tmp, layout.blob_path(etag), std::move(then));
  return {};
}

Result<bool> create_pointer(const RepoLayout& layout, std::string_view commit, std::string_view path, std::string_view etag,
                            LinkMode mode) {
  if (!is_commit_hash(commit)) return fail(ErrorCode::InvalidRevision, "not a commit hash: '" + std::string(commit) + "'");
  HUBCACHE_TRY(validate_repo_path(path));
  HUBCACHE_TRY(validate_etag(etag));
  const std::string pointer = layout.pointer_path(commit, path);
  HUBCACHE_TRY(check_inside(layout.snapshot_dir(commit), pointer));
  HUBCACHE_TRY(check_snapshot_folder(layout, commit));  // never write through a symlinked folder
  const std::string blob = layout.blob_path(etag);
  if (mode == LinkMode::Copy) {
    HUBCACHE_TRY(fs::make_dirs(fs::parent(pointer)));
    const std::string tmp = pointer + "." + fs::random_hex(8) + ".tmp";
    auto c = fs::copy_file(blob, tmp);
    if (!c) {
      ::unlink(tmp.c_str());
      return fail(std::move(c).error());
    }
    auto p = fs::publish(tmp, pointer);
    if (!p) {
      ::unlink(tmp.c_str());
      return fail(std::move(p).error());
    }
    return true;
  }

  const std::string target = pointer_target(path, etag);
  // The common case, a new pointer, costs one symlink(2); its folder is made and an existing
  // name checked only when that fails.
  if (::symlink(target.c_str(), pointer.c_str()) == 0) return true;
  if (errno == ENOENT) {
    HUBCACHE_TRY(fs::make_dirs(fs::parent(pointer)));
    if (::symlink(target.c_str(), pointer.c_str()) == 0) return true;
  }
  if (errno != EEXIST) {
    const int err = errno;
    if (err == EPERM || err == EOPNOTSUPP || err == ENOSYS)
      return create_pointer(layout, commit, path, etag, LinkMode::Copy);  // filesystem without symlinks
    return fail(errno_error(err, "cannot create symlink", pointer));
  }
  if (read_link(pointer) == target) return false;
  if (::unlink(pointer.c_str()) != 0 && errno != ENOENT) return fail(errno_error(errno, "cannot replace pointer", pointer));
  if (::symlink(target.c_str(), pointer.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST && same_file(pointer, blob)) return false;  // a concurrent writer won the race
    if (err == EPERM || err == EOPNOTSUPP || err == ENOSYS)
      return create_pointer(layout, commit, path, etag, LinkMode::Copy);  // filesystem without symlinks
    return fail(errno_error(err, "cannot create symlink", pointer));
  }
  return true;
}

Result<void> write_no_exist(const RepoLayout& layout, std::string_view commit, std::string_view path) {
  if (!is_commit_hash(commit)) return fail(ErrorCode::InvalidRevision, "not a commit hash: '" + std::string(commit) + "'");
  HUBCACHE_TRY(validate_repo_path(path));
  const std::string marker = layout.no_exist_path(commit, path);
  HUBCACHE_TRY(check_inside(layout.folder() + "/.no_exist/" + std::string(commit), marker));
  HUBCACHE_TRY(fs::make_dirs(fs::parent(marker)));
  auto created = fs::create_file_exclusive(marker, "", 0644);
  if (!created) return fail(std::move(created).error());
  return {};
}

Result<FileLock> lock_blob(const RepoLayout& layout, std::string_view etag, std::chrono::milliseconds timeout,
                           const FileLock::WaitCallback& on_wait, std::chrono::milliseconds report_every) {
  HUBCACHE_TRY(validate_etag(etag));
  HUBCACHE_TRY(fs::make_dirs(layout.locks_dir()));
  return FileLock::acquire(layout.lock_path(etag), timeout, on_wait, report_every);
}

std::size_t count_held_locks(const std::string& locks_dir, std::size_t stop_at) {
  std::size_t held = 0;
  fs::walk_folder(
      locks_dir, [&](const std::string&, const std::string&) { return held < stop_at; },
      [&](const fs::FolderEntry& f) {
        if (held >= stop_at || !S_ISREG(f.lst.st_mode) || !f.name.ends_with(".lock")) return;
        auto lock = FileLock::try_acquire(f.path);
        if (lock && !lock->held()) ++held;
      },
      [](const std::string&, int, fs::WalkFailure) {});
  return held;
}

Result<FileLock> try_lock_blob(const RepoLayout& layout, std::string_view etag) {
  HUBCACHE_TRY(validate_etag(etag));
  HUBCACHE_TRY(fs::make_dirs(layout.locks_dir()));
  return FileLock::try_acquire(layout.lock_path(etag));
}

Result<std::optional<std::vector<TreeFileEntry>>> read_tree_file(const RepoLayout& layout, std::string_view commit) {
  if (!is_commit_hash(commit)) return std::optional<std::vector<TreeFileEntry>>{};
  const std::string path = layout.tree_path(commit);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::optional<std::vector<TreeFileEntry>>{};
  HUBCACHE_TRY_ASSIGN(std::string text, fs::read_file(path, 256u << 20));
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::CacheCorrupted, "ignoring tree file '" + path + "': " + why, path);
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not valid JSON");
  if (!j.contains("format_version") || j["format_version"] != 1) return bad("unsupported format_version");
  if (!j.contains("files") || !j["files"].is_object()) return bad("no 'files' object");
  std::vector<TreeFileEntry> out;
  for (const auto& [name, v] : j["files"].items()) {
    if (!v.is_object() || !v.contains("size") || !v["size"].is_number_unsigned() || !v.contains("blob_id") ||
        !v["blob_id"].is_string())
      return bad("entry '" + name + "' lacks size or blob_id");
    TreeFileEntry e;
    e.path = name;
    e.size = v["size"].get<std::uint64_t>();
    e.blob_id = v["blob_id"].get<std::string>();
    if (v.contains("lfs_sha256") && v["lfs_sha256"].is_string()) e.lfs_sha256 = v["lfs_sha256"].get<std::string>();
    if (v.contains("lfs_size") && v["lfs_size"].is_number_unsigned()) e.lfs_size = v["lfs_size"].get<std::uint64_t>();
    if (v.contains("xet_hash") && v["xet_hash"].is_string()) e.xet_hash = v["xet_hash"].get<std::string>();
    out.push_back(std::move(e));
  }
  return std::optional<std::vector<TreeFileEntry>>{std::move(out)};
}

Result<void> write_tree_file(const RepoLayout& layout, std::string_view commit, const std::vector<TreeFileEntry>& entries) {
  return write_tree_file_in(layout.trees_dir(), commit, entries);
}

Result<std::string> tree_file_text(const std::vector<TreeFileEntry>& entries) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& e : entries) {
    HUBCACHE_TRY(validate_repo_path(e.path));
    nlohmann::json v = {{"size", e.size}, {"blob_id", e.blob_id}};
    if (e.lfs_sha256) v["lfs_sha256"] = *e.lfs_sha256;
    if (e.lfs_size) v["lfs_size"] = *e.lfs_size;
    if (e.xet_hash) {
      if (!is_lower_hex(*e.xet_hash, 64)) return std::string();  // PY skips the whole file then
      v["xet_hash"] = *e.xet_hash;
    }
    files[e.path] = std::move(v);
  }
  nlohmann::json doc = {{"format_version", 1}, {"files", std::move(files)}};
  return doc.dump(1, ' ', true);
}

Result<void> write_tree_file_in(const std::string& trees_dir, std::string_view commit,
                                const std::vector<TreeFileEntry>& entries) {
  if (!is_commit_hash(commit)) return fail(ErrorCode::InvalidRevision, "not a commit hash: '" + std::string(commit) + "'");
  HUBCACHE_TRY_ASSIGN(const std::string text, tree_file_text(entries));
  if (text.empty()) return {};
  HUBCACHE_TRY(fs::make_dirs(trees_dir));
  return fs::write_file_atomic(trees_dir + "/" + std::string(commit) + ".json", text, 0644);
}

}  // namespace hubcache

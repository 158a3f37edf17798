// execute_import: writes a plan into the cache in a crash-safe, idempotent order (see import.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <map>
#include <set>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/parallel.hpp"
#include "import_internal.hpp"

namespace hubcache {
namespace {

// Unlinks the moved source files, then the folders they leave empty (never the root itself).
void remove_sources(const ImportPlan& plan, ImportResult& result) {
  const std::string& root = plan.options.source_dir;
  std::set<std::string> dirs;
  std::set<std::string> done;
  for (const auto& f : plan.files) {
    if (!done.insert(f.source).second) continue;
    if (::unlink(f.source.c_str()) == 0)
      ++result.sources_removed;
    else if (errno != ENOENT)
      result.warnings.push_back(errno_error(errno, "imported but could not remove", f.source).message);
    for (std::string d = fs::parent(f.source); fs::is_within(root, d) && d != root; d = fs::parent(d)) dirs.insert(d);
  }
  std::vector<std::string> deepest_first(dirs.begin(), dirs.end());
  std::sort(deepest_first.begin(), deepest_first.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& d : deepest_first) ::rmdir(d.c_str());  // fails, harmlessly, when not empty
}

// After an in-place Move: the local-dir metadata of the moved files goes too, and the folder
// itself unless it is now the repo's folder. Only what is empty is removed: files the plan did
// not cover (skipped, untracked) stay, and the folder with them.
void remove_in_place_folder(const ImportPlan& plan, const RepoLayout& layout, ImportResult& result) {
  const std::string& root = plan.options.source_dir;
  const std::string meta = root + "/.cache/huggingface";
  std::error_code ec;
  for (const auto& f : plan.files) {
    for (const char* suffix : {".metadata", ".lock"}) ::unlink((meta + "/download/" + f.path + suffix).c_str());
    for (std::string d = fs::parent(meta + "/download/" + f.path); d.size() > meta.size(); d = fs::parent(d)) ::rmdir(d.c_str());
  }
  for (const char* d : {"/download", "/trees", ""}) {
    if (std::string(d) == "/trees") std::filesystem::remove_all(meta + d, ec);  // tree records are rewritable copies
    ::rmdir((meta + d).c_str());
  }
  ::rmdir((root + "/.cache").c_str());
  if (root != layout.folder() && ::rmdir(root.c_str()) != 0)
    result.warnings.push_back("'" + root + "' was imported but still holds files the import did not cover; it was left in place");
}

}  // namespace

Result<ImportResult> execute_import(const ImportPlan& plan) {
  const ImportOptions& o = plan.options;
  if (plan.files.empty()) return fail(ErrorCode::InvalidArgument, "the import plan holds no files");
  if (!is_commit_hash(plan.commit)) return fail(ErrorCode::InvalidRevision, "plan has no valid commit");
  if (plan.mode == ImportMode::Auto) return fail(ErrorCode::InvalidArgument, "plan mode must be resolved");
  const RepoLayout layout(o.cache_dir, o.repo);
  HUBCACHE_TRY(ensure_cachedir_tag(o.cache_dir));
  HUBCACHE_TRY(init_repo_folder(layout));

  std::map<std::string, std::vector<std::size_t>> by_blob;
  for (std::size_t i = 0; i < plan.files.size(); ++i) by_blob[plan.files[i].blob].push_back(i);
  std::vector<const std::vector<std::size_t>*> groups;
  for (const auto& [blob, idx] : by_blob) groups.push_back(&idx);

  std::atomic<std::size_t> blobs_written{0}, blobs_copied{0}, pointers_written{0};
  std::vector<std::optional<Error>> errors(groups.size());
  const bool try_link = plan.mode != ImportMode::Copy;
  // Per blob, under its lock as downloads do: publish it if absent, then point every path at it.
  parallel_for(groups.size(), o.threads, [&](std::size_t g) {
    const ImportFile& first = plan.files[groups[g]->front()];
    auto lock = lock_blob(layout, first.blob);
    if (!lock) {
      errors[g] = std::move(lock).error();
      return;
    }
    const std::string blob_path = layout.blob_path(first.blob);
    bool wrote_blob = false;
    struct stat st {};
    if (::lstat(blob_path.c_str(), &st) == 0) {
      if (!S_ISREG(st.st_mode)) {
        errors[g] =
            Error{ErrorCode::CacheCorrupted, "'" + blob_path + "' exists but is not a regular file; remove it", blob_path};
        return;
      }
    } else {
      wrote_blob = true;
      auto published = import_detail::publish_source_blob(layout, first, try_link);
      if (!published) {
        errors[g] = std::move(published).error();
        return;
      }
      ++blobs_written;
      if (*published) ++blobs_copied;
    }
    for (std::size_t i : *groups[g]) {
      const ImportFile& f = plan.files[i];
      auto c = create_pointer(layout, plan.commit, f.path, f.blob, o.disable_symlinks ? LinkMode::Copy : LinkMode::Symlink);
      if (!c) {
        errors[g] = std::move(c).error();
        return;
      }
      if (*c) ++pointers_written;
    }
    // No-symlink mode keeps only the snapshot's real files, like a download (docs/cache-format.md#no-symlinks).
    if (o.disable_symlinks && wrote_blob) ::unlink(blob_path.c_str());
  });
  for (auto& e : errors) {
    if (!e) continue;
    Error err = std::move(*e);
    err.message += "\nThe import stopped part-way (" +
                   std::string(plan.writes_ref() ? "refs/" + o.revision + " not written" : "snapshot incomplete") +
                   "); everything already in the cache is valid. Fix the cause and re-run the same command to finish.";
    return fail(std::move(err));
  }
  // One fsync of blobs/ for the whole batch, so the ref never names blobs a power cut could lose.
  if (blobs_written > 0) HUBCACHE_TRY(fs::fsync_dir(layout.blobs_dir()));
  if (plan.writes_ref()) HUBCACHE_TRY(write_ref(layout, o.revision, plan.commit));

  ImportResult result;
  result.plan = plan;
  result.blobs_written = blobs_written;
  result.blobs_copied = blobs_copied;
  result.pointers_written = pointers_written;
  if (plan.mode == ImportMode::Move) remove_sources(plan, result);
  if (plan.mode == ImportMode::Move && plan.in_place && !o.keep) remove_in_place_folder(plan, layout, result);
  return result;
}

Result<ImportResult> import_folder(const ImportOptions& options) {
  HUBCACHE_TRY_ASSIGN(ImportPlan plan, plan_import(options));
  return execute_import(plan);
}

}  // namespace hubcache

// scan_cache: one task per top-level entry (scan_repo.cpp), run with parallel_for.
#include "hubcache/manage/scan.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/parallel.hpp"
#include "import_internal.hpp"
#include "scan_repo.hpp"
#include "hubcache/cache/walk.hpp"

namespace hubcache {
namespace {

bool skipped_root_entry(std::string_view name) {
  return name == "." || name == ".." || name == k_locks_dir || name == k_cachedir_tag || is_os_junk(name);
}

}  // namespace

std::string_view to_string(UseSource source) {
  switch (source) {
    case UseSource::Record:
      return "record";
    case UseSource::Atime:
      return "atime";
    case UseSource::Mtime:
      return "mtime";
  }
  return "atime";
}

std::uint64_t HFCacheInfo::incomplete_size() const {
  std::uint64_t total = 0;
  for (const auto& f : incomplete_files) total += f.size;
  return total;
}

std::size_t HFCacheInfo::revision_count() const {
  std::size_t n = 0;
  for (const auto& r : repos) n += r.revisions.size();
  return n;
}

namespace {

// Root folders holding local-dir download metadata (`hf download --local-dir`) (seed 000: a local dir inside the cache).
void find_local_dir_copies(HFCacheInfo& cache, const std::vector<std::pair<std::string, unsigned char>>& entries) {
  for (const auto& [name, type] : entries) {
    if (type != DT_DIR && type != DT_UNKNOWN) continue;
    const std::string path = cache.cache_dir + "/" + name;
    struct stat st {};
    if (::lstat((path + "/.cache/huggingface/download").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    auto meta = import_detail::read_local_dir_metadata(path);
    if (!meta || !meta->present) continue;
    LocalDirCopy copy;
    copy.path = path;
    copy.repo = parse_repo_folder_name(name);
    std::set<std::string> commits;
    for (const auto& [file, rec] : meta->records) {
      struct stat fst {};
      if (::lstat((path + "/" + file).c_str(), &fst) != 0 || !S_ISREG(fst.st_mode)) continue;
      ++copy.files;
      copy.bytes += static_cast<std::uint64_t>(fst.st_size);
      commits.insert(rec.commit);
      for (const auto& repo : cache.repos) {
        struct stat bst {};
        if (validate_etag(rec.etag) && ::stat(RepoLayout(cache.cache_dir, repo.repo).blob_path(rec.etag).c_str(), &bst) == 0) {
          ++copy.already_cached;
          break;
        }
      }
    }
    copy.commits.assign(commits.begin(), commits.end());
    if (copy.files > 0) cache.local_dir_copies.push_back(std::move(copy));
  }
}

}  // namespace

Result<HFCacheInfo> scan_cache(const std::string& cache_dir_in, const ScanOptions& options) {
  HFCacheInfo cache;
  cache.cache_dir = fs::absolute_real(cache_dir_in);
  cache.has_files = options.collect_files;
  cache.has_blobs = options.keeps_blobs();
  struct stat st {};
  if (::stat(cache.cache_dir.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return fail(Error{ErrorCode::NotFound,
                        "Cache directory not found: " + cache.cache_dir + ". Use the cache_dir argument or set HF_HUB_CACHE.",
                        cache.cache_dir}
                      .with_remedy(Remedy::UseCacheDir));
    return fail(errno_error(errno, "cannot access cache directory", cache.cache_dir));
  }
  if (!S_ISDIR(st.st_mode))
    return fail(Error{ErrorCode::NotADirectory,
                      "Scan cache expects a directory but found a file: " + cache.cache_dir +
                          ". Use the cache_dir argument or set HF_HUB_CACHE.",
                      cache.cache_dir}
                    .with_remedy(Remedy::UseCacheDir));
  Fd root(::open(cache.cache_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return fail(errno_error(errno, "cannot read cache directory", cache.cache_dir));
  const SharedBlobStore store(cache.cache_dir);
  std::vector<std::pair<std::string, unsigned char>> entries;
  {
    DirReader reader(root.get());
    const char* name = nullptr;
    unsigned char type = DT_UNKNOWN;
    while (reader.next(name, type))
      if (!skipped_root_entry(name) && !(store.marked() && std::string_view(name) == k_shared_store_dir))
        entries.emplace_back(name, type);
    if (reader.error() != 0) return fail(errno_error(reader.error(), "cannot read cache directory", cache.cache_dir));
  }
  std::sort(entries.begin(), entries.end());

  std::vector<manage_detail::RepoScan> results(entries.size());
  parallel_for(entries.size(), options.threads, [&](std::size_t i) {
    results[i] = manage_detail::scan_repo(cache.cache_dir, root.get(), entries[i].first, entries[i].second, options, &store);
  });

  for (auto& r : results) {
    if (r.info) {
      cache.size_on_disk += r.physical_size;
      cache.repos.push_back(std::move(*r.info));
    }
    if (r.skipped) cache.skipped_repos.push_back(std::move(*r.skipped));
    for (auto& w : r.warnings) cache.warnings.push_back(std::move(w));
    for (auto& f : r.incomplete) cache.incomplete_files.push_back(std::move(f));
  }
  find_local_dir_copies(cache, entries);
  // Physical total: each shared payload once, referenced or not (research note 4.1).
  if (auto payloads = store.payloads()) {
    for (const auto& p : *payloads) cache.size_on_disk += p.size;
  } else {
    cache.warnings.push_back({store.dir(), "Cannot read the shared blob store: " + payloads.error().message, false});
  }
  std::sort(cache.repos.begin(), cache.repos.end(),
            [](const CachedRepoInfo& a, const CachedRepoInfo& b) { return a.label() < b.label(); });
  std::sort(cache.incomplete_files.begin(), cache.incomplete_files.end(),
            [](const IncompleteFile& a, const IncompleteFile& b) { return a.path < b.path; });
  return cache;
}

}  // namespace hubcache

#include "hubcache/manage/verify.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_map>

#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/moved_repos.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/parallel.hpp"
#include "hubcache/cache/walk.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache {
namespace {

// A ref that does not hold a 40-hex commit fails in read_ref with CacheCorrupted.
Result<std::string> resolve_revision(const RepoLayout& layout, const std::optional<std::string>& revision) {
  if (revision) {
    HUBCACHE_TRY_ASSIGN(auto commit, resolve_commit(layout, *revision));
    if (!commit)
      return fail(
          ErrorCode::RevisionNotFound,
          "Revision '" + *revision + "' could not be resolved in cache (expected file '" + layout.ref_path(*revision) + "')",
          layout.ref_path(*revision));
    return *commit;
  }
  HUBCACHE_TRY_ASSIGN(auto main_commit, read_ref(layout, "main"));
  if (main_commit) return *main_commit;
  const std::string snapshots = layout.snapshots_dir();
  HUBCACHE_TRY(check_snapshots_folder(layout));  // a symlinked snapshots/ is an error, not followed
  Fd fd(::open(snapshots.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid())
    return fail(Error{ErrorCode::CacheCorrupted,
                      "Cache repo is missing snapshots directory: " + snapshots + ". Name the revision explicitly.", snapshots}
                    .with_remedy(Remedy::UseRevision));
  std::vector<std::string> candidates;
  DirReader reader(fd.get());
  const char* name = nullptr;
  unsigned char type = DT_UNKNOWN;
  while (reader.next(name, type))
    if (type == DT_DIR && is_commit_hash(name)) candidates.emplace_back(name);
  if (candidates.size() == 1) return candidates.front();
  return fail(Error{
      ErrorCode::InvalidArgument,
      "Ambiguous cached revision: " +
          (candidates.empty() ? std::string("no snapshot found") : std::to_string(candidates.size()) + " snapshots found") +
          " and no refs/main to disambiguate. Please name the revision.",
      {}}.with_remedy(Remedy::UseRevision));
}

struct Expectation {
  std::string hash;
  DigestKind kind = DigestKind::Sha256;
  const char* algorithm() const { return to_string(kind); }
};

struct Entry {
  std::string path;     // relative
  std::string content;  // the file whose bytes are checked (blob or copied file)
  std::optional<Expectation> expected;
};

struct Job {
  std::string content;
  DigestKind kind;
  std::uint64_t size = 0;
  std::string digest;
  std::string error;
};

}  // namespace

const char* to_string(VerifyProblemKind kind) {
  switch (kind) {
    case VerifyProblemKind::Mismatch:
      return "mismatch";
    case VerifyProblemKind::MissingBlob:
      return "missing_blob";
    case VerifyProblemKind::DanglingPointer:
      return "dangling_pointer";
    case VerifyProblemKind::MissingFile:
      return "missing_file";
    case VerifyProblemKind::Unreadable:
      return "unreadable";
  }
  return "mismatch";
}

Result<VerifyReport> verify_repo(const std::string& cache_dir_in, const RepoRef& repo, const std::optional<std::string>& revision,
                                 const VerifyOptions& options) {
  HUBCACHE_TRY(validate_repo_id(repo.id));
  const std::string cache_dir = fs::absolute_real(cache_dir_in);
  const RepoLayout layout(cache_dir, repo);
  HUBCACHE_TRY_ASSIGN(const bool present, check_repo_folder(layout));  // a symlinked folder is refused
  if (!present)
    return fail(Error{ErrorCode::NotFound,
                      "Repo is not present in cache: " + layout.folder() + ". Download it first or check the repo type.",
                      layout.folder()}
                    .with_remedy(Remedy::Download));
  VerifyReport report;
  report.repo = repo;
  HUBCACHE_TRY_ASSIGN(report.commit, resolve_revision(layout, revision));
  report.snapshot_path = layout.snapshot_dir(report.commit);
  HUBCACHE_TRY_ASSIGN(const bool snapshot_present, check_snapshot_folder(layout, report.commit));
  if (!snapshot_present)
    return fail(ErrorCode::NotFound,
                "Snapshot directory does not exist for revision '" + report.commit + "': " + report.snapshot_path + ".",
                report.snapshot_path);

  // Expected hashes from the tree file, when it is usable.
  std::map<std::string, Expectation> tree;
  auto tree_file = read_tree_file(layout, report.commit);
  if (!tree_file) {
    report.notes.push_back(tree_file.error().message);
  } else if (*tree_file) {
    report.tree_file_used = true;
    for (const auto& e : **tree_file)
      tree[e.path] = e.lfs_sha256 ? Expectation{to_lower(*e.lfs_sha256), DigestKind::Sha256}
                                  : Expectation{to_lower(e.blob_id), DigestKind::GitSha1};
  }

  const SharedBlobStore store(cache_dir);
  RepoDirs dirs{cache_dir, layout.folder(), -1, &store, {}, {}};
  if (auto home = moved_repo_home(layout)) dirs.home = std::move(*home);  // moved out by `cache move ORG/NAME --to DIR`
  Fd blobs(::open(layout.blobs_dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  dirs.blobs_fd = blobs.get();
  Fd snap(::open(report.snapshot_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!snap.valid()) return fail(errno_error(errno, "cannot open snapshot", report.snapshot_path));

  std::vector<Entry> entries;
  std::vector<std::string> seen;
  Target t;
  auto on_error = [&](const std::string& path, int err) {
    report.problems.push_back({VerifyProblemKind::Unreadable, path.substr(report.snapshot_path.size() + 1), "", "", "",
                               errno_error(err, "cannot read", path).message});
  };
  auto on_file = [&](int dirfd, const std::string& dir_path, int depth, const std::string& rel, const char* name, bool is_link) {
    seen.push_back(rel);
    if (!resolve_entry(dirs, dirfd, dir_path, depth, name, is_link, t)) {
      on_error(dir_path + "/" + name, errno);
      return;
    }
    if (t.kind == TargetKind::Directory) return;
    if (t.kind == TargetKind::Special) {
      report.problems.push_back({VerifyProblemKind::Unreadable, rel, "", "", "", "not a regular file: " + t.blob_path});
      return;
    }
    if (t.kind == TargetKind::Dangling || t.kind == TargetKind::Escapes) {
      const bool missing_blob = t.kind == TargetKind::Dangling && t.in_repo_blobs;
      report.problems.push_back({missing_blob ? VerifyProblemKind::MissingBlob : VerifyProblemKind::DanglingPointer, rel, "", "",
                                 "",
                                 missing_blob                    ? "blob missing: " + t.blob_path
                                 : t.kind == TargetKind::Escapes ? "points outside the cache (not followed): " + t.link
                                                                 : "dangling symlink: " + t.link});
      return;
    }
    Entry e{rel, t.blob_path, std::nullopt};
    if (auto it = tree.find(rel); it != tree.end()) {
      e.expected = it->second;
    } else if (t.kind == TargetKind::Blob) {
      const std::string name_of_blob(blob_name(t));
      if (const DigestKind k = digest_kind_of(name_of_blob); k != DigestKind::None) e.expected = Expectation{name_of_blob, k};
    }
    if (!e.expected)
      report.unverified.push_back(rel);
    else
      entries.push_back(std::move(e));
  };
  walk_tree(std::move(snap), report.snapshot_path, 2, "", on_file, on_error);

  // Hash each (content, algorithm) once, biggest first so both cores stay busy to the end.
  std::vector<Job> jobs;
  std::map<std::pair<std::string, int>, std::size_t> job_of;
  for (const auto& e : entries) {
    const auto key = std::make_pair(e.content, static_cast<int>(e.expected->kind));
    if (job_of.emplace(key, jobs.size()).second) {
      struct stat st {};
      Job j{e.content, e.expected->kind, 0, "", ""};
      if (::stat(e.content.c_str(), &st) == 0) j.size = static_cast<std::uint64_t>(st.st_size);
      jobs.push_back(std::move(j));
    }
  }
  std::vector<std::size_t> order(jobs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return jobs[a].size > jobs[b].size; });
  parallel_for(order.size(), options.threads, [&](std::size_t k) {
    Job& j = jobs[order[k]];
    auto h = hash_file(j.content, j.kind == DigestKind::Sha256 ? HashWhat::Sha256 : HashWhat::GitSha1);
    if (!h) {
      j.error = h.error().message;
      return;
    }
    j.size = h->size;
    j.digest = j.kind == DigestKind::Sha256 ? h->sha256 : h->git_sha1;
  });
  for (const auto& j : jobs)
    if (j.error.empty()) report.bytes_hashed += j.size;

  for (const auto& e : entries) {
    const Job& j = jobs[job_of.at({e.content, static_cast<int>(e.expected->kind)})];
    if (!j.error.empty()) {
      report.problems.push_back({VerifyProblemKind::Unreadable, e.path, "", "", "", j.error});
      continue;
    }
    ++report.checked;
    if (j.digest != e.expected->hash)
      report.problems.push_back(
          {VerifyProblemKind::Mismatch, e.path, e.expected->hash, j.digest, e.expected->algorithm(), e.content});
  }
  std::sort(seen.begin(), seen.end());
  for (const auto& [path, exp] : tree) {
    if (std::binary_search(seen.begin(), seen.end(), path)) continue;
    if (!options.fail_on_missing_files)
      report.missing_files.push_back(path);  // sorted: `tree` is a map
    else
      report.problems.push_back({VerifyProblemKind::MissingFile, path, exp.hash, "", exp.algorithm(),
                                 "listed in " + layout.tree_path(report.commit) + " but absent from the snapshot"});
  }
  std::sort(report.problems.begin(), report.problems.end(),
            [](const VerifyProblem& a, const VerifyProblem& b) { return a.path < b.path; });
  std::sort(report.unverified.begin(), report.unverified.end());
  return report;
}

}  // namespace hubcache

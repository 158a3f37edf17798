// Reading the source folder: the walk, `hf download --local-dir` metadata, hashing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <vector>

#include "import_internal.hpp"
#include "hubcache/cache/local_dir.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache::import_detail {
namespace {

constexpr std::size_t k_max_listed_problems = 20;

std::string file_kind(mode_t m) {
  if (S_ISFIFO(m)) return "a named pipe";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  return "a special file";
}

struct Walker {
  std::string root;
  std::string cache;  // the destination cache: a symlink to one of its blobs is read as a file
  std::vector<SourceEntry> entries;
  std::vector<Problem> problems;

  void add_problem(ErrorCode code, std::string message, std::string path) {
    problems.push_back(Problem{code, std::move(message), std::move(path)});
  }

  // <cache>/<repo folder>/blobs/<name>: what `hubcache link` and `migrate --leave-link` leave.
  bool is_cache_blob(const std::string& real) const {
    if (cache.empty() || !fs::is_within(cache, real)) return false;
    const std::string rest = real.substr(cache.size() + 1);
    const auto first = rest.find('/');
    return first != std::string::npos && rest.compare(first, 7, "/blobs/") == 0 && rest.find('/', first + 7) == std::string::npos;
  }

  static bool skipped(const std::string& rel, const std::string& name) { return name == ".git" || rel == k_local_meta_dir; }

  void walk() {
    fs::walk_folder(
        root, [](const std::string& rel, const std::string& name) { return !skipped(rel, name); },
        [this](const fs::FolderEntry& e) { visit(e); },
        [this](const std::string& path, int err, fs::WalkFailure failure) {
          const bool folder = failure == fs::WalkFailure::ReadFolder;
          add_problem(folder && err == EACCES ? ErrorCode::PermissionDenied : ErrorCode::Io,
                      errno_error(err, fs::to_string(failure), path).message, path);
        });
  }

  void visit(const fs::FolderEntry& e) {
    const std::string& full = e.path;
    const std::string& rel = e.rel;
    const struct stat& lst = e.lst;
    if (skipped(rel, e.name)) return;
    if (auto v = validate_repo_path(rel); !v) {
      add_problem(ErrorCode::InvalidPath,
                  "'" + rel + "' cannot be a file name in a Hub repo (" + v.error().message + "); rename it", full);
      return;
    }
    if (S_ISREG(lst.st_mode)) {
      entries.push_back(SourceEntry{rel, full, full, static_cast<std::uint64_t>(lst.st_size)});
      return;
    }
    if (!S_ISLNK(lst.st_mode)) {
      add_problem(ErrorCode::InvalidArgument, "'" + rel + "' is " + file_kind(lst.st_mode) + ", not a regular file", full);
      return;
    }
    auto real = fs::real_path(full);
    if (!real) {
      add_problem(ErrorCode::NotFound, "'" + rel + "' is a dangling symlink; remove it or fix its target", full);
      return;
    }
    if ((!fs::is_within(root, *real) || *real == root) && !is_cache_blob(*real)) {
      add_problem(
          ErrorCode::InvalidPath,
          "'" + rel + "' is a symlink to '" + *real + "', outside the folder being imported; replace it with a copy of the file",
          full);
      return;
    }
    struct stat st {};
    if (::stat(real->c_str(), &st) != 0) {
      add_problem(ErrorCode::Io, errno_error(errno, "cannot stat", *real).message, full);
    } else if (S_ISDIR(st.st_mode)) {
      add_problem(ErrorCode::InvalidArgument,
                  "'" + rel + "' is a symlink to a directory, which import does not follow; use a real directory", full);
    } else if (!S_ISREG(st.st_mode)) {
      add_problem(ErrorCode::InvalidArgument, "'" + rel + "' points to " + file_kind(st.st_mode), full);
    } else {
      entries.push_back(SourceEntry{rel, full, *real, static_cast<std::uint64_t>(st.st_size)});
    }
  }
};

// A record import trusts: it parses (cache/local_dir.hpp) and names a commit hash and a digest.
std::optional<LocalDirRecord> parse_metadata(std::string_view text) {
  auto m = parse_local_metadata(text);
  if (!m || !is_commit_hash(m->commit) || digest_kind_of(m->etag) == DigestKind::None) return std::nullopt;
  return LocalDirRecord{m->commit, m->etag};
}

void collect_metadata(const std::string& dir, LocalDirMetadata& out) {
  fs::walk_folder(
      dir, nullptr,
      [&](const fs::FolderEntry& e) {
        const std::string& r = e.rel;
        if (!S_ISREG(e.lst.st_mode) || r.size() <= k_local_metadata_suffix.size() || !r.ends_with(k_local_metadata_suffix))
          return;  // locks, temp files
        out.present = true;
        const std::string path = r.substr(0, r.size() - k_local_metadata_suffix.size());
        auto text = fs::read_file(e.path, 4096);
        auto rec = text ? parse_metadata(*text) : std::nullopt;
        if (rec && validate_repo_path(path))
          out.records.emplace(path, std::move(*rec));
        else
          out.unreadable.push_back(e.path);
      },
      [](const std::string&, int, fs::WalkFailure) {});
}

}  // namespace

Error problems_error(const std::string& headline, const std::vector<Problem>& problems) {
  std::string msg = headline;
  for (std::size_t i = 0; i < problems.size() && i < k_max_listed_problems; ++i) msg += "\n  - " + problems[i].message;
  if (problems.size() > k_max_listed_problems)
    msg += "\n  ... and " + std::to_string(problems.size() - k_max_listed_problems) + " more";
  Error e{problems.front().code, std::move(msg), problems.front().path};
  return e;
}

Result<std::vector<SourceEntry>> walk_source(const std::string& root, const std::string& cache) {
  Walker w;
  w.root = root;
  w.cache = cache;
  w.walk();
  if (!w.problems.empty()) return fail(problems_error("cannot import '" + root + "'; nothing was changed:", w.problems));
  std::sort(w.entries.begin(), w.entries.end(), [](const SourceEntry& a, const SourceEntry& b) { return a.path < b.path; });
  return std::move(w.entries);
}

Result<std::vector<SourceEntry>> list_named_sources(const std::string& root, const std::vector<NamedSourceFile>& files) {
  std::vector<SourceEntry> entries;
  std::vector<Problem> problems;
  std::set<std::string> paths;
  for (const auto& f : files) {
    if (auto v = validate_repo_path(f.path); !v) {
      problems.push_back(Problem{ErrorCode::InvalidPath,
                                 "'" + f.path + "' cannot be a file name in a Hub repo (" + v.error().message + ")", f.source});
      continue;
    }
    if (!paths.insert(f.path).second) {
      problems.push_back(Problem{ErrorCode::InvalidArgument, "'" + f.path + "' is named twice", f.source});
      continue;
    }
    auto real = fs::real_path(f.source);
    struct stat st {};
    if (!real || ::stat(real->c_str(), &st) != 0) {
      problems.push_back(Problem{ErrorCode::NotFound, errno_error(errno, "cannot read", f.source).message, f.source});
    } else if (!S_ISREG(st.st_mode)) {
      problems.push_back(Problem{ErrorCode::InvalidArgument, "'" + f.source + "' is not a regular file", f.source});
    } else if (!fs::is_within(root, fs::absolute_real(fs::parent(f.source)))) {
      problems.push_back(Problem{ErrorCode::InvalidPath, "'" + f.source + "' is outside '" + root + "'", f.source});
    } else {
      entries.push_back(SourceEntry{f.path, f.source, *real, static_cast<std::uint64_t>(st.st_size), f.lfs});
    }
  }
  if (!problems.empty()) return fail(problems_error("cannot import from '" + root + "'; nothing was changed:", problems));
  std::sort(entries.begin(), entries.end(), [](const SourceEntry& a, const SourceEntry& b) { return a.path < b.path; });
  return entries;
}

Result<LocalDirMetadata> read_local_dir_metadata(const std::string& root) {
  LocalDirMetadata out;
  collect_metadata(root + "/" + std::string(k_local_download_dir), out);
  std::sort(out.unreadable.begin(), out.unreadable.end());
  return out;
}

Result<HashedSource> hash_source(const std::string& path, DigestKind kind) {
  auto h = hash_file(path, kind == DigestKind::Sha256 ? HashWhat::Sha256 : HashWhat::GitSha1);
  if (!h) {
    Error e = std::move(h).error();
    if (e.code == ErrorCode::Conflict) e.message += " (re-run the import)";
    return fail(std::move(e));
  }
  HashedSource out;
  out.size = h->size;
  out.digest = kind == DigestKind::Sha256 ? h->sha256 : h->git_sha1;
  out.stamp = SourceStamp{h->dev, h->ino, h->mtime_ns};
  return out;
}

}  // namespace hubcache::import_detail

#include "hubcache/hygiene/views.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "hubcache/cache/local_dir.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "link_file.hpp"

namespace hubcache::hygiene {
namespace {

// mkdir -p below `dest` (which exists), refusing a symlinked or non-folder component.
Result<void> make_folders(const std::string& dest, const std::string& rel_dir) {
  std::string at = dest;
  std::size_t i = 0;
  while (i < rel_dir.size()) {
    const auto slash = rel_dir.find('/', i);
    at += "/" + rel_dir.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
    i = slash == std::string::npos ? rel_dir.size() : slash + 1;
    if (::mkdir(at.c_str(), 0755) == 0) continue;
    if (errno != EEXIST) return fail(errno_error(errno, "cannot create the folder", at));
    struct stat st {};
    if (::lstat(at.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return fail(ErrorCode::Conflict, "'" + at + "' is in the way (a view only creates real folders): move it away", at);
  }
  return {};
}

// `path` already is a link of `source`.
bool already_linked(const std::string& path, const std::string& source, const struct stat& src) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return false;
  if (S_ISREG(st.st_mode)) return st.st_dev == src.st_dev && st.st_ino == src.st_ino;
  if (!S_ISLNK(st.st_mode)) return false;
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 && std::string(buf, static_cast<std::size_t>(n)) == source;
}

// An existing file at a view's place holds exactly the bytes `digest` names (a --local-dir copy of
// the blob): it may be replaced by the link.
bool holds(const std::string& path, const std::string& digest) {
  const DigestKind kind = digest_kind_of(digest);
  if (kind == DigestKind::None) return false;
  auto h = hash_file(path, kind == DigestKind::Sha256 ? HashWhat::Sha256 : HashWhat::GitSha1);
  return h && (kind == DigestKind::Sha256 ? h->sha256 : h->git_sha1) == digest;
}

// link_view's work; `digests` (parallel to `files`, or empty) lets an existing file with exactly
// those bytes be replaced.
Result<ViewReport> make_view(const std::vector<ViewFile>& files, const std::vector<std::string>& digests, const std::string& dest,
                             LinkKind kind, const RepoLayout* record_in) {
  ViewReport out;
  std::error_code ec;
  std::filesystem::create_directories(dest, ec);  // the folder the caller chose, and its parents
  if (ec) return fail(errno_error(ec.value(), "cannot create the folder", dest));
  struct stat dst {};
  if (::lstat(dest.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode))
    return fail(ErrorCode::InvalidArgument, "'" + dest + "' is not a folder (a symlink is not followed: give its target)", dest);
  if (kind == LinkKind::Symlink && record_in != nullptr) record_linked_folder(*record_in, fs::absolute_real(dest));
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& f = files[i];
    struct stat src {};
    if (::stat(f.source.c_str(), &src) != 0) return fail(errno_error(errno, "cannot read the cached file", f.source));
    out.bytes += static_cast<std::uint64_t>(src.st_size);
    const std::string target = dest + "/" + f.path;
    const auto slash = f.path.rfind('/');
    if (slash != std::string::npos) HUBCACHE_TRY(make_folders(dest, f.path.substr(0, slash)));
    if (already_linked(target, f.source, src)) {
      ++out.already;
      continue;
    }
    struct stat existing {};
    if (::lstat(target.c_str(), &existing) == 0 && !(S_ISREG(existing.st_mode) && !digests.empty() && holds(target, digests[i])))
      return fail(ErrorCode::Conflict,
                  "'" + target + "' exists and is not a link of the cached file: move it away, or choose another folder", target);
    if (kind != LinkKind::Symlink && src.st_dev != dst.st_dev)
      return fail(ErrorCode::InvalidArgument,
                  "'" + dest + "' is on another filesystem than the cache ('" + f.source +
                      "'): links cannot cross filesystems; make symlinks instead, or choose a folder on the cache's filesystem",
                  dest);
    const std::string temp = target.substr(0, target.rfind('/') + 1) + ".hubcache-view-" + fs::random_hex(8) + ".tmp";
    int err = 0;
    bool reflinked = false;
    if (kind == LinkKind::Symlink) {
      err = ::symlink(f.source.c_str(), temp.c_str()) == 0 ? 0 : errno;
    } else {
      if (kind == LinkKind::Auto || kind == LinkKind::Reflink) {
        err = detail::clone_file(f.source, temp, nullptr);
        reflinked = err == 0;
      }
      if (!reflinked && (kind == LinkKind::Hardlink || (kind == LinkKind::Auto && detail::no_reflink_here(err))))
        err = ::link(f.source.c_str(), temp.c_str()) == 0 ? 0 : errno;
    }
    if (err) return fail(errno_error(err, "cannot link the cached file into the view", target));
    if (::rename(temp.c_str(), target.c_str()) != 0) {
      const int e = errno;
      ::unlink(temp.c_str());
      return fail(errno_error(e, "cannot place the link", target));
    }
    ++out.linked;
    out.reflinks += reflinked;
  }
  return out;
}

}  // namespace

Result<ViewReport> link_view(const std::vector<ViewFile>& files, const std::string& dest, LinkKind kind,
                             const RepoLayout* record_in) {
  return make_view(files, {}, dest, kind, record_in);
}

Result<ViewReport> link_local_dir(const std::vector<LocalDirFile>& files, const std::string& commit, const std::string& dest,
                                  LinkKind kind, const RepoLayout* record_in) {
  std::vector<ViewFile> view;
  std::vector<std::string> digests;
  for (const auto& f : files) {
    view.push_back({f.path, f.source});
    digests.push_back(f.etag);
  }
  HUBCACHE_TRY_ASSIGN(auto out, make_view(view, digests, dest, kind, record_in));
  // The records huggingface_hub keeps (cache/local_dir.hpp), written after the files so that each
  // file's mtime is not later than its record: `hf download --local-dir` and this tool then take
  // the files as current.
  const LocalDirLayout layout(dest);
  const double now =
      static_cast<double>(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count()) /
      1e6;
  HUBCACHE_TRY(make_folders(dest, std::string(k_local_meta_dir)));
  const std::string gitignore = layout.meta_dir() + "/.gitignore";
  struct stat gi {};
  if (::lstat(gitignore.c_str(), &gi) != 0) HUBCACHE_TRY(fs::write_file_atomic(gitignore, "*"));
  for (const auto& f : files) {
    const std::string record = layout.metadata_path(f.path);
    HUBCACHE_TRY(make_folders(dest, record.substr(dest.size() + 1, record.rfind('/') - dest.size() - 1)));
    HUBCACHE_TRY(fs::write_file_atomic(record, format_local_metadata({commit, f.etag, now})));
  }
  return out;
}

}  // namespace hubcache::hygiene

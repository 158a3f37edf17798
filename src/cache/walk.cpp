#include "hubcache/cache/walk.hpp"

#include <climits>
#include <cstdlib>

#include <algorithm>

#include "hubcache/cache/layout.hpp"
#include "hubcache/core/repo_id.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache {

bool is_os_junk(std::string_view name) { return name == ".DS_Store" || name == "Thumbs.db" || name == "desktop.ini"; }

namespace {

// The usual pointer text "../" * depth + "blobs/<name>": returns <name>, or "" if it is not that.
std::string_view blob_name_of_usual_link(std::string_view link, int depth) {
  for (int i = 0; i < depth; ++i) {
    if (link.substr(0, 3) != "../") return {};
    link.remove_prefix(3);
  }
  if (link.substr(0, k_blobs_dir.size()) != k_blobs_dir || link.substr(k_blobs_dir.size(), 1) != "/") return {};
  link.remove_prefix(k_blobs_dir.size() + 1);
  if (link.empty() || link == "." || link == ".." || link.find('/') != std::string_view::npos) return {};
  return link;
}

// Inside the cache: strictly below its root, or inside the home of a moved repo.
bool inside(const RepoDirs& repo, const std::string& path) {
  if (fs::is_within(repo.cache_dir, path) && path != repo.cache_dir) return true;
  return !repo.home.empty() && fs::is_within(repo.home, path);
}

// The blob path is <repo>/blobs/<name> of this repo (through its cache path or its home).
bool in_blobs_of(const RepoDirs& repo, const std::string& blob_path) {
  const std::string dir = fs::parent(blob_path), blobs = "/" + std::string(k_blobs_dir);
  return dir == repo.repo_path + blobs || (!repo.home.empty() && dir == repo.home + blobs);
}

}  // namespace

bool resolve_entry(const RepoDirs& repo, int dirfd, const std::string& dir_path, int depth, const char* name, bool is_link,
                   Target& out) {
  out.in_repo_blobs = false;
  out.shared_hash.clear();
  out.payload_path.clear();
  if (!is_link) {
    if (::fstatat(dirfd, name, &out.st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    out.kind = TargetKind::Self;
    out.link.clear();
    out.blob_path.assign(dir_path).append("/").append(name);
    return true;
  }
  char buf[PATH_MAX];
  const ssize_t n = ::readlinkat(dirfd, name, buf, sizeof buf - 1);
  if (n < 0) return false;
  out.link.assign(buf, static_cast<std::size_t>(n));

  // Fast path: a relative link straight into this repo's blobs/ (every PY/JS/hubcache pointer).
  const std::string_view blob = blob_name_of_usual_link(out.link, depth);
  if (!blob.empty()) {
    out.blob_path.assign(repo.repo_path).append("/").append(k_blobs_dir).append("/").append(blob);
    out.in_repo_blobs = true;
    if (repo.known_blob && repo.known_blob(out.blob_path)) {
      out.kind = TargetKind::Blob;
      out.st = {};
      return true;
    }
    if (repo.blobs_fd < 0) {
      // No blobs/ dir: the blob is missing. (A symlinked blobs/ is opened as -1 too; check it.)
      struct stat st {};
      const std::string blobs = repo.repo_path + "/" + std::string(k_blobs_dir);
      if (::lstat(blobs.c_str(), &st) != 0) {
        out.kind = TargetKind::Dangling;
        return true;
      }
    } else {
      const std::string blob_name(blob);
      if (::fstatat(repo.blobs_fd, blob_name.c_str(), &out.st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISREG(out.st.st_mode)) {
          out.kind = TargetKind::Blob;
          return true;
        }
        if (S_ISLNK(out.st.st_mode) && repo.store && repo.store->marked()) {
          // A shared entry: the repo's blob is the entry itself (first hop), its bytes the payload.
          auto hash = repo.store->hash_of_entry(out.blob_path);
          if (!hash) return false;
          if (*hash) {
            out.shared_hash = **hash;
            const auto payload = repo.store->linked_payload(out.blob_path);
            if (payload && ::lstat(payload->path.c_str(), &out.st) == 0 && S_ISREG(out.st.st_mode)) {
              out.kind = TargetKind::Blob;
              out.payload_path = payload->path;
              return true;
            }
            out.kind = TargetKind::Dangling;  // payload gone (or not a plain file): a broken link
            return true;
          }
        }
      } else if (errno == ENOENT) {
        out.kind = TargetKind::Dangling;
        return true;
      }
    }
    // The blob (or blobs/) is itself a symlink or something odd: resolve it fully below.
  }

  // Slow path: lexical check first (an escaping link is never followed), then realpath.
  const std::string lexical = fs::normalize(!out.link.empty() && out.link.front() == '/' ? out.link : dir_path + "/" + out.link);
  if (!inside(repo, lexical)) {
    out.kind = TargetKind::Escapes;
    out.blob_path = lexical;
    out.in_repo_blobs = false;
    return true;
  }
  const std::string self = dir_path + "/" + name;
  char real[PATH_MAX];
  if (::realpath(self.c_str(), real) == nullptr) {
    out.kind = TargetKind::Dangling;
    out.blob_path = lexical;
    out.in_repo_blobs = in_blobs_of(repo, lexical);
    return true;
  }
  out.blob_path = real;
  if (!inside(repo, out.blob_path)) {
    out.kind = TargetKind::Escapes;
    out.in_repo_blobs = false;
    return true;
  }
  if (::stat(real, &out.st) != 0) {
    out.kind = TargetKind::Dangling;
    return true;
  }
  out.kind = S_ISDIR(out.st.st_mode) ? TargetKind::Directory : S_ISREG(out.st.st_mode) ? TargetKind::Blob : TargetKind::Special;
  out.in_repo_blobs = in_blobs_of(repo, out.blob_path);
  return true;
}

bool resolve_pointer(const RepoDirs& repo, std::string_view commit, std::string_view path, Target& out) {
  // A moved repo's folder is a symlink: its home is opened instead (nothing below is followed).
  Fd dir(::open((repo.home.empty() ? repo.repo_path : repo.home).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return false;
  std::string dir_path = repo.repo_path;
  int depth = 0;
  auto descend = [&](std::string_view name) {
    const std::string n(name);
    dir = open_dir_at(dir.get(), n.c_str());
    dir_path.append("/").append(n);
    ++depth;
    return dir.valid();
  };
  if (!descend(k_snapshots_dir) || !descend(commit)) return false;
  std::string_view rest = path;
  for (auto slash = rest.find('/'); slash != std::string_view::npos; slash = rest.find('/')) {
    if (!descend(rest.substr(0, slash))) return false;
    rest.remove_prefix(slash + 1);
  }
  const std::string name(rest);
  struct stat st {};
  if (name.empty() || ::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  if (S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    return false;
  }
  if (!S_ISLNK(st.st_mode) && !S_ISREG(st.st_mode)) {
    errno = EINVAL;
    return false;
  }
  return resolve_entry(repo, dir.get(), dir_path, depth, name.c_str(), S_ISLNK(st.st_mode), out);
}

std::string_view blob_name(const Target& t) {
  if (t.kind != TargetKind::Blob) return {};
  const std::string_view p = t.blob_path;
  const auto slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

bool is_reachable(const RepoDirs& repo, const Target& t) {
  if (t.kind == TargetKind::Self) return S_ISREG(t.st.st_mode);
  if (t.kind != TargetKind::Blob || !t.in_repo_blobs) return false;
  const std::string_view name = blob_name(t);
  if (name.empty() || !validate_etag(name) || name.ends_with(k_incomplete_suffix)) return false;
  if (t.shared_hash.empty()) return S_ISREG(t.st.st_mode);
  // A shared entry: the payload must be where the store says, with nothing symlinked on the way.
  if (!repo.store || !repo.store->marked() || t.payload_path.empty()) return false;
  auto real = fs::real_path(t.payload_path);
  return real && *real == t.payload_path && fs::is_within(repo.cache_dir, *real);
}

std::vector<std::string> list_ref_names(const std::string& repo_path) {
  std::vector<std::string> out;
  Fd repo(::open(repo_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!repo.valid()) return out;
  const std::string refs_dir(k_refs_dir);
  Fd refs = open_dir_at(repo.get(), refs_dir.c_str());
  if (!refs.valid()) return out;
  auto on_file = [&](int, const std::string&, int depth, const std::string& rel, const char* name, bool is_link) {
    if (!is_link && !is_os_junk(name) && depth <= 9) out.push_back(rel);
  };
  auto on_error = [](const std::string&, int) {};
  walk_tree(std::move(refs), repo_path + "/" + refs_dir, 1, "", on_file, on_error);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace hubcache

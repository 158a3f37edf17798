// SharedBlobStore: marker, payload paths, link recognition, manifests, locks, sweep, reuse.
#include "hubcache/core/repo_id.hpp"
#include "hubcache/cache/shared_blobs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <chrono>
#include <thread>
#include <mutex>
#include <cerrno>
#include <climits>
#include <memory>
#include <optional>

#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache {
namespace {

using fs::Fd;

bool lstat_is(const std::string& path, mode_t type) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == type;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80)
      n = 0;
    else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
      n = 1;
    else if ((c & 0xf0) == 0xe0)
      n = 2;
    else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
      n = 3;
    else
      return false;
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

// Path components as Python's PurePath splits them (empty and "." parts dropped).
std::vector<std::string_view> components(std::string_view p) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i <= p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    const auto part = p.substr(i, j - i);
    if (!part.empty() && part != ".") out.push_back(part);
    i = j + 1;
  }
  return out;
}

bool is_repo_folder_name(std::string_view f) {
  for (std::string_view prefix : {"models--", "datasets--", "spaces--"})
    if (f.size() > prefix.size() && f.substr(0, prefix.size()) == prefix) return true;
  return false;
}

Result<std::string> read_link(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) {
    const int err = errno;
    Error e = errno_error(err, "cannot read link", path);
    errno = err;  // callers tell "not found" from real I/O errors
    return fail(std::move(e));
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

// Opens (creating) a cross-user metadata file with mode 0666 and no symlink following.
Result<fs::Fd> open_shared_meta(const std::string& path, int flags) {
  fs::Fd fd(::open(path.c_str(), flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666));
  if (!fd) return fail(errno_error(errno, "cannot open", path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    return fail(errno_error(err ? err : EINVAL, "not a regular file", path));
  }
  (void)::fchmod(fd.get(), 0666);  // best effort: the file may belong to another user
  return fd;
}

// Modes of note 2.4 from the cache root's: payload (and marker) read-only, 0400 plus group and
// other read where the root grants them search; directories the root's bits but setuid.
struct StoreModes {
  mode_t payload = 0400;
  mode_t dir = 0700;
};
StoreModes store_modes(const std::string& root) {
  struct stat st {};
  StoreModes m;
  if (::stat(root.c_str(), &st) != 0) return m;
  m.payload = 0400 | ((st.st_mode & S_IXGRP) ? 0040 : 0) | ((st.st_mode & S_IXOTH) ? 0004 : 0);
  m.dir = st.st_mode & 07777 & ~static_cast<mode_t>(S_ISUID);
  return m;
}

// ".huggingface-shared-blobs.<8 hex>.tmp" holding a prefix of "1\n": an abandoned marker write.
bool is_marker_temp(const std::string& dir, const std::string& name) {
  const std::string stem = std::string(k_shared_marker) + ".";
  if (name.size() != stem.size() + 8 + 4 || name.compare(0, stem.size(), stem) != 0 || !name.ends_with(".tmp")) return false;
  if (!is_lower_hex(std::string_view(name).substr(stem.size(), 8), 8)) return false;
  auto text = fs::read_regular_file(fs::join(dir, name), 8);
  return text && std::string_view(k_shared_marker_content).starts_with(*text);
}

// Appends `line` to a payload's manifest and fsyncs it: the reference is durable before the link
// that it counts becomes visible (research note shared-blobs.md 3.3 step 3).
Result<void> append_reference(const std::string& manifest, const std::string& line) {
  HUBCACHE_TRY_ASSIGN(fs::Fd fd, open_shared_meta(manifest, O_WRONLY | O_APPEND));
  const ssize_t n = ::write(fd.get(), line.data(), line.size());
  const int werr = errno;
  const bool synced = n == static_cast<ssize_t>(line.size()) && ::fsync(fd.get()) == 0;
  const int serr = errno;
  if (!synced)
    return fail(errno_error(n < 0 ? werr : n == static_cast<ssize_t>(line.size()) ? serr : EIO, "cannot append to", manifest));
  return {};
}

// A relative link blobs/.<etag>.<hex>.shared -> ../../blobs/<h[:2]>/<h>, renamed over
// blobs/<etag> once its manifest line is durable. Returns the temporary's path.
Result<std::string> stage_shared_link(const RepoLayout& layout, std::string_view etag, std::string_view hash) {
  const std::string tmp = layout.blobs_dir() + "/." + std::string(etag) + "." + fs::random_hex(8) + ".shared";
  const std::string target = "../../blobs/" + std::string(hash.substr(0, 2)) + "/" + std::string(hash);
  if (::symlink(target.c_str(), tmp.c_str()) != 0) return fail(errno_error(errno, "cannot create link", tmp));
  return tmp;
}

}  // namespace

bool is_xet_hash(std::string_view h) { return is_lower_hex(h, 64); }

Result<bool> SharedBlobStore::ensure_marked() {
  if (m_marked) return true;
  const std::string store = dir();
  const StoreModes modes = store_modes(m_root);
  struct stat st {};
  if (::lstat(store.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail(errno_error(errno, "cannot inspect", store));
    if (::mkdir(store.c_str(), 0700) != 0 && errno != EEXIST) return fail(errno_error(errno, "cannot create", store));
    if (::lstat(store.c_str(), &st) != 0) return fail(errno_error(errno, "cannot inspect", store));
  }
  if (!S_ISDIR(st.st_mode)) return false;  // a symlink or file named blobs: not ours to use
  // Adopt only an empty folder, or one holding nothing but abandoned marker temporaries. Another
  // thread or process may be marking it right now: its temporary is younger than a few seconds,
  // so it is waited for (up to about 2 s) rather than deleted, and a marker that appears meanwhile
  // (or replaces ours in the rename race) is taken as the store's.
  static std::mutex marking;  // one marker writer per process
  std::lock_guard in_process(marking);
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> temps;
    bool foreign = false, fresh_temp = false;
    std::vector<std::string> listed;
    if (DIR* d = ::opendir(store.c_str())) {
      while (const dirent* e = ::readdir(d))
        if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") listed.emplace_back(e->d_name);
      ::closedir(d);
    } else {
      return fail(errno_error(errno, "cannot list", store));
    }
    for (const auto& name : listed) {
      if (name == k_shared_marker) {
        auto marker = fs::read_regular_file(fs::join(store, name), 64);
        if (marker && *marker == k_shared_marker_content) {
          m_marked = true;
          return true;
        }
        foreign = true;
      } else if (is_marker_temp(store, name)) {
        temps.push_back(name);
        struct stat tst {};
        if (::lstat(fs::join(store, name).c_str(), &tst) == 0 && ::time(nullptr) - tst.st_mtime < 10) fresh_temp = true;
      } else {
        foreign = true;
      }
    }
    if (foreign) return false;
    if (fresh_temp && attempt < 40) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    for (const auto& t : temps) ::unlink(fs::join(store, t).c_str());
    const std::string tmp = fs::join(store, std::string(k_shared_marker) + "." + fs::random_hex(8) + ".tmp");
    {
      fs::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd) return fail(errno_error(errno, "cannot create", tmp));
      HUBCACHE_TRY(fs::write_all(fd.get(), k_shared_marker_content, tmp));
      (void)::fchmod(fd.get(), modes.payload);
      if (::fsync(fd.get()) != 0) return fail(errno_error(errno, "cannot flush", tmp));
    }
    if (::rename(tmp.c_str(), fs::join(store, k_shared_marker).c_str()) == 0) break;
    const int err = errno;
    ::unlink(tmp.c_str());
    if (err != ENOENT || attempt >= 40) return fail(errno_error(err, "cannot create the shared store's marker in", store));
    // ENOENT: another process took our temporary for abandoned; look again.
  }
  (void)::chmod(store.c_str(), modes.dir);
  (void)fs::fsync_dir(store);
  m_marked = true;
  return true;
}

Result<bool> SharedBlobStore::publish(const RepoLayout& layout, std::string_view etag, std::string_view hash,
                                      std::uint64_t expected_size, const std::string& file, bool replace_existing) {
  if (!is_xet_hash(hash) || digest_kind_of(etag) != DigestKind::Sha256 || layout.cache_dir() != m_root) return false;
  const std::string folder_name = layout.folder().substr(layout.cache_dir().size() + 1);
  if (!is_repo_folder_name(folder_name)) return false;
  HUBCACHE_TRY_ASSIGN(const bool marked, ensure_marked());
  if (!marked) return false;
  const StoreModes modes = store_modes(m_root);
  const std::string prefix = dir() + "/" + std::string(hash.substr(0, 2));
  if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return fail(errno_error(errno, "cannot create", prefix));
  struct stat pst {};
  if (::lstat(prefix.c_str(), &pst) != 0 || !S_ISDIR(pst.st_mode)) return false;  // a symlinked prefix is refused
  if ((pst.st_mode & 07777) != modes.dir) (void)::chmod(prefix.c_str(), modes.dir);

  HUBCACHE_TRY_ASSIGN(FileLock held, lock(hash));
  const std::string blobs = layout.blobs_dir();
  HUBCACHE_TRY_ASSIGN(const std::string tmp, stage_shared_link(layout, etag, hash));
  auto undo = [&](Error e) {
    ::unlink(tmp.c_str());
    return fail(std::move(e));
  };
  const bool usable = !replace_existing && payload_usable(hash, expected_size);
  if (usable) {
    // Python links to any payload of the right size; a payload holding other bytes would then
    // serve them under this file's name. Its bytes are checked first, and such a payload is left
    // alone (cache verify reports it) while this file stays repo-local.
    if (!payload_holds(hash, etag, expected_size)) {
      ::unlink(tmp.c_str());
      return false;
    }
  }
  if (auto added = append_reference(manifest_path(hash), folder_name + "/blobs/" + std::string(etag) + "\n"); !added)
    return undo(std::move(added).error());
  const std::string payload = payload_path(hash);
  if (!usable) {
    if (::chmod(file.c_str(), modes.payload) != 0) return undo(errno_error(errno, "cannot set the mode of", file));
    struct stat fst {};
    if (::stat(file.c_str(), &fst) != 0) return undo(errno_error(errno, "cannot inspect", file));
    if (fst.st_gid != pst.st_gid && ::chown(file.c_str(), static_cast<uid_t>(-1), pst.st_gid) != 0 && (modes.payload & 0040) &&
        !(modes.payload & 0004)) {
      ::unlink(tmp.c_str());
      return false;  // a group-only payload its group could not read: stay repo-local
    }
    if (::rename(file.c_str(), payload.c_str()) != 0)
      return undo(errno_error(errno, "cannot move into the shared store:", payload));
    (void)fs::fsync_dir(prefix);
  } else {
    ::unlink(file.c_str());
  }
  if (::rename(tmp.c_str(), layout.blob_path(etag).c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail(errno_error(err,
                            "cannot link " + layout.blob_path(etag) + " to the shared payload " + payload + "; the payload stays",
                            layout.blob_path(etag)));
  }
  (void)fs::fsync_dir(blobs);
  return true;
}

SharedBlobStore::SharedBlobStore(std::string cache_dir) : m_root(std::move(cache_dir)) {
  if (!lstat_is(dir(), S_IFDIR)) return;
  auto marker = fs::read_regular_file(fs::join(dir(), k_shared_marker), 64);
  m_marked = marker && *marker == k_shared_marker_content;
}

std::string SharedBlobStore::dir() const { return fs::join(m_root, k_shared_store_dir); }

std::string SharedBlobStore::payload_path(std::string_view hash) const {
  return dir() + "/" + std::string(hash.substr(0, 2)) + "/" + std::string(hash);
}
std::string SharedBlobStore::manifest_path(std::string_view hash) const { return payload_path(hash) + ".refs"; }
std::string SharedBlobStore::lock_path(std::string_view hash) const { return payload_path(hash) + ".lock"; }

std::optional<std::string> SharedBlobStore::hash_of_link(const std::string& entry_path, std::string_view link_text) const {
  if (link_text.empty()) return std::nullopt;
  const std::string target =
      fs::normalize(link_text.front() == '/' ? std::string(link_text) : fs::parent(entry_path) + "/" + std::string(link_text));
  const std::string store = fs::normalize(dir()) + "/";
  if (target.size() != store.size() + 2 + 1 + 64 || target.compare(0, store.size(), store) != 0) return std::nullopt;
  const std::string_view rest = std::string_view(target).substr(store.size());
  const std::string_view hash = rest.substr(3);
  if (rest[2] != '/' || !is_xet_hash(hash) || rest.substr(0, 2) != hash.substr(0, 2)) return std::nullopt;
  return std::string(hash);
}

Result<std::optional<std::string>> SharedBlobStore::hash_of_entry(const std::string& entry_path) const {
  if (!m_marked) return std::optional<std::string>{};
  struct stat st {};
  if (::lstat(entry_path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>{};
    return fail(errno_error(errno, "cannot stat", entry_path));
  }
  if (!S_ISLNK(st.st_mode)) return std::optional<std::string>{};
  auto link = read_link(entry_path);
  if (!link) {
    if (errno == ENOENT || errno == EINVAL) return std::optional<std::string>{};
    return fail(std::move(link).error());
  }
  return hash_of_link(entry_path, *link);
}

std::optional<SharedPayload> SharedBlobStore::linked_payload(const std::string& entry_path) const {
  auto hash = hash_of_entry(entry_path);
  if (!hash || !*hash) return std::nullopt;
  const std::string payload = payload_path(**hash);
  if (!lstat_is(fs::parent(payload), S_IFDIR)) return std::nullopt;  // a symlinked prefix dir
  struct stat st {};
  if (::lstat(payload.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return SharedPayload{**hash, payload, static_cast<std::uint64_t>(st.st_size)};
}

bool SharedBlobStore::payload_usable(std::string_view hash, std::uint64_t expected_size) const {
  if (!m_marked || !is_xet_hash(hash)) return false;
  const std::string payload = payload_path(hash);
  if (!lstat_is(fs::parent(payload), S_IFDIR)) return false;
  struct stat st {};
  return ::lstat(payload.c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == expected_size &&
         ::access(payload.c_str(), R_OK) == 0;
}

bool SharedBlobStore::payload_holds(std::string_view hash, std::string_view etag, std::uint64_t size) const {
  auto got = hash_file(payload_path(hash), HashWhat::Sha256);
  return got && got->sha256 == etag && got->size == size;
}

Result<ManifestEval> SharedBlobStore::evaluate_manifest(std::string_view hash) const {
  const std::string manifest = manifest_path(hash);
  if (!m_marked || !is_xet_hash(hash))
    return fail(ErrorCode::InvalidArgument, "not a shared store payload: '" + manifest + "'", manifest);
  HUBCACHE_TRY_ASSIGN(const std::string text, fs::read_regular_file(manifest, 64u << 20));
  if (!valid_utf8(text)) return fail(ErrorCode::CacheCorrupted, "manifest is not UTF-8: '" + manifest + "'", manifest);
  const std::string payload = payload_path(hash);
  ManifestEval out;
  std::vector<std::vector<std::string_view>> valid_parts;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line = std::string_view(text).substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    // Rules 1 and 2: relative, no "..", no CR, <repo_folder>/blobs/<name>.
    const auto parts = components(line);
    const bool shape = line.front() != '/' && line.find('\r') == std::string_view::npos &&
                       std::none_of(parts.begin(), parts.end(), [](std::string_view p) { return p == ".."; }) &&
                       parts.size() == 3 && is_repo_folder_name(parts[0]) && parts[1] == "blobs";
    if (!shape) {
      ++out.stale;
      continue;
    }
    // Rule 3: the entry is a symlink whose lexically normalised target is this payload.
    const std::string entry = m_root + "/" + std::string(parts[0]) + "/blobs/" + std::string(parts[2]);
    struct stat st {};
    if (::lstat(entry.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        ++out.stale;
        continue;
      }
      return fail(errno_error(errno, "cannot check shared blob reference", entry));
    }
    std::optional<std::string> linked;
    if (S_ISLNK(st.st_mode)) {
      auto link = read_link(entry);
      if (!link && errno != ENOENT && errno != EINVAL) return fail(std::move(link).error());
      if (link) linked = hash_of_link(entry, *link);
    }
    if (!linked || *linked != hash) {
      ++out.stale;
      continue;
    }
    valid_parts.push_back({parts[0], parts[1], parts[2]});
  }
  std::sort(valid_parts.begin(), valid_parts.end());
  valid_parts.erase(std::unique(valid_parts.begin(), valid_parts.end()), valid_parts.end());
  for (const auto& p : valid_parts) out.valid.push_back(std::string(p[0]) + "/" + std::string(p[1]) + "/" + std::string(p[2]));
  return out;
}

Result<FileLock> SharedBlobStore::lock(std::string_view hash) const {
  const std::string path = lock_path(hash);
  if (!lstat_is(fs::parent(path), S_IFDIR))
    return fail(ErrorCode::NotFound, "no shared store prefix directory for '" + path + "'", path);
  HUBCACHE_TRY(open_shared_meta(path, O_WRONLY));  // created, then closed
  return FileLock::acquire(path);
}

Result<void> SharedBlobStore::rewrite_manifest(std::string_view hash, const std::vector<std::string>& refs) const {
  const std::string manifest = manifest_path(hash);
  const std::string tmp = manifest + "." + fs::random_hex(8) + ".tmp";
  std::string text;
  for (const auto& r : refs) text += r + "\n";
  {
    Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
    if (f.get() < 0) return fail(errno_error(errno, "cannot create", tmp));
    (void)::fchmod(f.get(), 0666);
    std::size_t off = 0;
    while (off < text.size()) {
      const ssize_t n = ::write(f.get(), text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || ::fsync(f.get()) != 0) {
        const Error e = errno_error(errno, "cannot write", tmp);
        ::unlink(tmp.c_str());
        return fail(e);
      }
      off += static_cast<std::size_t>(n);
    }
    if (::fsync(f.get()) != 0) {
      const Error e = errno_error(errno, "cannot fsync", tmp);
      ::unlink(tmp.c_str());
      return fail(e);
    }
  }
  if (::rename(tmp.c_str(), manifest.c_str()) != 0) {
    const Error e = errno_error(errno, "cannot rename to", manifest);
    ::unlink(tmp.c_str());
    return fail(e);
  }
  return {};
}

Result<std::uint64_t> SharedBlobStore::sweep(std::string_view hash) const {
  if (!m_marked || !is_xet_hash(hash)) return std::uint64_t{0};
  if (!lstat_is(fs::parent(payload_path(hash)), S_IFDIR)) return std::uint64_t{0};  // nothing stored
  HUBCACHE_TRY_ASSIGN(FileLock held, lock(hash));
  auto eval = evaluate_manifest(hash);
  if (!eval) return std::uint64_t{0};  // unknown references: keep everything
  if (!eval->valid.empty()) {
    HUBCACHE_TRY(rewrite_manifest(hash, eval->valid));
    return std::uint64_t{0};
  }
  const std::string payload = payload_path(hash);
  struct stat st {};
  if (::lstat(payload.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::uint64_t{0};
  if (::unlink(payload.c_str()) != 0) return fail(errno_error(errno, "cannot remove", payload));
  const std::string manifest = manifest_path(hash);
  if (::unlink(manifest.c_str()) != 0 && errno != ENOENT) return fail(errno_error(errno, "cannot remove", manifest));
  return static_cast<std::uint64_t>(st.st_size);
}

Result<std::vector<SharedPayload>> SharedBlobStore::payloads() const {
  std::vector<SharedPayload> out;
  if (!m_marked) return out;
  std::optional<Error> failure;
  // <store>/<2 hex>/<xet hash>: one level of prefix folders, each holding its hashes' payloads.
  fs::walk_folder(
      dir(), [](const std::string& rel, const std::string& name) { return rel == name && is_lower_hex(name, 2); },
      [&](const fs::FolderEntry& e) {
        if (e.rel.size() != 2 + 1 + e.name.size() || !is_xet_hash(e.name) || e.name.compare(0, 2, e.rel, 0, 2) != 0) return;
        if (S_ISREG(e.lst.st_mode)) out.push_back({e.name, e.path, static_cast<std::uint64_t>(e.lst.st_size)});
      },
      [&](const std::string& path, int err, fs::WalkFailure) {
        if (!failure) failure = errno_error(err, "cannot read", path);
      });
  if (failure) return fail(std::move(*failure));
  std::sort(out.begin(), out.end(), [](const SharedPayload& a, const SharedPayload& b) { return a.hash < b.hash; });
  return out;
}

Result<std::vector<SharedPayload>> SharedBlobStore::unreferenced() const {
  HUBCACHE_TRY_ASSIGN(auto all, payloads());
  std::vector<SharedPayload> out;
  for (auto& p : all) {
    auto eval = evaluate_manifest(p.hash);
    if (eval && eval->valid.empty()) out.push_back(std::move(p));
  }
  return out;
}

Result<bool> SharedBlobStore::try_link(const RepoLayout& layout, std::string_view etag, std::string_view hash,
                                       std::uint64_t expected_size) const {
  if (!m_marked || !is_xet_hash(hash) || digest_kind_of(etag) != DigestKind::Sha256 || layout.cache_dir() != m_root) return false;
  const std::string folder_name = layout.folder().substr(layout.cache_dir().size() + 1);
  if (!is_repo_folder_name(folder_name)) return false;  // Python would not count the reference
  HUBCACHE_TRY_ASSIGN(FileLock held, lock(hash));
  if (!payload_usable(hash, expected_size) || !payload_holds(hash, etag, expected_size)) return false;

  const std::string blobs = layout.blobs_dir();
  HUBCACHE_TRY_ASSIGN(const std::string tmp, stage_shared_link(layout, etag, hash));
  auto undo = [&](Error e) {
    ::unlink(tmp.c_str());
    return fail(std::move(e));
  };
  if (auto added = append_reference(manifest_path(hash), folder_name + "/blobs/" + std::string(etag) + "\n"); !added)
    return undo(std::move(added).error());
  if (::rename(tmp.c_str(), layout.blob_path(etag).c_str()) != 0)
    return undo(errno_error(errno, "cannot rename to", layout.blob_path(etag)));
  (void)fs::fsync_dir(blobs);
  return true;
}

}  // namespace hubcache

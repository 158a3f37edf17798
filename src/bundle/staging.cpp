// The staging cache an import extracts into: every entry validated (entry_rules.cpp), created
// through descriptors without following symlinks, every blob hashed, all checked against the lock.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "bundle_internal.hpp"
#include "hubcache/cache/layout.hpp"

namespace hubcache::bundle::detail {
namespace {

Unexpected entry_error(ErrorCode code, const std::string& rel, const std::string& why) {
  return fail(code, "bundle entry '" + rel + "': " + why, rel);
}

Result<std::string> read_small(const std::string& rel, const ReadFn& read, std::size_t max) {
  std::string out;
  char buf[65536];
  while (true) {
    HUBCACHE_TRY_ASSIGN(const std::size_t n, read(buf, sizeof buf));
    if (n == 0) break;
    out.append(buf, n);
    if (out.size() > max) return entry_error(ErrorCode::InvalidArgument, rel, "larger than " + std::to_string(max) + " bytes");
  }
  return out;
}

}  // namespace

Staging::Staging(std::string dir) : m_dir(std::move(dir)) {}
Staging::~Staging() = default;

Result<void> Staging::open() {
  if (::mkdir(m_dir.c_str(), 0700) != 0) return fail(errno_error(errno, "cannot create the staging folder", m_dir));
  m_root = fs::Fd(::open(m_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!m_root) return fail(errno_error(errno, "cannot open the staging folder", m_dir));
  return {};
}

std::size_t Staging::blob_count() const {
  std::size_t n = 0;
  for (const auto& [_, r] : m_repos) n += r.blobs.size();
  return n;
}

Result<fs::Fd> Staging::open_parent(const EntryClass& c, std::string& leaf) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (auto slash = c.rel.find('/'); slash != std::string::npos; slash = c.rel.find('/', start)) {
    parts.push_back(c.rel.substr(start, slash - start));
    start = slash + 1;
  }
  leaf = c.rel.substr(start);
  fs::Fd dir(::dup(m_root.get()));
  std::string walked;
  for (const auto& p : parts) {
    walked += (walked.empty() ? "" : "/") + p;
    if (::mkdirat(dir.get(), p.c_str(), 0755) != 0 && errno != EEXIST)
      return fail(errno_error(errno, "cannot create a staging folder", m_dir + "/" + walked));
    fs::Fd next(::openat(dir.get(), p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      if (errno == ENOTDIR || errno == ELOOP)
        return entry_error(ErrorCode::InvalidArgument, c.rel, "lies under '" + walked + "', an entry that is not a folder");
      return fail(errno_error(errno, "cannot open a staging folder", m_dir + "/" + walked));
    }
    dir = std::move(next);
  }
  return dir;
}

Result<void> Staging::add(const Entry& entry, const ReadFn& read) {
  HUBCACHE_TRY_ASSIGN(const EntryClass c, classify_entry(entry));
  if (!m_seen.insert(c.rel).second)
    return entry_error(ErrorCode::InvalidArgument, c.rel, "appears twice in the bundle (duplicate entries are refused)");
  if (c.kind == EntryClass::Kind::LockFile) {
    HUBCACHE_TRY_ASSIGN(m_lock_text, read_small(c.rel, read, k_max_lock_bytes));
    // Parsed now (and checked again in finish): blobs are bounded by it, and a bad blob's message
    // can name the files it holds.
    HUBCACHE_TRY_ASSIGN(const auto early, lock::parse_lockfile(*m_lock_text, std::string("bundle entry ") + c.rel));
    for (const auto& r : early.repos)
      for (const auto& f : r.files) {
        m_paths_of[repo_folder_name(r.repo) + "/blobs/" + f.blob_name()].insert(f.path);
        m_size_of[repo_folder_name(r.repo) + "/blobs/" + f.blob_name()] = f.size;
      }
    return {};
  }
  if (c.kind == EntryClass::Kind::Tree) {
    // trees/<commit>.json are written from the lock (finish): the bundle's own are not trusted.
    HUBCACHE_TRY(read_small(c.rel, read, k_max_small_entry));
    return {};
  }
  if (!c.folder.empty()) m_repos[c.folder];
  std::string leaf;
  HUBCACHE_TRY_ASSIGN(fs::Fd dir, open_parent(c, leaf));
  switch (c.kind) {
    case EntryClass::Kind::Dir: {
      if (::mkdirat(dir.get(), leaf.c_str(), 0755) != 0) {
        struct stat st {};
        if (errno != EEXIST) return fail(errno_error(errno, "cannot create a staging folder", m_dir + "/" + c.rel));
        if (::fstatat(dir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
          return entry_error(ErrorCode::InvalidArgument, c.rel, "a folder entry where the bundle already has another entry");
      }
      return {};
    }
    case EntryClass::Kind::Blob:
      return write_blob(c, entry, read);
    case EntryClass::Kind::Ref: {
      HUBCACHE_TRY_ASSIGN(std::string text, read_small(c.rel, read, 64));
      if (text.ends_with('\n')) text.pop_back();
      if (!is_commit_hash(text)) return entry_error(ErrorCode::InvalidArgument, c.rel, "a ref must hold a 40-hex commit");
      fs::Fd fd(::openat(dir.get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
      if (!fd) return fail(errno_error(errno, "cannot write", m_dir + "/" + c.rel));
      HUBCACHE_TRY(fs::write_all(fd.get(), text, m_dir + "/" + c.rel));
      m_repos[c.folder].refs[c.name] = text;
      return {};
    }
    case EntryClass::Kind::Pointer: {
      if (::symlinkat(entry.link_target.c_str(), dir.get(), leaf.c_str()) != 0) {
        if (errno == EEXIST)
          return entry_error(ErrorCode::InvalidArgument, c.rel, "a symlink where the bundle already has another entry");
        return fail(errno_error(errno, "cannot create", m_dir + "/" + c.rel));
      }
      m_repos[c.folder].pointers[{c.commit, c.name}] = c.blob;
      return {};
    }
    default:
      return {};
  }
}

std::string Staging::files_of(const std::string& rel) const {
  const auto it = m_paths_of.find(rel);
  if (it == m_paths_of.end()) return {};
  std::string out = " (the content of ";
  for (const auto& p : it->second) out += (out.ends_with("of ") ? "" : ", ") + p;
  return out + ")";
}

Result<void> Staging::write_blob(const EntryClass& c, const Entry& e, const ReadFn& read) {
  // The lock comes first (create writes it first): a blob it does not name, or of another size,
  // is refused before a byte is written, so a bundle cannot fill the disk with what it does not lock.
  if (!m_lock_text)
    return entry_error(ErrorCode::InvalidArgument, c.rel,
                       std::string("comes before the lockfile (") + k_bundle_lock_entry +
                           "), which `hubcache bundle create` writes first: not a hubcache bundle, or repacked");
  const auto locked = m_size_of.find(c.rel);
  if (locked == m_size_of.end())
    return entry_error(ErrorCode::InvalidArgument, c.rel, "a blob the bundle's lockfile does not name");
  if (locked->second != e.size)
    return entry_error(
        ErrorCode::Integrity, c.rel,
        "its header says " + std::to_string(e.size) + " bytes, the lockfile " + std::to_string(locked->second) + files_of(c.rel));
  std::string leaf;
  HUBCACHE_TRY_ASSIGN(fs::Fd dir, open_parent(c, leaf));
  const std::string path = m_dir + "/" + c.rel;
  fs::Fd fd(::openat(dir.get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd) return fail(errno_error(errno, "cannot write", path));
  BlobVerifier verify(c.name, e.size);
  std::vector<char> buf(1u << 20);
  std::uint64_t got = 0;
  while (true) {
    HUBCACHE_TRY_ASSIGN(const std::size_t n, read(buf.data(), buf.size()));
    if (n == 0) break;
    got += n;
    if (got > e.size) return entry_error(ErrorCode::Integrity, c.rel, "holds more bytes than its header says");
    verify.update(buf.data(), n);
    HUBCACHE_TRY(fs::write_all(fd.get(), std::string_view(buf.data(), n), path));
  }
  if (got != e.size)
    return entry_error(ErrorCode::Io, c.rel,
                       "truncated: " + std::to_string(got) + " of " + std::to_string(e.size) + " bytes (an incomplete bundle)" +
                           files_of(c.rel));
  if (const auto digest = verify.finish(); digest != c.name)
    return entry_error(ErrorCode::Integrity, c.rel,
                       std::string("the bytes do not match the blob's name (") + verify.algorithm() + " is " + digest +
                           "): the bundle is corrupted" + files_of(c.rel));
  m_repos[c.folder].blobs[c.name] = e.size;
  m_bytes += e.size;
  return {};
}

Result<lock::Lockfile> Staging::finish() {
  if (!m_lock_text)
    return fail(ErrorCode::InvalidArgument,
                std::string("the bundle holds no lockfile (") + k_bundle_lock_entry + "): not a hubcache bundle, or cut short");
  HUBCACHE_TRY_ASSIGN(auto lock, lock::parse_lockfile(*m_lock_text, std::string("bundle entry ") + k_bundle_lock_entry));
  HUBCACHE_TRY_ASSIGN(const auto repos, bundle_repos(lock));
  std::set<std::string> locked_folders;
  for (const auto& r : repos) locked_folders.insert(r.folder);
  for (const auto& [folder, _] : m_repos)
    if (!locked_folders.count(folder))
      return entry_error(ErrorCode::InvalidArgument, folder, "a repo folder the lock does not name");
  for (const auto& r : repos) {
    Repo& staged = m_repos[r.folder];
    for (const auto& [name, size] : r.blobs) {
      const auto it = staged.blobs.find(name);
      const std::string rel = r.folder + "/blobs/" + name;
      if (it == staged.blobs.end()) return entry_error(ErrorCode::InvalidArgument, rel, "locked but not in the bundle");
      if (it->second != size)
        return entry_error(ErrorCode::Integrity, rel,
                           std::to_string(it->second) + " bytes, the lock says " + std::to_string(size));
    }
    for (const auto& [name, _] : staged.blobs)
      if (!r.blobs.count(name))
        return entry_error(ErrorCode::InvalidArgument, r.folder + "/blobs/" + name, "a blob the lock does not name");
    for (const auto& [commit, files] : r.snapshots)
      for (const auto& [path, f] : files) {
        const std::string rel = r.folder + "/snapshots/" + commit + "/" + path;
        const auto it = staged.pointers.find({commit, path});
        if (it == staged.pointers.end()) return entry_error(ErrorCode::InvalidArgument, rel, "locked but not in the bundle");
        if (it->second != f.blob_name())
          return entry_error(ErrorCode::InvalidArgument, rel,
                             "points to blob " + it->second + ", the lock says " + f.blob_name());
      }
    for (const auto& [key, _] : staged.pointers) {
      const auto s = r.snapshots.find(key.first);
      if (s == r.snapshots.end() || !s->second.count(key.second))
        return entry_error(ErrorCode::InvalidArgument, r.folder + "/snapshots/" + key.first + "/" + key.second,
                           "a file the lock does not name");
    }
    for (const auto& [ref, commit] : staged.refs) {
      const auto it = r.refs.find(ref);
      if (it == r.refs.end() || it->second != commit)
        return entry_error(
            ErrorCode::InvalidArgument, r.folder + "/refs/" + ref,
            "names " + commit + ", the lock " + (it == r.refs.end() ? "has no such revision" : "says " + it->second));
    }
    const RepoLayout layout(m_dir, r.repo);
    for (const char* d : {"blobs", "refs", "snapshots"})
      if (::mkdirat(m_root.get(), (r.folder + "/" + d).c_str(), 0755) != 0 && errno != EEXIST)
        return fail(errno_error(errno, "cannot create a staging folder", m_dir + "/" + r.folder + "/" + d));
    for (const auto& [ref, commit] : r.refs)
      if (!staged.refs.count(ref)) HUBCACHE_TRY(write_ref(layout, ref, commit));
    for (const auto& [commit, files] : r.snapshots) HUBCACHE_TRY(write_tree_file(layout, commit, tree_entries(files)));
  }
  if (::syncfs(m_root.get()) != 0) return fail(errno_error(errno, "cannot flush the staging folder", m_dir));
  return lock;
}

}  // namespace hubcache::bundle::detail

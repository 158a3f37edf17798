// Executing a dedupe plan: prove, link under a temporary name, rename over (hygiene/dedupe.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include "hubcache/cache/layout.hpp"
#include "hubcache/hygiene/dedupe.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/lock.hpp"
#include "link_file.hpp"

namespace hubcache::hygiene {
namespace {

constexpr std::string_view k_temp_prefix = ".hubcache-dedupe-", k_temp_suffix = ".tmp";

std::string parent_of(const std::string& path) { return path.substr(0, path.rfind('/')); }

std::string errno_text(int err) { return std::strerror(err); }

// Removes what a killed run left: temporary names of ours (each a link or clone of a kept file,
// never the only copy of anything).
void remove_leftovers(const std::string& dir) {
  fs::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return;
  fs::DirReader reader(fd.get());
  const char* name = nullptr;
  unsigned char type = 0;
  std::vector<std::string> ours;
  while (reader.next(name, type)) {
    const std::string_view n = name;
    if (n.starts_with(k_temp_prefix) && n.ends_with(k_temp_suffix)) ours.emplace_back(n);
  }
  for (const auto& n : ours) ::unlinkat(fd.get(), n.c_str(), 0);
}

HashWhat what_for(DigestKind kind) { return kind == DigestKind::GitSha1 ? HashWhat::GitSha1 : HashWhat::Sha256; }
const std::string& digest_of(const FileHashes& h, DigestKind kind) { return kind == DigestKind::GitSha1 ? h.git_sha1 : h.sha256; }

// Another process has the file open for writing: a read lease cannot be taken then (fcntl(2)
// F_SETLEASE). False when it cannot be told (not the owner, a filesystem without leases).
bool open_for_writing(const std::string& path) {
  fs::Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return false;
  if (::fcntl(fd.get(), F_SETLEASE, F_RDLCK) == 0) {
    ::fcntl(fd.get(), F_SETLEASE, F_UNLCK);
    return false;
  }
  return errno == EAGAIN;
}

// The owner of `replaced` can read `kept` (a hardlink gives the replaced name the kept inode's owner and mode).
bool owner_can_read(const struct stat& kept, const struct stat& replaced) {
  if (replaced.st_uid == 0) return true;
  if (replaced.st_uid == kept.st_uid) return kept.st_mode & S_IRUSR;
  if (replaced.st_gid == kept.st_gid) return kept.st_mode & S_IRGRP;
  return kept.st_mode & S_IROTH;
}

bool same_file(const struct stat& st, const PlannedReplace& r) {
  return S_ISREG(st.st_mode) && st.st_dev == r.device && st.st_ino == r.inode && fs::mtime_ns(st) == r.mtime_ns &&
         static_cast<std::uint64_t>(st.st_size) == r.size;
}

class Executor {
 public:
  explicit Executor(const DedupePlan& plan) : m_plan(plan) {}

  DedupeReport run() {
    std::set<std::string> dirs;
    for (const auto& g : m_plan.groups)
      for (const auto& r : g.replace) dirs.insert(parent_of(r.path));
    for (const auto& d : dirs) remove_leftovers(d);
    for (const auto& g : m_plan.groups) run_group(g);
    return std::move(m_report);
  }

 private:
  void skip(const std::string& path, const std::string& why) { m_report.skipped.push_back("'" + path + "': " + why); }

  void run_group(const DedupeGroup& g) {
    struct stat kst {};
    if (::lstat(g.keep.c_str(), &kst) != 0 || !S_ISREG(kst.st_mode) || kst.st_dev != g.device) {
      for (const auto& r : g.replace) skip(r.path, "the file it was to be linked to ('" + g.keep + "') changed or is gone");
      return;
    }
    auto kept = hash_file(g.keep, what_for(g.kind));
    if (!kept || digest_of(*kept, g.kind) != g.hex) {
      for (const auto& r : g.replace)
        skip(r.path,
             "the file it was to be linked to ('" + g.keep + "') " +
                 (kept ? std::string("does not hold the bytes its name says") : "cannot be read: " + kept.error().message));
      return;
    }
    for (const auto& r : g.replace) replace(g, kst, r);
  }

  void replace(const DedupeGroup& g, const struct stat& kst, const PlannedReplace& r) {
    struct stat st {};
    if (::lstat(r.path.c_str(), &st) != 0 || !same_file(st, r)) return skip(r.path, "changed since the plan");
    if (open_for_writing(r.path)) return skip(r.path, "open for writing by another process");
    FileLock download_lock;
    if (r.store == stores::StoreKind::HubCache) {
      if (auto layout = RepoLayout::of_folder(parent_of(parent_of(r.path)))) {
        const std::string lock = layout->lock_path(r.path.substr(r.path.rfind('/') + 1));
        if (::access(lock.c_str(), F_OK) == 0) {
          auto held = FileLock::try_acquire(lock);
          if (!held || !held->held()) return skip(r.path, "locked by a download");
          download_lock = std::move(*held);
        }
      }
    }
    auto mine = hash_file(r.path, what_for(g.kind));
    if (!mine) return skip(r.path, "cannot be read to compare: " + mine.error().message);
    if (digest_of(*mine, g.kind) != g.hex)
      return skip(r.path, "its bytes differ from '" + g.keep + "' (its name or size misled)");
    const std::string temp =
        parent_of(r.path) + "/" + std::string(k_temp_prefix) + fs::random_hex(8) + std::string(k_temp_suffix);
    if (!make_link(g, kst, st, r, temp)) return;
    struct stat again {};
    if (::lstat(r.path.c_str(), &again) != 0 || !same_file(again, r)) {
      ::unlink(temp.c_str());
      return skip(r.path, "changed while it was being linked");
    }
    if (::rename(temp.c_str(), r.path.c_str()) != 0) {
      const int err = errno;
      ::unlink(temp.c_str());
      m_report.errors.push_back("cannot replace '" + r.path + "': " + errno_text(err));
      return;
    }
    fs::Fd dir(::open(parent_of(r.path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.valid()) ::fsync(dir.get());
    ++m_report.linked;
    if (r.frees) m_report.freed_bytes += r.disk_bytes;
  }

  // The link of g.keep at `temp`, as the plan's kind says. False (reported) when not made.
  bool make_link(const DedupeGroup& g, const struct stat& kst, const struct stat& st, const PlannedReplace& r,
                 const std::string& temp) {
    if (m_plan.link == LinkKind::Symlink) {
      if (::symlink(g.keep.c_str(), temp.c_str()) == 0) return true;
      m_report.errors.push_back("cannot make a symlink in the folder of '" + r.path + "': " + errno_text(errno));
      return false;
    }
    if (m_plan.link == LinkKind::Reflink || m_plan.link == LinkKind::Auto) {
      const int err = detail::clone_file(g.keep, temp, &st);
      if (err == 0) return true;
      if (m_plan.link == LinkKind::Reflink || !detail::no_reflink_here(err)) {
        skip(r.path, "no reflink: " + errno_text(err));
        return false;
      }
    }
    if (!owner_can_read(kst, st)) {
      skip(r.path, "a hardlink would give it the owner and mode of '" + g.keep + "', which its owner (uid " +
                       std::to_string(st.st_uid) + ") could not read");
      return false;
    }
    if (::link(g.keep.c_str(), temp.c_str()) == 0) return true;
    m_report.errors.push_back("cannot hardlink '" + g.keep + "' beside '" + r.path + "': " + errno_text(errno));
    return false;
  }

  const DedupePlan& m_plan;
  DedupeReport m_report;
};

}  // namespace

DedupeReport execute_dedupe(const DedupePlan& plan) { return Executor(plan).run(); }

}  // namespace hubcache::hygiene

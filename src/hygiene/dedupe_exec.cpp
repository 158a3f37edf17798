// Executing a dedupe plan: prove, link under a temporary name, rename over (hygiene/dedupe.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <chrono>
#include <cstring>
#include <set>
#include <string>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/local_dir.hpp"
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

HashWhat what_for(DigestKind kind) { return kind == DigestKind::GitSha1 ? HashWhat::GitSha1 : HashWhat::Sha256; }
const std::string& digest_of(const FileHashes& h, DigestKind kind) { return kind == DigestKind::GitSha1 ? h.git_sha1 : h.sha256; }

// Whether another process has the file open for writing: a read lease cannot be taken then
// (fcntl(2) F_SETLEASE). A lease needs the file's owner (or CAP_LEASE) and a filesystem that has
// leases; when it cannot be taken for another reason, nobody can tell, and the file is left alone
// (a writer's later bytes would go to the replaced inode and be lost).
enum class Writers { None, Some, Unknown };
Writers writers_of(const std::string& path) {
  fs::Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Writers::Unknown;
  if (::fcntl(fd.get(), F_SETLEASE, F_RDLCK) == 0) {
    ::fcntl(fd.get(), F_SETLEASE, F_UNLCK);
    return Writers::None;
  }
  return errno == EAGAIN ? Writers::Some : Writers::Unknown;
}

// Why a file whose writers are not Writers::None is left alone.
std::string writers_reason(Writers w) {
  return w == Writers::Some ? "open for writing by another process"
                            : "a file whose writers cannot be told (a read lease needs the file's owner and a filesystem "
                              "with leases): run dedupe as its owner or as root";
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

  // Removes what a killed run left in `dir`: our temporary names, each only once proven to hold
  // no bytes of its own. Anything else with such a name is left, and said.
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
    for (const auto& n : ours) {
      const std::string path = dir + "/" + n;
      if (is_link_of_a_kept_file(path))
        ::unlink(path.c_str());
      else
        skip(path, "has the name of a dedupe temporary but holds bytes of its own: left as it is");
    }
  }

  // Removing the name loses no bytes: a symlink or an empty file (they hold none), another name of a
  // file with more names, or a clone of one of the plan's kept files (same bytes).
  bool is_link_of_a_kept_file(const std::string& path) const {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return false;
    if (S_ISLNK(st.st_mode)) return true;
    if (!S_ISREG(st.st_mode)) return false;
    if (st.st_nlink > 1 || st.st_size == 0)
      return true;  // other names hold its bytes; or it holds none (a clone
                    // attempt killed before the clone)
    for (const auto& g : m_plan.groups) {
      struct stat k {};
      if (::stat(g.keep.c_str(), &k) != 0 || k.st_size != st.st_size) continue;
      auto h = hash_file(path, what_for(g.kind));
      if (h && digest_of(*h, g.kind) == g.hex) return true;
    }
    return false;
  }

  void run_group(const DedupeGroup& g) {
    struct stat kst {};
    if (::lstat(g.keep.c_str(), &kst) != 0 || !S_ISREG(kst.st_mode) || kst.st_dev != g.device) {
      for (const auto& r : g.replace) skip(r.path, "the file it was to be linked to ('" + g.keep + "') changed or is gone");
      return;
    }
    if (const Writers w = writers_of(g.keep); w != Writers::None) {
      for (const auto& r : g.replace) skip(r.path, "the file it was to be linked to ('" + g.keep + "') is " + writers_reason(w));
      return;
    }
    auto kept = hash_file(g.keep, what_for(g.kind));
    if (!kept || digest_of(*kept, g.kind) != g.hex) {
      if (kept) m_report.integrity += g.replace.size();
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
    if (const Writers w = writers_of(r.path); w != Writers::None) return skip(r.path, writers_reason(w));
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
    // An inode is freed once, when the last of its planned names is replaced (a hardlinked pair
    // in two stores is two names of one inode).
    if (r.frees && ++m_replaced_names[{r.device, r.inode}] == planned_names(g, r)) m_report.freed_bytes += r.disk_bytes;
    refresh_local_dir_record(g, r);
  }

  // A --local-dir file's record names its ETag and a time no earlier than the file's mtime
  // (huggingface_hub's validity rule). The name now has the kept inode's mtime: the record's time is
  // moved to now when it names these very bytes, so `hf download --local-dir` still takes the file
  // as current (and never copies the cache's blob onto its own inode).
  void refresh_local_dir_record(const DedupeGroup& g, const PlannedReplace& r) {
    if (r.store != stores::StoreKind::ModelFolder || r.store_root.empty() || r.path.size() <= r.store_root.size() + 1) return;
    const std::string record = LocalDirLayout(r.store_root).metadata_path(r.path.substr(r.store_root.size() + 1));
    auto text = fs::read_file(record, 1u << 16);
    if (!text) return;
    auto m = parse_local_metadata(*text);
    if (!m || m->etag != g.hex) return;
    m->timestamp =
        static_cast<double>(
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count()) /
        1e6;
    if (auto w = fs::write_file_atomic(record, format_local_metadata(*m)); !w)
      m_report.errors.push_back("cannot refresh the local-dir record '" + record + "': " + w.error().message);
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
      if (m_plan.link == LinkKind::Reflink && detail::no_reflink_here(err)) {
        skip(r.path, "this filesystem makes no reflinks (" + errno_text(err) + "): use hardlinks");
        return false;
      }
      if (!detail::no_reflink_here(err)) {  // a read-only store, a full disk, ...: a hardlink would fail too
        m_report.errors.push_back("cannot make a link beside '" + r.path + "': " + errno_text(err));
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

  static std::size_t planned_names(const DedupeGroup& g, const PlannedReplace& r) {
    return static_cast<std::size_t>(std::count_if(
        g.replace.begin(), g.replace.end(), [&](const PlannedReplace& x) { return x.device == r.device && x.inode == r.inode; }));
  }

  const DedupePlan& m_plan;
  std::map<std::pair<dev_t, ino_t>, std::size_t> m_replaced_names;  // per replaced inode, its names replaced so far
  DedupeReport m_report;
};

}  // namespace

DedupeReport execute_dedupe(const DedupePlan& plan) { return Executor(plan).run(); }

}  // namespace hubcache::hygiene

// The verified, resumable tree copy (move_tree.hpp).
#include "move_tree.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "hubcache/cache/layout.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/parallel.hpp"

namespace hubcache::move_detail {
namespace {

constexpr std::size_t k_buffer = 4u << 20;  // one read/write
constexpr std::size_t k_chunk = 64u << 20;  // the unit of work: copied by any thread, hashed in order

}  // namespace

Result<std::vector<Entry>> list_tree(const std::string& root, std::vector<std::string>& skipped) {
  std::vector<Entry> out;
  std::optional<Error> failure;
  fs::walk_folder(
      root,
      [&](const std::string& rel, const std::string&) {
        Entry e;
        e.kind = Entry::Dir;
        e.rel = rel;
        if (::lstat((root + "/" + rel).c_str(), &e.st) != 0) return false;
        out.push_back(std::move(e));
        return true;
      },
      [&](const fs::FolderEntry& f) {
        if (S_ISREG(f.lst.st_mode) || S_ISLNK(f.lst.st_mode))
          out.push_back(Entry{S_ISREG(f.lst.st_mode) ? Entry::File : Entry::Link, f.rel, f.lst});
        else
          skipped.push_back(f.path);
      },
      [&](const std::string& path, int err, fs::WalkFailure kind) {
        if (!failure)
          failure = Error{ErrorCode::Io,
                          std::string(fs::to_string(kind)) + " " + path + ": " + std::strerror(err) +
                              "; nothing was moved (fix its permissions and run again)",
                          path};
      });
  if (failure) return fail(*failure);
  return out;
}

std::optional<MoveState> read_state(const std::string& state_dir) {
  auto text = fs::read_regular_file(state_dir + "/state.json", 64 * 1024);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || j.value("version", 0) != 1 || !j.contains("from") || !j["from"].is_string() || !j.contains("to") ||
      !j["to"].is_string())
    return std::nullopt;
  return MoveState{j["from"].get<std::string>(), j["to"].get<std::string>()};
}

namespace {

/// What the copy of one file is checked against on the new side.
enum class Expect { Sha256Name, GitSha1Name, Source };
Expect expectation(const std::string& rel_in_cache) {
  // <repo folder>/blobs/<name>: named by its content hash.
  const std::string& rel = rel_in_cache;
  const auto slash = rel.find('/');
  if (slash == std::string::npos || rel.find('/', slash + 1) == std::string::npos) return Expect::Source;
  const std::string folder = rel.substr(0, slash);
  const std::string rest = rel.substr(slash + 1);
  if (!parse_repo_folder_name(folder) || !rest.starts_with(std::string(k_blobs_dir) + "/")) return Expect::Source;
  const std::string name = rest.substr(k_blobs_dir.size() + 1);
  auto hex = [](const std::string& s, std::size_t n) {
    return s.size() == n &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  };
  if (hex(name, 64)) return Expect::Sha256Name;
  if (hex(name, 40)) return Expect::GitSha1Name;
  return Expect::Source;
}

void apply_metadata(int fd, const struct ::stat& st) {
  if (::geteuid() == 0 && ::fchown(fd, st.st_uid, st.st_gid) != 0) { /* kept as root's: reported by nobody */
  }
  ::fchmod(fd, st.st_mode & 07777);
  const timespec times[2] = {st.st_atim, st.st_mtim};
  ::futimens(fd, times);
}

/// Hashes `len` bytes of `fd` at `off`, read through `buf` (pread; mapping the pages measured no
/// faster, and a mapped file truncated by another process would be a SIGBUS).
Result<void> hash_range(int fd, std::uint64_t off, std::uint64_t len, Hasher& h, std::vector<char>& buf,
                        const std::string& path) {
  for (std::uint64_t done = 0; done < len;) {
    const ssize_t n = ::pread(fd, buf.data(), std::min<std::uint64_t>(buf.size(), len - done), static_cast<off_t>(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(ErrorCode::Io, "cannot read " + path + ": " + (n < 0 ? errno_text() : "it shrank"), path);
    h.update(buf.data(), static_cast<std::size_t>(n));
    done += static_cast<std::uint64_t>(n);
  }
  return {};
}

/// Copies the byte range [off, off + len) with pread/pwrite. (copy_file_range refuses another
/// filesystem; splice was measured slower: its kernel-to-kernel copy into ext4 is a plain memcpy,
/// read/write use the CPU's fast string copies.)
Result<void> copy_range(int in, int out, std::uint64_t off, std::uint64_t len, std::vector<char>& buf, const std::string& src,
                        const std::string& dst) {
  for (std::uint64_t done = 0; done < len;) {
    const ssize_t n = ::pread(in, buf.data(), std::min<std::uint64_t>(buf.size(), len - done), static_cast<off_t>(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(ErrorCode::Io, "cannot read " + src + ": " + errno_text(), src);
    if (n == 0)
      return fail(ErrorCode::Io, src + " shrank while it was copied (a writer is using the cache); run the move again", src);
    for (ssize_t w = 0; w < n;) {
      const ssize_t k = ::pwrite(out, buf.data() + w, static_cast<std::size_t>(n - w), static_cast<off_t>(off + done) + w);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0)
        return fail(errno == ENOSPC ? ErrorCode::DiskFull : ErrorCode::Io, "cannot write " + dst + ": " + errno_text(), dst);
      w += k;
    }
    done += static_cast<std::uint64_t>(n);
  }
  return {};
}

class Copier {
 public:
  Copier(std::string from, std::string to, std::string rel_prefix, const CacheMoveOptions& options, std::string data)
      : m_from(std::move(from)),
        m_to(std::move(to)),
        m_prefix(std::move(rel_prefix)),
        m_options(options),
        m_data(std::move(data)) {}

  CacheMoveReport report;

  Result<void> copy_tree(const std::vector<Entry>& entries, std::uint64_t total) {
    m_total = total;
    for (const auto& e : entries)
      if (e.kind == Entry::Dir && ::mkdir((m_data + "/" + e.rel).c_str(), 0700) != 0 && errno != EEXIST)
        return fail(errno == ENOSPC ? ErrorCode::DiskFull : ErrorCode::Io,
                    "cannot create " + m_data + "/" + e.rel + ": " + errno_text(), m_data + "/" + e.rel);
    std::map<std::pair<dev_t, ino_t>, const Entry*> first;
    std::vector<const Entry*> primaries, secondaries;
    for (const auto& e : entries) {
      if (e.kind != Entry::File) continue;
      auto [it, fresh] = first.try_emplace({e.st.st_dev, e.st.st_ino}, &e);
      (fresh ? primaries : secondaries).push_back(&e);
    }
    const unsigned threads = m_options.threads ? m_options.threads : 2;
    auto record = [&](const Error& e) {
      std::lock_guard<std::mutex> g(m_mutex);
      if (!m_error) m_error = e;
      m_failed = true;
    };
    // Prepare every file (resume checks included), then copy all their chunks on `threads`
    // threads, then check each file's digests.
    std::vector<std::unique_ptr<FileJob>> jobs(primaries.size());
    parallel_for(primaries.size(), threads, [&](std::size_t i) {
      if (m_failed) return;
      auto job = prepare(*primaries[i]);
      if (!job) return record(job.error());
      jobs[i] = std::move(*job);
    });
    if (m_error) return fail(*m_error);
    // Chunks round-robin across files, so the threads mostly write different files (two
    // writers of one file contend on its inode lock), each file's chunks in order.
    std::vector<std::pair<FileJob*, std::size_t>> chunks;
    for (std::size_t k = 0, added = 1; added > 0; ++k) {
      added = 0;
      for (auto& j : jobs)
        if (j && k < j->chunks) {
          chunks.emplace_back(j.get(), k);
          ++added;
        }
    }
    parallel_for(chunks.size(), threads, [&](std::size_t i) {
      if (m_failed) return;
      if (auto r = copy_chunk(*chunks[i].first, chunks[i].second); !r) record(r.error());
    });
    if (m_error) return fail(*m_error);
    for (auto& j : jobs)
      if (j) HUBCACHE_TRY(finish(*j));
    if (m_error) return fail(*m_error);
    for (const auto* e : secondaries) {
      const std::string dst = m_data + "/" + e->rel;
      const std::string target = m_data + "/" + first.at({e->st.st_dev, e->st.st_ino})->rel;
      ::unlink(dst.c_str());
      if (::link(target.c_str(), dst.c_str()) != 0)
        return fail(ErrorCode::Io, "cannot link " + dst + " to " + target + ": " + errno_text(), dst);
      ++report.hardlinks;
    }
    for (const auto& e : entries)
      if (e.kind == Entry::Link) HUBCACHE_TRY(copy_link(e));
    return {};
  }

  /// Directory modes, owners and times, deepest first (writing inside a folder moves its mtime),
  /// the root's last.
  void finish_dirs(const std::vector<Entry>& entries) {
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (it->kind != Entry::Dir) continue;
      fs::Fd fd{::open((m_data + "/" + it->rel).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      if (fd) apply_metadata(fd.get(), it->st);
    }
    struct ::stat root {};
    fs::Fd fd{::open(m_data.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (fd && ::stat(m_from.c_str(), &root) == 0) apply_metadata(fd.get(), root);
  }

 private:
  Result<void> copy_link(const Entry& e) {
    const std::string src = m_from + "/" + e.rel, dst = m_data + "/" + e.rel;
    std::string target(static_cast<std::size_t>(e.st.st_size) + 1, '\0');
    const ssize_t n = ::readlink(src.c_str(), target.data(), target.size());
    if (n < 0) return fail(ErrorCode::Io, "cannot read the link " + src + ": " + errno_text(), src);
    target.resize(static_cast<std::size_t>(n));
    if (!target.empty() && target.front() == '/' && fs::is_within(m_from, target)) {
      target = m_to + target.substr(m_from.size());
      ++report.links_rewritten;
    }
    ::unlink(dst.c_str());
    if (::symlink(target.c_str(), dst.c_str()) != 0)
      return fail(errno == ENOSPC ? ErrorCode::DiskFull : ErrorCode::Io, "cannot create the link " + dst + ": " + errno_text(),
                  dst);
    if (::geteuid() == 0) (void)::lchown(dst.c_str(), e.st.st_uid, e.st.st_gid);
    const timespec times[2] = {e.st.st_atim, e.st.st_mtim};
    ::utimensat(AT_FDCWD, dst.c_str(), times, AT_SYMLINK_NOFOLLOW);
    return {};
  }

  static std::string name_of(const std::string& rel) { return rel.substr(rel.find_last_of('/') + 1); }

  /// The digest the new side must have, per expectation (Source: computed while copying).
  static std::unique_ptr<Hasher> hasher_for(Expect x) {
    return std::make_unique<Hasher>(x == Expect::GitSha1Name ? Hasher::Kind::Sha1 : Hasher::Kind::Sha256);
  }

  /// Hashes `size` bytes of `fd` from the start (git blob header first for git SHA-1).
  static Result<std::string> digest_of(int fd, std::uint64_t size, Expect x, std::vector<char>& buf) {
    auto h = hasher_for(x);
    if (x == Expect::GitSha1Name) h->update("blob " + std::to_string(size) + std::string(1, '\0'));
    std::uint64_t off = 0;
    while (off < size) {
      const ssize_t n = ::pread(fd, buf.data(), std::min<std::uint64_t>(buf.size(), size - off), static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(ErrorCode::Io, std::string("read failed: ") + (n < 0 ? errno_text() : "short file"));
      h->update(buf.data(), static_cast<std::size_t>(n));
      off += static_cast<std::uint64_t>(n);
    }
    return h->hex_digest();
  }

  /// One file being copied: its chunks are copied by any thread, and hashed in order (on the new
  /// side, and on the source when it is the reference) by whichever thread finds the next one ready.
  struct FileJob {
    const Entry* entry = nullptr;
    std::string src, dst;
    Expect expect = Expect::Source;
    std::uint64_t size = 0;
    std::size_t chunks = 0;
    fs::Fd in, out, verify;
    std::unique_ptr<Hasher> source_hash, new_side;
    std::mutex mutex;
    std::vector<bool> copied;
    std::size_t next_to_hash = 0;
    bool hashing = false;
  };

  /// Opens the file's job, or returns null when an earlier run's copy verifies (resume).
  Result<std::unique_ptr<FileJob>> prepare(const Entry& e) {
    auto job = std::make_unique<FileJob>();
    job->entry = &e;
    job->src = m_from + "/" + e.rel;
    job->dst = m_data + "/" + e.rel;
    job->expect = expectation(m_prefix + e.rel);
    job->size = static_cast<std::uint64_t>(e.st.st_size);
    job->chunks = static_cast<std::size_t>((job->size + k_chunk - 1) / k_chunk);
    job->in = fs::Fd{::open(job->src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
    if (!job->in) return fail(ErrorCode::Io, "cannot open " + job->src + ": " + errno_text(), job->src);
    ::posix_fadvise(job->in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    std::vector<char>& buf = thread_buffer();
    // Resume: a file an earlier run copied is kept when the new side verifies.
    struct ::stat dst_st {};
    if (::lstat(job->dst.c_str(), &dst_st) == 0 && S_ISREG(dst_st.st_mode) &&
        static_cast<std::uint64_t>(dst_st.st_size) == job->size) {
      fs::Fd old{::open(job->dst.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC)};
      if (old) {
        auto got = digest_of(old.get(), job->size, job->expect, buf);
        auto want = job->expect == Expect::Source ? digest_of(job->in.get(), job->size, job->expect, buf)
                                                  : Result<std::string>(expected_name(e.rel, job->expect));
        if (got && want && *got == *want) {
          apply_metadata(old.get(), e.st);
          std::lock_guard<std::mutex> g(m_mutex);
          ++report.files_kept;
          report.bytes_verified += job->size;
          return std::unique_ptr<FileJob>{};
        }
      }
    }
    job->out = fs::Fd{::open(job->dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)};
    if (!job->out)
      return fail(errno == ENOSPC ? ErrorCode::DiskFull : ErrorCode::Io, "cannot create " + job->dst + ": " + errno_text(),
                  job->dst);
    job->verify = fs::Fd{::open(job->dst.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
    if (!job->verify) return fail(ErrorCode::Io, "cannot reopen " + job->dst + ": " + errno_text(), job->dst);
    if (job->expect == Expect::Source) job->source_hash = hasher_for(job->expect);
    job->new_side = hasher_for(job->expect);
    if (job->expect == Expect::GitSha1Name) job->new_side->update("blob " + std::to_string(job->size) + std::string(1, '\0'));
    job->copied.assign(job->chunks, false);
    return job;
  }

  static std::vector<char>& thread_buffer() {
    thread_local std::vector<char> buf(k_buffer);
    return buf;
  }

  /// Copies chunk k, then hashes every chunk ready in order unless another thread is at it.
  Result<void> copy_chunk(FileJob& job, std::size_t k) {
    std::vector<char>& buf = thread_buffer();
    const std::uint64_t off = static_cast<std::uint64_t>(k) * k_chunk;
    const std::uint64_t len = std::min<std::uint64_t>(k_chunk, job.size - off);
    HUBCACHE_TRY(copy_range(job.in.get(), job.out.get(), off, len, buf, job.src, job.dst));
    // Start writing the chunk to disk now (asynchronous), so that the flush before the switch
    // overlaps the copy instead of following it. Best effort: the final syncfs is the guarantee.
    (void)::sync_file_range(job.out.get(), static_cast<off_t>(off), static_cast<off_t>(len), SYNC_FILE_RANGE_WRITE);
    add_progress(len);
    std::unique_lock<std::mutex> lock(job.mutex);
    job.copied[k] = true;
    while (!job.hashing && job.next_to_hash < job.chunks && job.copied[job.next_to_hash]) {
      job.hashing = true;
      const std::uint64_t h_off = static_cast<std::uint64_t>(job.next_to_hash) * k_chunk;
      const std::uint64_t h_len = std::min<std::uint64_t>(k_chunk, job.size - h_off);
      lock.unlock();
      Result<void> r;
      // The source chunk when its digest is the reference, then the new side's, read back.
      if (job.source_hash) r = hash_range(job.in.get(), h_off, h_len, *job.source_hash, buf, job.src);
      if (r) r = hash_range(job.verify.get(), h_off, h_len, *job.new_side, buf, job.dst);
      lock.lock();
      job.hashing = false;
      if (!r) return r;
      ++job.next_to_hash;
    }
    return {};
  }

  /// Compares the digests and applies the metadata; every chunk has been copied and hashed.
  Result<void> finish(FileJob& job) {
    if (job.next_to_hash != job.chunks)
      return fail(ErrorCode::Io, "internal error: " + job.dst + " was not hashed to its end; nothing was switched", job.dst);
    const std::string got = job.new_side->hex_digest();
    const std::string want = job.source_hash ? job.source_hash->hex_digest() : expected_name(job.entry->rel, job.expect);
    if (got != want) {
      // A blob not matching its name: copied faithfully when the source has the same digest.
      auto src_digest = job.expect == Expect::Source ? Result<std::string>(want)
                                                     : digest_of(job.in.get(), job.size, job.expect, thread_buffer());
      if (job.expect == Expect::Source || !src_digest || *src_digest != got)
        return fail(
            ErrorCode::Integrity,
            "the copy of " + job.src + " read back from " + job.dst + " differs from the source; the old cache is kept as it was",
            job.dst);
      std::lock_guard<std::mutex> g(m_mutex);
      report.corrupt_source_blobs.push_back(job.src);
    }
    apply_metadata(job.out.get(), job.entry->st);
    std::lock_guard<std::mutex> g(m_mutex);
    ++report.files_copied;
    report.bytes_copied += job.size;
    report.bytes_verified += job.size;
    return {};
  }

  static std::string expected_name(const std::string& rel, Expect) { return name_of(rel); }

  void add_progress(std::uint64_t n) {
    const std::uint64_t done = m_done.fetch_add(n) + n;
    if (m_options.progress) {
      std::lock_guard<std::mutex> g(m_progress_mutex);
      m_options.progress(done, m_total);
    }
  }

  std::string m_from, m_to, m_prefix;
  const CacheMoveOptions& m_options;
  std::string m_data;
  std::mutex m_mutex, m_progress_mutex;
  std::optional<Error> m_error;  // the first failure (under m_mutex)
  std::atomic<bool> m_failed{false};
  std::atomic<std::uint64_t> m_done{0};
  std::uint64_t m_total = 0;
};

}  // namespace

/// Removes from the copy what the source no longer holds (an earlier, interrupted run copied it
/// and it was deleted since): the new cache mirrors the source as it is now.
Result<void> drop_extras(const std::string& data, const std::vector<Entry>& source) {
  std::set<std::string> keep;
  for (const auto& e : source) keep.insert(e.rel);
  std::vector<std::string> extras;
  fs::walk_folder(
      data,
      [&](const std::string& rel, const std::string&) {
        if (keep.count(rel)) return true;
        extras.push_back(rel);
        return false;
      },
      [&](const fs::FolderEntry& f) {
        if (!keep.count(f.rel)) extras.push_back(f.rel);
      },
      [](const std::string&, int, fs::WalkFailure) {});
  for (const auto& rel : extras) HUBCACHE_TRY(fs::remove_all(data + "/" + rel));
  return {};
}

Result<void> write_state(const std::string& state_dir, const std::string& from, const std::string& to) {
  const nlohmann::json j = {{"version", 1}, {"from", from}, {"to", to}};
  return fs::write_file_atomic(state_dir + "/state.json", j.dump() + "\n");
}

TreeFigures measure_tree(const std::vector<Entry>& entries) {
  TreeFigures f;
  std::map<std::pair<dev_t, ino_t>, std::pair<nlink_t, nlink_t>> inodes;  // (seen here, st_nlink)
  for (const auto& e : entries) {
    if (e.kind == Entry::Link) ++f.links;
    if (e.kind != Entry::File) continue;
    auto& [seen, nlink] = inodes[{e.st.st_dev, e.st.st_ino}];
    if (seen++ == 0) {
      ++f.files;
      f.bytes += static_cast<std::uint64_t>(e.st.st_size);
    }
    nlink = e.st.st_nlink;
  }
  for (const auto& e : entries)
    if (e.kind == Entry::File) {
      auto& [seen, nlink] = inodes[{e.st.st_dev, e.st.st_ino}];
      if (nlink > seen && seen > 0) {
        f.outside_link_bytes += static_cast<std::uint64_t>(e.st.st_size);
        seen = 0;  // count once
      }
    }
  return f;
}

Result<TreeScan> scan_tree(const std::string& root) {
  std::vector<std::string> skipped;
  HUBCACHE_TRY_ASSIGN(auto entries, list_tree(root, skipped));
  TreeScan t{std::move(entries), {}};
  t.figures = measure_tree(t.entries);
  return t;
}

Result<Landing> check_landing(const std::string& from, const std::string& to, bool resume, const TreeScan& tree,
                              std::uint64_t bytes, const std::string& state_dir, const std::string& what) {
  Landing l;
  struct ::stat from_st {
  }, to_st{};
  const std::string landing = fs::nearest_existing(fs::parent(to));
  l.same_filesystem =
      ::stat(from.c_str(), &from_st) == 0 && ::stat(landing.c_str(), &to_st) == 0 && from_st.st_dev == to_st.st_dev && !resume;
  HUBCACHE_TRY_ASSIGN(l.free_bytes, fs::free_space(landing));
  if (l.same_filesystem) return l;
  std::uint64_t present = 0;  // resume: files an earlier run copied (verified again when it goes on)
  if (resume)
    for (const auto& e : tree.entries) {
      struct ::stat d {};
      if (e.kind == Entry::File && ::lstat((state_dir + "/data/" + e.rel).c_str(), &d) == 0 && d.st_size == e.st.st_size)
        present += static_cast<std::uint64_t>(d.st_size);
    }
  const std::uint64_t needed = bytes - std::min(present, bytes);
  if (needed > l.free_bytes)
    return fail(ErrorCode::DiskFull,
                "not enough space at " + landing + " for " + what + ": " + std::to_string(needed) + " bytes needed, " +
                    std::to_string(l.free_bytes) + " free; nothing was copied",
                landing);
  return l;
}

Result<void> copy_verified(const std::string& from, const std::string& to, const std::string& data, const std::string& rel_prefix,
                           std::uint64_t total, const CacheMoveOptions& options, CacheMoveReport& report) {
  if (::mkdir(data.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(ErrorCode::Io, "cannot create " + data + ": " + errno_text(), data);
  std::vector<std::string> skipped;
  HUBCACHE_TRY_ASSIGN(auto entries, list_tree(from, skipped));
  Copier copier(from, to, rel_prefix, options, data);
  HUBCACHE_TRY(copier.copy_tree(entries, total));
  // What a writer added or changed meanwhile (a refused-but-started download, a ref update).
  std::vector<std::string> skipped_again;
  HUBCACHE_TRY_ASSIGN(auto again, list_tree(from, skipped_again));
  std::map<std::string, const Entry*> before;
  for (const auto& e : entries) before[e.rel] = &e;
  std::vector<Entry> changed;
  for (auto& e : again) {
    auto it = before.find(e.rel);
    if (it == before.end() || it->second->kind != e.kind || it->second->st.st_size != e.st.st_size ||
        fs::mtime_ns(it->second->st) != fs::mtime_ns(e.st) || e.kind == Entry::Dir)
      changed.push_back(e);
  }
  if (changed.size() > 0) HUBCACHE_TRY(copier.copy_tree(changed, 0));
  HUBCACHE_TRY(drop_extras(data, again));
  copier.finish_dirs(again);
  for (const auto& s : skipped_again) copier.report.warnings.push_back("not a file, folder or link, left behind: " + s);
  fs::Fd data_fd{::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (!data_fd || ::syncfs(data_fd.get()) != 0)
    return fail(ErrorCode::Io, "cannot flush the copy in " + data + " to disk: " + errno_text(), data);
  report = std::move(copier.report);
  return {};
}

}  // namespace hubcache::move_detail

#include "deep_hash.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/parallel.hpp"

namespace hubcache::hygiene::detail {
namespace {

using InodeKey = std::pair<dev_t, ino_t>;
constexpr std::size_t k_sample = 4096;  // bytes read at each end of a file to tell same-size files apart
// Files up to this size are told apart by their head alone (as jdupes does): hashing a small file
// whole costs about what reading its tail would. Larger ones, model weights whose headers match
// across fine-tunes, by head and tail.
constexpr std::uint64_t k_head_only = 1u << 20;

// How many inodes a size bucket may keep open from the sample to the full hash (each then opened
// once): a share of the open-file limit per thread, leaving room for everything else. A larger
// bucket closes each file after its sample and opens the ones that match again.
std::size_t keep_open_limit(unsigned threads) {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1024;
  const std::size_t n = std::max<unsigned>(threads, 1);
  return rl.rlim_cur > 512 ? std::min<std::size_t>((rl.rlim_cur - 256) / n, 4096) : 0;
}

// Reads exactly `n` bytes at `offset` (fewer only at the end of the file); -1 on an error.
ssize_t read_at(int fd, char* buf, std::size_t n, off_t offset) {
  std::size_t have = 0;
  while (have < n) {
    const ssize_t got = ::pread(fd, buf + have, n - have, offset + static_cast<off_t>(have));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got == 0) break;
    have += static_cast<std::size_t>(got);
  }
  return static_cast<ssize_t>(have);
}

// The names of one inode that need an identity.
struct Inode {
  std::vector<stores::StoredFile*> names;
  const std::string& path() const { return names.front()->path; }
};

// Same-size inodes to tell apart: `kind` is the hash they get, `sample` whether same-size files
// without names are first told apart by their ends.
struct Bucket {
  std::uint64_t size = 0;
  HashWhat kind = HashWhat::Sha256;
  bool sample = false;
  std::vector<Inode> inodes;
};

// What one bucket found, merged under a lock.
struct BucketResult {
  std::size_t files = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> warnings;
  std::vector<stores::StoredFile*> hashed;
};

void set_identity(const Inode& inode, HashWhat kind, const std::string& hex, BucketResult& r) {
  for (auto* f : inode.names) {
    f->digest = kind == HashWhat::GitSha1 ? DigestKind::GitSha1 : DigestKind::Sha256;
    f->digest_hex = hex;
    r.hashed.push_back(f);
  }
}

// The digest of the `size` bytes of the file open as `fd`; "" (with `err`, 0 for "it changed
// size") when it cannot be read or holds another number of bytes. No stability check beyond the
// size: these identities only plan, and dedupe proves the content again before it links.
std::string digest_of(int fd, std::uint64_t size, HashWhat kind, int& err) {
  constexpr std::size_t k_buf = 256 << 10;
  thread_local std::unique_ptr<char[]> tl_buf;
  if (!tl_buf) tl_buf.reset(new char[k_buf]);
  char* const buf = tl_buf.get();
  Hasher sha256(Hasher::Kind::Sha256);
  GitBlobHasher sha1(size);
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(k_buf, size + 1 - total));
    const ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(total));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      return {};
    }
    if (kind == HashWhat::GitSha1)
      sha1.update(buf, static_cast<std::size_t>(n));
    else
      sha256.update(buf, static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
    if (static_cast<std::size_t>(n) < want || total > size) break;
  }
  err = 0;
  if (total != size) return {};
  return kind == HashWhat::GitSha1 ? sha1.hex_digest() : sha256.hex_digest();
}

// A same-size file beside files whose names say their content: hashed whole, as they are named.
void hash_whole(const Inode& inode, HashWhat kind, std::uint64_t size, BucketResult& r) {
  const fs::Fd fd(::open(inode.path().c_str(), O_RDONLY | O_CLOEXEC));
  int err = fd.valid() ? 0 : errno;
  const std::string hex = fd.valid() ? digest_of(fd.get(), size, kind, err) : std::string();
  if (hex.empty()) {
    r.warnings.push_back("not compared: cannot hash '" + inode.path() +
                         "': " + (err ? std::string(std::strerror(err)) : std::string("it changed size")));
    return;
  }
  ++r.files;
  r.bytes += size;
  set_identity(inode, kind, hex, r);
}

// Inodes of one size whose samples matched: the first is hashed whole while the others are
// compared with it chunk by chunk (one SHA-256 per group, not one per file); those equal to it get
// its identity, those that differ are matched again among themselves. An unopened fd is opened
// here and closed after.
void hash_matching(const Bucket& b, std::vector<std::size_t> members, std::vector<fs::Fd>& fds, BucketResult& r) {
  constexpr std::size_t k_chunk = 256 << 10;
  thread_local std::unique_ptr<char[]> tl_lead, tl_other;
  if (!tl_lead) tl_lead.reset(new char[k_chunk]);
  if (!tl_other) tl_other.reset(new char[k_chunk]);
  while (members.size() >= 2) {
    std::vector<std::size_t> live;  // members still read, the leader first
    for (auto i : members) {
      if (!fds[i].valid()) fds[i] = fs::Fd(::open(b.inodes[i].path().c_str(), O_RDONLY | O_CLOEXEC));
      if (fds[i].valid())
        live.push_back(i);
      else
        r.warnings.push_back("not compared: cannot read '" + b.inodes[i].path() + "': " + std::strerror(errno));
    }
    if (live.size() < 2) break;
    std::vector<std::size_t> differ;
    Hasher sha256(Hasher::Kind::Sha256);
    bool lead_ok = true;
    for (std::uint64_t offset = 0; offset < b.size && lead_ok && live.size() >= 2;) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk, b.size - offset));
      const ssize_t n = read_at(fds[live[0]].get(), tl_lead.get(), want, static_cast<off_t>(offset));
      if (n != static_cast<ssize_t>(want)) {
        r.warnings.push_back("not compared: cannot read '" + b.inodes[live[0]].path() +
                             "': " + (n < 0 ? std::string(std::strerror(errno)) : std::string("it changed size")));
        lead_ok = false;
        break;
      }
      sha256.update(tl_lead.get(), want);
      for (std::size_t k = 1; k < live.size();) {
        const ssize_t m = read_at(fds[live[k]].get(), tl_other.get(), want, static_cast<off_t>(offset));
        if (m == n && std::memcmp(tl_lead.get(), tl_other.get(), want) == 0) {
          ++k;
          continue;
        }
        if (m < 0)
          r.warnings.push_back("not compared: cannot read '" + b.inodes[live[k]].path() + "': " + std::strerror(errno));
        else
          differ.push_back(live[k]);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
      }
      offset += want;
    }
    // The leader must end where the listing said: a file that grew is not what was sized.
    char extra = 0;
    if (lead_ok && ::pread(fds[live[0]].get(), &extra, 1, static_cast<off_t>(b.size)) != 0) {
      r.warnings.push_back("not compared: cannot read '" + b.inodes[live[0]].path() + "': it changed size");
      lead_ok = false;
    }
    if (lead_ok && live.size() >= 2) {
      const std::string hex = sha256.hex_digest();
      for (auto i : live) {
        ++r.files;
        r.bytes += b.size;
        set_identity(b.inodes[i], HashWhat::Sha256, hex, r);
      }
    } else if (!lead_ok) {
      differ.insert(differ.end(), live.begin() + 1, live.end());  // the others may still match each other
    }
    for (auto i : live) fds[i].reset();
    members = std::move(differ);
  }
  for (auto i : members) fds[i].reset();
}

// A bucket of files without names: the first k_sample bytes (a file of at most 2 * k_sample whole,
// which then is its SHA-256 at once), for files over k_head_only also the last k_sample bytes, and
// only inodes whose samples match another's are hashed whole.
void sample_then_hash(const Bucket& b, std::size_t keep_open_max, BucketResult& r) {
  const bool whole = b.size <= 2 * k_sample;
  const bool keep_open = !whole && b.inodes.size() <= keep_open_max;
  std::vector<fs::Fd> fds(b.inodes.size());
  std::map<std::string, std::vector<std::size_t>> by_sample;
  char buf[2 * k_sample];
  for (std::size_t i = 0; i < b.inodes.size(); ++i) {
    const Inode& inode = b.inodes[i];
    fs::Fd fd(::open(inode.path().c_str(), O_RDONLY | O_CLOEXEC));
    int err = fd.valid() ? 0 : errno;
    ssize_t have = -1;
    if (fd.valid()) {
      if (whole) {
        have = read_at(fd.get(), buf, static_cast<std::size_t>(b.size), 0);
      } else {
        const ssize_t head = read_at(fd.get(), buf, k_sample, 0);
        const ssize_t tail = b.size <= k_head_only
                                 ? static_cast<ssize_t>(k_sample)
                                 : read_at(fd.get(), buf + k_sample, k_sample, static_cast<off_t>(b.size - k_sample));
        have = head < 0 || tail < 0 ? -1 : head + tail;
      }
      if (have < 0) err = errno;
    }
    if (err || static_cast<std::uint64_t>(have) != std::min<std::uint64_t>(b.size, sizeof buf)) {
      r.warnings.push_back("not compared: cannot read '" + inode.path() +
                           "': " + (err ? std::string(std::strerror(err)) : std::string("it changed size")));
      continue;
    }
    const std::string_view bytes(buf, whole ? static_cast<std::size_t>(have) : b.size <= k_head_only ? k_sample : 2 * k_sample);
    // A small file's key is its SHA-256; a larger file's a cheap fingerprint of its ends (a
    // collision costs a full hash, never a wrong group, so libstdc++'s Murmur-based hash does).
    by_sample[whole ? sha256_hex(bytes) : std::to_string(std::hash<std::string_view>{}(bytes))].push_back(i);
    if (keep_open) fds[i] = std::move(fd);
  }
  for (const auto& [key, members] : by_sample) {
    if (members.size() < 2) continue;
    if (whole) {
      for (auto i : members) {
        ++r.files;
        r.bytes += b.size;
        set_identity(b.inodes[i], HashWhat::Sha256, key, r);
      }
    } else {
      hash_matching(b, members, fds, r);
    }
  }
}
}  // namespace

DeepHashOutcome hash_colliding_sizes(std::vector<stores::StoreListing>& listings, unsigned threads) {
  std::map<std::uint64_t, std::vector<stores::StoredFile*>> by_size;
  for (auto& l : listings)
    for (auto& f : l.files)
      if (!f.partial && f.size > 0) by_size[f.size].push_back(&f);

  std::vector<Bucket> buckets;
  for (const auto& [size, files] : by_size) {
    std::map<InodeKey, std::size_t> index;  // inode -> its place in the bucket (unnamed names only)
    std::set<InodeKey> inodes;
    bool named = false, git = false;
    for (auto* f : files) {
      inodes.emplace(f->device, f->inode);
      named |= f->digest == DigestKind::Sha256;
      git |= f->digest == DigestKind::GitSha1;
    }
    if (inodes.size() < 2) continue;
    Bucket b;
    b.size = size;
    b.kind = git && !named ? HashWhat::GitSha1 : HashWhat::Sha256;
    b.sample = !named && !git;
    for (auto* f : files) {
      if (f->digest != DigestKind::None) continue;
      auto [it, fresh] = index.emplace(InodeKey{f->device, f->inode}, b.inodes.size());
      if (fresh) b.inodes.emplace_back();
      b.inodes[it->second].names.push_back(f);
    }
    if (!b.inodes.empty()) buckets.push_back(std::move(b));
  }
  // Largest work first, so the threads finish together.
  std::sort(buckets.begin(), buckets.end(),
            [](const Bucket& a, const Bucket& b) { return a.size * a.inodes.size() > b.size * b.inodes.size(); });

  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t keep_open_max = keep_open_limit(threads);
  DeepHashOutcome out;
  std::mutex mu;
  parallel_for(buckets.size(), threads, [&](std::size_t k) {
    const Bucket& b = buckets[k];
    BucketResult r;
    if (b.sample)
      sample_then_hash(b, keep_open_max, r);
    else
      for (const auto& inode : b.inodes) hash_whole(inode, b.kind, b.size, r);
    std::lock_guard<std::mutex> lock(mu);
    out.files += r.files;
    out.bytes += r.bytes;
    for (auto& w : r.warnings) out.warnings.push_back(std::move(w));
    out.hashed.insert(r.hashed.begin(), r.hashed.end());
  });
  std::sort(out.warnings.begin(), out.warnings.end());
  return out;
}

}  // namespace hubcache::hygiene::detail

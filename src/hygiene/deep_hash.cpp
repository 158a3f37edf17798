#include "deep_hash.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cerrno>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/parallel.hpp"

namespace hubcache::hygiene::detail {
namespace {

using InodeKey = std::pair<dev_t, ino_t>;
constexpr std::size_t k_sample = 4096;  // bytes hashed at each end of a file to tell same-size files apart

// A cheap fingerprint of the first and last k_sample bytes and the size: it only picks which
// same-size files to hash whole (a collision costs a full hash, never a wrong group), so a
// non-cryptographic hash (libstdc++'s, Murmur-based) does.
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

std::optional<std::string> sample_hash(const std::string& path, std::uint64_t size) {
  fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  char buf[2 * k_sample];
  ssize_t have = 0;
  if (size <= sizeof buf) {  // a small file is sampled whole
    have = read_at(fd.get(), buf, static_cast<std::size_t>(size), 0);
  } else {
    const ssize_t head = read_at(fd.get(), buf, k_sample, 0);
    const ssize_t tail = read_at(fd.get(), buf + k_sample, k_sample, static_cast<off_t>(size - k_sample));
    have = head < 0 || tail < 0 ? -1 : head + tail;
  }
  if (have < 0) return std::nullopt;
  const std::size_t h = std::hash<std::string_view>{}(std::string_view(buf, static_cast<std::size_t>(have)));
  return std::to_string(size) + ":" + std::to_string(h);
}

}  // namespace

DeepHashOutcome hash_colliding_sizes(std::vector<stores::StoreListing>& listings, unsigned threads) {
  DeepHashOutcome out;
  std::vector<stores::StoredFile*> all;
  for (auto& l : listings)
    for (auto& f : l.files)
      if (!f.partial && f.size > 0) all.push_back(&f);
  std::map<std::uint64_t, std::vector<stores::StoredFile*>> by_size;
  for (auto* f : all) by_size[f->size].push_back(f);

  std::vector<std::pair<stores::StoredFile*, HashWhat>> full;         // to hash whole
  std::map<std::uint64_t, std::vector<stores::StoredFile*>> unnamed;  // size -> files to sample first
  for (const auto& [size, files] : by_size) {
    std::set<InodeKey> inodes;
    bool named = false, git = false;
    for (auto* f : files) {
      inodes.emplace(f->device, f->inode);
      named |= f->digest == DigestKind::Sha256;
      git |= f->digest == DigestKind::GitSha1;
    }
    if (inodes.size() < 2) continue;
    for (auto* f : files) {
      if (f->digest != DigestKind::None) continue;
      if (named || git)
        full.emplace_back(f, git && !named ? HashWhat::GitSha1 : HashWhat::Sha256);
      else
        unnamed[size].push_back(f);
    }
  }
  std::vector<stores::StoredFile*> to_sample;
  for (const auto& [size, files] : unnamed) to_sample.insert(to_sample.end(), files.begin(), files.end());
  std::vector<std::optional<std::string>> samples(to_sample.size());
  parallel_for(to_sample.size(), threads,
               [&](std::size_t k) { samples[k] = sample_hash(to_sample[k]->path, to_sample[k]->size); });
  std::map<std::pair<std::uint64_t, std::string>, std::vector<stores::StoredFile*>> by_sample;
  for (std::size_t k = 0; k < to_sample.size(); ++k)
    if (samples[k]) by_sample[{to_sample[k]->size, *samples[k]}].push_back(to_sample[k]);
  for (const auto& [key, files] : by_sample) {
    std::set<InodeKey> inodes;
    for (auto* f : files) inodes.emplace(f->device, f->inode);
    if (inodes.size() >= 2)
      for (auto* f : files) full.emplace_back(f, HashWhat::Sha256);
  }

  // Whole files, each (inode, kind of hash) once.
  std::map<std::pair<InodeKey, HashWhat>, std::size_t> first_of;
  std::vector<std::size_t> unique;
  for (std::size_t k = 0; k < full.size(); ++k)
    if (first_of.emplace(std::make_pair(InodeKey{full[k].first->device, full[k].first->inode}, full[k].second), k).second)
      unique.push_back(k);
  std::vector<std::optional<FileHashes>> hashes(full.size());
  std::mutex mu;
  parallel_for(unique.size(), threads, [&](std::size_t u) {
    const auto k = unique[u];
    auto h = hash_file(full[k].first->path, full[k].second);
    if (h) {
      hashes[k] = std::move(*h);
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    out.warnings.push_back("not compared: cannot hash '" + full[k].first->path + "': " + h.error().message);
  });
  for (auto k : unique)
    if (hashes[k]) {
      ++out.files;
      out.bytes += full[k].first->size;
    }
  for (std::size_t k = 0; k < full.size(); ++k) {
    auto* f = full[k].first;
    const auto& h = hashes[first_of[{InodeKey{f->device, f->inode}, full[k].second}]];
    if (!h) continue;
    const bool git = full[k].second == HashWhat::GitSha1;
    f->digest = git ? DigestKind::GitSha1 : DigestKind::Sha256;
    f->digest_hex = git ? h->git_sha1 : h->sha256;
    out.hashed.insert(f);
  }
  return out;
}

}  // namespace hubcache::hygiene::detail

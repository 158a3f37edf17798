#pragma once
// `--deep`: gives files without a free identity one by hashing, only where sizes collide (size,
// then a sampled head/tail hash, then the full hash). Shared by dedupe's plan and doctor.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "hubcache/stores/store.hpp"

namespace hubcache::hygiene::detail {

struct DeepHashOutcome {
  std::size_t files = 0;  // inodes hashed whole
  std::uint64_t bytes = 0;
  std::vector<std::string> warnings;           // files that could not be hashed
  std::set<const stores::StoredFile*> hashed;  // files whose digest was set here
};

/// For each complete, non-empty file of `listings` without a digest whose size another file (on
/// another inode) shares: sets `digest`/`digest_hex` to its SHA-256, or to its git blob SHA-1 when
/// the only named files of that size are git-named. Same-size files without names that only have
/// each other are hashed whole only when a fingerprint of their first and last 4 KiB matches (a
/// file of at most 8 KiB is read whole once and its SHA-256 is the fingerprint). Each inode is
/// opened once where the open-file limit allows keeping its size's files open (else twice), and hashed at most once; size
/// buckets run on `threads` threads (util/parallel.hpp, 0 = hardware concurrency). The identities
/// are for planning: whoever links by them proves the content again first (dedupe_exec).
DeepHashOutcome hash_colliding_sizes(std::vector<stores::StoreListing>& listings, unsigned threads);

}  // namespace hubcache::hygiene::detail

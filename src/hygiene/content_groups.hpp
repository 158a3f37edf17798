#pragma once
// The one rule for "the same bytes held twice": files whose free identity (StoredFile::digest) is
// equal, on two or more inodes. Used by disk usage and doctor alike.
#include <cstdint>
#include <string>
#include <vector>

#include "hubcache/stores/store.hpp"

namespace hubcache::hygiene::detail {

/// One name of a content: the file and the store listing it.
struct Holder {
  const stores::StoreListing* store;
  const stores::StoredFile* file;
};

/// A content held on several inodes.
struct ContentGroup {
  DigestKind kind = DigestKind::None;
  std::string hex;
  std::vector<std::vector<Holder>> inodes;  // per inode (in first-met order), every name of it
  std::uint64_t extra_bytes = 0;            // what linking frees: the allocated bytes of the inodes whose every name
                                            // is listed, but the largest (none kept when an inode with names
                                            // elsewhere stays anyway)
  std::uint64_t linkable_bytes = 0;         // the part of extra_bytes a link can free: the same, per filesystem
                                            // (copies on different filesystems cannot be linked)
};

/// Every content with a free identity held on two or more inodes, in digest order. Partial files
/// are in no group. The listings must outlive the result.
std::vector<ContentGroup> content_groups(const std::vector<stores::StoreListing>& listings);

}  // namespace hubcache::hygiene::detail

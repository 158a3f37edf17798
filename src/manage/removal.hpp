// What removing a revision does to each blob of its repo's table: the one rule the delete plan
// removes by and gc's freed-bytes estimate counts by.
#pragma once

#include "hubcache/manage/scan.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::manage_detail {

enum class Removal {
  Keeps,         // a pointer into another repo's blobs/ (or out of the cache): its target stays
  WithSnapshot,  // a copied file inside the revision's snapshot (no-symlink layout): goes with the dir
  BlobFile,      // a blob of the repo's own blobs/: goes once no kept revision of the repo names it
};

inline Removal removal_of(const CachedRevisionInfo& rev, const CachedBlobInfo& blob) {
  if (blob.in_repo_blobs) return Removal::BlobFile;  // the scan's verdict: the common case, no path compare
  return fs::is_within(rev.snapshot_path, blob.path) ? Removal::WithSnapshot : Removal::Keeps;
}

}  // namespace hubcache::manage_detail

#pragma once
// Private pieces of the cache merge (src/manage/merge*.cpp). See hubcache/manage/merge.hpp.
#include <sys/stat.h>

#include <optional>
#include <string>

#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache::merge_detail {

/// The file holding the bytes of a blob entry <repo>/blobs/<name>, with its stat.
struct BlobBytes {
  std::string path;  // the entry itself, or the shared store payload it links to
  struct stat st {};
};

/// nullopt when the entry does not exist; CacheCorrupted when it is neither a regular file nor a
/// link into the cache's marked shared store with a regular payload; Io when it cannot be examined.
Result<std::optional<BlobBytes>> blob_bytes(const SharedBlobStore& store, const std::string& entry);

}  // namespace hubcache::merge_detail

#pragma once
// Byte-for-byte comparison of two files: the proof that two names hold the same bytes when
// neither name can be trusted (two caches' blobs of one name, a source and the blob it became).
#include <string>

#include "hubcache/core/result.hpp"

namespace hubcache::fs {

/// True when the two files hold the same bytes (read sequentially in 1 MiB blocks, stopping at the
/// first difference; a file that is longer differs). Errors: the errno of a failed open or read,
/// naming the file.
Result<bool> same_contents(const std::string& a, const std::string& b);

}  // namespace hubcache::fs

#pragma once
// The LFS pointer file git keeps in place of an LFS file's content (docs/cache-format.md).
#include <cstdint>
#include <string>
#include <string_view>

namespace hubcache {

/// The LFS pointer text git stores in place of an LFS file:
/// "version https://git-lfs.github.com/spec/v1\noid sha256:<sha>\nsize <n>\n".
std::string lfs_pointer_text(std::string_view sha256, std::uint64_t size);

}  // namespace hubcache

#include "hubcache/cache/lfs_pointer.hpp"

namespace hubcache {

std::string lfs_pointer_text(std::string_view sha256, std::uint64_t size) {
  return "version https://git-lfs.github.com/spec/v1\noid sha256:" + std::string(sha256) + "\nsize " + std::to_string(size) +
         "\n";
}

}  // namespace hubcache

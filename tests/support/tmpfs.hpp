#pragma once
// A tmpfs mounted at a path for a test's life: a second filesystem (the tests run as root).
#include <sys/mount.h>

#include <filesystem>
#include <string>

namespace hubcache::test {

struct Tmpfs {
  std::string path;
  bool mounted = false;
  /// Creates `p` and mounts a tmpfs of `size` ("size=64m") there; `mounted` says whether it worked.
  Tmpfs(std::string p, const char* size) : path(std::move(p)) {
    std::filesystem::create_directories(path);
    mounted = ::mount("none", path.c_str(), "tmpfs", 0, size) == 0;
  }
  ~Tmpfs() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
};

}  // namespace hubcache::test

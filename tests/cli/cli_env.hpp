#pragma once
// Environment for running the hubcache binary against a test server and a temp cache.
#include <string>
#include <vector>

#include "hub_server.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {

inline std::vector<std::string> cli_env(const HubServer& server, const TempDir& dir, const std::string& cache) {
  return {
      "HF_ENDPOINT=" + server.endpoint(), "HF_HUB_CACHE=" + cache, "HF_HOME=" + dir / "hf_home", "-HF_TOKEN",
      "-HUGGING_FACE_HUB_TOKEN",          "-HF_HUB_OFFLINE",       "-TRANSFORMERS_OFFLINE",      "-HF_HUB_DISABLE_IMPLICIT_TOKEN",
      "-HF_HUB_DISABLE_SYMLINKS",         "-TRANSFORMERS_CACHE",   "HF_HUB_DOWNLOAD_TIMEOUT=5"};
}

inline std::vector<std::string> cmd(std::vector<std::string> args) {
  args.insert(args.begin(), hubcache_bin());
  return args;
}

}  // namespace hubcache::test

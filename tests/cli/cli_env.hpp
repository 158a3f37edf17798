#pragma once
// Environment for running the hubcache binary against a test server and a temp cache.
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

/// One JSON value per non-empty line of `out` (the --json event stream).
inline std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

}  // namespace hubcache::test

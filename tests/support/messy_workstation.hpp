#pragma once
// The "messy workstation" of issue 11, built under a temporary home: a central Hub cache with the
// local-dir trap, projects with their own model_cache and the settings that point at them, a
// --local-dir copy and an uncached --local-dir download, the same GGUF in Ollama and LM Studio, a
// legacy llama.cpp file, and broken bits (a dangling pointer, stale partials, a detached revision,
// a variable that splits the cache). Each planted finding is recorded with its exact bytes.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hubcache::test {

struct PlantedFinding {
  std::string kind;         // doctor's stable id
  std::string path;         // the path the finding names first
  std::uint64_t bytes = 0;  // allocated bytes at stake (st_blocks * 512 of what is planted)
};

struct MessyWorkstation {
  std::string home, hf_home, hub, ollama, lmstudio_models, llama_cache, tc;
  std::string weights;                   // the GGUF bytes found in four stores
  std::vector<PlantedFinding> planted;   // every finding doctor must report, and nothing else
  std::vector<std::string> environment;  // the variables (NAME=value, or -NAME to unset) doctor must run with
};

/// Builds it below `dir` (which exists). Partials are dated two hours back.
MessyWorkstation build_messy_workstation(const std::string& dir);

/// st_blocks * 512 of `path` (lstat follows no link).
std::uint64_t allocated_bytes(const std::string& path);

}  // namespace hubcache::test

#pragma once
// Builds Hub caches for tests, healthy (as huggingface_hub lays them out) and deliberately broken.
#include <string>

#include "hubcache/cache/layout.hpp"

namespace hubcache::test {

class CacheBuilder {
 public:
  explicit CacheBuilder(std::string root) : m_root(std::move(root)) {}
  const std::string& root() const { return m_root; }
  RepoLayout layout(const RepoRef& repo) const { return RepoLayout(m_root, repo); }

  /// Writes the blob (named by SHA-256 when `lfs`, else by git SHA-1) and a relative symlink
  /// snapshots/<commit>/<path>. Creates blobs/, refs/, snapshots/. Returns the blob name.
  std::string add_file(const RepoRef& repo, const std::string& commit, const std::string& path,
                       const std::string& content, bool lfs = false);
  /// Writes refs/<name> with `commit` exactly (pass a trailing "\n" to simulate a foreign ref).
  void add_ref(const RepoRef& repo, const std::string& name, const std::string& commit);
  /// Writes any file below the cache root (for broken cases).
  void write_raw(const std::string& rel, const std::string& content);

 private:
  std::string m_root;
};

/// A deterministic fake 40-hex commit id, e.g. commit_id(1) = "1111...".
std::string commit_id(int n);

}  // namespace hubcache::test

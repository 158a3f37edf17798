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
  std::string add_file(const RepoRef& repo, const std::string& commit, const std::string& path, const std::string& content,
                       bool lfs = false);
  /// Writes refs/<name> with `commit` exactly (pass a trailing "\n" to simulate a foreign ref).
  void add_ref(const RepoRef& repo, const std::string& name, const std::string& commit);
  /// Writes any file below the cache root (for broken cases).
  void write_raw(const std::string& rel, const std::string& content);

  // The shared blob store of huggingface_hub >= 1.32, written as Python writes it (cache root
  // 0755: marker and payloads 0444, .refs 0666).
  /// <root>/blobs/.huggingface-shared-blobs = "1\n".
  void mark_shared_store();
  /// <root>/blobs/<h[:2]>/<h> = content (replaced if present).
  void add_shared_payload(const std::string& hash, const std::string& content);
  /// <repo>/blobs/<etag> -> ../../blobs/<h[:2]>/<h>, and (if `manifest_line`) appends
  /// "<folder>/blobs/<etag>\n" to <h>.refs.
  void link_shared_blob(const RepoRef& repo, const std::string& etag, const std::string& hash, bool manifest_line = true);
  /// snapshots/<commit>/<path> -> ../../blobs/<etag> (the blob is not written).
  void add_pointer(const RepoRef& repo, const std::string& commit, const std::string& path, const std::string& etag);
  /// An LFS file stored in the shared store: payload, link, manifest line, pointer. Returns the
  /// ETag (SHA-256 of content).
  std::string add_shared_file(const RepoRef& repo, const std::string& commit, const std::string& path, const std::string& content,
                              const std::string& hash);

 private:
  std::string m_root;
};

/// A deterministic fake 40-hex commit id, e.g. commit_id(1) = "1111...".
std::string commit_id(int n);

}  // namespace hubcache::test

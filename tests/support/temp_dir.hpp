#pragma once
// Test helpers: a private temporary directory per test, and small file/process utilities.
#include <map>
#include <string>
#include <vector>

namespace hubcache::test {

/// mkdtemp under $TMPDIR (or /tmp), removed recursively on destruction. The path is realpath'd.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return m_path; }
  std::string operator/(const std::string& rel) const { return m_path + "/" + rel; }

 private:
  std::string m_path;
};

void write_file(const std::string& path, const std::string& content);  // creates parents
std::string read_file(const std::string& path);
bool exists(const std::string& path);            // lstat: a dangling symlink exists
std::string read_link(const std::string& path);  // "" if not a symlink

/// Every path below `root` (files, dirs, links) with type, mode, size, link target and content
/// hash: equal snapshots mean an unchanged tree (used to prove dry runs change nothing).
std::string tree_fingerprint(const std::string& root);

/// relative path -> "link <target>" | "file <sha256>" | "dir" for every entry below `root`
/// (empty when `root` does not exist): compares caches written by different clients.
std::map<std::string, std::string> describe_tree(const std::string& root);

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
/// Runs argv (no shell) with extra environment entries ("K=V" sets, "-K" unsets); captures output.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                          const std::string& stdin_data = {}, int as_uid = -1);
/// The uid of "nobody" for tests that must run unprivileged (root ignores permissions).
inline constexpr int k_nobody_uid = 65534;

/// Path of the built `hubcache` binary and of the source tree (from ctest's environment).
std::string hubcache_bin();
std::string source_dir();

}  // namespace hubcache::test

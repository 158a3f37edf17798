#include "cache_builder.hpp"

#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {

std::string CacheBuilder::add_file(const RepoRef& repo, const std::string& commit, const std::string& path,
                                   const std::string& content, bool lfs) {
  const RepoLayout l = layout(repo);
  std::filesystem::create_directories(l.refs_dir());
  const std::string etag = lfs ? sha256_hex(content) : git_blob_sha1_hex(content);
  write_file(l.blob_path(etag), content);
  const std::string pointer = l.pointer_path(commit, path);
  std::filesystem::create_directories(std::filesystem::path(pointer).parent_path());
  std::filesystem::remove(pointer);
  if (::symlink(pointer_target(path, etag).c_str(), pointer.c_str()) != 0)
    throw std::runtime_error("symlink failed: " + pointer);
  return etag;
}

void CacheBuilder::add_ref(const RepoRef& repo, const std::string& name, const std::string& commit) {
  write_file(layout(repo).ref_path(name), commit);
}

void CacheBuilder::write_raw(const std::string& rel, const std::string& content) {
  write_file(m_root + "/" + rel, content);
}

std::string commit_id(int n) {
  const char digit = "0123456789abcdef"[n & 0xf];
  return std::string(40, digit);
}

}  // namespace hubcache::test

#include "cache_builder.hpp"

#include <sys/stat.h>
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
  if (::symlink(pointer_target(path, etag).c_str(), pointer.c_str()) != 0) throw std::runtime_error("symlink failed: " + pointer);
  return etag;
}

void CacheBuilder::add_ref(const RepoRef& repo, const std::string& name, const std::string& commit) {
  write_file(layout(repo).ref_path(name), commit);
}

void CacheBuilder::write_raw(const std::string& rel, const std::string& content) { write_file(m_root + "/" + rel, content); }

void CacheBuilder::mark_shared_store() {
  const std::string marker = m_root + "/blobs/.huggingface-shared-blobs";
  std::filesystem::remove(marker);
  write_file(marker, "1\n");
  ::chmod(marker.c_str(), 0444);
}

void CacheBuilder::add_shared_payload(const std::string& hash, const std::string& content) {
  const std::string payload = m_root + "/blobs/" + hash.substr(0, 2) + "/" + hash;
  std::filesystem::remove(payload);
  write_file(payload, content);
  ::chmod(payload.c_str(), 0444);
}

void CacheBuilder::link_shared_blob(const RepoRef& repo, const std::string& etag, const std::string& hash, bool manifest_line) {
  const RepoLayout l = layout(repo);
  std::filesystem::create_directories(l.blobs_dir());
  std::filesystem::create_directories(l.refs_dir());
  std::filesystem::remove(l.blob_path(etag));
  const std::string target = "../../blobs/" + hash.substr(0, 2) + "/" + hash;
  if (::symlink(target.c_str(), l.blob_path(etag).c_str()) != 0) throw std::runtime_error("symlink failed: " + l.blob_path(etag));
  if (!manifest_line) return;
  const std::string refs = m_root + "/blobs/" + hash.substr(0, 2) + "/" + hash + ".refs";
  const std::string folder = l.folder().substr(m_root.size() + 1);
  write_file(refs, (exists(refs) ? read_file(refs) : std::string()) + folder + "/blobs/" + etag + "\n");
  ::chmod(refs.c_str(), 0666);
}

void CacheBuilder::add_pointer(const RepoRef& repo, const std::string& commit, const std::string& path, const std::string& etag) {
  const std::string pointer = layout(repo).pointer_path(commit, path);
  std::filesystem::create_directories(std::filesystem::path(pointer).parent_path());
  std::filesystem::remove(pointer);
  if (::symlink(pointer_target(path, etag).c_str(), pointer.c_str()) != 0) throw std::runtime_error("symlink failed: " + pointer);
}

std::string CacheBuilder::add_shared_file(const RepoRef& repo, const std::string& commit, const std::string& path,
                                          const std::string& content, const std::string& hash) {
  const std::string etag = sha256_hex(content);
  add_shared_payload(hash, content);
  link_shared_blob(repo, etag, hash);
  add_pointer(repo, commit, path, etag);
  return etag;
}

std::string commit_id(int n) {
  const char digit = "0123456789abcdef"[n & 0xf];
  return std::string(40, digit);
}

}  // namespace hubcache::test

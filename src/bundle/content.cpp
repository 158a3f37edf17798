// What a lock puts in a bundle, and the one blob hashing rule (name -> algorithm).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "bundle_internal.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/hash.hpp"

namespace hubcache::bundle {

const char* to_string(Format format) { return format == Format::Oci ? "oci" : "tar"; }

std::string staging_path(const std::string& cache_dir) {
  return cache_dir + "/" + std::string(k_locks_dir) + "/hubcache-bundle-import";
}

namespace detail {

Result<std::vector<BundleRepo>> bundle_repos(const lock::Lockfile& lock) {
  std::map<std::string, BundleRepo> by_folder;
  for (const auto& locked : lock.repos) {
    const std::string folder = repo_folder_name(locked.repo);
    auto& r = by_folder[folder];
    r.repo = locked.repo;
    r.folder = folder;
    const std::string where = locked.repo.label() + "@" + locked.revision;
    if (!is_commit_hash(locked.revision)) {
      auto [it, added] = r.refs.emplace(locked.revision, locked.commit);
      if (!added && it->second != locked.commit)
        return fail(ErrorCode::InvalidArgument, "the lock names " + locked.repo.label() + " revision '" + locked.revision +
                                                    "' at two commits (" + it->second + ", " + locked.commit + ")");
    }
    auto& snapshot = r.snapshots[locked.commit];
    for (const auto& f : locked.files) {
      auto [it, added] = snapshot.emplace(f.path, f);
      if (!added && it->second.blob_name() != f.blob_name())
        return fail(ErrorCode::InvalidArgument, where + ": '" + f.path + "' is locked twice at commit " + locked.commit +
                                                    " with different content (" + it->second.blob_name() + ", " + f.blob_name() +
                                                    ")");
      auto [b, new_blob] = r.blobs.emplace(f.blob_name(), f.size);
      if (!new_blob && b->second != f.size)
        return fail(ErrorCode::InvalidArgument, where + ": blob " + f.blob_name() + " is locked with two sizes (" +
                                                    std::to_string(b->second) + ", " + std::to_string(f.size) + ")");
    }
  }
  std::vector<BundleRepo> out;
  for (auto& [_, r] : by_folder) out.push_back(std::move(r));
  return out;
}

std::vector<TreeFileEntry> tree_entries(const std::map<std::string, lock::LockedFile>& files) {
  std::vector<TreeFileEntry> out;
  for (const auto& [path, f] : files) {
    TreeFileEntry e;
    e.path = path;
    e.size = f.size;
    e.blob_id = f.git_oid;
    if (f.lfs_sha256) {
      e.lfs_sha256 = f.lfs_sha256;
      e.lfs_size = f.size;
    }
    out.push_back(std::move(e));
  }
  return out;
}

struct BlobVerifier::Impl {
  DigestKind kind;
  std::unique_ptr<Hasher> sha256;
  std::unique_ptr<GitBlobHasher> git;
};

BlobVerifier::BlobVerifier(std::string_view name, std::uint64_t size) : m_impl(new Impl) {
  m_impl->kind = digest_kind_of(name);
  if (m_impl->kind == DigestKind::GitSha1)
    m_impl->git = std::make_unique<GitBlobHasher>(size);
  else
    m_impl->sha256 = std::make_unique<Hasher>(Hasher::Kind::Sha256);
}
BlobVerifier::~BlobVerifier() { delete m_impl; }
void BlobVerifier::update(const void* data, std::size_t n) {
  if (m_impl->git)
    m_impl->git->update(data, n);
  else
    m_impl->sha256->update(data, n);
}
std::string BlobVerifier::finish() { return m_impl->git ? m_impl->git->hex_digest() : m_impl->sha256->hex_digest(); }
const char* BlobVerifier::algorithm() const { return m_impl->git ? "git-sha1" : "sha256"; }

Result<void> copy_verified_blob(const std::string& path, const std::string& name, std::uint64_t size,
                                const std::function<Result<void>(const char*, std::size_t)>& sink, std::string* sha256_out) {
  fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(errno_error(errno, "cannot read blob", path));
  BlobVerifier verify(name, size);
  std::unique_ptr<Hasher> sha256;
  if (sha256_out) sha256 = std::make_unique<Hasher>(Hasher::Kind::Sha256);
  std::vector<char> buf(1u << 20);
  std::uint64_t left = size;
  while (left > 0) {
    const ssize_t n = ::read(fd.get(), buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size())));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error(errno, "cannot read blob", path));
    }
    if (n == 0)
      return fail(ErrorCode::Integrity,
                  path + ": the blob is shorter than the lock says (" + std::to_string(size - left) + " of " +
                      std::to_string(size) + " bytes): run `hubcache cache verify` and `hubcache sync --lock` first",
                  path);
    verify.update(buf.data(), static_cast<std::size_t>(n));
    if (sha256) sha256->update(buf.data(), static_cast<std::size_t>(n));
    HUBCACHE_TRY(sink(buf.data(), static_cast<std::size_t>(n)));
    left -= static_cast<std::uint64_t>(n);
  }
  char extra = 0;
  if (::read(fd.get(), &extra, 1) == 1)
    return fail(ErrorCode::Integrity, path + ": the blob is longer than the lock's " + std::to_string(size) + " bytes", path);
  if (const auto got = verify.finish(); got != name)
    return fail(ErrorCode::Integrity,
                path + ": the blob's bytes do not match its name (" + verify.algorithm() + " is " + got +
                    "): run `hubcache sync --lock` with the bundle's lockfile to fetch it again first",
                path);
  if (sha256_out) *sha256_out = sha256->hex_digest();
  return {};
}

}  // namespace detail
}  // namespace hubcache::bundle

#pragma once
// Private pieces of the bundle module (src/bundle/*.cpp). See hubcache/bundle/bundle.hpp.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hubcache/bundle/bundle.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/lock/lockfile.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::bundle::detail {

inline constexpr std::size_t k_max_lock_bytes = 64u << 20;
inline constexpr std::size_t k_max_small_entry = 64u << 20;  // refs, trees, OCI manifests and index

// ---- content.cpp: what a lock puts in a bundle, per repo folder ----
struct BundleRepo {
  RepoRef repo;
  std::string folder;                                                        // "models--org--name"
  std::map<std::string, std::uint64_t> blobs;                                // blob name -> size
  std::map<std::string, std::string> refs;                                   // branch/tag -> commit
  std::map<std::string, std::map<std::string, lock::LockedFile>> snapshots;  // commit -> path -> file
};
/// Groups the lock's repos by repo folder. InvalidArgument when one (commit, path) is locked with
/// two different blobs, one blob name with two sizes, or one branch/tag at two commits.
Result<std::vector<BundleRepo>> bundle_repos(const lock::Lockfile& lock);
/// trees/<commit>.json entries for the files bundled (no xet_hash).
std::vector<TreeFileEntry> tree_entries(const std::map<std::string, lock::LockedFile>& files);
/// The kind of hash a blob name is (SHA-256 / git blob SHA-1), hashing `size` bytes.
class BlobVerifier {
 public:
  BlobVerifier(std::string_view name, std::uint64_t size);
  ~BlobVerifier();
  BlobVerifier(const BlobVerifier&) = delete;
  BlobVerifier& operator=(const BlobVerifier&) = delete;
  void update(const void* data, std::size_t n);
  /// The hex digest of the bytes seen, in the name's algorithm ("sha256" / "git-sha1").
  std::string finish();
  const char* algorithm() const;

 private:
  struct Impl;
  Impl* m_impl;
};

// ---- tar_writer.cpp / oci_writer.cpp ----
/// Streams `size` bytes of `path` to `sink`, hashing them as the blob name `name` says; Integrity
/// naming `path` when they differ, Io when the file is shorter or unreadable.
Result<void> copy_verified_blob(const std::string& path, const std::string& name, std::uint64_t size,
                                const std::function<Result<void>(const char*, std::size_t)>& sink,
                                std::string* sha256_out = nullptr);
Result<CreateReport> write_tar(const CreateOptions& options, const std::vector<BundleRepo>& repos);
Result<CreateReport> write_oci(const CreateOptions& options, const std::vector<BundleRepo>& repos);

// ---- entry_rules.cpp: what a bundle entry may be ----
struct Entry {
  enum class Type { File, Dir, Symlink, Hardlink, Other };
  std::string path;  // as the stream names it
  Type type = Type::File;
  std::string link_target;  // Symlink / Hardlink
  std::uint64_t size = 0;   // File
};
struct EntryClass {
  enum class Kind { LockFile, Dir, Blob, Ref, Pointer, Tree } kind = Kind::Dir;
  std::string rel;     // normalized path below the cache root
  std::string folder;  // repo folder ("" for the lock file and .locks/)
  std::string name;    // Blob: blob name; Ref: revision; Pointer: repo path; Tree: commit
  std::string commit;  // Pointer
  std::string blob;    // Pointer: the blob its target names
};
/// Classifies one entry, or InvalidArgument naming it and saying what is wrong.
Result<EntryClass> classify_entry(const Entry& entry);

// ---- staging.cpp: validated entries written into the staging cache ----
using ReadFn = std::function<Result<std::size_t>(char* buf, std::size_t cap)>;  // 0 = end of data

class Staging {
 public:
  explicit Staging(std::string dir);
  ~Staging();
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  Result<void> open();
  /// One entry; `read` gives a File's bytes. Errors name the entry.
  Result<void> add(const Entry& entry, const ReadFn& read);
  /// After the last entry: checks the staged content against the lock (both ways), writes the
  /// missing refs and trees/<commit>.json from the lock, flushes the staging filesystem.
  Result<lock::Lockfile> finish();
  std::size_t blob_count() const;
  std::uint64_t bytes() const { return m_bytes; }

 private:
  struct Repo {
    std::map<std::string, std::uint64_t> blobs;
    std::map<std::pair<std::string, std::string>, std::string> pointers;  // (commit, path) -> blob
    std::map<std::string, std::string> refs;
  };
  Result<fs::Fd> open_parent(const EntryClass& c, std::string& leaf);
  Result<void> write_blob(const EntryClass& c, const Entry& e, const ReadFn& read);
  std::string files_of(const std::string& rel) const;  // " (the content of a, b)" from the lock, if read already
  std::string m_dir;
  fs::Fd m_root;
  std::set<std::string> m_seen;
  std::map<std::string, Repo> m_repos;
  std::optional<std::string> m_lock_text;
  std::map<std::string, std::set<std::string>> m_paths_of;  // "<folder>/blobs/<name>" -> repo paths
  std::map<std::string, std::uint64_t> m_size_of;           // "<folder>/blobs/<name>" -> the lock's size
  std::uint64_t m_bytes = 0;
};

/// Reads a tar bundle ("-" = stdin) into the staging cache. Io naming the entry on a truncated or
/// unreadable stream.
Result<void> read_tar(const std::string& path, Staging& staging);
/// Reads an OCI image layout folder (as write_oci makes it) into the staging cache.
Result<void> read_oci(const std::string& dir, Staging& staging);

}  // namespace hubcache::bundle::detail

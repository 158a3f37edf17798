#pragma once
// Private pieces of the import (src/manage/import*.cpp). See hubcache/manage/import.hpp.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/manage/import.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache::import_detail {

/// A problem found in the source folder; all of them are reported together.
struct Problem {
  ErrorCode code = ErrorCode::InvalidArgument;
  std::string message;
  std::string path;
};
/// One error listing `problems` under `headline` (the first problem's code and path).
Error problems_error(const std::string& headline, const std::vector<Problem>& problems);

struct SourceEntry {
  std::string path;       // repo path
  std::string source;     // absolute path in the folder
  std::string read_from;  // the regular file with the bytes (symlink resolved)
  std::uint64_t size = 0;
  bool lfs = false;  // forced LFS (NamedSourceFile::lfs)
};

/// Walks `root` (absolute, resolved): skips .cache/huggingface/ at the top and every .git entry,
/// resolves symlinks that stay inside `root` or point at a blob of `cache` (the destination,
/// absolute and resolved), refuses the rest. Sorted by path.
Result<std::vector<SourceEntry>> walk_source(const std::string& root, const std::string& cache);

/// ImportOptions::files as entries, each checked (see there); `root` absolute and resolved. Sorted by path.
Result<std::vector<SourceEntry>> list_named_sources(const std::string& root, const std::vector<NamedSourceFile>& files);

/// One `hf download --local-dir` metadata file.
struct LocalDirRecord {
  std::string commit;
  std::string etag;
};
struct LocalDirMetadata {
  bool present = false;                           // at least one *.metadata file exists
  std::map<std::string, LocalDirRecord> records;  // repo path -> valid record
  std::vector<std::string> unreadable;            // metadata files that do not parse (absolute paths)
};
/// Reads <root>/.cache/huggingface/download/**/*.metadata (3 lines: commit, ETag, timestamp).
Result<LocalDirMetadata> read_local_dir_metadata(const std::string& root);

struct HashedSource {
  std::uint64_t size = 0;
  std::string digest;  // SHA-256 or git blob SHA-1, as asked
  SourceStamp stamp;
};
/// Hashes a file in one read; fails if it changes (size or mtime) while being read.
Result<HashedSource> hash_source(const std::string& path, DigestKind kind);

/// Publishes `file` as blobs/<file.blob> (the caller holds the blob lock and checked that the blob
/// is absent): a hardlink when `try_link` (falling back to a copy where the filesystem refuses),
/// else a copy verified against the blob name. Returns true if the bytes were copied. blobs/ is
/// not fsynced (DirSync::Batched): the caller does it once after the batch.
Result<bool> publish_source_blob(const RepoLayout& layout, const ImportFile& file, bool try_link);

}  // namespace hubcache::import_detail

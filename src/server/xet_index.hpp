#pragma once
// The mirror's Xet index (serve --xet), in memory and thread-safe: per LFS blob its Xet record
// (cache/xet_records.hpp: the file hash and how its chunks sit on xorbs), read from the cache when
// a download left one there, else made on first need by chunking the blob and packing its chunks
// with dedupe against every chunk already known. From every record it knows where the chunks of
// each xorb it names can be read (a blob, an offset, a size), so /_xet/xorbs/ serves them, and
// which blob a Xet file id names. It never writes the cache.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/xet/hash.hpp"
#include "hubcache/xet/packing.hpp"

namespace hubcache::server {

/// Where one chunk of a xorb can be read: `size` bytes at `offset` of the blob at `blob_path`.
struct XetChunkSource {
  std::shared_ptr<const std::string> blob_path;
  std::uint64_t offset = 0;
  std::uint32_t size = 0;
};

class XetIndex {
 public:
  using RecordPtr = std::shared_ptr<const XetRecord>;

  /// Takes the record the cache holds for blob `etag` of the layout's repo, whose `size` bytes are
  /// at `blob_path` (a path the caller validated). Ignored when it does not parse, its size differs or its file hash
  /// is unknown. Returns whether it was taken.
  bool add_cached(const RepoLayout& layout, const std::string& etag, const std::string& blob_path, std::uint64_t size);

  /// add_cached for a blob that arrived after the index was loaded (a download into the served
  /// cache, a pull-through proxy's fill), tried once per repo and blob: a blob without a record
  /// is not looked for again (it is chunked on first need by `get`). Returns whether the index
  /// now knows the blob in the layout's repo.
  bool add_cached_once(const RepoLayout& layout, const std::string& etag, const std::string& blob_path, std::uint64_t size);

  /// The record of blob `etag` of `repo` when already known (loaded or built), never building it.
  RecordPtr known(const RepoRef& repo, const std::string& etag) const;

  /// The record of blob `etag` (a SHA-256) of `repo` whose bytes are at `blob_path` (validated by
  /// the caller, `size` bytes): the cache's record, or one made now by chunking the blob (once,
  /// however many requests ask at the same time). Io when the blob cannot be read.
  Result<RecordPtr> get(const RepoRef& repo, const std::string& etag, const std::string& blob_path, std::uint64_t size);

  /// get() for an answer that must not wait long (a resolve): the record when known or made
  /// within `wait`; else nullptr while the blob goes on being chunked on the index's background
  /// thread (one blob at a time; a later call gets it). nullptr also when it cannot be made (the error is get()'s).
  RecordPtr get_soon(const RepoRef& repo, const std::string& etag, const std::string& blob_path, std::uint64_t size,
                     std::chrono::milliseconds wait);

  XetIndex() = default;
  XetIndex(const XetIndex&) = delete;
  XetIndex& operator=(const XetIndex&) = delete;
  /// Stops chunking in progress on the index's threads and waits for them.
  ~XetIndex();

  /// The blob a Xet file id names in `repo`, with its record; nullopt when none is known there.
  struct Found {
    std::string etag;
    RecordPtr record;
  };
  std::optional<Found> file(const RepoRef& repo, const xet::MerkleHash& file_hash) const;

  /// Where chunk `index` of `xorb` can be read: each blob known to hold it (in the order they were
  /// indexed, at most k_max_chunk_sources); empty when unknown. The caller tries them in turn, so a
  /// chunk stays servable while one blob holding it is there (a proxy's --max-size may remove the
  /// older revision whose blob indexed a xorb first, and keep the newer one that shares it).
  std::vector<XetChunkSource> chunk(const xet::MerkleHash& xorb, std::uint32_t index) const;
  static constexpr std::size_t k_max_chunk_sources = 4;

 private:
  struct Blob {
    std::shared_future<Result<RecordPtr>> record;
    std::shared_ptr<const std::string> path;
  };
  /// Makes the record of a blob by chunking it (no lock held while reading). Cancelled once the
  /// index is being destroyed.
  Result<RecordPtr> build(const std::string& blob_path, std::uint64_t size) const;
  /// The blob's entry: claimed for building by this caller (`promise` set), or someone else's.
  std::shared_future<Result<RecordPtr>> claim(const std::string& etag, const std::string& blob_path,
                                              std::shared_ptr<const std::string>& path,
                                              std::unique_ptr<std::promise<Result<RecordPtr>>>& promise);
  /// Builds a claimed blob, files it and fulfils the promise.
  Result<RecordPtr> build_claimed(const std::string& key, const std::string& etag, const std::string& blob_path,
                                  std::uint64_t size, const std::shared_ptr<const std::string>& path,
                                  std::promise<Result<RecordPtr>>& promise);
  /// Files the record's chunks and file id (lock held).
  void index_locked(const std::string& repo_key, const std::string& etag, const RecordPtr& record,
                    const std::shared_ptr<const std::string>& path);

  mutable std::mutex m_mutex;
  std::atomic<bool> m_stopping{false};
  // get_soon's background chunking: one thread, started on first need, taking blobs in turn.
  std::deque<std::function<void()>> m_queue;  // guarded by m_mutex
  std::condition_variable m_queued;
  std::thread m_builder;
  std::unordered_map<std::string, Blob> m_blobs;             // key: etag (content-addressed: the same in every repo)
  std::set<std::pair<std::string, std::string>> m_members;   // (repo key, etag) the index may serve
  std::set<std::pair<std::string, std::string>> m_tried;     // (repo key, etag) whose cache record add_cached_once read
  std::unordered_map<xet::MerkleHash, std::string> m_files;  // file hash -> etag
  std::unordered_map<xet::MerkleHash, std::map<std::uint32_t, std::vector<XetChunkSource>>> m_xorbs;
  std::unordered_map<xet::MerkleHash, xet::ChunkLocation> m_chunks;  // chunk hash -> where (dedupe)
};

/// "models/org/name": the key of a repo in the index.
std::string xet_repo_key(const RepoRef& repo);

}  // namespace hubcache::server

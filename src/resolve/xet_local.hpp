#pragma once
// The chunks a cache already holds, from its blobs' Xet records (cache/xet_records.hpp): which
// chunks of which xorb sit where in which blob. A Xet download copies a term from here instead of
// fetching it ("fetch only what changed"). Only a hint: the assembled file is SHA-256-checked.
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/cache/xet_records.hpp"
#include "hubcache/transfer/xet_fetch.hpp"

namespace hubcache {

class XetLocalIndex {
 public:
  /// Reads the records of every repo folder of `cache_dir` whose blob is present with the
  /// recorded size (a damaged or stale record is skipped), newest record first, until
  /// `max_chunks` chunks are known (DownloadOptions::xet_local_max_chunks).
  XetLocalIndex(const std::string& cache_dir, std::size_t max_chunks);
  /// Adds what a download just learned (its blob may still be on its way to `blob_path`: find()
  /// checks that a file is there when it is asked). False, adding nothing, when the record would
  /// take the index past its bound.
  bool add(const std::string& blob_path, const XetRecord& record);
  std::size_t chunks() const;
  /// A local file holding all chunks of `term`, or nullopt.
  std::optional<transfer::LocalTermSource> find(const xet::Term& term) const;
  std::size_t segments() const;

 private:
  struct Place {
    std::string blob;
    std::uint64_t offset = 0;  // of the segment's first chunk in the blob
    std::uint32_t first_chunk = 0;
    std::vector<std::uint32_t> sizes;
  };
  mutable std::mutex m_mutex;
  std::size_t m_max_chunks = 0, m_chunks = 0;
  std::map<xet::MerkleHash, std::vector<Place>> m_by_xorb;
};

}  // namespace hubcache

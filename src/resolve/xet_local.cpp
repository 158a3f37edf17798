// The cache's known Xet chunks (xet_local.hpp).
#include "xet_local.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "hubcache/cache/layout.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache {

XetLocalIndex::XetLocalIndex(const std::string& cache_dir, std::size_t max_chunks) : m_max_chunks(max_chunks) {
  struct Found {
    std::int64_t mtime_ns = 0;
    RepoLayout layout;
    std::string etag;
  };
  std::vector<Found> found;
  for (const auto& layout : list_repo_layouts(cache_dir))
    for (auto& etag : list_xet_records(layout)) {
      struct ::stat st {};
      if (::stat(xet_record_path(layout, etag).c_str(), &st) != 0) continue;
      found.push_back(
          {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec, layout, std::move(etag)});
    }
  // Newest first: a new revision most likely shares chunks with the latest ones.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.mtime_ns > b.mtime_ns; });
  for (const auto& f : found) {
    if (m_chunks >= m_max_chunks) break;
    auto record = read_xet_record(f.layout, f.etag);
    if (!record || !record->has_value()) continue;
    const std::string blob = f.layout.blob_path(f.etag);
    struct ::stat st {};
    if (::stat(blob.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != (*record)->size)
      continue;  // a stale record: its blob is gone or other
    add(blob, **record);
  }
}

bool XetLocalIndex::add(const std::string& blob_path, const XetRecord& record) {
  std::size_t n = 0;
  for (const auto& s : record.segments) n += s.chunk_sizes.size();
  std::lock_guard lock(m_mutex);
  if (n > m_max_chunks - std::min(m_chunks, m_max_chunks)) return false;
  m_chunks += n;
  std::uint64_t offset = 0;
  for (const auto& s : record.segments) {
    m_by_xorb[s.xorb].push_back({blob_path, offset, s.first_chunk, s.chunk_sizes});
    offset += s.bytes();
  }
  return true;
}

std::size_t XetLocalIndex::chunks() const {
  std::lock_guard lock(m_mutex);
  return m_chunks;
}

std::optional<transfer::LocalTermSource> XetLocalIndex::find(const xet::Term& term) const {
  std::lock_guard lock(m_mutex);
  const auto it = m_by_xorb.find(term.xorb);
  if (it == m_by_xorb.end()) return std::nullopt;
  for (const auto& p : it->second) {
    if (term.range.start < p.first_chunk || term.range.end > p.first_chunk + p.sizes.size()) continue;
    transfer::LocalTermSource src;
    src.path = p.blob;
    src.offset = p.offset;
    for (std::uint32_t i = p.first_chunk; i < term.range.start; ++i) src.offset += p.sizes[i - p.first_chunk];
    src.chunk_sizes.assign(p.sizes.begin() + (term.range.start - p.first_chunk),
                           p.sizes.begin() + (term.range.end - p.first_chunk));
    if (!fs::is_file(src.path)) continue;
    return src;
  }
  return std::nullopt;
}

}  // namespace hubcache

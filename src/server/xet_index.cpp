// The mirror's Xet index (xet_index.hpp).
#include "xet_index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "hubcache/cache/layout.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/xet/chunker.hpp"
#include "hubcache/xet/packing.hpp"

namespace hubcache::server {

std::string xet_repo_key(const RepoRef& repo) { return std::string(plural(repo.type)) + "/" + repo.id; }

bool XetIndex::add_cached(const RepoLayout& layout, const std::string& etag, const std::string& blob_path, std::uint64_t size) {
  auto read = read_xet_record(layout, etag);
  if (!read || !*read) return false;
  XetRecord& rec = **read;
  // A record is a hint: one that does not fit the blob, or lacks the file id, is left aside (the
  // blob is chunked on first need instead).
  if (rec.size != size || size == 0 || rec.file_hash.is_zero()) return false;
  const std::string key = xet_repo_key(layout.repo());
  std::lock_guard lock(m_mutex);
  if (m_blobs.count(etag)) {
    m_members.insert({key, etag});
    return true;
  }
  auto record = std::make_shared<const XetRecord>(std::move(rec));
  std::promise<Result<RecordPtr>> ready;
  ready.set_value(RecordPtr(record));
  auto path = std::make_shared<const std::string>(blob_path);
  m_blobs.emplace(etag, Blob{ready.get_future().share(), path});
  index_locked(key, etag, record, path);
  return true;
}

bool XetIndex::add_cached_once(const RepoLayout& layout, const std::string& etag, const std::string& blob_path,
                               std::uint64_t size) {
  const std::string key = xet_repo_key(layout.repo());
  {
    std::lock_guard lock(m_mutex);
    if (m_members.count({key, etag})) return true;
    if (!m_tried.insert({key, etag}).second) return false;
  }
  return add_cached(layout, etag, blob_path, size);
}

XetIndex::RecordPtr XetIndex::known(const RepoRef& repo, const std::string& etag) const {
  std::lock_guard lock(m_mutex);
  if (!m_members.count({xet_repo_key(repo), etag})) return nullptr;
  auto it = m_blobs.find(etag);
  if (it == m_blobs.end()) return nullptr;
  const auto& f = it->second.record;
  if (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return nullptr;
  const auto& r = f.get();
  return r ? *r : nullptr;
}

Result<XetIndex::RecordPtr> XetIndex::build(const std::string& blob_path, std::uint64_t size) const {
  fs::Fd fd(::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return fail(ErrorCode::Io, "cannot open the blob to chunk it for Xet", blob_path);
  if (static_cast<std::uint64_t>(st.st_size) != size)
    return fail(ErrorCode::Io, "the blob changed size while it was indexed for Xet", blob_path);
  std::vector<std::uint8_t> buffer(1 << 20);
  std::vector<xet::MerkleLeaf> leaves;
  xet::Chunker chunker;
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(ErrorCode::Io, "cannot read the blob to chunk it for Xet", blob_path);
    if (n == 0) break;
    if (m_stopping) return fail(ErrorCode::Cancelled, "the server stopped while chunking a blob for Xet", blob_path);
    total += static_cast<std::uint64_t>(n);
    chunker.feed(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)), leaves);
  }
  chunker.finish(leaves);
  if (total != size) return fail(ErrorCode::Io, "the blob changed size while it was indexed for Xet", blob_path);
  xet::PackedFile packed;
  {
    std::lock_guard lock(m_mutex);
    packed = xet::pack_file(leaves, [this](const xet::MerkleHash& h) -> std::optional<xet::ChunkLocation> {
      auto it = m_chunks.find(h);
      if (it == m_chunks.end()) return std::nullopt;
      return it->second;
    });
  }
  auto record = std::make_shared<XetRecord>();
  record->size = size;
  record->file_hash = packed.file_hash;
  record->segments = std::move(packed.segments);
  record->chunk_hashes.reserve(leaves.size());
  for (const auto& l : leaves) record->chunk_hashes.push_back(l.hash);
  return RecordPtr(std::move(record));
}

void XetIndex::index_locked(const std::string& repo_key, const std::string& etag, const RecordPtr& record,
                            const std::shared_ptr<const std::string>& path) {
  m_members.insert({repo_key, etag});
  if (record->size > 0) m_files.emplace(record->file_hash, etag);
  std::uint64_t offset = 0;
  std::size_t k = 0;  // chunk number in the file
  const bool hashes = record->chunk_hashes.size() > 0;
  for (const auto& seg : record->segments) {
    auto& chunks = m_xorbs[seg.xorb];
    for (std::size_t i = 0; i < seg.chunk_sizes.size(); ++i, ++k) {
      const auto index = static_cast<std::uint32_t>(seg.first_chunk + i);
      auto& sources = chunks[index];
      if (sources.size() < k_max_chunk_sources &&
          std::none_of(sources.begin(), sources.end(), [&](const XetChunkSource& s) { return *s.blob_path == *path; }))
        sources.push_back(XetChunkSource{path, offset, seg.chunk_sizes[i]});
      if (hashes && k < record->chunk_hashes.size())
        m_chunks.emplace(record->chunk_hashes[k], xet::ChunkLocation{seg.xorb, index});
      offset += seg.chunk_sizes[i];
    }
  }
}

std::shared_future<Result<XetIndex::RecordPtr>> XetIndex::claim(const std::string& etag, const std::string& blob_path,
                                                                std::shared_ptr<const std::string>& path,
                                                                std::unique_ptr<std::promise<Result<RecordPtr>>>& promise) {
  std::lock_guard lock(m_mutex);
  auto it = m_blobs.find(etag);
  if (it != m_blobs.end()) {
    path = it->second.path;
    return it->second.record;
  }
  path = std::make_shared<const std::string>(blob_path);
  promise = std::make_unique<std::promise<Result<RecordPtr>>>();
  auto future = promise->get_future().share();
  m_blobs.emplace(etag, Blob{future, path});
  return future;
}

Result<XetIndex::RecordPtr> XetIndex::build_claimed(const std::string& key, const std::string& etag, const std::string& blob_path,
                                                    std::uint64_t size, const std::shared_ptr<const std::string>& path,
                                                    std::promise<Result<RecordPtr>>& promise) {
  Result<RecordPtr> r = build(blob_path, size);
  {
    std::lock_guard lock(m_mutex);
    if (r)
      index_locked(key, etag, *r, path);
    else
      m_blobs.erase(etag);  // a later request tries again
  }
  promise.set_value(r);
  return r;
}

Result<XetIndex::RecordPtr> XetIndex::get(const RepoRef& repo, const std::string& etag, const std::string& blob_path,
                                          std::uint64_t size) {
  const std::string key = xet_repo_key(repo);
  std::shared_ptr<const std::string> path;
  std::unique_ptr<std::promise<Result<RecordPtr>>> promise;
  auto future = claim(etag, blob_path, path, promise);
  if (promise) return build_claimed(key, etag, blob_path, size, path, *promise);
  Result<RecordPtr> r = future.get();
  if (r) {
    std::lock_guard lock(m_mutex);
    m_members.insert({key, etag});  // its chunks were filed by the request that built it
  }
  return r;
}

XetIndex::RecordPtr XetIndex::get_soon(const RepoRef& repo, const std::string& etag, const std::string& blob_path,
                                       std::uint64_t size, std::chrono::milliseconds wait) {
  const std::string key = xet_repo_key(repo);
  std::shared_ptr<const std::string> path;
  std::unique_ptr<std::promise<Result<RecordPtr>>> promise;
  auto future = claim(etag, blob_path, path, promise);
  if (promise) {
    std::lock_guard lock(m_mutex);
    m_queue.emplace_back([this, key, etag, blob_path, size, path, p = std::shared_ptr(std::move(promise))] {
      (void)build_claimed(key, etag, blob_path, size, path, *p);
    });
    m_queued.notify_one();
    if (!m_builder.joinable())
      m_builder = std::thread([this] {
        std::unique_lock held(m_mutex);
        for (;;) {
          m_queued.wait(held, [this] { return m_stopping || !m_queue.empty(); });
          if (m_queue.empty()) return;  // stopping, nothing left
          auto task = std::move(m_queue.front());
          m_queue.pop_front();
          held.unlock();
          task();  // after m_stopping, build() fails at once with Cancelled: every promise is kept
          held.lock();
        }
      });
  }
  if (future.wait_for(wait) != std::future_status::ready) return nullptr;
  const Result<RecordPtr>& r = future.get();
  if (!r) return nullptr;
  std::lock_guard lock(m_mutex);
  m_members.insert({key, etag});
  return *r;
}

XetIndex::~XetIndex() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_queued.notify_all();
  if (m_builder.joinable()) m_builder.join();
}

std::optional<XetIndex::Found> XetIndex::file(const RepoRef& repo, const xet::MerkleHash& file_hash) const {
  std::lock_guard lock(m_mutex);
  auto f = m_files.find(file_hash);
  if (f == m_files.end() || !m_members.count({xet_repo_key(repo), f->second})) return std::nullopt;
  auto b = m_blobs.find(f->second);
  if (b == m_blobs.end() || b->second.record.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return std::nullopt;
  const auto& r = b->second.record.get();
  if (!r) return std::nullopt;
  return Found{f->second, *r};
}

std::vector<XetChunkSource> XetIndex::chunk(const xet::MerkleHash& xorb, std::uint32_t index) const {
  std::lock_guard lock(m_mutex);
  auto x = m_xorbs.find(xorb);
  if (x == m_xorbs.end()) return {};
  auto c = x->second.find(index);
  if (c == x->second.end()) return {};
  return c->second;
}

}  // namespace hubcache::server

// Xet records in <repo folder>/.hubcache/xet/ (include/hubcache/cache/xet_records.hpp).
#include "hubcache/cache/xet_records.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hubcache/util/digest.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/xet/chunk_codec.hpp"

namespace hubcache {
namespace {

constexpr std::string_view k_magic = "HCXETR01";
constexpr std::string_view k_xet_dir = "xet";
constexpr std::uint32_t k_flag_chunk_hashes = 1;

bool is_sha256_etag(std::string_view s) { return digest_kind_of(s) == DigestKind::Sha256; }

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_hash(std::string& out, const xet::MerkleHash& h) {
  out.append(reinterpret_cast<const char*>(h.bytes.data()), h.bytes.size());
}

class Reader {
 public:
  explicit Reader(std::string_view in) : m_in(in) {}
  bool take(std::size_t n, const char*& p) {
    if (m_in.size() - m_at < n) return false;
    p = m_in.data() + m_at;
    m_at += n;
    return true;
  }
  bool u32(std::uint32_t& v) {
    const char* p = nullptr;
    if (!take(4, p)) return false;
    v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
    return true;
  }
  bool u64(std::uint64_t& v) {
    const char* p = nullptr;
    if (!take(8, p)) return false;
    v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
    return true;
  }
  bool hash(xet::MerkleHash& h) {
    const char* p = nullptr;
    if (!take(32, p)) return false;
    std::memcpy(h.bytes.data(), p, 32);
    return true;
  }
  std::size_t left() const { return m_in.size() - m_at; }

 private:
  std::string_view m_in;
  std::size_t m_at = 0;
};

Unexpected corrupt(std::string what) { return fail(ErrorCode::CacheCorrupted, "a Xet record is damaged: " + std::move(what)); }

fs::Fd open_dir_at(int parent, const char* name, bool create) {
  if (create && ::mkdirat(parent, name, 0777) != 0 && errno != EEXIST) return {};
  return fs::Fd{::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
}

/// .hubcache/xet/ of the repo (never through a symlink); invalid when missing and not `create`.
fs::Fd open_xet_dir(const RepoLayout& layout, bool create) {
  fs::Fd repo{::open(layout.folder().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (!repo) return {};
  fs::Fd records = open_dir_at(repo.get(), std::string(k_records_dir).c_str(), create);
  if (!records) return {};
  return open_dir_at(records.get(), std::string(k_xet_dir).c_str(), create);
}

}  // namespace

std::string encode_xet_record(const XetRecord& record) {
  std::string out(k_magic);
  put_u64(out, record.size);
  put_hash(out, record.file_hash);
  put_u32(out, static_cast<std::uint32_t>(record.segments.size()));
  put_u32(out, record.chunk_hashes.empty() ? 0 : k_flag_chunk_hashes);
  for (const auto& s : record.segments) {
    put_hash(out, s.xorb);
    put_u32(out, s.first_chunk);
    put_u32(out, static_cast<std::uint32_t>(s.chunk_sizes.size()));
    for (auto size : s.chunk_sizes) put_u32(out, size);
  }
  for (const auto& h : record.chunk_hashes) put_hash(out, h);
  return out;
}

Result<XetRecord> decode_xet_record(std::string_view bytes) {
  Reader in(bytes);
  const char* magic = nullptr;
  if (!in.take(k_magic.size(), magic) || std::string_view(magic, k_magic.size()) != k_magic)
    return corrupt("it does not start with " + std::string(k_magic));
  XetRecord r;
  std::uint32_t segments = 0, flags = 0;
  if (!in.u64(r.size) || !in.hash(r.file_hash) || !in.u32(segments) || !in.u32(flags)) return corrupt("its header is cut short");
  if (flags & ~k_flag_chunk_hashes) return corrupt(fmt::format("unknown flags {:#x}", flags));
  // Each segment takes at least 40 bytes: a count beyond what is left is a lie, not an allocation.
  if (segments > in.left() / 40) return corrupt(fmt::format("it claims {} segments in {} bytes", segments, in.left()));
  r.segments.reserve(segments);
  std::uint64_t total = 0, chunks = 0;
  for (std::uint32_t i = 0; i < segments; ++i) {
    XetSegment s;
    std::uint32_t count = 0;
    if (!in.hash(s.xorb) || !in.u32(s.first_chunk) || !in.u32(count)) return corrupt(fmt::format("segment {} is cut short", i));
    if (count == 0 || count > in.left() / 4) return corrupt(fmt::format("segment {} claims {} chunks", i, count));
    if (static_cast<std::uint64_t>(s.first_chunk) + count > UINT32_MAX)
      return corrupt(fmt::format("segment {} runs past chunk index 2^32", i));
    s.chunk_sizes.resize(count);
    for (auto& size : s.chunk_sizes) {
      if (!in.u32(size)) return corrupt(fmt::format("segment {} is cut short", i));
      if (size == 0 || size > xet::k_max_chunk_payload)
        return corrupt(fmt::format("segment {} has a chunk of {} bytes", i, size));
      total += size;
    }
    chunks += count;
    r.segments.push_back(std::move(s));
  }
  if (total != r.size) return corrupt(fmt::format("its chunks sum to {} bytes; the blob has {}", total, r.size));
  if (flags & k_flag_chunk_hashes) {
    if (chunks > in.left() / 32) return corrupt("its chunk hashes are cut short");
    r.chunk_hashes.resize(chunks);
    for (auto& h : r.chunk_hashes) (void)in.hash(h);
  }
  if (in.left() != 0) return corrupt(fmt::format("{} bytes follow its end", in.left()));
  return r;
}

std::string xet_record_path(const RepoLayout& layout, std::string_view etag) {
  return layout.records_dir() + "/" + std::string(k_xet_dir) + "/" + std::string(etag);
}

Result<void> write_xet_record(const RepoLayout& layout, std::string_view etag, const XetRecord& record) {
  if (!is_sha256_etag(etag))
    return fail(ErrorCode::InvalidArgument, "a Xet record is kept for a SHA-256 blob only, not " + std::string(etag));
  if (!fs::is_dir(layout.folder()))
    return fail(ErrorCode::NotFound, "the repo is not in the cache: " + layout.folder() + " does not exist", layout.folder());
  fs::Fd dir = open_xet_dir(layout, /*create=*/true);
  if (!dir) {
    const std::string where = layout.records_dir() + "/" + std::string(k_xet_dir);
    return fail(ErrorCode::Io, "cannot create " + where + ": " + std::strerror(errno), where);
  }
  // The folder was opened without following links; a link put in its place since then is
  // replaced by the rename, never written through.
  return fs::write_file_atomic(xet_record_path(layout, etag), encode_xet_record(record), 0644, fs::Durability::AtomicOnly);
}

Result<std::optional<XetRecord>> read_xet_record(const RepoLayout& layout, std::string_view etag) {
  if (!is_sha256_etag(etag)) return std::optional<XetRecord>{};
  fs::Fd dir = open_xet_dir(layout, /*create=*/false);
  if (!dir) return std::optional<XetRecord>{};
  const std::string name(etag);
  fs::Fd fd{::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  struct ::stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::optional<XetRecord>{};
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  auto r = decode_xet_record(bytes);
  if (!r) {
    Error e = std::move(r).error();
    e.path = xet_record_path(layout, etag);
    e.message += " (" + e.path + "; remove it: it is rebuilt by the next Xet download or index)";
    return Unexpected{std::move(e)};
  }
  return std::optional<XetRecord>{std::move(*r)};
}

void remove_xet_record(const RepoLayout& layout, std::string_view etag) noexcept {
  if (!is_sha256_etag(etag)) return;
  fs::Fd dir = open_xet_dir(layout, /*create=*/false);
  if (dir) ::unlinkat(dir.get(), std::string(etag).c_str(), 0);
}

std::vector<std::string> list_xet_records(const RepoLayout& layout) {
  std::vector<std::string> out;
  fs::Fd dir = open_xet_dir(layout, /*create=*/false);
  if (!dir) return out;
  fs::DirReader reader(dir.get());
  const char* name = nullptr;
  unsigned char type = DT_UNKNOWN;
  while (reader.next(name, type))
    if (type == DT_REG && is_sha256_etag(name)) out.emplace_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t remove_orphan_xet_records(const RepoLayout& layout) noexcept {
  std::size_t removed = 0;
  try {
    for (const auto& etag : list_xet_records(layout)) {
      struct stat st {};
      if (::stat(layout.blob_path(etag).c_str(), &st) == 0 && S_ISREG(st.st_mode)) continue;
      if (errno != ENOENT && errno != ENOTDIR) continue;  // unreadable: not known to be gone
      remove_xet_record(layout, etag);
      ++removed;
    }
  } catch (...) {
  }
  return removed;
}

}  // namespace hubcache

// One file over Xet (include/hubcache/transfer/xet_fetch.hpp).
#include "hubcache/transfer/xet_fetch.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/xet/chunk_codec.hpp"
#include "hubcache/xet/chunker.hpp"
#include "prefix_hasher.hpp"
#include "writeback.hpp"

namespace hubcache::transfer {
namespace {

using Clock = std::chrono::steady_clock;

Unexpected integrity(std::string what) { return fail(ErrorCode::Integrity, "Xet download: " + std::move(what)); }

Unexpected io_error(int err, const std::string& what, const std::string& path) {
  return fail(err == ENOSPC ? ErrorCode::DiskFull : ErrorCode::Io, what + " " + path + ": " + std::strerror(err), path);
}

struct TermPlan {
  xet::Term term;
  std::uint64_t out_start = 0;  // where the term's kept bytes begin in the file
  std::uint64_t out_end = 0;
  std::uint64_t skip = 0;             // decoded bytes of the term before out_start (offset_into_first_range)
  bool present = false;               // done before this call
  std::atomic<std::uint64_t> pos{0};  // bytes [out_start, pos) written
  std::vector<std::uint32_t> sizes;   // decoded chunk sizes, once known
  std::uint64_t cursor = 0;           // decoded bytes of the term seen in the current attempt
  bool done() const { return pos.load() >= out_end; }
};

struct Unit {
  xet::MerkleHash xorb;
  xet::ChunkRange chunks;
  std::vector<std::size_t> terms;  // indices into the plan, in chunk order
};

// How many xorb GETs of one file may be in flight (XetOptions::max_parallel's contract): workers
// take a slot before each unit; the fetching thread moves the target once per rate window.
struct Parallelism {
  std::mutex mutex;
  std::condition_variable changed;
  unsigned target = 1, cap = 1, active = 0, peak = 0, cuts = 0, running = 0;
  bool growing = true;             // the last step up gained enough to try another
  double rate_before_step = 0;     // bytes/s in the window before the last step up (0: none yet)
  std::uint64_t window_bytes = 0;  // Shared::downloaded at the window's start

  bool acquire(const std::function<bool()>& stop) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return active < target || stop(); });
    if (stop()) return false;
    peak = std::max(peak, ++active);
    return true;
  }
  void release() {
    std::lock_guard lock(mutex);
    --active;
    changed.notify_all();
  }
  /// Halves the target after a transient failure. Returns whether other GETs were in flight:
  /// then the server most likely refused one connection too many for this client.
  bool cut() {
    std::lock_guard lock(mutex);
    if (target > 1) target = std::max(1u, target / 2);
    ++cuts;
    growing = true;
    rate_before_step = 0;
    return active > 1;
  }
  /// Gives the caller's slot back and waits for one under the (lowered) target. The caller holds
  /// a slot again on return, also when it is false (stopped), so its own release() balances.
  bool yield(const std::function<bool()>& stop) {
    std::unique_lock lock(mutex);
    --active;
    changed.notify_all();
    changed.wait(lock, [&] { return active < target || stop(); });
    ++active;
    return !stop();
  }
  // One window's throughput: step up while a step gained >= 10%, else hold.
  void adjust(double rate) {
    std::lock_guard lock(mutex);
    if (!growing || target >= cap) return;
    if (rate_before_step > 0 && rate < rate_before_step * 1.1) {
      growing = false;
      return;
    }
    rate_before_step = rate;
    ++target;
    changed.notify_all();
  }
};

struct Shared {
  Shared(const XetJob& j, const XetOptions& o, http::Client& c) : job(j), options(o), client(c) {}
  const XetJob& job;
  const XetOptions& options;
  http::Client& client;
  int fd = -1;
  std::uint64_t inode = 0;
  std::vector<TermPlan> plan;
  std::mutex refresh_mutex;  // one reconstruction refresh at a time (token and recon writes)
  std::mutex mutex;          // guards below
  xet::Reconstruction recon;
  unsigned generation = 1;  // of recon
  xet::XetToken token;
  int api_version = 2;
  std::atomic<std::uint64_t> downloaded{0};
  std::atomic<Clock::rep> last_save{0};  // checked before the mutex: deliver() asks once per chunk
  std::optional<Error> error;
  std::atomic<bool> stop{false};
  Parallelism parallel;
};

bool cancelled(const Shared& s) { return s.stop.load() || (s.options.cancel && s.options.cancel->cancelled()); }

std::string reconstruction_url(const Shared& s, int version) {
  std::string base = s.token.cas_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return fmt::format("{}/v{}/reconstructions/{}", base, version, s.job.file_hash);
}

/// GET the reconstruction (token refreshed once on 401; v1 after a 404/501 of v2 in auto mode).
Result<void> fetch_reconstruction(Shared& s, bool refresh_token) {
  if (refresh_token || s.token.access_token.empty()) {
    HUBCACHE_TRY_ASSIGN(s.token, s.job.token(refresh_token));
  }
  std::vector<int> versions = s.job.api_version == 1   ? std::vector<int>{1}
                              : s.job.api_version == 2 ? std::vector<int>{2}
                                                       : std::vector<int>{s.api_version, 1};
  if (versions.size() == 2 && versions[0] == 1) versions.pop_back();
  bool refreshed = refresh_token;
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const int version = versions[i];
    http::Request req;
    req.url = reconstruction_url(s, version);
    req.headers.set("Authorization", "Bearer " + s.token.access_token);
    req.connect_timeout = s.options.connect_timeout;
    req.idle_timeout = s.options.idle_timeout;
    req.max_body = s.options.max_reconstruction_bytes;
    req.receive_buffer = 64 * 1024;
    auto resp = http::perform_with_retries(s.client, req, s.options.retry, s.options.max_retries, s.options.cancel);
    if (!resp) return fail(std::move(resp).error());
    if (resp->status == 401 && !refreshed) {
      HUBCACHE_TRY_ASSIGN(s.token, s.job.token(true));
      refreshed = true;
      --i;
      continue;
    }
    if ((resp->status == 404 || resp->status == 501) && i + 1 < versions.size()) continue;
    if (resp->status == 401 || resp->status == 403)
      return fail(ErrorCode::Unauthorized,
                  fmt::format("Xet download: CAS refused the read token for {} (HTTP {})", s.job.file_hash, resp->status));
    if (resp->status == 404)
      return fail(ErrorCode::EntryNotFound, fmt::format("Xet download: CAS does not know file {}", s.job.file_hash));
    if (resp->status != 200)
      return fail(ErrorCode::Http, fmt::format("Xet download: the reconstruction of {} was answered {}", s.job.file_hash,
                                               http::describe_answer(*resp)));
    HUBCACHE_TRY_ASSIGN(auto parsed, xet::parse_reconstruction(resp->body, version));
    std::lock_guard lock(s.mutex);
    s.recon = std::move(parsed);
    s.api_version = version;
    return {};
  }
  return fail(ErrorCode::EntryNotFound, "Xet download: no reconstruction API answered");
}

void save_state(Shared& s, bool force) {
  constexpr auto k_every = std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(250)).count();
  const Clock::rep now = Clock::now().time_since_epoch().count();
  Clock::rep last = s.last_save.load();
  if (!force && (now - last < k_every || !s.last_save.compare_exchange_strong(last, now))) return;
  if (force) s.last_save.store(now);
  std::lock_guard lock(s.mutex);
  std::vector<SplitProgress::Part> parts;
  for (const auto& t : s.plan)
    if (t.out_end > t.out_start) parts.push_back({t.out_start, t.out_end, std::min(t.pos.load(), t.out_end)});
  write_split_progress(s.job.parts_state_path, s.job.size, s.job.sha256, s.inode, parts);
}

Result<void> write_at(Shared& s, const std::uint8_t* data, std::size_t n, std::uint64_t offset) {
  while (n > 0) {
    const ssize_t w = ::pwrite(s.fd, data, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return io_error(errno, "cannot write", s.job.parts_path);
    data += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
  return {};
}

/// A decoded chunk `index` of the unit's xorb: written into every term of the unit that holds it.
Result<void> deliver(Shared& s, const Unit& u, std::uint32_t index, std::span<const std::uint8_t> bytes) {
  for (std::size_t ti : u.terms) {
    TermPlan& t = s.plan[ti];
    if (index < t.term.range.start || index >= t.term.range.end) continue;
    const std::uint64_t from = t.cursor, to = t.cursor + bytes.size();
    if (to > t.term.unpacked_length)
      return integrity(
          fmt::format("term of xorb {} decodes past its unpacked_length {}", t.term.xorb.hex(), t.term.unpacked_length));
    if (to > t.skip) {
      const std::uint64_t keep_from = std::max(from, t.skip);
      const std::uint64_t file_at = t.out_start + (keep_from - t.skip);
      const std::uint64_t n = std::min<std::uint64_t>(to - keep_from, t.out_end > file_at ? t.out_end - file_at : 0);
      if (n > 0) HUBCACHE_TRY(write_at(s, bytes.data() + (keep_from - from), static_cast<std::size_t>(n), file_at));
      t.pos.store(std::min(t.out_end, file_at + n));
    }
    t.cursor = to;
    t.sizes.push_back(static_cast<std::uint32_t>(bytes.size()));
    if (index + 1 == t.term.range.end) {
      if (t.cursor != t.term.unpacked_length)
        return integrity(fmt::format("a term of xorb {} decodes to {} bytes; the reconstruction says {}", t.term.xorb.hex(),
                                     t.cursor, t.term.unpacked_length));
      t.pos.store(t.out_end);
    }
  }
  save_state(s, false);
  return {};
}

/// One GET of a unit's byte range, parsed as it arrives. Returns the HTTP status seen (200/206
/// handled here; others for the caller), or an error.
Result<int> fetch_unit_once(Shared& s, const Unit& u, const std::string& url, const xet::ByteRange& bytes) {
  for (std::size_t ti : u.terms) {
    s.plan[ti].cursor = 0;
    s.plan[ti].sizes.clear();
  }
  http::Request req;
  req.url = url;
  req.headers.set("Range", fmt::format("bytes={}-{}", bytes.start, bytes.end));
  req.connect_timeout = s.options.connect_timeout;
  req.idle_timeout = s.options.idle_timeout;
  req.receive_buffer = 256 * 1024;
  const std::uint64_t expected = bytes.end - bytes.start + 1;
  std::vector<std::uint8_t> buf;
  buf.reserve(xet::k_chunk_header_size + xet::k_max_chunk_payload);
  std::vector<std::uint8_t> decoded;
  std::uint32_t index = u.chunks.start;
  std::uint64_t received = 0;
  int status = 0;
  std::optional<Error> failure;
  http::Sink sink;
  sink.on_head = [&](const http::Response& head) {
    status = head.status;
    return true;
  };
  sink.on_data = [&](const char* data, std::size_t n) {
    if (status != 206 && status != 200) return true;  // an error body: collected nowhere
    if (cancelled(s)) return false;
    received += n;
    s.downloaded += n;
    if (received > expected) {
      failure = integrity(fmt::format("xorb {} sent more than the {} bytes asked for", u.xorb.hex(), expected)).error;
      return false;
    }
    const auto* p = reinterpret_cast<const std::uint8_t*>(data);
    while (n > 0) {
      // Fill up to one whole chunk (header + payload, at most 8 + 128 KiB) and no further.
      std::size_t want = xet::k_chunk_header_size;
      if (buf.size() >= xet::k_chunk_header_size) {
        auto h = xet::peek_chunk_header(buf);
        if (!h) {
          failure = std::move(h).error();
          return false;
        }
        want = xet::k_chunk_header_size + h->compressed_size;
      }
      const std::size_t take = std::min(n, want - buf.size());
      buf.insert(buf.end(), p, p + take);
      p += take;
      n -= take;
      if (buf.size() < want || want == xet::k_chunk_header_size) continue;
      auto header = xet::parse_chunk_header(buf);
      if (!header) {
        failure = std::move(header).error();
        return false;
      }
      if (index >= u.chunks.end) {
        failure =
            integrity(fmt::format("xorb {} sent more chunks than {}..{}", u.xorb.hex(), u.chunks.start, u.chunks.end)).error;
        return false;
      }
      decoded.resize(header->uncompressed_size);
      auto ok = xet::decode_chunk(*header, std::span(buf).subspan(xet::k_chunk_header_size, header->compressed_size), decoded);
      if (!ok) {
        failure = std::move(ok).error();
        failure->message = fmt::format("Xet download: chunk {} of xorb {}: {}", index, u.xorb.hex(), failure->message);
        return false;
      }
      if (auto d = deliver(s, u, index, decoded); !d) {
        failure = std::move(d).error();
        return false;
      }
      ++index;
      buf.clear();
    }
    return true;
  };
  auto resp = s.client.perform(req, sink, s.options.cancel);
  if (failure) return fail(std::move(*failure));
  if (!resp) return fail(std::move(resp).error());
  if (resp->status != 200 && resp->status != 206) return resp->status;
  if (received != expected || !buf.empty() || index != u.chunks.end)
    return fail(ErrorCode::Network,
                fmt::format("Xet download: xorb {} ended after {} of {} bytes ({} chunks of {})", u.xorb.hex(), received,
                            expected, index - u.chunks.start, u.chunks.end - u.chunks.start));
  return resp->status;
}

/// Fetches a unit until done: transient failures retried with backoff, an expired URL (403)
/// answered by a fresh reconstruction.
Result<void> fetch_unit(Shared& s, const Unit& u) {
  unsigned seen_generation = 0;
  std::string url;
  xet::ByteRange bytes;
  int retries = 0, refreshes = 0;
  for (;;) {
    if (cancelled(s)) return fail(ErrorCode::Cancelled, "Xet download cancelled");
    {
      std::lock_guard lock(s.mutex);
      if (seen_generation != s.generation) {
        const xet::XorbFetch* entry = nullptr;
        const xet::Term probe{u.xorb, 1, u.chunks};
        const xet::FetchRange* fr = xet::find_fetch_range(s.recon, probe, &entry);
        if (!fr || fr->chunks != u.chunks)
          return integrity(fmt::format("a fresh reconstruction no longer lists chunks {}..{} of xorb {}", u.chunks.start,
                                       u.chunks.end, u.xorb.hex()));
        url = entry->url;
        bytes = fr->bytes;
        seen_generation = s.generation;
      }
    }
    auto got = fetch_unit_once(s, u, url, bytes);
    if (got && (*got == 200 || *got == 206)) return {};
    if (got && (*got == 403 || *got == 401)) {
      // The signed URL expired: ask for the reconstruction again (once for everyone waiting).
      if (++refreshes > 3) return fail(ErrorCode::Unauthorized, "Xet download: xorb URLs keep being refused (HTTP 403)");
      std::lock_guard refreshing(s.refresh_mutex);
      unsigned current = 0;
      {
        std::lock_guard lock(s.mutex);
        current = s.generation;
      }
      if (current == seen_generation) {
        auto fresh = fetch_reconstruction(s, false);
        if (!fresh) return fail(std::move(fresh).error());
        std::lock_guard lock(s.mutex);
        ++s.generation;
      }
      continue;
    }
    const bool transient = got ? http::is_retryable_status(*got) : got.error().is_transient();
    // While other GETs of the file are in flight, a transient failure is the server refusing one
    // connection too many (a CAS edge at its limit for this client closes it unanswered), not a
    // fault of this range: it waits for a free slot under the halved target and spends no retry.
    // Alone, it counts, so a range that keeps failing still fails the file (as the engine's ranges).
    if (transient && s.parallel.cut()) {
      if (!s.parallel.yield([&] { return cancelled(s); })) return fail(ErrorCode::Cancelled, "Xet download cancelled");
      continue;
    }
    if (!transient || ++retries > s.options.max_retries) {
      if (got) return fail(ErrorCode::Http, fmt::format("Xet download: xorb {} was answered HTTP {}", u.xorb.hex(), *got));
      return fail(std::move(got).error());
    }
    std::this_thread::sleep_for(http::wait_before_retry(http::backoff_delay(s.options.retry, retries - 1, nullptr)));
  }
}

Result<void> copy_local(Shared& s, TermPlan& t, const LocalTermSource& src) {
  fs::Fd in{::open(src.path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (!in) return io_error(errno, "cannot open", src.path);
  std::uint64_t from = src.offset + t.skip, at = t.out_start;
  std::vector<std::uint8_t> buf(1 << 20);
  while (at < t.out_end) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), t.out_end - at));
    const ssize_t r = ::pread(in.get(), buf.data(), n, static_cast<off_t>(from));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return r == 0 ? integrity("a local file is shorter than its Xet record says: " + src.path)
                    : io_error(errno, "cannot read", src.path);
    HUBCACHE_TRY(write_at(s, buf.data(), static_cast<std::size_t>(r), at));
    from += static_cast<std::uint64_t>(r);
    at += static_cast<std::uint64_t>(r);
    t.pos.store(at);
  }
  t.sizes = src.chunk_sizes;
  return {};
}

/// The chunk sizes of terms that have none (resumed from an earlier run, which fetched their
/// chunks), from chunking the verified file: a Xet file's chunks are its content-defined chunking
/// from byte 0, and the terms list them in order. False when the chunking does not fit the terms.
bool sizes_from_chunking(Shared& s, int fd) {
  std::vector<xet::MerkleLeaf> leaves;
  xet::Chunker chunker;
  std::vector<std::uint8_t> buf(1u << 20);
  for (std::uint64_t at = 0; at < s.job.size;) {
    const ssize_t r = ::pread(fd, buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), s.job.size - at)),
                              static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    chunker.feed(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(r)), leaves);
    at += static_cast<std::uint64_t>(r);
  }
  chunker.finish(leaves);
  std::vector<std::vector<std::uint32_t>> found(s.plan.size());
  std::size_t next = 0;
  for (std::size_t i = 0; i < s.plan.size(); ++i) {
    const TermPlan& t = s.plan[i];
    const std::size_t n = t.term.range.end - t.term.range.start;
    if (next + n > leaves.size()) return false;
    std::uint64_t sum = 0;
    for (std::size_t k = next; k < next + n; ++k) {
      found[i].push_back(static_cast<std::uint32_t>(leaves[k].size));
      sum += leaves[k].size;
    }
    if (sum != t.term.unpacked_length) return false;
    next += n;
  }
  if (next != leaves.size()) return false;
  for (std::size_t i = 0; i < s.plan.size(); ++i)
    if (s.plan[i].sizes.empty()) s.plan[i].sizes = std::move(found[i]);
  return true;
}

}  // namespace

Result<XetOutcome> fetch_xet(http::Client& client, const XetJob& job, const XetOptions& options) {
  if (!xet::MerkleHash::from_hex(job.file_hash))
    return fail(ErrorCode::InvalidArgument, "Xet download: not a Xet file id: " + job.file_hash);
  if (!job.token) return fail(ErrorCode::InvalidArgument, "Xet download: no token source");
  Shared s(job, options, client);
  if (job.restart) {
    ::unlink(job.parts_path.c_str());
    ::unlink(job.parts_state_path.c_str());
  }
  fs::Fd fd{::open(job.parts_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666)};
  if (!fd) return io_error(errno, "cannot open temp file", job.parts_path);
  struct ::stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(errno, "cannot stat", job.parts_path);
  s.fd = fd.get();
  s.inode = st.st_ino;
  const auto before = read_split_progress(job.parts_state_path, job.size, job.sha256, s.inode);
  if (!before && st.st_size != 0 && ::ftruncate(fd.get(), 0) != 0) return io_error(errno, "cannot truncate", job.parts_path);
  if (::ftruncate(fd.get(), static_cast<off_t>(job.size)) != 0) return io_error(errno, "cannot size", job.parts_path);

  // An Integrity error discards the data (as after the transfer), also before any byte came.
  auto discard = [&](Error e) {
    fd.reset();
    ::unlink(job.parts_path.c_str());
    ::unlink(job.parts_state_path.c_str());
    return fail(std::move(e));
  };
  if (auto got = fetch_reconstruction(s, false); !got)
    return got.error().code == ErrorCode::Integrity ? discard(std::move(got).error()) : fail(std::move(got).error());
  XetOutcome out;
  // The plan: each term's place in the file.
  std::uint64_t at = 0, total = 0;
  s.plan = std::vector<TermPlan>(s.recon.terms.size());
  for (std::size_t i = 0; i < s.recon.terms.size(); ++i) {
    TermPlan& t = s.plan[i];
    t.term = s.recon.terms[i];
    t.skip = i == 0 ? s.recon.offset_into_first_range : 0;
    t.out_start = at;
    at += t.term.unpacked_length - t.skip;
    t.out_end = std::min(at, job.size);
    t.pos.store(t.out_start);
    total += t.term.unpacked_length;
  }
  if (total - s.recon.offset_into_first_range != job.size)
    return discard(integrity(fmt::format("the reconstruction of {} adds up to {} bytes; the file has {}", job.file_hash,
                                         total - s.recon.offset_into_first_range, job.size))
                       .error);
  // Terms already present (an earlier attempt, either transport), then terms held locally.
  if (before)
    for (auto& t : s.plan) {
      t.present = before->present_from(t.out_start) >= t.out_end - t.out_start;
      if (t.present) {
        t.pos.store(t.out_end);
        out.resumed_bytes += t.out_end - t.out_start;
      }
    }
  if (job.local)
    for (auto& t : s.plan) {
      if (t.present) continue;
      auto src = job.local(t.term);
      if (!src) continue;
      std::uint64_t sum = 0;
      for (auto n : src->chunk_sizes) sum += n;
      if (sum != t.term.unpacked_length || src->chunk_sizes.size() != t.term.range.end - t.term.range.start) continue;
      if (auto copied = copy_local(s, t, *src); !copied) {
        t.pos.store(t.out_start);
        t.sizes.clear();
        continue;  // fetched instead
      }
      out.local_bytes += t.out_end - t.out_start;
    }
  save_state(s, true);

  // Units: one per fetch range still needed, holding its terms in order.
  std::vector<Unit> units;
  for (std::size_t i = 0; i < s.plan.size(); ++i) {
    if (s.plan[i].done()) continue;
    const xet::FetchRange* fr = xet::find_fetch_range(s.recon, s.plan[i].term);
    auto it = std::find_if(units.begin(), units.end(),
                           [&](const Unit& u) { return u.xorb == s.plan[i].term.xorb && u.chunks == fr->chunks; });
    if (it == units.end()) {
      units.push_back({s.plan[i].term.xorb, fr->chunks, {}});
      it = units.end() - 1;
    }
    it->terms.push_back(i);
  }
  const unsigned by_memory = static_cast<unsigned>(std::max<std::uint64_t>(1, options.memory_budget / (1u << 20)));
  const unsigned workers =
      static_cast<unsigned>(std::min<std::size_t>(units.size(), std::min(std::max(1u, options.max_parallel), by_memory)));
  Parallelism& par = s.parallel;
  par.cap = std::max(1u, workers);
  par.target = options.initial_parallel >= par.cap ? par.cap : std::max(1u, options.initial_parallel);
  par.growing = par.target < par.cap;
  par.running = workers;
  const std::function<bool()> stop = [&] { return cancelled(s); };
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      while (next.load() < units.size() && par.acquire(stop)) {
        const std::size_t i = next++;
        auto r = i < units.size() ? fetch_unit(s, units[i]) : Result<void>{};
        par.release();
        if (!r) {
          std::lock_guard lock(s.mutex);
          if (!s.error) s.error = std::move(r).error();
          s.stop = true;
          break;
        }
      }
      std::lock_guard lock(par.mutex);
      --par.running;
      par.changed.notify_all();
    });
  // This thread meanwhile hands written bytes to writeback, hashes the file's written prefix
  // (terms complete in order, then the first open term's bytes so far), so the SHA-256 is known
  // when the last term lands, and moves the parallelism once per window.
  detail::PrefixHasher hasher(fd.get(), DigestKind::Sha256, job.size);
  detail::Writeback writeback(fd.get(), job.size, {}, {}, k_default_datasync_every);  // the engine's pacing
  auto hand_to_writeback = [&](bool final) {
    for (const auto& t : s.plan) {
      const std::uint64_t pos = std::min(t.pos.load(), t.out_end);
      writeback.note(t.out_start, pos, final || pos >= t.out_end);
    }
  };
  std::size_t first_open = 0;
  auto written_prefix = [&] {
    while (first_open < s.plan.size() && s.plan[first_open].done()) ++first_open;
    return first_open < s.plan.size() ? std::max(s.plan[first_open].out_start, s.plan[first_open].pos.load()) : job.size;
  };
  {
    const auto window = std::max(options.rate_window, std::chrono::milliseconds(1));
    auto window_start = Clock::now();
    par.window_bytes = s.downloaded.load();
    std::unique_lock lock(par.mutex);
    while (par.running > 0) {
      par.changed.wait_for(lock, std::min<std::chrono::milliseconds>(window, std::chrono::milliseconds(10)));
      if (cancelled(s)) par.changed.notify_all();
      lock.unlock();
      hand_to_writeback(false);  // every term's new bytes, also those ahead of the prefix
      lock.lock();
      if (const std::uint64_t prefix = written_prefix(); prefix > hasher.hashed()) {
        lock.unlock();
        hasher.advance(prefix);
        lock.lock();
      }
      const auto now = Clock::now();
      if (now - window_start < window) continue;
      const std::uint64_t got = s.downloaded.load();
      const double rate = static_cast<double>(got - par.window_bytes) / std::chrono::duration<double>(now - window_start).count();
      window_start = now;
      par.window_bytes = got;
      lock.unlock();
      par.adjust(rate);
      lock.lock();
    }
  }
  for (auto& t : threads) t.join();
  save_state(s, true);
  // Cancelled: said as the plain path says it (not the transport's "aborted by receiver").
  if (options.cancel && options.cancel->cancelled()) return fail(ErrorCode::Cancelled, "Xet download cancelled");
  if (s.error) {
    if (s.error->code == ErrorCode::Integrity) {
      fd.reset();
      ::unlink(job.parts_path.c_str());
      ::unlink(job.parts_state_path.c_str());
    }
    return fail(std::move(*s.error));
  }

  hand_to_writeback(true);
  hasher.advance(written_prefix());
  if (::fdatasync(fd.get()) != 0 && errno != EINVAL) return io_error(errno, "cannot flush", job.parts_path);
  FileHashes hashes;
  hashes.size = job.size;
  if (hasher.hashed() == job.size) hashes.sha256 = hasher.digest();
  out.hashed_while_fetching = hashes.sha256 == job.sha256;
  // A term fetched again after a retry rewrote bytes the prefix hash had read: before calling the
  // file wrong, hash it once more as it now is.
  if (hashes.sha256 != job.sha256) {
    auto again = hash_file(job.parts_path, HashWhat::Sha256);
    if (!again) return fail(std::move(again).error());
    hashes = std::move(*again);
  }
  if (hashes.size != job.size || hashes.sha256 != job.sha256) {
    fd.reset();
    ::unlink(job.parts_path.c_str());
    ::unlink(job.parts_state_path.c_str());
    return integrity(fmt::format("the file assembled from Xet has SHA-256 {}, not {} (discarded)", hashes.sha256, job.sha256));
  }
  ::unlink(job.parts_state_path.c_str());
  out.path = job.parts_path;
  out.downloaded = s.downloaded.load();
  out.api_version = s.api_version;
  out.reconstructions = s.generation;
  out.peak_parallel = par.peak;
  out.parallel_cuts = par.cuts;
  // Segments for a Xet record: only when every term's chunk sizes are known.
  bool complete = true;
  for (const auto& t : s.plan) complete = complete && !t.sizes.empty();
  if (!complete && s.recon.offset_into_first_range == 0) complete = sizes_from_chunking(s, fd.get());
  if (complete && s.recon.offset_into_first_range == 0)
    for (const auto& t : s.plan) {
      if (!out.segments.empty() && out.segments.back().xorb == t.term.xorb &&
          out.segments.back().first_chunk + out.segments.back().chunk_sizes.size() == t.term.range.start) {
        out.segments.back().chunk_sizes.insert(out.segments.back().chunk_sizes.end(), t.sizes.begin(), t.sizes.end());
        continue;
      }
      out.segments.push_back({t.term.xorb, t.term.range.start, t.sizes});
    }
  return out;
}

}  // namespace hubcache::transfer

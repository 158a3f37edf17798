// The mirror's Xet routes (serve --xet; docs/mirror.md#xet): Xet headers on resolve, the read
// token, reconstructions and xorbs made of the cache's blobs. Every hash from a request is parsed
// as 64 hex digits before use; bytes are read only from the blobs the index names.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/util/digest.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"
#include "hubcache/xet/chunk_codec.hpp"
#include "hubcache/xet/reconstruction.hpp"
#include "router_impl.hpp"

namespace hubcache::server {
namespace {

constexpr std::string_view k_token_prefix = "hcxet1";
constexpr std::size_t k_max_run_chunks = xet::k_max_xorb_chunks;

std::int64_t now_seconds() { return static_cast<std::int64_t>(::time(nullptr)); }

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  const fs::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return names;
  fs::DirReader reader(fd.get());
  const char* name = nullptr;
  unsigned char type = DT_UNKNOWN;
  while (reader.next(name, type)) names.emplace_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<RepoRef> repo_of_key(std::string_view key) {
  for (RepoType t : {RepoType::Model, RepoType::Dataset, RepoType::Space, RepoType::Kernel}) {
    const std::string prefix = std::string(plural(t)) + "/";
    if (key.substr(0, prefix.size()) == prefix) {
      RepoRef r{t, std::string(key.substr(prefix.size()))};
      if (!validate_repo_id(r.id)) return std::nullopt;
      return r;
    }
  }
  return std::nullopt;
}

std::string token_payload(std::string_view repo_key, std::string_view exp) {
  return "xet-read\n" + std::string(repo_key) + "\n" + std::string(exp);
}
std::string xorb_payload(std::string_view xorb, std::string_view run, std::string_view exp) {
  return "xet-xorb\n" + std::string(xorb) + "\n" + std::string(run) + "\n" + std::string(exp);
}

Response xet_error(int status, const std::string& message) { return error_response(status, "", message); }

// The body of a xorb answer: literal bytes (chunk headers, multipart framing) and slices of blobs.
struct Piece {
  std::uint64_t start = 0;  // offset in the body
  std::uint64_t length = 0;
  std::string literal;  // when fd < 0
  int fd = -1;          // index into Body::fds
  std::uint64_t offset = 0;
};
struct Body {
  std::vector<fs::Fd> fds;
  std::vector<Piece> pieces;
  std::uint64_t size = 0;
  void add_literal(std::string s) {
    if (s.empty()) return;
    const std::uint64_t n = s.size();
    pieces.push_back(Piece{size, n, std::move(s), -1, 0});
    size += n;
  }
  void add_file(int fd, std::uint64_t offset, std::uint64_t n) {
    if (n == 0) return;
    pieces.push_back(Piece{size, n, {}, fd, offset});
    size += n;
  }
  long read(std::uint64_t at, char* out, std::size_t max) const {
    auto it = std::upper_bound(pieces.begin(), pieces.end(), at, [](std::uint64_t v, const Piece& p) { return v < p.start; });
    if (it == pieces.begin()) return -1;
    --it;
    std::size_t done = 0;
    for (; it != pieces.end() && done < max; ++it) {
      const std::uint64_t from = at + done - it->start;
      if (from >= it->length) return -1;
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(it->length - from, max - done));
      if (it->fd < 0) {
        std::copy_n(it->literal.data() + from, n, out + done);
      } else {
        std::size_t got = 0;
        while (got < n) {
          const ssize_t r = ::pread(fds[static_cast<std::size_t>(it->fd)].get(), out + done + got, n - got,
                                    static_cast<off_t>(it->offset + from + got));
          if (r < 0 && errno == EINTR) continue;
          if (r <= 0) return done + got > 0 ? static_cast<long>(done + got) : -1;
          got += static_cast<std::size_t>(r);
        }
      }
      done += n;
    }
    return static_cast<long>(done);
  }
};

// The serialized chunks of a run: for each chunk its header, then its bytes in a blob.
struct Run {
  struct Chunk {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint32_t size = 0;
    std::uint64_t start = 0;  // offset of its header in the run
  };
  std::vector<Chunk> chunks;
  std::uint64_t size = 0;
};

// Appends run bytes [first, last] to `body`.
void add_run_slice(const Run& run, std::uint64_t first, std::uint64_t last, Body& body) {
  for (const auto& c : run.chunks) {
    const std::uint64_t c_end = c.start + xet::k_chunk_header_size + c.size;  // exclusive
    if (c_end <= first || c.start > last) continue;
    // Header bytes.
    std::array<std::uint8_t, xet::k_chunk_header_size> h{};
    xet::write_plain_chunk_header(c.size, h);
    const std::uint64_t h_end = c.start + xet::k_chunk_header_size;
    if (first < h_end) {
      const std::uint64_t a = std::max(first, c.start), b = std::min(last + 1, h_end);
      if (a < b) body.add_literal(std::string(reinterpret_cast<const char*>(h.data()) + (a - c.start), b - a));
    }
    const std::uint64_t a = std::max(first, h_end), b = std::min(last + 1, c_end);
    if (a < b) body.add_file(c.fd, c.offset + (a - h_end), b - a);
  }
}

// The ranges of a Range header with several of them (RFC 9110 14.1.2), against `size` bytes; an
// unsatisfiable one is dropped. nullopt: malformed (the header is then ignored).
std::optional<std::vector<ByteRange>> parse_ranges(std::string_view h, std::uint64_t size) {
  h = trim(h);
  const std::size_t eq = h.find('=');
  if (eq == std::string_view::npos || !iequals(trim(h.substr(0, eq)), "bytes")) return std::nullopt;
  h = h.substr(eq + 1);
  std::vector<ByteRange> out;
  std::size_t count = 0;
  while (!h.empty()) {
    const std::size_t comma = h.find(',');
    const std::string_view spec = trim(h.substr(0, comma));
    h = comma == std::string_view::npos ? std::string_view() : h.substr(comma + 1);
    if (spec.empty()) continue;
    if (++count > 1000) return std::nullopt;
    const std::size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    const auto a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
    if (a.empty()) {
      auto n = parse_u64(b);
      if (!n) return std::nullopt;
      if (*n == 0 || size == 0) continue;
      out.push_back({size - std::min(*n, size), size - 1});
      continue;
    }
    auto first = parse_u64(a);
    if (!first) return std::nullopt;
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!b.empty()) {
      auto l = parse_u64(b);
      if (!l || *l < *first) return std::nullopt;
      last = std::min(*l, last);
    }
    if (*first >= size) continue;
    out.push_back({*first, last});
  }
  return out;
}

}  // namespace

void Router::Impl::xet_load(bool build) {
  for (const auto& name : names_in(root)) {
    const auto repo = parse_repo_folder_name(name);
    if (!repo || !validate_repo_id(repo->id) || repo_folder_name(*repo) != name) continue;
    const auto folder = view.repo_folder(*repo);
    if (!folder) continue;
    const RepoLayout layout(root, *repo);
    const auto records = list_xet_records(layout);
    const std::set<std::string> recorded(records.begin(), records.end());
    // Only blobs that a snapshot serves, at the path the view validated.
    std::set<std::string> seen;
    // Older snapshots first (the folder's mtime: when the revision came into the cache), so a new
    // revision's file is packed against the xorbs of the one before it, as on the Hub, where it
    // was uploaded later; the reverse would make the old file reference the new one's xorbs, and
    // a client holding the old revision could reuse none of the new one's whole terms.
    std::vector<std::pair<std::int64_t, std::string>> commits;
    for (const auto& commit : names_in(layout.snapshots_dir())) {
      if (!is_commit_hash(commit)) continue;
      struct ::stat st {};
      const std::string dir = layout.snapshot_dir(commit);
      commits.emplace_back(::lstat(dir.c_str(), &st) == 0 ? fs::mtime_ns(st) : 0, commit);
    }
    std::sort(commits.begin(), commits.end());
    for (const auto& [when, commit] : commits) {
      const auto listing = view.listing(*folder, commit);
      if (!listing) continue;
      for (const auto& f : listing->files) {
        if (!f.held || !f.is_lfs() || f.size == 0 || digest_kind_of(f.etag()) != DigestKind::Sha256 || f.content_path.empty())
          continue;
        if (!seen.insert(f.etag()).second) continue;
        if (recorded.count(f.etag()) && xet->add_cached(layout, f.etag(), f.content_path, f.size)) continue;
        if (build) (void)xet->get(*repo, f.etag(), f.content_path, f.size);
      }
    }
  }
}

std::optional<std::string> Router::Impl::xet_file_id(const RepoTarget& t, const ServedFile& f) const {
  if (!xet || !f.is_lfs() || f.size == 0 || digest_kind_of(f.etag()) != DigestKind::Sha256 || f.content_path.empty())
    return std::nullopt;
  if (auto known = xet->known(t.repo, f.etag())) return known->file_hash.hex();
  // A blob that came after the start (a download into this cache, the proxy's fill) may have left
  // a record: the upstream's xorbs, and no chunking.
  (void)xet->add_cached_once(RepoLayout(root, t.repo), f.etag(), f.content_path, f.size);
  // Chunking a large blob takes seconds; a client's resolve does not wait for it past
  // xet_resolve_wait (the plain answer, this time).
  auto record = xet->get_soon(t.repo, f.etag(), f.content_path, f.size, options.xet_resolve_wait);
  if (!record) return std::nullopt;
  return record->file_hash.hex();
}

std::string Router::Impl::xet_known_hash(const RepoTarget& t, const ServedFile& f) const {
  if (!xet || !f.is_lfs() || !f.held) return {};
  auto record = xet->known(t.repo, f.etag());
  // A blob that came after the start may have left a record (read once; a listing never chunks).
  if (!record && f.size > 0 && digest_kind_of(f.etag()) == DigestKind::Sha256 && !f.content_path.empty() &&
      xet->add_cached_once(RepoLayout(root, t.repo), f.etag(), f.content_path, f.size))
    record = xet->known(t.repo, f.etag());
  return record ? record->file_hash.hex() : std::string();
}

void Router::Impl::xet_headers(const Request& req, const RepoTarget& t, const std::string& commit, const std::string& file_id,
                               Response& r) const {
  const std::string base = base_url(req);
  r.set_header("X-Xet-Hash", file_id);
  r.set_header("Link", "<" + base + "/api/" + std::string(plural(t.repo.type)) + "/" + t.repo.id + "/xet-read-token/" + commit +
                           ">; rel=\"xet-auth\", <" + base + "/_xet/v2/reconstructions/" + file_id +
                           ">; rel=\"xet-reconstruction-info\"");
}

Response Router::Impl::xet_token(const Request& req, const RepoTarget& t, const std::string& revision) const {
  if (!xet) return error_response(404, "", "Not Found: this mirror does not serve Xet (start it with --xet)");
  Response err;
  if (!commit_of(t, revision, err)) return err;
  const std::string key = xet_repo_key(t.repo);
  const std::string exp = std::to_string(now_seconds() + options.blob_url_ttl.count());
  xet::XetToken token;
  token.access_token = std::string(k_token_prefix) + "." + exp + "." + sign(token_payload(key, exp)) + "." + key;
  token.exp = now_seconds() + options.blob_url_ttl.count();
  token.cas_url = base_url(req) + "/_xet";
  Response r = json_response(200, xet::xet_token_json(token));
  r.set_header("Cache-Control", "no-store");
  return r;
}

Response Router::Impl::xet_reconstruction(const Request& req, const std::vector<std::string>& segs) const {
  if (!xet) return error_response(404, "", "Not Found: this mirror does not serve Xet (start it with --xet)");
  // The bearer token: hcxet1.<exp>.<sig>.<repo key>, signed by this mirror.
  const auto unauthorized = [] {
    Response r = xet_error(401, "Unauthorized: send a fresh Xet access token from xet-read-token as a Bearer token");
    r.set_header("WWW-Authenticate", "Bearer");
    return r;
  };
  const auto auth = req.header("Authorization");
  const std::string_view v = auth ? trim(*auth) : std::string_view();
  if (v.size() <= 7 || !iequals(v.substr(0, 7), "Bearer ")) return unauthorized();
  const std::string_view token = trim(v.substr(7));
  const std::size_t d1 = token.find('.');
  const std::size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  const std::size_t d3 = d2 == std::string_view::npos ? d2 : token.find('.', d2 + 1);
  if (d3 == std::string_view::npos || token.substr(0, d1) != k_token_prefix) return unauthorized();
  const std::string_view exp_text = token.substr(d1 + 1, d2 - d1 - 1), sig = token.substr(d2 + 1, d3 - d2 - 1),
                         key = token.substr(d3 + 1);
  std::int64_t exp = 0;
  if (exp_text.empty() ||
      std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp).ptr != exp_text.data() + exp_text.size())
    return unauthorized();
  if (!constant_time_equal(sign(token_payload(key, exp_text)), sig) || exp < now_seconds()) return unauthorized();
  const auto repo = repo_of_key(key);
  if (!repo) return unauthorized();
  const auto id = xet::MerkleHash::from_hex(segs[1]);
  if (!id || segs[1].size() != 64) return xet_error(400, "Bad request: a Xet file id is 64 hex digits");
  const auto found = xet->file(*repo, *id);
  if (!found) return xet_error(404, "Not Found: no file with this Xet id in " + describe(*repo) + " on this mirror");
  const XetRecord& rec = *found->record;

  std::uint64_t first = 0, last = rec.size - 1;
  const RangeDecision d = decide_range(req.header("Range"), rec.size);
  if (d.kind == RangeDecision::Kind::Unsatisfiable) {
    Response e = xet_error(416, "Range Not Satisfiable: the file has " + std::to_string(rec.size) + " bytes");
    e.set_header("Content-Range", "bytes */" + std::to_string(rec.size));
    return e;
  }
  if (d.kind == RangeDecision::Kind::Partial) first = d.range.first, last = d.range.last;

  xet::Reconstruction r;
  const std::string base = base_url(req);
  const std::string expires = std::to_string(now_seconds() + options.blob_url_ttl.count());
  std::uint64_t offset = 0;  // file offset of the current chunk
  bool started = false;
  for (const auto& seg : rec.segments) {
    std::uint32_t run_first = 0, run_end = 0;
    std::uint64_t unpacked = 0, serialized = 0;
    bool in_run = false;
    for (std::size_t i = 0; i < seg.chunk_sizes.size(); ++i) {
      const std::uint64_t size = seg.chunk_sizes[i];
      const bool holds = offset + size > first && offset <= last;
      if (holds) {
        const auto index = static_cast<std::uint32_t>(seg.first_chunk + i);
        if (!in_run) {
          run_first = index;
          in_run = true;
          if (!started) r.offset_into_first_range = first - offset;
          started = true;
        }
        run_end = index + 1;
        unpacked += size;
        serialized += xet::k_chunk_header_size + size;
      }
      offset += size;
    }
    if (!in_run) continue;
    r.terms.push_back(xet::Term{seg.xorb, static_cast<std::uint32_t>(unpacked), {run_first, run_end}});
    auto& fetches = r.xorbs[seg.xorb];
    const bool listed = std::any_of(fetches.begin(), fetches.end(), [&](const xet::XorbFetch& f) {
      return f.ranges.size() == 1 && f.ranges[0].chunks == xet::ChunkRange{run_first, run_end};
    });
    if (listed) continue;
    const std::string xorb = seg.xorb.hex();
    const std::string run = std::to_string(run_first) + "-" + std::to_string(run_end);
    fetches.push_back(xet::XorbFetch{base + "/_xet/xorbs/default/" + xorb + "/" + run + "?expires=" + expires +
                                         "&sig=" + sign(xorb_payload(xorb, run, expires)),
                                     {xet::FetchRange{{run_first, run_end}, {0, serialized - 1}}}});
  }
  Response out = json_response(200, xet::reconstruction_json(r, segs[0] == "v1" ? 1 : 2));
  out.set_header("Cache-Control", "no-store");
  return out;
}

Response Router::Impl::xet_xorb(const Request& req, const std::vector<std::string>& segs) const {
  if (!xet) return error_response(404, "", "Not Found: this mirror does not serve Xet (start it with --xet)");
  const std::string& xorb_text = segs[0];
  const std::string& run_text = segs[1];
  const auto xorb = xet::MerkleHash::from_hex(xorb_text);
  const std::size_t dash = run_text.find('-');
  std::uint32_t first = 0, end = 0;
  const bool run_ok = dash != std::string::npos && dash > 0 &&
                      std::from_chars(run_text.data(), run_text.data() + dash, first).ptr == run_text.data() + dash &&
                      std::from_chars(run_text.data() + dash + 1, run_text.data() + run_text.size(), end).ptr ==
                          run_text.data() + run_text.size() &&
                      end > first && end - first <= k_max_run_chunks;
  if (!xorb || xorb_text.size() != 64 || !run_ok) return xet_error(404, "Not Found: no such xorb range");
  const auto expires = req.query_value("expires");
  const auto sig = req.query_value("sig");
  std::int64_t exp = 0;
  if (!expires || !sig || expires->empty() ||
      std::from_chars(expires->data(), expires->data() + expires->size(), exp).ptr != expires->data() + expires->size())
    return xet_error(403, "Forbidden: this xorb URL is not signed; ask for the reconstruction again");
  if (!constant_time_equal(sign(xorb_payload(xorb_text, run_text, *expires)), *sig) || exp < now_seconds())
    return xet_error(403, "Forbidden: this xorb URL is invalid or expired; ask for the reconstruction again");

  auto body = std::make_shared<Body>();
  std::map<std::string, int> opened;
  Run run;
  for (std::uint32_t i = first; i < end; ++i) {
    const auto sources = xet->chunk(*xorb, i);
    if (sources.empty())
      return xet_error(404, "Not Found: chunk " + std::to_string(i) + " of xorb " + xorb_text + " is not on this mirror");
    // The first blob holding the chunk that is still in the cache at its size (one removed, by
    // `cache rm` or the proxy's --max-size, leaves the others).
    const XetChunkSource* src = nullptr;
    int fd_index = -1;
    for (const auto& candidate : sources) {
      auto it = opened.find(*candidate.blob_path);
      if (it == opened.end()) {
        fs::Fd fd(::open(candidate.blob_path->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        struct stat st {};
        int at = -1;
        if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
          body->fds.push_back(std::move(fd));
          at = static_cast<int>(body->fds.size() - 1);
        }
        it = opened.emplace(*candidate.blob_path, at).first;  // -1: gone, not tried again
      }
      struct stat st {};
      if (it->second < 0 || ::fstat(body->fds[static_cast<std::size_t>(it->second)].get(), &st) != 0 ||
          candidate.offset + candidate.size > static_cast<std::uint64_t>(st.st_size))
        continue;
      src = &candidate;
      fd_index = it->second;
      break;
    }
    if (!src)
      return xet_error(
          404, "Not Found: no blob holding chunk " + std::to_string(i) + " of xorb " + xorb_text + " is in the cache any more");
    run.chunks.push_back(Run::Chunk{fd_index, src->offset, src->size, run.size});
    run.size += xet::k_chunk_header_size + src->size;
  }

  Response r;
  r.set_header("Accept-Ranges", "bytes");
  r.set_header("Cache-Control", "public, max-age=31536000, immutable");
  const auto range = req.header("Range");
  std::vector<ByteRange> ranges;
  bool partial = false;
  if (range) {
    if (auto parsed = parse_ranges(*range, run.size)) {
      if (parsed->empty()) {
        Response e = xet_error(416, "Range Not Satisfiable: the run has " + std::to_string(run.size) + " bytes");
        e.set_header("Content-Range", "bytes */" + std::to_string(run.size));
        return e;
      }
      ranges = std::move(*parsed);
      partial = true;
    }
  }
  const std::string total = std::to_string(run.size);
  if (!partial) {
    r.set_header("Content-Type", "application/octet-stream");
    add_run_slice(run, 0, run.size - 1, *body);
  } else if (ranges.size() == 1) {
    r.status = 206;
    r.set_header("Content-Type", "application/octet-stream");
    r.set_header("Content-Range",
                 "bytes " + std::to_string(ranges[0].first) + "-" + std::to_string(ranges[0].last) + "/" + total);
    add_run_slice(run, ranges[0].first, ranges[0].last, *body);
  } else {
    r.status = 206;
    const std::string boundary = "hubcache-xet-" + sign(xorb_text + run_text).substr(0, 24);
    r.set_header("Content-Type", "multipart/byteranges; boundary=" + boundary);
    for (const auto& br : ranges) {
      body->add_literal("--" + boundary + "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes " +
                        std::to_string(br.first) + "-" + std::to_string(br.last) + "/" + total + "\r\n\r\n");
      add_run_slice(run, br.first, br.last, *body);
      body->add_literal("\r\n");
    }
    body->add_literal("--" + boundary + "--\r\n");
  }
  r.stream_length = body->size;
  r.stream = [body](std::uint64_t at, char* out, std::size_t max) { return body->read(at, out, max); };
  return r;
}

}  // namespace hubcache::server

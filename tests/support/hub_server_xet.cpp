// The Xet CAS of the test HubServer (set_xet): real chunking, packing and serialized xorbs with
// mixed compression, the read-token route, reconstructions v1/v2 with signed xorb URLs, and the
// XetFault modes (hub_server.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <unordered_map>

#include "hub_server.hpp"
#include "hub_server_internal.hpp"
#include "hubcache/xet/chunk_codec.hpp"
#include "hubcache/xet/chunker.hpp"
#include "hubcache/xet/reconstruction.hpp"

namespace hubcache::test {
using namespace detail_server;

struct XetCasState {
  struct Xorb {
    std::string data;                    // serialized chunks, back to back (no footer)
    std::vector<std::uint64_t> offsets;  // chunk i is [offsets[i], offsets[i+1])
  };
  struct File {
    xet::MerkleHash id;
    std::uint64_t size = 0;
    std::vector<xet::Segment> segments;
  };
  struct Token {
    std::int64_t exp = 0;
    std::int64_t uses_left = -1;  // -1: unlimited
  };

  std::mutex mutex;
  XetCasOptions options;
  std::map<XetFault, std::uint64_t> faults;  // fault -> its parameter
  bool has(XetFault f) const { return faults.count(f) != 0; }
  std::uint64_t param(XetFault f) const { return has(f) ? faults.at(f) : 0; }
  // What the built data was made from: rebuilt when any of it changes.
  std::size_t built_files = 0;
  bool built = false;
  std::map<XetFault, std::uint64_t> built_faults;
  std::size_t built_xorb_chunks = 0;

  std::map<xet::MerkleHash, Xorb> xorbs;
  std::map<std::string, File> files;  // by SHA-256
  std::map<xet::MerkleHash, std::string> by_id;
  std::map<std::string, Token> tokens;
  int tokens_issued = 0;
  int xorb_gets = 0;
  std::array<int, 3> chunk_types{};  // chunks stored as None, LZ4, BG4
};

namespace detail_server {
std::shared_ptr<XetCasState> make_xet_cas_state() { return std::make_shared<XetCasState>(); }
}  // namespace detail_server

namespace {

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::span<const std::uint8_t> bytes_of(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

void put_u24(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
}

// Serializes chunk `index` of a xorb with the compression its index picks, and the data faults.
// `lz4_fault_done` / `plain_fault_done`: the xorb's one faulty LZ4 / plain chunk is made already.
xet::Compression serialize_chunk(std::span<const std::uint8_t> data, std::size_t index, const XetCasState& st,
                                 bool& lz4_fault_done, bool& plain_fault_done, std::vector<std::uint8_t>& out) {
  const xet::Compression wanted = index % 3 == 0   ? xet::Compression::LZ4
                                  : index % 3 == 1 ? xet::Compression::ByteGrouping4LZ4
                                                   : xet::Compression::None;
  const std::size_t at = out.size();
  const xet::Compression got = xet::encode_chunk(data, wanted, out);
  if (st.has(XetFault::OversizedChunkHeader) && index == 1) put_u24(out.data() + at + 1, xet::k_max_chunk_payload + 1);
  const bool shorter = st.has(XetFault::ChunkDecodesShort);
  if ((shorter || st.has(XetFault::ChunkDecodesLong)) && got == xet::Compression::LZ4 && !lz4_fault_done && data.size() > 1) {
    // A frame of one byte fewer / more than the header's uncompressed length.
    std::vector<std::uint8_t> other(data.begin(), data.end());
    if (shorter)
      other.pop_back();
    else
      other.push_back(other.front());
    std::vector<std::uint8_t> tmp;
    if (xet::encode_chunk(other, xet::Compression::LZ4, tmp) == xet::Compression::LZ4) {
      put_u24(tmp.data() + 5, static_cast<std::uint32_t>(data.size()));
      out.resize(at);
      out.insert(out.end(), tmp.begin(), tmp.end());
      lz4_fault_done = true;
    }
  }
  if (st.has(XetFault::WrongBytePlain) && got == xet::Compression::None && !plain_fault_done) {
    out[at + xet::k_chunk_header_size + data.size() / 2] ^= 0x5a;
    plain_fault_done = true;
  }
  return got;
}

void build(XetCasState& st, const std::vector<ServedFile>& sources) {
  st.xorbs.clear();
  st.files.clear();
  st.by_id.clear();
  st.chunk_types = {};
  std::unordered_map<xet::MerkleHash, xet::ChunkLocation> known;
  for (const auto& f : sources) {
    const std::string content = f.disk_path.empty() ? f.content : read_whole(f.disk_path);
    const auto bytes = bytes_of(content);
    const auto leaves = xet::chunk_buffer(bytes);
    auto packed = xet::pack_file(
        leaves,
        [&](const xet::MerkleHash& h) -> std::optional<xet::ChunkLocation> {
          if (auto it = known.find(h); it != known.end()) return it->second;
          return std::nullopt;
        },
        st.options.xorb_chunks);
    for (const auto& x : packed.new_xorbs) {
      XetCasState::Xorb xorb;
      std::vector<std::uint8_t> data;
      bool lz4_done = false, plain_done = false;
      std::uint64_t off = x.file_offset;
      for (std::size_t i = 0; i < x.chunks.size(); ++i) {
        xorb.offsets.push_back(data.size());
        const auto type = serialize_chunk(bytes.subspan(off, x.chunks[i].size), i, st, lz4_done, plain_done, data);
        ++st.chunk_types[static_cast<std::size_t>(type)];
        known.emplace(x.chunks[i].hash, xet::ChunkLocation{x.hash, static_cast<std::uint32_t>(i)});
        off += x.chunks[i].size;
      }
      xorb.offsets.push_back(data.size());
      xorb.data.assign(data.begin(), data.end());
      st.xorbs.emplace(x.hash, std::move(xorb));
    }
    st.by_id[packed.file_hash] = f.sha256;
    st.files[f.sha256] = {packed.file_hash, f.size, std::move(packed.segments)};
  }
}

std::string hex_of(const std::string& random) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : random) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

}  // namespace

// ---- configuration and accessors ------------------------------------------------------------

std::vector<ServedFile> HubServer::xet_sources() const {
  std::vector<ServedFile> out;
  for (const auto& sha : m_lfs_order)
    if (auto it = m_by_sha.find(sha); it != m_by_sha.end()) out.push_back(it->second);
  return out;
}

namespace {
// The state, built for the files served now (call with st.mutex held).
void ensure_built(XetCasState& st, const std::vector<ServedFile>& sources) {
  if (st.built && st.built_files == sources.size() && st.built_faults == st.faults &&
      st.built_xorb_chunks == st.options.xorb_chunks)
    return;
  build(st, sources);
  st.built = true;
  st.built_files = sources.size();
  st.built_faults = st.faults;
  st.built_xorb_chunks = st.options.xorb_chunks;
}
}  // namespace

void HubServer::set_xet_options(const XetCasOptions& options) {
  std::lock_guard lock(m_xet_cas->mutex);
  m_xet_cas->options = options;
}

void HubServer::add_xet_fault(XetFault fault, std::uint64_t n) {
  std::lock_guard lock(m_xet_cas->mutex);
  if (fault != XetFault::None) m_xet_cas->faults[fault] = n;
}

void HubServer::set_xet_fault(XetFault fault, std::uint64_t n) {
  std::lock_guard lock(m_xet_cas->mutex);
  m_xet_cas->faults.clear();
  if (fault != XetFault::None) m_xet_cas->faults[fault] = n;
  m_xet_cas->xorb_gets = 0;
  m_xet_cas->tokens_issued = 0;
}

std::string HubServer::xet_cas_url() const { return "http://127.0.0.1:" + std::to_string(m_cdn_port) + "/cas"; }

std::string HubServer::xet_hash(const std::string& sha256) {
  std::vector<ServedFile> sources;
  {
    std::lock_guard lock(m_mutex);
    sources = xet_sources();
  }
  std::lock_guard lock(m_xet_cas->mutex);
  ensure_built(*m_xet_cas, sources);
  auto it = m_xet_cas->files.find(sha256);
  return it == m_xet_cas->files.end() ? std::string() : it->second.id.hex();
}

std::vector<xet::Segment> HubServer::xet_terms(const std::string& sha256) {
  xet_hash(sha256);
  std::lock_guard lock(m_xet_cas->mutex);
  auto it = m_xet_cas->files.find(sha256);
  return it == m_xet_cas->files.end() ? std::vector<xet::Segment>{} : it->second.segments;
}

std::uint64_t HubServer::xet_fetch_bytes(const std::string& sha256) {
  xet_hash(sha256);
  std::lock_guard lock(m_xet_cas->mutex);
  auto it = m_xet_cas->files.find(sha256);
  if (it == m_xet_cas->files.end()) return 0;
  // The union of the chunk ranges its terms use, per xorb (as the reconstruction lists them).
  std::map<xet::MerkleHash, std::vector<std::pair<std::uint32_t, std::uint32_t>>> used;
  for (const auto& s : it->second.segments)
    used[s.xorb].emplace_back(s.first_chunk, s.first_chunk + static_cast<std::uint32_t>(s.chunk_sizes.size()));
  std::uint64_t n = 0;
  for (auto& [xorb, ranges] : used) {
    std::sort(ranges.begin(), ranges.end());
    const auto& offsets = m_xet_cas->xorbs.at(xorb).offsets;
    std::uint32_t covered = 0;
    for (auto [s, e] : ranges) {
      s = std::max(s, covered);
      if (e > s) n += offsets[e] - offsets[s];
      covered = std::max(covered, e);
    }
  }
  return n;
}

std::array<int, 3> HubServer::xet_chunk_types() {
  xet_hash("");
  std::lock_guard lock(m_xet_cas->mutex);
  return m_xet_cas->chunk_types;
}

int HubServer::xet_tokens_issued() const {
  std::lock_guard lock(m_xet_cas->mutex);
  return m_xet_cas->tokens_issued;
}

// ---- the Hub's token route ------------------------------------------------------------------

void HubServer::serve_xet_token(Reply& reply, const RequestConfig&) {
  std::random_device rd;
  std::string random;
  for (int i = 0; i < 12; ++i) random += static_cast<char>(rd() & 0xff);
  xet::XetToken t;
  t.access_token = "xet_" + hex_of(random);
  t.cas_url = xet_cas_url();
  const std::int64_t now = now_unix();
  {
    std::lock_guard lock(m_xet_cas->mutex);
    auto& st = *m_xet_cas;
    t.exp = now + st.options.token_lifetime.count();
    XetCasState::Token rec{t.exp, -1};
    if (st.has(XetFault::TokenExpiresAfterUses) && st.tokens_issued == 0)
      rec.uses_left = static_cast<std::int64_t>(st.param(XetFault::TokenExpiresAfterUses));
    st.tokens[t.access_token] = rec;
    ++st.tokens_issued;
  }
  reply.simple(200, {}, xet::xet_token_json(t));
}

// ---- CAS ------------------------------------------------------------------------------------

void HubServer::serve_xet_cas(Reply& reply, const RequestConfig& config) {
  const HttpRequest& req = reply.req;
  const std::string& path = req.path;
  std::vector<ServedFile> sources;
  {
    std::lock_guard lock(m_mutex);
    sources = xet_sources();
  }
  const std::int64_t now = now_unix();

  // Signed xorb URLs: /cas/xorbs/<hash>?ranges=a-b,c-d&expires=<unix>&sig=<hmac>.
  if (path.rfind("/cas/xorbs/", 0) == 0) {
    const std::string hash = path.substr(std::string_view("/cas/xorbs/").size());
    const std::string ranges = query_param(req.query, "ranges"), expires = query_param(req.query, "expires");
    if (query_param(req.query, "sig") != hmac_hex(m_sign_key, hash + "\n" + ranges + "\n" + expires))
      return reply.simple(403, {}, "<Error><Code>AccessDenied</Code><Message>forged signature</Message></Error>",
                          "application/xml");
    std::int64_t until = 0;
    try {
      until = std::stoll(expires);
    } catch (...) {
      until = 0;
    }
    if (now > until)
      return reply.simple(403, {}, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                          "application/xml");
    ServedFile body;
    std::optional<Fault> fault = config.fault;
    {
      std::lock_guard lock(m_xet_cas->mutex);
      auto& st = *m_xet_cas;
      ensure_built(st, sources);
      auto parsed = xet::MerkleHash::from_hex(hash);
      auto it = parsed ? st.xorbs.find(*parsed) : st.xorbs.end();
      if (it == st.xorbs.end()) return reply.simple(404, {}, "<Error><Code>NoSuchKey</Code></Error>", "application/xml");
      // A signed URL authorizes exactly its listed ranges: a single Range inside one of them.
      const auto asked = parse_range(req.header("range"), it->second.data.size());
      bool allowed = false;
      for (const auto& r : split(ranges, ',')) {
        const auto dash = r.find('-');
        if (!asked || dash == std::string::npos) break;
        try {
          const std::uint64_t a = std::stoull(r.substr(0, dash)), b = std::stoull(r.substr(dash + 1));
          if (asked->first >= a && asked->second <= b + 1) allowed = true;
        } catch (...) {
        }
      }
      if (!allowed)
        return reply.simple(403, {}, "<Error><Code>AccessDenied</Code><Message>range not signed</Message></Error>",
                            "application/xml");
      const int nth = ++st.xorb_gets;
      const std::uint64_t half = (asked->second - asked->first) / 2;
      if (st.has(XetFault::ExpiredXorbUrl) && nth == 1)
        return reply.simple(403, {}, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                            "application/xml");
      if (st.has(XetFault::TruncatedXorb)) fault = Fault::body(FaultKind::ShortBody, "GET", "", half);
      if (st.has(XetFault::CutXorbsAfter) && static_cast<std::uint64_t>(nth) > st.param(XetFault::CutXorbsAfter))
        fault = Fault::body(FaultKind::ResetMidBody, "GET", "", half);
      body.content = it->second.data;
      body.size = body.content.size();
      body.lfs = true;
      body.sha256 = hash;
    }
    return serve_body(reply, fault, config.throttle, body, {{"Content-Type", "application/octet-stream"}});
  }

  // Reconstructions: /cas/v{1,2}/reconstructions/<file id>.
  int version = 0;
  if (path.rfind("/cas/v2/reconstructions/", 0) == 0) version = 2;
  if (path.rfind("/cas/v1/reconstructions/", 0) == 0) version = 1;
  if (version == 0) return reply.error(404, "", "unknown CAS route");
  const std::string id_text = path.substr(std::string_view("/cas/v1/reconstructions/").size());
  const std::string auth = req.header("authorization");
  xet::Reconstruction recon;
  std::map<XetFault, std::uint64_t> faults;
  {
    std::lock_guard lock(m_xet_cas->mutex);
    auto& st = *m_xet_cas;
    faults = st.faults;
    auto tok = auth.rfind("Bearer ", 0) == 0 ? st.tokens.find(auth.substr(7)) : st.tokens.end();
    if (tok == st.tokens.end()) return reply.error(401, "", "missing or unknown CAS token");
    if (now > tok->second.exp || tok->second.uses_left == 0) return reply.error(401, "", "CAS token expired");
    if (tok->second.uses_left > 0) --tok->second.uses_left;
    if (version == 2 && st.has(XetFault::V2NotFound)) return reply.error(404, "", "no v2 here");
    ensure_built(st, sources);
    auto id = xet::MerkleHash::from_hex(id_text);
    auto sha = id ? st.by_id.find(*id) : st.by_id.end();
    if (sha == st.by_id.end()) return reply.error(404, "", "file not found in CAS");
    const auto& file = st.files.at(sha->second);

    // The terms the range asks for (all by default), and the first one's skipped bytes.
    std::uint64_t from = 0, to = file.size;  // [from, to)
    if (const std::string r = req.header("range"); !r.empty()) {
      const auto asked = parse_range(r, file.size);
      if (!asked || asked->first >= file.size) return reply.error(416, "", "range not satisfiable");
      from = asked->first;
      to = asked->second;
    }
    std::uint64_t at = 0;
    for (const auto& s : file.segments) {
      const std::uint64_t n = s.bytes();
      if (at + n > from && at < to) {
        if (recon.terms.empty()) recon.offset_into_first_range = from - at;
        recon.terms.push_back({s.xorb,
                               static_cast<std::uint32_t>(n),
                               {s.first_chunk, s.first_chunk + static_cast<std::uint32_t>(s.chunk_sizes.size())}});
      }
      at += n;
    }
    // Fetch info: per xorb, the merged chunk ranges of its terms, one signed URL for them all.
    std::map<xet::MerkleHash, std::vector<xet::ChunkRange>> used;
    for (const auto& t : recon.terms) used[t.xorb].push_back(t.range);
    for (auto& [xorb, list] : used) {
      std::sort(list.begin(), list.end());
      std::vector<xet::ChunkRange> merged;
      for (const auto& r : list) {
        if (!merged.empty() && r.start <= merged.back().end)
          merged.back().end = std::max(merged.back().end, r.end);
        else
          merged.push_back(r);
      }
      const auto& offsets = st.xorbs.at(xorb).offsets;
      xet::XorbFetch fetch;
      std::string ranges;
      for (const auto& m : merged) {
        const xet::ByteRange b{offsets[m.start], offsets[m.end] - 1};
        fetch.ranges.push_back({m, b});
        ranges += (ranges.empty() ? "" : ",") + std::to_string(b.start) + "-" + std::to_string(b.end);
      }
      const std::string hex = xorb.hex();
      const std::string expires = std::to_string(now + st.options.url_lifetime.count());
      fetch.url = xet_cas_url() + "/xorbs/" + hex + "?ranges=" + ranges + "&expires=" + expires +
                  "&sig=" + hmac_hex(m_sign_key, hex + "\n" + ranges + "\n" + expires);
      recon.xorbs[xorb].push_back(std::move(fetch));
    }
    // Faults of the answer itself (after the fetch info, which stays that of the true terms).
    if (st.has(XetFault::WrongUnpackedLength) && !recon.terms.empty()) {
      recon.terms.front().unpacked_length += 1;
      if (recon.terms.size() > 1) recon.terms.back().unpacked_length -= 1;
    }
    if (st.has(XetFault::TermPastXorb) && !recon.terms.empty()) {
      auto& last = recon.terms.back();
      last.range.end = static_cast<std::uint32_t>(st.xorbs.at(last.xorb).offsets.size());  // chunk count + 1
    }
  }
  std::string json = xet::reconstruction_json(recon, version);
  if (faults.count(XetFault::NonHexHash) && !recon.terms.empty()) {
    auto j = nlohmann::json::parse(json);
    std::string bad = j["terms"][0]["hash"].get<std::string>();
    bad[10] = 'g';
    bad[11] = 'z';
    j["terms"][0]["hash"] = bad;
    json = j.dump();
  }
  reply.simple(200, {}, json);
}

}  // namespace hubcache::test

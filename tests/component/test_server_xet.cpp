// The mirror's Xet routes (serve --xet), through the Router in process: the Xet headers of a
// resolve (HEAD, GET, the JS fileinfo GET), the read token, reconstructions (v2, v1, ranges) and
// xorb runs (signed, single and multipart ranges); files reassembled from them byte for byte;
// dedupe across files; listings name a Xet hash only once it is known.
#include <gtest/gtest.h>

#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>

#include "cache_builder.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/server/router.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/xet/chunk_codec.hpp"
#include "hubcache/xet/chunker.hpp"
#include "hubcache/xet/reconstruction.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

using server::Request;
using server::Response;

const RepoRef k_model{RepoType::Model, "org/tiny"};
const RepoRef k_secret{RepoType::Model, "org/secret"};
const std::string k_base = "http://mirror.test:8080";

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Most of A, with a few bytes changed in the middle and a tail of its own.
std::string variant_of(const std::string& a) {
  std::string b = a;
  for (std::size_t i = 0; i < 100; ++i) b[a.size() / 2 + i] = static_cast<char>(b[a.size() / 2 + i] ^ 0x5a);
  return b + random_bytes(70000, 99);
}

std::string file_hash_of(const std::string& s) {
  const auto leaves = xet::chunk_buffer(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  return xet::file_hash(leaves).hex();
}

class Xet : public ::testing::Test {
 protected:
  TempDir tmp;
  CacheBuilder cache{tmp.path() + "/cache"};
  std::string c1 = commit_id(1);
  std::string a = random_bytes(1200000, 1);
  std::string b = variant_of(a);
  std::unique_ptr<server::Router> router;

  void SetUp() override {
    cache.add_file(k_model, c1, "config.json", "{\"hidden\": 8}\n");
    cache.add_file(k_model, c1, "a.bin", a, true);
    cache.add_file(k_model, c1, "b.bin", b, true);
    cache.add_ref(k_model, "main", c1);
    cache.add_file(k_secret, c1, "s.bin", random_bytes(50000, 7), true);
    cache.add_ref(k_secret, "main", c1);
    make();
  }
  void make(const std::function<void(server::RouterOptions&)>& tweak = {}) {
    server::RouterOptions o;
    o.cache_dir = cache.root();
    o.private_repos = {"org/secret"};
    o.tokens = {"mirror-token"};
    o.xet = true;
    if (tweak) tweak(o);
    auto r = server::Router::create(std::move(o));
    ASSERT_TRUE(r) << r.error().message;
    router = std::move(*r);
  }
  // `target`: a path with an optional query, or an absolute URL of the mirror.
  Response get(std::string target, server::HeaderList headers = {}, const std::string& method = "GET",
               const std::string& body = {}) {
    if (target.rfind(k_base, 0) == 0) target = target.substr(k_base.size());
    Request req;
    req.method = method;
    req.base_url = k_base;
    req.headers = {{"Host", "mirror.test:8080"}};
    req.body = body;
    for (auto& h : headers) req.headers.push_back(std::move(h));
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string query = target.substr(q + 1);
      while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        req.query.emplace_back(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
        query = amp == std::string::npos ? "" : query.substr(amp + 1);
      }
    }
    return router->handle(req);
  }
  static std::string bytes_of(const Response& r) {
    if (r.stream) {
      std::string out(r.stream_length, '\0');
      std::uint64_t at = 0;
      while (at < r.stream_length) {
        const long n = r.stream(at, out.data() + at, std::min<std::uint64_t>(100000, r.stream_length - at));
        if (n <= 0) return "<stream cut>";
        at += static_cast<std::uint64_t>(n);
      }
      return out;
    }
    if (r.file) {
      std::string out(r.file_length, '\0');
      const ssize_t n = ::pread(r.file.get(), out.data(), out.size(), static_cast<off_t>(r.file_offset));
      out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
      return out;
    }
    return r.body;
  }
  std::string token(const std::string& repo_path = "/api/models/org/tiny", server::HeaderList h = {}) {
    auto r = get(repo_path + "/xet-read-token/main", std::move(h));
    EXPECT_EQ(r.status, 200) << r.body;
    auto t = xet::parse_xet_token(r.body);
    EXPECT_TRUE(t) << r.body;
    return t ? t->access_token : "";
  }
  std::string file_id(const std::string& path) {
    auto r = get("/org/tiny/resolve/main/" + path, {}, "HEAD");
    return std::string(r.header("X-Xet-Hash").value_or(""));
  }
  Response reconstruction(const std::string& id, const std::string& tok, const std::string& range = "", int version = 2) {
    server::HeaderList h{{"Authorization", "Bearer " + tok}};
    if (!range.empty()) h.emplace_back("Range", range);
    return get("/_xet/v" + std::to_string(version) + "/reconstructions/" + id, std::move(h));
  }
  // Follows a reconstruction answer as a client does: each term's chunks from its fetch entry's
  // URL (one Range), headers parsed and payloads decoded, then the offset skipped.
  std::string reassemble(const xet::Reconstruction& r, std::uint64_t length) {
    std::string out;
    for (const auto& term : r.terms) {
      const xet::XorbFetch* fetch = nullptr;
      const auto* fr = xet::find_fetch_range(r, term, &fetch);
      if (!fr) return "<no fetch range>";
      auto resp = get(fetch->url, {{"Range", "bytes=" + std::to_string(fr->bytes.start) + "-" + std::to_string(fr->bytes.end)}});
      if (resp.status != 206) return "<xorb status " + std::to_string(resp.status) + ">";
      const std::string run = bytes_of(resp);
      std::size_t at = 0;
      std::string term_bytes;
      for (std::uint32_t i = fr->chunks.start; i < fr->chunks.end; ++i) {
        auto span = std::span(reinterpret_cast<const std::uint8_t*>(run.data()) + at, run.size() - at);
        auto h = xet::parse_chunk_header(span);
        if (!h) return "<bad chunk header: " + h.error().message + ">";
        std::string chunk(h->uncompressed_size, '\0');
        auto d = xet::decode_chunk(*h, span.subspan(xet::k_chunk_header_size, h->compressed_size),
                                   std::span(reinterpret_cast<std::uint8_t*>(chunk.data()), chunk.size()));
        if (!d) return "<bad chunk>";
        if (i >= term.range.start && i < term.range.end) term_bytes += chunk;
        at += xet::k_chunk_header_size + h->compressed_size;
      }
      if (at != run.size()) return "<run not consumed exactly>";
      if (term_bytes.size() != term.unpacked_length) return "<unpacked_length differs>";
      out += term_bytes;
    }
    out = out.substr(std::min<std::size_t>(r.offset_into_first_range, out.size()));
    return out.substr(0, length);
  }
};

TEST_F(Xet, ResolveCarriesTheXetHeadersOnHeadGetAndTheFileinfoGet) {
  const std::string id = file_hash_of(a);
  const std::string links = "<" + k_base + "/api/models/org/tiny/xet-read-token/" + c1 + ">; rel=\"xet-auth\", <" + k_base +
                            "/_xet/v2/reconstructions/" + id + ">; rel=\"xet-reconstruction-info\"";
  for (const std::string method : {"HEAD", "GET"}) {
    auto r = get("/org/tiny/resolve/main/a.bin", {}, method);
    EXPECT_EQ(r.status, 302) << method;
    EXPECT_EQ(r.header("X-Xet-Hash").value_or(""), id);
    EXPECT_EQ(r.header("Link").value_or(""), links);
    EXPECT_EQ(r.header("X-Linked-Size").value_or(""), std::to_string(a.size()));
    EXPECT_TRUE(r.header("Location"));
  }
  // huggingface.js: GET with Range 0-0 and the fileinfo media type.
  auto f = get("/org/tiny/resolve/main/a.bin", {{"Range", "bytes=0-0"}, {"Accept", "application/vnd.xet-fileinfo+json, */*"}});
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.header("Content-Type").value_or(""), "application/vnd.xet-fileinfo+json");
  EXPECT_EQ(f.header("X-Xet-Hash").value_or(""), id);
  EXPECT_EQ(f.header("Link").value_or(""), links);
  EXPECT_EQ(f.header("X-Linked-Size").value_or(""), std::to_string(a.size()));
  EXPECT_EQ(f.header("X-Linked-Etag").value_or(""), "\"" + sha256_hex(a) + "\"");
  EXPECT_EQ(f.header("X-Repo-Commit").value_or(""), c1);
  EXPECT_FALSE(f.header("Location"));
  auto j = nlohmann::json::parse(f.body);
  EXPECT_EQ(j["hash"], id);
  // A git file has no Xet identity; a fileinfo GET of it is answered as before.
  auto g = get("/org/tiny/resolve/main/config.json", {{"Accept", "application/vnd.xet-fileinfo+json, */*"}});
  EXPECT_EQ(g.status, 200);
  EXPECT_FALSE(g.header("X-Xet-Hash"));
  // Without --xet nothing changes.
  make([](server::RouterOptions& o) { o.xet = false; });
  auto plain = get("/org/tiny/resolve/main/a.bin", {{"Accept", "application/vnd.xet-fileinfo+json, */*"}});
  EXPECT_EQ(plain.status, 302);
  EXPECT_FALSE(plain.header("X-Xet-Hash"));
  EXPECT_FALSE(plain.header("Link"));
  EXPECT_EQ(get("/api/models/org/tiny/xet-read-token/main").status, 404);
}

// A blob not yet chunked is answered the plain way when chunking it takes longer than
// xet_resolve_wait (Python gives its HEAD 10 s), and chunked in the background: a later resolve
// carries X-Xet-Hash. Destroying the Router stops that chunking at once.
TEST_F(Xet, AResolveDoesNotWaitForALongChunking) {
  const std::string big = random_bytes(24u << 20, 5);
  cache.add_file(k_model, c1, "big.bin", big, true);
  make([](server::RouterOptions& o) { o.xet_resolve_wait = std::chrono::milliseconds(0); });
  auto first = get("/org/tiny/resolve/main/big.bin", {}, "HEAD");
  EXPECT_EQ(first.status, 302);
  EXPECT_FALSE(first.header("X-Xet-Hash"));
  std::optional<std::string> id;
  for (int i = 0; i < 400 && !id; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    id = get("/org/tiny/resolve/main/big.bin", {}, "HEAD").header("X-Xet-Hash");
  }
  ASSERT_TRUE(id) << "never chunked in the background";
  EXPECT_EQ(*id, file_hash_of(big));

  make([](server::RouterOptions& o) { o.xet_resolve_wait = std::chrono::milliseconds(0); });
  EXPECT_FALSE(get("/org/tiny/resolve/main/big.bin", {}, "HEAD").header("X-Xet-Hash"));
  const auto began = std::chrono::steady_clock::now();
  router.reset();  // the chunking in progress is stopped, not waited for
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(2));
}

TEST_F(Xet, TokenRouteFollowsTheRepoAccessRules) {
  auto r = get("/api/models/org/tiny/xet-read-token/main");
  ASSERT_EQ(r.status, 200);
  auto t = xet::parse_xet_token(r.body);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->cas_url, k_base + "/_xet");
  EXPECT_GT(t->exp, ::time(nullptr) + 3000);
  EXPECT_FALSE(t->access_token.empty());
  EXPECT_EQ(get("/api/models/org/secret/xet-read-token/main").status, 401);
  EXPECT_EQ(get("/api/models/org/secret/xet-read-token/main", {{"Authorization", "Bearer hf_not_ours"}}).status, 401);
  EXPECT_EQ(get("/api/models/org/secret/xet-read-token/main", {{"Authorization", "Bearer mirror-token"}}).status, 200);
  EXPECT_EQ(get("/api/models/org/tiny/xet-read-token/nope").status, 404);
  EXPECT_EQ(get("/api/models/org/tiny/xet-read-token/main", {}, "POST").status, 405);
}

TEST_F(Xet, ReconstructionsV2AndV1ReassembleTheFileWholeAndInRanges) {
  const std::string id = file_id("a.bin");
  ASSERT_EQ(id, file_hash_of(a));
  const std::string tok = token();
  for (int version : {2, 1}) {
    auto r = reconstruction(id, tok, "", version);
    ASSERT_EQ(r.status, 200) << r.body;
    auto rec = xet::parse_reconstruction(r.body, version);
    ASSERT_TRUE(rec) << rec.error().message;
    EXPECT_EQ(rec->offset_into_first_range, 0u);
    EXPECT_FALSE(rec->terms.empty());
    EXPECT_TRUE(reassemble(*rec, a.size()) == a) << version;
    for (const auto& [first, last] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
             {0, 0}, {1, 99999}, {300000, 900000}, {a.size() - 10, a.size() - 1}, {123456, a.size() + 1000}}) {
      const std::string range = "bytes=" + std::to_string(first) + "-" + std::to_string(last);
      auto p = reconstruction(id, tok, range, version);
      ASSERT_EQ(p.status, 200) << range;
      auto pr = xet::parse_reconstruction(p.body, version);
      ASSERT_TRUE(pr);
      const std::uint64_t end = std::min<std::uint64_t>(last + 1, a.size());
      EXPECT_TRUE(reassemble(*pr, end - first) == a.substr(first, end - first)) << range << " v" << version;
      if (first > 0) {
        EXPECT_LT(pr->offset_into_first_range, 128u * 1024) << range;
      }
      // The terms cover the range and no more than its chunks.
      std::uint64_t covered = 0;
      for (const auto& t : pr->terms) covered += t.unpacked_length;
      EXPECT_GE(covered, pr->offset_into_first_range + (end - first));
      EXPECT_LT(covered, (end - first) + 2 * 128 * 1024 + 1);
    }
    auto open_end = reconstruction(id, tok, "bytes=1000000-", version);
    ASSERT_EQ(open_end.status, 200);
    auto oe = xet::parse_reconstruction(open_end.body, version);
    ASSERT_TRUE(oe);
    EXPECT_TRUE(reassemble(*oe, a.size()) == a.substr(1000000));
  }
}

TEST_F(Xet, ReconstructionRefusals) {
  const std::string id = file_id("a.bin");
  const std::string tok = token();
  EXPECT_EQ(get("/_xet/v2/reconstructions/" + id).status, 401);
  EXPECT_EQ(reconstruction(id, "garbage").status, 401);
  EXPECT_EQ(reconstruction(id, "mirror-token").status, 401);  // a mirror token is no Xet token
  std::string forged = tok;
  forged.back() = forged.back() == 'y' ? 'z' : 'y';  // another repo in the token: the signature fails
  EXPECT_EQ(reconstruction(id, forged).status, 401);
  std::string other_sig = tok;
  const auto d2 = other_sig.find('.', other_sig.find('.') + 1);
  other_sig[d2 + 1] = other_sig[d2 + 1] == '0' ? '1' : '0';
  EXPECT_EQ(reconstruction(id, other_sig).status, 401);
  // The file is not in the token's repo.
  const std::string secret_tok = token("/api/models/org/secret", {{"Authorization", "Bearer mirror-token"}});
  EXPECT_EQ(reconstruction(id, secret_tok).status, 404);
  EXPECT_EQ(reconstruction(std::string(64, '0'), tok).status, 404);
  EXPECT_EQ(reconstruction("../../etc/passwd", tok).status, 404);  // no such route
  EXPECT_EQ(reconstruction("..%2F..%2Fetc%2Fpasswd", tok).status, 400);
  EXPECT_EQ(reconstruction(std::string(63, 'a'), tok).status, 400);
  auto r416 = reconstruction(id, tok, "bytes=" + std::to_string(a.size()) + "-");
  EXPECT_EQ(r416.status, 416);
  EXPECT_EQ(r416.header("Content-Range").value_or(""), "bytes */" + std::to_string(a.size()));
  // Expired: a mirror whose URLs live -10 s.
  make([](server::RouterOptions& o) { o.blob_url_ttl = std::chrono::seconds(-10); });
  const std::string expired = token();
  EXPECT_EQ(reconstruction(file_id("a.bin"), expired).status, 401);
}

TEST_F(Xet, XorbRunsAreSignedAndAnswerRanges) {
  const std::string id = file_id("a.bin");
  auto r = xet::parse_reconstruction(reconstruction(id, token()).body, 2);
  ASSERT_TRUE(r);
  const auto& term = r->terms.front();
  const auto& fetch = r->xorbs.at(term.xorb).front();
  const std::string url = fetch.url;
  ASSERT_EQ(url.rfind(k_base + "/_xet/xorbs/default/" + term.xorb.hex() + "/", 0), 0u) << url;
  auto whole = get(url);
  ASSERT_EQ(whole.status, 200);
  const std::string run = bytes_of(whole);
  ASSERT_EQ(run.size(), fetch.ranges[0].bytes.end + 1);
  // The first chunk's header: uncompressed.
  auto h = xet::parse_chunk_header(std::span(reinterpret_cast<const std::uint8_t*>(run.data()), run.size()));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->compression, xet::Compression::None);
  EXPECT_TRUE(run.substr(8, h->uncompressed_size) == a.substr(0, h->uncompressed_size));

  auto one = get(url, {{"Range", "bytes=5-20"}});
  EXPECT_EQ(one.status, 206);
  EXPECT_EQ(one.header("Content-Range").value_or(""), "bytes 5-20/" + std::to_string(run.size()));
  EXPECT_EQ(bytes_of(one), run.substr(5, 16));

  const std::uint64_t mid = run.size() / 2;
  auto multi = get(url, {{"Range", "bytes=0-9, " + std::to_string(mid) + "-" + std::to_string(mid + 99) + ",-7"}});
  ASSERT_EQ(multi.status, 206);
  const std::string ctype(multi.header("Content-Type").value_or(""));
  ASSERT_EQ(ctype.rfind("multipart/byteranges; boundary=", 0), 0u) << ctype;
  const std::string boundary = ctype.substr(ctype.find('=') + 1);
  const std::string total = std::to_string(run.size());
  const std::string expected =
      "--" + boundary + "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-9/" + total + "\r\n\r\n" +
      run.substr(0, 10) + "\r\n--" + boundary + "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes " +
      std::to_string(mid) + "-" + std::to_string(mid + 99) + "/" + total + "\r\n\r\n" + run.substr(mid, 100) + "\r\n--" +
      boundary + "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes " + std::to_string(run.size() - 7) + "-" +
      std::to_string(run.size() - 1) + "/" + total + "\r\n\r\n" + run.substr(run.size() - 7) + "\r\n--" + boundary + "--\r\n";
  EXPECT_TRUE(bytes_of(multi) == expected);
  EXPECT_EQ(get(url, {{"Range", "bytes=" + total + "-"}}).status, 416);

  // Signatures: forged, missing, expired; unknown chunks; malformed names.
  std::string forged = url;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(get(forged).status, 403);
  EXPECT_EQ(get(url.substr(0, url.find('?'))).status, 403);
  const std::string path = url.substr(k_base.size(), url.find('?') - k_base.size());
  const std::string other_run = path.substr(0, path.rfind('/')) + "/0-1" + url.substr(url.find('?'));
  if (other_run != url.substr(k_base.size())) {
    EXPECT_EQ(get(other_run).status, 403);  // the signature names the run
  }
  EXPECT_EQ(get("/_xet/xorbs/default/..%2F..%2Fetc/0-1?expires=9999999999&sig=x").status, 404);
  EXPECT_EQ(get("/_xet/xorbs/default/" + term.xorb.hex() + "/3-1?expires=9999999999&sig=x").status, 404);
  EXPECT_EQ(get("/_xet/xorbs/other/" + term.xorb.hex() + "/0-1").status, 404);
}

TEST_F(Xet, ExpiredXorbUrlIs403) {
  make([](server::RouterOptions& o) { o.blob_url_ttl = std::chrono::seconds(1); });
  const std::string id = file_id("a.bin");
  auto r = xet::parse_reconstruction(reconstruction(id, token()).body, 2);
  ASSERT_TRUE(r);
  const std::string url = r->xorbs.begin()->second.front().url;
  EXPECT_EQ(get(url).status, 200);
  ::sleep(2);
  EXPECT_EQ(get(url).status, 403);
}

TEST_F(Xet, ASecondFileSharingChunksReferencesTheFirstsXorbs) {
  const std::string id_a = file_id("a.bin");
  const std::string tok = token();
  auto ra = xet::parse_reconstruction(reconstruction(id_a, tok).body, 2);
  ASSERT_TRUE(ra);
  const std::string id_b = file_id("b.bin");
  ASSERT_EQ(id_b, file_hash_of(b));
  auto rb = xet::parse_reconstruction(reconstruction(id_b, tok).body, 2);
  ASSERT_TRUE(rb);
  std::set<xet::MerkleHash> xorbs_a;
  for (const auto& t : ra->terms) xorbs_a.insert(t.xorb);
  std::uint64_t shared = 0, total = 0;
  for (const auto& t : rb->terms) {
    total += t.unpacked_length;
    if (xorbs_a.count(t.xorb)) shared += t.unpacked_length;
  }
  EXPECT_EQ(total, b.size());
  EXPECT_GT(shared, a.size() * 8 / 10) << shared << " of " << total;
  EXPECT_TRUE(reassemble(*rb, b.size()) == b);
}

TEST_F(Xet, ListingsNameTheXetHashOnlyOnceItIsKnown) {
  const auto entry = [&](const std::string& path) {
    auto r = get("/api/models/org/tiny/tree/main");
    EXPECT_EQ(r.status, 200);
    for (const auto& e : nlohmann::json::parse(r.body))
      if (e["path"] == path) return e;
    return nlohmann::json();
  };
  EXPECT_FALSE(entry("a.bin").contains("xetHash"));
  const std::string id = file_id("a.bin");
  EXPECT_EQ(entry("a.bin").value("xetHash", ""), id);
  EXPECT_FALSE(entry("b.bin").contains("xetHash"));
  EXPECT_FALSE(entry("config.json").contains("xetHash"));
  auto p = get("/api/models/org/tiny/paths-info/main", {{"Content-Type", "application/json"}}, "POST",
               R"({"paths":["a.bin","b.bin"]})");
  ASSERT_EQ(p.status, 200) << p.body;
  for (const auto& e : nlohmann::json::parse(p.body)) EXPECT_EQ(e.contains("xetHash"), e["path"] == "a.bin") << e.dump();
}

TEST_F(Xet, IndexAtStartupKnowsEveryLfsBlob) {
  make([](server::RouterOptions& o) { o.xet_index_all = true; });
  auto r = get("/api/models/org/tiny/tree/main");
  for (const auto& e : nlohmann::json::parse(r.body))
    if (e.contains("lfs")) {
      EXPECT_TRUE(e.contains("xetHash")) << e.dump();
    }
}

}  // namespace
}  // namespace hubcache::test

namespace hubcache::test {
namespace {

// A record a Xet download left in the cache names upstream xorbs (chunks at any index): it is
// loaded at start (the listing knows the hash before any resolve) and served as it says.
TEST_F(Xet, ARecordLeftByADownloadIsServedAsItSays) {
  const auto leaves = xet::chunk_buffer(std::span(reinterpret_cast<const std::uint8_t*>(a.data()), a.size()));
  ASSERT_GT(leaves.size(), 4u);
  XetRecord rec;
  rec.size = a.size();
  rec.file_hash = xet::file_hash(leaves);
  // Two "upstream" xorbs: the first 3 chunks at 7.. of one, the rest at 0.. of another.
  xet::MerkleHash up1, up2;
  up1.bytes.fill(0x11);
  up2.bytes.fill(0x22);
  xet::Segment s1{up1, 7, {}}, s2{up2, 0, {}};
  for (std::size_t i = 0; i < leaves.size(); ++i)
    (i < 3 ? s1 : s2).chunk_sizes.push_back(static_cast<std::uint32_t>(leaves[i].size));
  rec.segments = {s1, s2};
  ASSERT_TRUE(write_xet_record(RepoLayout(cache.root(), k_model), sha256_hex(a), rec));
  make();
  auto tree = get("/api/models/org/tiny/tree/main");
  bool listed = false;
  for (const auto& e : nlohmann::json::parse(tree.body))
    if (e["path"] == "a.bin") listed = e.value("xetHash", "") == rec.file_hash.hex();
  EXPECT_TRUE(listed) << tree.body;
  EXPECT_EQ(file_id("a.bin"), rec.file_hash.hex());
  auto r = xet::parse_reconstruction(reconstruction(rec.file_hash.hex(), token()).body, 2);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->terms.size(), 2u);
  EXPECT_EQ(r->terms[0].xorb, up1);
  EXPECT_EQ(r->terms[0].range.start, 7u);
  EXPECT_EQ(r->terms[0].range.end, 10u);
  EXPECT_EQ(r->terms[1].xorb, up2);
  EXPECT_TRUE(reassemble(*r, a.size()) == a);
  // A record that does not fit its blob is left aside: the blob is chunked instead.
  rec.size += 1;
  rec.segments[1].chunk_sizes.back() += 1;
  ASSERT_TRUE(write_xet_record(RepoLayout(cache.root(), k_model), sha256_hex(a), rec));
  make();
  auto r2 = xet::parse_reconstruction(reconstruction(file_id("a.bin"), token()).body, 2);
  ASSERT_TRUE(r2);
  EXPECT_NE(r2->terms[0].xorb, up1);
  EXPECT_TRUE(reassemble(*r2, a.size()) == a);
}

// A file over 50 GB, which huggingface_hub's plain path refuses (constants.py: 50,000,000,000
// bytes), is served over Xet like any other: its resolve carries the Xet headers, and a range at
// its end is reconstructed from the blob. The blob is sparse (no disk) and its record made here as
// a download would leave it (128 KiB chunks of one xorb), so nothing is chunked.
TEST_F(Xet, AFileOver50GbIsServedOverXet) {
  const std::uint32_t chunk = 128u << 10;
  const std::size_t chunks = 381'470;
  const std::uint64_t size = std::uint64_t{chunk} * chunks;
  ASSERT_GT(size, 50'000'000'000ull);
  const RepoLayout layout(cache.root(), k_model);
  const std::string etag = sha256_hex("a sparse 50 GB blob");
  {
    fs::Fd fd{::open(layout.blob_path(etag).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)};
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
  }
  ASSERT_EQ(::symlink(("../../blobs/" + etag).c_str(), layout.pointer_path(c1, "huge.bin").c_str()), 0);
  XetRecord rec;
  rec.size = size;
  rec.file_hash.bytes.fill(0x44);
  xet::MerkleHash xorb;
  xorb.bytes.fill(0x33);
  rec.segments.push_back({xorb, 0, std::vector<std::uint32_t>(chunks, chunk)});
  ASSERT_TRUE(write_xet_record(layout, etag, rec));
  make();
  auto head = get("/org/tiny/resolve/main/huge.bin", {}, "HEAD");
  EXPECT_EQ(head.header("X-Xet-Hash").value_or(""), rec.file_hash.hex());
  EXPECT_EQ(head.header("X-Linked-Size").value_or(""), std::to_string(size));
  const std::uint64_t tail = 200'000;
  auto r = reconstruction(rec.file_hash.hex(), token(), "bytes=" + std::to_string(size - tail) + "-" + std::to_string(size - 1));
  ASSERT_EQ(r.status, 200) << r.body;
  auto parsed = xet::parse_reconstruction(r.body, 2);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_FALSE(parsed->terms.empty());
  EXPECT_EQ(parsed->terms.front().range.start, chunks - 2);  // the last 200,000 bytes span two chunks
  EXPECT_EQ(parsed->terms.back().range.end, chunks);
  EXPECT_TRUE(reassemble(*parsed, tail) == std::string(tail, '\0'));
}

}  // namespace
}  // namespace hubcache::test

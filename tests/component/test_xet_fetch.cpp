// transfer::fetch_xet against the test hub's Xet CAS (hub_server.hpp XetFault): real xorbs with
// every chunk type, v1 fallback, token refresh, expired xorb URLs, hostile answers, resume (by
// Xet and by the plain engine), chunks held locally, and the parallel GETs' bounds.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/http/http.hpp"
#include "hubcache/transfer/engine.hpp"
#include "hubcache/transfer/xet_fetch.hpp"
#include "hubcache/util/hash.hpp"
#include "retry_seams.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
using namespace hubcache::test;
using namespace hubcache::transfer;
using namespace std::chrono_literals;

namespace {

const RepoRef k_repo{RepoType::Model, "org/xet"};

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Text-like bytes LZ4 shrinks (varied enough for content-defined chunk boundaries).
std::string compressible_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) s += "row " + std::to_string(rng() % 1000) + ": weight=" + std::to_string(rng() % 97) + " ok\n";
  s.resize(n);
  return s;
}

// 1.5 MiB random, 2 MiB compressible, 1 MiB random: about 70 chunks on ~5 xorbs of 16.
std::string make_content(unsigned seed) {
  return random_bytes(3u << 19, seed) + compressible_bytes(2u << 20, seed + 1) + random_bytes(1u << 20, seed + 2);
}

struct XetFetch : ::testing::Test {
  HubServer server;
  TempDir dir;
  http::Client client;
  std::string commit = commit_id(7);
  std::string content = make_content(11);
  std::string sha = sha256_hex(content);
  std::mutex token_mutex;
  std::optional<xet::XetToken> cached;
  int token_calls = 0, token_refreshes = 0;
  http::detail::ScopedRetryDelayMap delay_map{[](std::chrono::milliseconds) { return 1ms; }};

  void SetUp() override {
    server.add_file(k_repo, commit, "model.bin", content, /*lfs=*/true);
    server.set_ref(k_repo, "main", commit);
    server.set_xet(true);
  }

  // The token route of the test hub, cached unless a refresh is asked for.
  Result<xet::XetToken> token(bool refresh) {
    std::lock_guard lock(token_mutex);
    ++token_calls;
    if (refresh) ++token_refreshes;
    if (cached && !refresh) return *cached;
    http::Request req;
    req.url = server.endpoint() + "/api/models/" + k_repo.id + "/xet-read-token/" + commit;
    auto r = client.perform(req);
    if (!r) return fail(std::move(r).error());
    if (r->status != 200) return fail(ErrorCode::Unauthorized, "token route answered " + std::to_string(r->status));
    auto t = xet::parse_xet_token(r->body);
    if (t) cached = *t;
    return t;
  }

  XetJob job(const std::string& name, const std::string& bytes) {
    XetJob j;
    j.file_hash = server.xet_hash(sha256_hex(bytes));
    j.size = bytes.size();
    j.sha256 = sha256_hex(bytes);
    j.parts_path = dir / (name + ".parts.incomplete");
    j.parts_state_path = dir / (name + ".parts.state");
    j.token = [this](bool refresh) { return token(refresh); };
    return j;
  }
  // Xorbs of 4 chunks (about 18 ranges for the file) answered at `rate` bytes/s per connection.
  void small_xorbs(std::uint64_t rate) {
    XetCasOptions cas;
    cas.xorb_chunks = 4;
    server.set_xet_options(cas);
    server.set_throttle(rate);
  }
  XetOptions options() {
    XetOptions o;
    o.idle_timeout = 3000ms;
    o.max_retries = 1;
    return o;
  }
  // Waits until the server answers nothing (an aborted run's last answers may still be sent); the
  // client's idle pooled connections stay open, so HubServer::wait_idle would not do.
  bool settled() {
    for (int i = 0; i < 1000; ++i) {
      if (server.in_flight() == 0) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  // Bytes the state record says are present from the start (0 without a valid record).
  std::uint64_t recorded(const XetJob& j) {
    struct stat st {};
    if (::stat(j.parts_path.c_str(), &st) != 0) return 0;
    auto p = read_split_progress(j.parts_state_path, j.size, j.sha256, st.st_ino);
    return p ? p->present_from(0) : 0;
  }
};

bool same_segments(const std::vector<xet::Segment>& a, const std::vector<xet::Segment>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].xorb != b[i].xorb || a[i].first_chunk != b[i].first_chunk || a[i].chunk_sizes != b[i].chunk_sizes) return false;
  return true;
}

TEST_F(XetFetch, AMultiMegabyteFileOfEveryChunkTypeArrivesIdentical) {
  const auto types = server.xet_chunk_types();
  EXPECT_GT(types[0], 0) << "None";
  EXPECT_GT(types[1], 0) << "LZ4";
  EXPECT_GT(types[2], 0) << "BG4";
  const auto terms = server.xet_terms(sha);
  ASSERT_GE(terms.size(), 3u);
  auto j = job("model.bin", content);
  auto r = fetch_xet(client, j, options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, j.parts_path);
  EXPECT_TRUE(r->hashed_while_fetching);  // no second read of the file
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_TRUE(same_segments(r->segments, terms));
  EXPECT_EQ(r->api_version, 2);
  EXPECT_EQ(r->reconstructions, 1u);
  EXPECT_EQ(r->resumed_bytes, 0u);
  EXPECT_EQ(r->local_bytes, 0u);
  // Every listed xorb byte fetched once, compression saving some of the file's size.
  EXPECT_EQ(server.body_bytes("/cas/xorbs/"), server.xet_fetch_bytes(sha));
  EXPECT_EQ(r->downloaded, server.xet_fetch_bytes(sha));
  EXPECT_LT(r->downloaded, content.size());
  EXPECT_EQ(server.count("GET", "/cas/v2/reconstructions/"), 1);
  EXPECT_EQ(server.count("GET", "/cas/v1/"), 0);
  EXPECT_FALSE(exists(j.parts_state_path));
  for (const auto& req : server.requests())
    if (req.path.rfind("/cas/xorbs/", 0) == 0) {
      EXPECT_EQ(req.status, 206);
      EXPECT_FALSE(req.had_auth) << "the CAS token sent to a signed URL";
      EXPECT_EQ(req.range.find(','), std::string::npos) << "one range per GET";
    }
}

TEST_F(XetFetch, ChunksRepeatedInsideTheFileAreFetchedOnce) {
  // X Y X: the second X's terms reference the first's chunks (one fetch range serves both).
  const std::string x = random_bytes(900000, 21), y = compressible_bytes(700000, 22);
  const std::string c = x + y + x;
  server.add_file(k_repo, commit, "rep.bin", c, /*lfs=*/true);
  const auto terms = server.xet_terms(sha256_hex(c));
  std::map<std::pair<xet::MerkleHash, std::uint32_t>, int> uses;
  for (const auto& t : terms)
    for (std::uint32_t i = 0; i < t.chunk_sizes.size(); ++i) ++uses[{t.xorb, t.first_chunk + i}];
  ASSERT_TRUE(std::any_of(uses.begin(), uses.end(), [](const auto& u) { return u.second > 1; }));
  server.clear_requests();
  auto r = fetch_xet(client, job("rep.bin", c), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), c);
  EXPECT_TRUE(same_segments(r->segments, terms));
  EXPECT_EQ(server.body_bytes("/cas/xorbs/"), server.xet_fetch_bytes(sha256_hex(c)));
  EXPECT_LT(server.body_bytes("/cas/xorbs/"), x.size() + y.size() + 65536);
}

TEST_F(XetFetch, AnEmptyFileNeedsNoXorb) {
  server.add_file(k_repo, commit, "empty.bin", "", /*lfs=*/true);
  EXPECT_EQ(server.xet_hash(sha256_hex("")), std::string(64, '0'));
  auto r = fetch_xet(client, job("empty.bin", ""), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), "");
  EXPECT_EQ(server.count("GET", "/cas/xorbs/"), 0);
}

TEST_F(XetFetch, TheTestHubAdvertisesTheRealXetHash) {
  http::Request req;
  req.method = http::Method::Head;
  req.url = server.endpoint() + "/org/xet/resolve/main/model.bin";
  auto r = client.perform(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers.get("X-Xet-Hash").value_or(""), server.xet_hash(sha));
  const std::string link = r->headers.get("Link").value_or("");
  EXPECT_NE(link.find(server.xet_cas_url() + "/v1/reconstructions/" + server.xet_hash(sha)), std::string::npos) << link;
  EXPECT_NE(link.find("/api/models/org/xet/xet-read-token/" + commit), std::string::npos) << link;
  // Without a token, or with a made-up one, CAS refuses.
  http::Request cas;
  cas.url = server.xet_cas_url() + "/v2/reconstructions/" + server.xet_hash(sha);
  EXPECT_EQ(client.perform(cas)->status, 401);
  cas.headers.set("Authorization", "Bearer xet_madeup");
  EXPECT_EQ(client.perform(cas)->status, 401);
}

TEST_F(XetFetch, V1IsUsedWhenV2IsMissing) {
  server.set_xet_fault(XetFault::V2NotFound);
  auto r = fetch_xet(client, job("model.bin", content), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->api_version, 1);
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_EQ(server.count("GET", "/cas/v2/reconstructions/"), 1);
  EXPECT_EQ(server.count("GET", "/cas/v1/reconstructions/"), 1);
}

TEST_F(XetFetch, AnExpiredTokenIsRefreshedOn401) {
  server.set_xet_fault(XetFault::TokenExpiresAfterUses, 0);
  auto r = fetch_xet(client, job("model.bin", content), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_EQ(token_refreshes, 1);
  EXPECT_EQ(server.xet_tokens_issued(), 2);
  int refused = 0;
  for (const auto& req : server.requests())
    if (req.path.find("/reconstructions/") != std::string::npos && req.status == 401) ++refused;
  EXPECT_EQ(refused, 1);
}

TEST_F(XetFetch, ATokenPastItsExpIsRefusedAndRefreshed) {
  ASSERT_TRUE(token(false));                    // cached by the callback, as a client would
  server.advance_clock(std::chrono::hours(2));  // its exp is an hour after issue
  auto r = fetch_xet(client, job("model.bin", content), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(token_refreshes, 1);
  EXPECT_EQ(read_file(r->path), content);
}

TEST_F(XetFetch, AnExpiredXorbUrlBringsAFreshReconstruction) {
  server.set_xet_fault(XetFault::ExpiredXorbUrl);
  auto r = fetch_xet(client, job("model.bin", content), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_EQ(r->reconstructions, 2u);
  EXPECT_EQ(server.count("GET", "/reconstructions/"), 2);
}

TEST_F(XetFetch, TheFreshReconstructionAfter403RefreshesAnUsedUpToken) {
  // The first token serves one reconstruction; the second one, after the expired URL, needs a new token.
  server.set_xet_fault(XetFault::TokenExpiresAfterUses, 1);
  server.add_xet_fault(XetFault::ExpiredXorbUrl);
  auto r = fetch_xet(client, job("model.bin", content), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_EQ(r->reconstructions, 2u);
  EXPECT_EQ(token_refreshes, 1);
  EXPECT_EQ(server.xet_tokens_issued(), 2);
}

struct Hostile {
  XetFault fault;
  ErrorCode code;
  std::string names;  // a piece of the message
};

TEST_F(XetFetch, EveryHostileAnswerFailsClearlyAndLeavesNothingClaimingSuccess) {
  const std::vector<Hostile> modes = {
      {XetFault::OversizedChunkHeader, ErrorCode::Integrity, "131073 payload"},
      {XetFault::ChunkDecodesShort, ErrorCode::Integrity, "LZ4"},
      {XetFault::ChunkDecodesLong, ErrorCode::Integrity, "LZ4"},
      {XetFault::WrongUnpackedLength, ErrorCode::Integrity, "decodes"},  // first or last term, by timing
      {XetFault::TermPastXorb, ErrorCode::Integrity, "fetch"},
      {XetFault::NonHexHash, ErrorCode::Integrity, "hex"},
      {XetFault::WrongBytePlain, ErrorCode::Integrity, "SHA-256"},
      {XetFault::TruncatedXorb, ErrorCode::Network, ""},
  };
  const auto types = server.xet_chunk_types();
  ASSERT_GT(types[1], 0);
  ASSERT_GT(types[0], 0);
  for (const auto& m : modes) {
    SCOPED_TRACE(static_cast<int>(m.fault));
    server.set_xet_fault(m.fault);
    auto j = job("model.bin", content);
    auto r = fetch_xet(client, j, options());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, m.code) << r.error().message;
    EXPECT_NE(r.error().message.find(m.names), std::string::npos) << r.error().message;
    if (m.code == ErrorCode::Integrity) {
      EXPECT_FALSE(exists(j.parts_path)) << r.error().message;
      EXPECT_FALSE(exists(j.parts_state_path));
    } else {
      EXPECT_LT(recorded(j), j.size);  // resumable, never claiming the whole file
    }
    ::unlink(j.parts_path.c_str());
    ::unlink(j.parts_state_path.c_str());
    ASSERT_TRUE(settled());
  }
}

TEST_F(XetFetch, AReconstructionOfAnotherSizeIsRefusedBeforeAnyXorb) {
  auto j = job("model.bin", content);
  j.size += 1;  // the answer's terms add up to the file's real size
  auto r = fetch_xet(client, j, options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity);
  EXPECT_NE(r.error().message.find("adds up to"), std::string::npos) << r.error().message;
  EXPECT_FALSE(exists(j.parts_path));
  EXPECT_EQ(server.count("GET", "/cas/xorbs/"), 0);
}

TEST_F(XetFetch, ATruncatedXorbNamesTheXorb) {
  server.set_xet_fault(XetFault::TruncatedXorb);
  auto j = job("model.bin", content);
  auto r = fetch_xet(client, j, options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Network);
  EXPECT_NE(r.error().message.find("xorb"), std::string::npos) << r.error().message;
  EXPECT_GE(server.count("GET", "/cas/xorbs/"), 2);  // retried once (max_retries 1)
}

TEST_F(XetFetch, AnInterruptedDownloadResumesWithFewerXorbBytes) {
  server.set_xet_fault(XetFault::CutXorbsAfter, 2);
  auto o = options();
  o.max_parallel = 1;
  o.max_retries = 0;
  auto j = job("model.bin", content);
  auto first = fetch_xet(client, j, o);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, ErrorCode::Network) << first.error().message;
  EXPECT_GT(recorded(j), 0u);
  EXPECT_LT(recorded(j), j.size);
  ASSERT_TRUE(settled());
  server.set_xet_fault(XetFault::None);
  server.clear_requests();
  auto r = fetch_xet(client, j, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_GT(r->resumed_bytes, 0u);
  EXPECT_GT(server.body_bytes("/cas/xorbs/"), 0u);
  EXPECT_LT(server.body_bytes("/cas/xorbs/"), server.xet_fetch_bytes(sha));
  EXPECT_EQ(r->downloaded, server.body_bytes("/cas/xorbs/"));
  // The resumed terms' chunk sizes come from chunking the verified file: the segments (for the
  // Xet record, so the next revision can reuse this one) are those of an uninterrupted download.
  ASSERT_FALSE(r->segments.empty());
  const auto resumed_segments = r->segments;
  j.restart = true;
  auto whole = fetch_xet(client, j, o);
  ASSERT_TRUE(whole) << whole.error().message;
  EXPECT_TRUE(same_segments(resumed_segments, whole->segments));
}

TEST_F(XetFetch, ThePlainEngineResumesAXetDownload) {
  server.set_xet_fault(XetFault::CutXorbsAfter, 2);
  auto o = options();
  o.max_parallel = 1;
  o.max_retries = 0;
  auto xj = job("model.bin", content);
  ASSERT_FALSE(fetch_xet(client, xj, o));
  const std::uint64_t had = recorded(xj);
  ASSERT_GT(had, 0u);
  ASSERT_TRUE(settled());
  server.clear_requests();
  EngineOptions eo;
  eo.idle_timeout = 3000ms;
  eo.split_threshold = 1u << 20;
  eo.part_size = 256u << 10;
  Engine engine(eo);
  Job ej;
  ej.url = server.endpoint() + "/org/xet/resolve/main/model.bin";
  ej.temp_path = dir / "model.bin.incomplete";
  ej.parts_path = xj.parts_path;
  ej.parts_state_path = xj.parts_state_path;
  ej.size = content.size();
  ej.hash = DigestKind::Sha256;
  ej.digest = sha;
  auto r = engine.download(ej);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_GE(r->reused, had);
  EXPECT_GT(server.body_bytes("/cdn/"), 0u);
  EXPECT_LE(server.body_bytes("/cdn/"), content.size() - had);
}

TEST_F(XetFetch, XetResumesADownloadTheEngineLeft) {
  // The engine stops after 2.5 MiB written by its one fast stream (ranges of 256 KiB in order).
  std::atomic<std::uint64_t> budget{5u << 19};
  EngineOptions eo;
  eo.idle_timeout = 3000ms;
  eo.split_threshold = 1u << 20;
  eo.part_size = 256u << 10;
  eo.parallel_below_rate = 1;              // any stream is fast enough...
  eo.rate_window = std::chrono::hours(1);  // ...so one stream writes a prefix
  eo.write_fn = [&](int fd, const void* d, std::size_t n, off_t off) -> ssize_t {
    if (budget.load() < n) {
      errno = EIO;
      return -1;
    }
    budget -= n;
    return ::pwrite(fd, d, n, off);
  };
  auto xj = job("model.bin", content);
  Job ej;
  ej.url = server.endpoint() + "/org/xet/resolve/main/model.bin";
  ej.temp_path = dir / "model.bin.incomplete";
  ej.parts_path = xj.parts_path;
  ej.parts_state_path = xj.parts_state_path;
  ej.size = content.size();
  ej.hash = DigestKind::Sha256;
  ej.digest = sha;
  {
    Engine engine(eo);
    auto e = engine.download(ej);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, ErrorCode::Io);
  }
  ASSERT_TRUE(exists(xj.parts_state_path));
  const std::uint64_t had = recorded(xj);
  ASSERT_GT(had, 1u << 20);  // more than a term
  ASSERT_TRUE(settled());
  server.clear_requests();
  auto r = fetch_xet(client, xj, options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_GT(r->resumed_bytes, 0u);
  EXPECT_LE(r->resumed_bytes, had);  // whole terms only
  EXPECT_LT(server.body_bytes("/cas/xorbs/"), server.xet_fetch_bytes(sha));
}

TEST_F(XetFetch, CancellingKeepsTheDataResumable) {
  server.set_throttle(2u << 20);
  CancelToken cancel;
  auto o = options();
  o.cancel = &cancel;
  o.max_parallel = 2;
  auto j = job("model.bin", content);
  std::thread stopper([&] {
    while (server.body_bytes("/cas/xorbs/") < (1u << 20)) std::this_thread::sleep_for(1ms);
    cancel.cancel();
  });
  auto r = fetch_xet(client, j, o);
  stopper.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Cancelled) << r.error().message;
  EXPECT_TRUE(exists(j.parts_path));
  EXPECT_LT(recorded(j), j.size);
  ASSERT_TRUE(settled());
  server.set_throttle(0);
  auto again = fetch_xet(client, j, options());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(read_file(again->path), content);
}

TEST_F(XetFetch, AXorbServerIgnoringRangeIsRefused) {
  // B is A without its first 700000 bytes: B's terms start inside A's xorbs, so a 200 with a
  // whole xorb is not the range asked for.
  ASSERT_FALSE(server.xet_hash(sha).empty());  // A packed first
  const std::string b = content.substr(700000);
  server.add_file(k_repo, commit, "b.bin", b, /*lfs=*/true);
  server.add_fault(Fault::body(FaultKind::IgnoreRange, "GET", "/cas/xorbs/", 0, -1));
  auto j = job("b.bin", b);
  auto r = fetch_xet(client, j, options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity) << r.error().message;
  EXPECT_NE(r.error().message.find("more than"), std::string::npos) << r.error().message;
  EXPECT_FALSE(exists(j.parts_path));
}

TEST_F(XetFetch, TheTestCasAnswersARangeOfTheFile) {
  auto t = token(false);
  ASSERT_TRUE(t);
  http::Request req;
  req.url = t->cas_url + "/v2/reconstructions/" + server.xet_hash(sha);
  req.headers.set("Authorization", "Bearer " + t->access_token);
  req.headers.set("Range", "bytes=2000000-2000999");
  auto resp = client.perform(req);
  ASSERT_TRUE(resp);
  ASSERT_EQ(resp->status, 200) << resp->body;
  auto recon = xet::parse_reconstruction(resp->body, 2);
  ASSERT_TRUE(recon) << recon.error().message;
  ASSERT_FALSE(recon->terms.empty());
  // The first term starts at or before byte 2000000, by offset_into_first_range.
  std::uint64_t at = 0;
  for (const auto& s : server.xet_terms(sha)) {
    if (s.xorb == recon->terms[0].xorb && s.first_chunk == recon->terms[0].range.start) break;
    at += s.bytes();
  }
  EXPECT_EQ(at + recon->offset_into_first_range, 2000000u);
  req.headers.set("Range", "bytes=" + std::to_string(content.size()) + "-");
  EXPECT_EQ(client.perform(req)->status, 416);
}

TEST_F(XetFetch, ChunksHeldLocallyAreCopiedNotFetched) {
  auto ja = job("a.bin", content);
  auto a = fetch_xet(client, ja, options());
  ASSERT_TRUE(a) << a.error().message;
  // B: A with 20 KB changed in the middle and 10 KB appended; added after A, so its CAS terms
  // reference A's xorbs wherever the chunks are the same.
  std::string b = content;
  const std::string patch = random_bytes(20000, 99);
  b.replace(2500000, patch.size(), patch);
  b += random_bytes(10000, 98);
  server.add_file(k_repo, commit, "b.bin", b, /*lfs=*/true);
  ASSERT_TRUE(settled());
  server.clear_requests();
  // Where each chunk of A's xorbs sits in A (from A's segments).
  struct Where {
    std::uint64_t offset;
    std::uint32_t size;
  };
  std::map<std::pair<xet::MerkleHash, std::uint32_t>, Where> in_a;
  std::uint64_t at = 0;
  for (const auto& s : a->segments)
    for (std::size_t i = 0; i < s.chunk_sizes.size(); ++i) {
      in_a[{s.xorb, s.first_chunk + static_cast<std::uint32_t>(i)}] = {at, s.chunk_sizes[i]};
      at += s.chunk_sizes[i];
    }
  int asked = 0;
  auto jb = job("b.bin", b);
  jb.local = [&](const xet::Term& t) -> std::optional<LocalTermSource> {
    ++asked;
    LocalTermSource src;
    src.path = a->path;
    for (std::uint32_t c = t.range.start; c < t.range.end; ++c) {
      auto it = in_a.find({t.xorb, c});
      if (it == in_a.end()) return std::nullopt;
      if (c == t.range.start)
        src.offset = it->second.offset;
      else if (it->second.offset != src.offset + [&] {
                 std::uint64_t n = 0;
                 for (auto z : src.chunk_sizes) n += z;
                 return n;
               }())
        return std::nullopt;  // not contiguous in A
      src.chunk_sizes.push_back(it->second.size);
    }
    return src;
  };
  auto r = fetch_xet(client, jb, options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), b);
  EXPECT_GT(asked, 0);
  EXPECT_GT(r->local_bytes, b.size() * 9 / 10);
  const std::uint64_t fetched = server.body_bytes("/cas/xorbs/");
  EXPECT_GT(fetched, 0u);  // the changed and appended chunks
  EXPECT_LT(fetched, server.xet_fetch_bytes(sha256_hex(b)) / 10) << fetched;
  EXPECT_EQ(r->downloaded, fetched);
}

TEST_F(XetFetch, TheMemoryBudgetBoundsTheParallelGets) {
  server.set_throttle(4u << 20);  // slow enough that GETs overlap
  auto o = options();
  o.max_parallel = 8;
  o.memory_budget = 2u << 20;  // about 1 MiB per GET: two at once
  server.clear_requests();
  auto r = fetch_xet(client, job("model.bin", content), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_LE(server.peak_in_flight(), 2);
  EXPECT_EQ(server.peak_in_flight(), 2);
}

TEST_F(XetFetch, MaxParallelBoundsTheParallelGets) {
  server.set_throttle(4u << 20);
  auto o = options();
  o.max_parallel = 3;
  auto j = job("model.bin", content);
  j.restart = true;
  server.clear_requests();
  auto r = fetch_xet(client, j, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_LE(server.peak_in_flight(), 3);
  EXPECT_GE(server.peak_in_flight(), 2);
  o.max_parallel = 1;
  server.clear_requests();
  r = fetch_xet(client, j, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(server.peak_in_flight(), 1);
}

TEST_F(XetFetch, ParallelGetsGrowWhileEachOneAddsThroughput) {
  // A per-connection cap (as on a CDN): each GET more adds throughput, so the GETs grow from
  // initial_parallel towards max_parallel, one per window.
  small_xorbs(2u << 20);
  auto o = options();
  o.max_parallel = 6;
  o.initial_parallel = 1;
  o.rate_window = 100ms;
  server.clear_requests();
  auto r = fetch_xet(client, job("model.bin", content), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_GE(r->peak_parallel, 4u);
  EXPECT_LE(r->peak_parallel, 6u);
  EXPECT_LE(server.peak_in_flight(), 6);
  EXPECT_EQ(r->parallel_cuts, 0u);
}

TEST_F(XetFetch, ParallelGetsStartAtTheInitialCountAndHoldWithoutGain) {
  // initial_parallel >= max_parallel fixes the count; a window longer than the whole transfer
  // never steps up.
  small_xorbs(8u << 20);
  auto o = options();
  o.max_parallel = 3;
  o.initial_parallel = 3;
  auto r = fetch_xet(client, job("fixed.bin", content), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->peak_parallel, 3u);
  o.max_parallel = 6;
  o.initial_parallel = 2;
  o.rate_window = 60s;
  auto j = job("held.bin", content);
  j.restart = true;
  r = fetch_xet(client, j, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_EQ(r->peak_parallel, 2u);
}

TEST_F(XetFetch, ARetryableFailureHalvesTheParallelGets) {
  small_xorbs(4u << 20);
  server.add_fault(Fault::http_status("GET", "/cas/xorbs/", 503, 2));
  auto o = options();
  o.max_retries = 3;
  o.max_parallel = 4;
  o.initial_parallel = 4;
  auto r = fetch_xet(client, job("model.bin", content), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_EQ(r->parallel_cuts, 2u);
}

// A CAS edge at its connection limit for this client closes each further connection unanswered
// (as for the engine's ranges, test_transfer_split.cpp). The refused GETs wait for a free
// connection instead of failing the file: with max_retries 1 and retry waits of 1 ms, counting
// each refusal as a failed attempt failed the file.
TEST_F(XetFetch, XorbGetsRefusedAtTheServersConnectionLimitWaitForAFreeConnection) {
  small_xorbs(0);
  RealHubOptions real;
  real.cdn_max_connections = 2;
  real.rate_bytes_per_second = 2u << 20;  // the GETs overlap long enough to meet the limit
  server.set_real_hub(real);
  auto o = options();
  o.max_retries = 1;
  o.max_parallel = 6;
  o.initial_parallel = 6;
  auto r = fetch_xet(client, job("model.bin", content), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(server.cdn_refused(), 0);  // the limit was met
  EXPECT_EQ(read_file(r->path), content);
  EXPECT_GE(r->parallel_cuts, 1u);
}

// The same rule cannot wait forever: when every GET fails, the last one in flight spends its
// retries and the file fails, naming the answer.
TEST_F(XetFetch, XorbGetsThatAllFailStillFailTheFile) {
  small_xorbs(0);
  server.add_fault(Fault::http_status("GET", "/cas/xorbs/", 503, -1));
  auto o = options();
  o.max_retries = 2;
  o.max_parallel = 4;
  o.initial_parallel = 4;
  auto r = fetch_xet(client, job("model.bin", content), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("HTTP 503"), std::string::npos) << r.error().message;
}

}  // namespace

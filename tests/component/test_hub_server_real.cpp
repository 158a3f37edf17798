// The test hub's real-Hub mode (HubServer::set_real_hub) behaves like huggingface.co and its
// S3/CloudFront CDN, checked with libcurl directly (no project client in between).
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/util/hash.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};
const RepoRef k_data{RepoType::Dataset, "org/data"};

struct Resp {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, last value wins
  std::string body;
  std::string h(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Call {
  std::string method = "GET";
  std::vector<std::string> headers;     // "Name: value"
  std::function<void()> on_first_body;  // runs once, when the first body bytes arrive
};

size_t on_header(char* d, size_t s, size_t n, void* u) {
  std::string line(d, s * n);
  const auto c = line.find(':');
  if (c != std::string::npos) {
    std::string name = line.substr(0, c), value = line.substr(c + 1);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    static_cast<Resp*>(u)->headers[name] = value;
  }
  return s * n;
}

struct BodySink {
  Resp* r;
  Call* call;
};
size_t on_body(char* d, size_t s, size_t n, void* u) {
  auto* sink = static_cast<BodySink*>(u);
  if (sink->call->on_first_body) {
    sink->call->on_first_body();
    sink->call->on_first_body = nullptr;
  }
  sink->r->body.append(d, s * n);
  return s * n;
}

Call head(std::vector<std::string> headers = {}) { return Call{"HEAD", std::move(headers), {}}; }
Call get(std::vector<std::string> headers = {}, std::function<void()> on_first_body = {}) {
  return Call{"GET", std::move(headers), std::move(on_first_body)};
}
RealHubOptions real(std::chrono::seconds expiry, std::chrono::milliseconds latency = {}, std::uint64_t rate = 0) {
  RealHubOptions o;
  o.url_expiry = expiry;
  o.latency = latency;
  o.rate_bytes_per_second = rate;
  return o;
}

// One request, redirects not followed.
Resp fetch(const std::string& url, Call call = get()) {
  Resp r;
  BodySink sink{&r, &call};
  CURL* c = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& x : call.headers) list = curl_slist_append(list, x.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
  if (call.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  return r;
}

struct RealHub : ::testing::Test {
  HubServer server;
  std::string commit = commit_id(10);
  std::string weights = std::string(200000, 'w') + "tail";
  std::string config = "{\"model\": 1}";

  void SetUp() override {
    server.add_file(k_repo, commit, "model.safetensors", weights, /*lfs=*/true);
    server.add_file(k_repo, commit, "config.json", config);
    server.add_file(k_repo, commit, "sub dir/notes.txt", "notes");
    server.set_ref(k_repo, "main", commit);
    server.add_file(k_data, commit, "data.csv", "a,b\n1,2\n");
    server.set_ref(k_data, "main", commit);
    server.set_real_hub({});
  }
  std::string resolve(const std::string& path) const { return server.endpoint() + "/org/model/resolve/main/" + path; }
  // The signed CDN URL a resolve answers with (a fresh one per call).
  std::string cdn_url() const { return fetch(resolve("model.safetensors"), head()).h("location"); }
};

}  // namespace

TEST_F(RealHub, LfsResolveRedirectsToAnotherOriginWithLinkedHeaders) {
  const Resp r = fetch(resolve("model.safetensors"), head());
  EXPECT_EQ(r.status, 302);
  const std::string cdn = "http://127.0.0.1:" + std::to_string(server.cdn_port()) + "/cdn/" + sha256_hex(weights) + "?";
  EXPECT_EQ(r.h("location").rfind(cdn, 0), 0u) << r.h("location");
  EXPECT_NE(r.h("location").find("X-Amz-Expires=3600"), std::string::npos);
  EXPECT_NE(r.h("location").find("X-Amz-Signature="), std::string::npos);
  EXPECT_EQ(r.h("x-linked-etag"), "\"" + sha256_hex(weights) + "\"");
  EXPECT_EQ(r.h("x-linked-size"), std::to_string(weights.size()));
  EXPECT_EQ(r.h("x-repo-commit"), commit);
  EXPECT_NE(r.h("content-length"), std::to_string(weights.size()));  // the redirect's own body
  EXPECT_NE(cdn_url(), cdn_url());                                   // each answer signs a fresh URL
}

TEST_F(RealHub, CdnEtagIsItsOwnNotTheSha256) {
  const Resp r = fetch(cdn_url());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, weights);
  const std::string etag = r.h("etag");
  EXPECT_EQ(etag, "\"" + server.cdn_etag(sha256_hex(weights)) + "\"");
  EXPECT_EQ(etag.size(), 34u);  // quoted md5 hex
  EXPECT_EQ(etag.find(sha256_hex(weights)), std::string::npos);
  EXPECT_EQ(etag.find(git_blob_sha1_hex(weights)), std::string::npos);
  EXPECT_EQ(r.h("last-modified"), server.cdn_last_modified());
  EXPECT_EQ(r.h("accept-ranges"), "bytes");
}

TEST_F(RealHub, CdnHonoursIfRangeOnlyWithItsOwnValidators) {
  const std::string range = "Range: bytes=100-";
  // The Hub's SHA-256 is no validator of the CDN: the whole body, 200 (RFC 9110 13.1.5, S3).
  Resp r = fetch(cdn_url(), get({range, "If-Range: \"" + sha256_hex(weights) + "\""}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, weights);
  EXPECT_EQ(r.h("content-range"), "");
  // Its own ETag, or its Last-Modified date: the range, 206.
  const std::string etag = "\"" + server.cdn_etag(sha256_hex(weights)) + "\"";
  r = fetch(cdn_url(), get({range, "If-Range: " + etag}));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, weights.substr(100));
  EXPECT_EQ(r.h("content-range"), "bytes 100-" + std::to_string(weights.size() - 1) + "/" + std::to_string(weights.size()));
  r = fetch(cdn_url(), get({range, "If-Range: " + server.cdn_last_modified()}));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, weights.substr(100));
  // No If-Range: the range.
  r = fetch(cdn_url(), get({range}));
  EXPECT_EQ(r.status, 206);
  // The log keeps what was sent, per listener.
  const auto log = server.requests();
  int with_sha = 0;
  for (const auto& rec : log) {
    if (rec.if_range == "\"" + sha256_hex(weights) + "\"") {
      ++with_sha;
      EXPECT_TRUE(rec.cdn);
      EXPECT_EQ(rec.status, 200);
      EXPECT_EQ(rec.body_bytes, weights.size());
      EXPECT_EQ(rec.range, "bytes=100-");
    }
  }
  EXPECT_EQ(with_sha, 1);
}

TEST_F(RealHub, ExpiredOrTamperedUrlIsDenied) {
  server.set_real_hub(real(std::chrono::seconds(2)));
  const std::string url = cdn_url();
  EXPECT_NE(url.find("X-Amz-Expires=2&"), std::string::npos) << url;
  EXPECT_EQ(fetch(url).status, 200);
  std::string tampered = url;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  Resp t = fetch(tampered);
  EXPECT_EQ(t.status, 403);
  EXPECT_NE(t.body.find("<Code>SignatureDoesNotMatch</Code>"), std::string::npos) << t.body;
  server.advance_clock(std::chrono::seconds(3));
  Resp e = fetch(url);
  EXPECT_EQ(e.status, 403);
  EXPECT_EQ(e.h("content-type"), "application/xml");
  EXPECT_NE(e.body.find("<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"), std::string::npos) << e.body;
  EXPECT_EQ(e.body.find(weights.substr(0, 16)), std::string::npos);
  // A new resolve signs a URL valid from the (moved) clock on.
  EXPECT_EQ(fetch(cdn_url()).status, 200);
  // The Hub listener does not serve CDN paths, nor the CDN Hub paths.
  EXPECT_EQ(fetch(server.endpoint() + url.substr(url.find("/cdn/"))).status, 404);
  EXPECT_EQ(fetch("http://127.0.0.1:" + std::to_string(server.cdn_port()) + "/org/model/resolve/main/config.json").status, 404);
}

TEST_F(RealHub, ExpiryIsCheckedWhenARequestStartsNotDuringIt) {
  server.set_real_hub(real(std::chrono::seconds(1), {}, 400000));
  const std::string url = cdn_url();
  Resp r = fetch(url, get({}, [&] { server.advance_clock(std::chrono::seconds(10)); }));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, weights);         // the transfer under way continued
  EXPECT_EQ(fetch(url).status, 403);  // the next request with that URL did not
}

TEST_F(RealHub, LatencyIsAppliedOnBothListeners) {
  const auto latency = std::chrono::milliseconds(120);
  server.set_real_hub(real(std::chrono::seconds(3600), latency));
  const std::string url = cdn_url();
  for (const std::string& u : {resolve("config.json"), url}) {
    const auto t0 = std::chrono::steady_clock::now();
    const Resp r = fetch(u, head());
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(r.status == 307 || r.status == 200) << u << " " << r.status;
    EXPECT_GE(took, latency) << u;  // a lower bound only: the server slept before its head
  }
}

TEST_F(RealHub, SmallFileResolvesThroughRelativeRedirectToResolveCache) {
  const Resp r = fetch(resolve("config.json"), head());
  EXPECT_EQ(r.status, 307);
  const std::string loc = r.h("location");
  EXPECT_EQ(loc.rfind("/api/resolve-cache/models/org/model/" + commit + "/config.json?", 0), 0u) << loc;
  EXPECT_NE(loc.find("etag=%22" + git_blob_sha1_hex(config) + "%22"), std::string::npos) << loc;
  EXPECT_NE(loc.find("%2Forg%2Fmodel%2Fresolve%2Fmain%2Fconfig.json="), std::string::npos) << loc;
  EXPECT_EQ(r.h("x-repo-commit"), commit);
  EXPECT_EQ(r.h("etag"), "");  // the ETag comes with the resolve-cache answer
  // HEAD and GET at the relative Location.
  const Resp h = fetch(server.endpoint() + loc, head());
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.h("etag"), "\"" + git_blob_sha1_hex(config) + "\"");
  EXPECT_EQ(h.h("x-repo-commit"), commit);
  EXPECT_EQ(h.h("content-length"), std::to_string(config.size()));
  EXPECT_EQ(h.h("accept-ranges"), "bytes");
  const Resp g = fetch(server.endpoint() + loc);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, config);
  const Resp part = fetch(server.endpoint() + loc, get({"Range: bytes=2-6"}));
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, config.substr(2, 5));
  // Paths are encoded per segment; other repo types keep their plural.
  const Resp sp = fetch(resolve("sub%20dir/notes.txt"), head());
  EXPECT_EQ(sp.h("location").rfind("/api/resolve-cache/models/org/model/" + commit + "/sub%20dir/notes.txt?", 0), 0u);
  EXPECT_EQ(fetch(server.endpoint() + sp.h("location")).body, "notes");
  const Resp ds = fetch(server.endpoint() + "/datasets/org/data/resolve/main/data.csv", head());
  EXPECT_EQ(ds.h("location").rfind("/api/resolve-cache/datasets/org/data/" + commit + "/data.csv?", 0), 0u);
  EXPECT_EQ(fetch(server.endpoint() + ds.h("location")).body, "a,b\n1,2\n");
}

TEST_F(RealHub, ResolveCacheKeepsRepoAccessRules) {
  server.set_private(k_repo, true);
  server.set_valid_token("hf_ok");
  const Resp r = fetch(resolve("config.json"), head({"Authorization: Bearer hf_ok"}));
  ASSERT_EQ(r.status, 307);
  EXPECT_EQ(fetch(server.endpoint() + r.h("location")).status, 401);
  const Resp ok = fetch(server.endpoint() + r.h("location"), get({"Authorization: Bearer hf_ok"}));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, config);
}

TEST(DefaultHub, KeepsItsKindBehaviour) {
  // Without set_real_hub the CDN's ETag is the SHA-256 and a small file is served in place.
  HubServer server;
  const std::string c = commit_id(3), w(5000, 'x');
  server.add_file(k_repo, c, "w.bin", w, true);
  server.add_file(k_repo, c, "a.txt", "a");
  server.set_ref(k_repo, "main", c);
  EXPECT_FALSE(server.real_hub());
  EXPECT_EQ(fetch(server.endpoint() + "/org/model/resolve/main/a.txt").status, 200);
  const Resp r = fetch(server.endpoint() + "/org/model/resolve/main/w.bin", head());
  const Resp cdn = fetch(r.h("location"), get({"Range: bytes=10-", "If-Range: \"" + sha256_hex(w) + "\""}));
  EXPECT_EQ(cdn.status, 206);
  EXPECT_EQ(cdn.h("etag"), "\"" + sha256_hex(w) + "\"");
}

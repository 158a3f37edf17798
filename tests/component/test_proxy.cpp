// The pull-through proxy (`hubcache serve --upstream`): a Downloader pointed at a proxy whose
// upstream is the test hub in real-Hub mode (LFS through signed, expiring CDN URLs on another
// origin, small files through the relative /api/resolve-cache/ 307).
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "download_fixture.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/proxy/proxy.hpp"
#include "hubcache/server/server.hpp"
#include "server_client.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

struct ProxyTest : DownloadFixture {
  std::string proxy_cache = dir / "proxy-cache";
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<server::Server> front;
  std::mutex log_mutex;
  std::vector<std::string> log_lines;

  void SetUp() override {
    DownloadFixture::SetUp();
    server.set_real_hub({});
    std::filesystem::create_directories(proxy_cache);
  }
  void TearDown() override {
    if (front) front->stop();
    proxy.reset();  // joins its background fills, which log into log_lines: before the members go
  }
  void start(const std::function<void(proxy::ProxyOptions&)>& tweak = {}) {
    proxy::ProxyOptions po;
    po.router.cache_dir = proxy_cache;
    po.upstream.endpoint = server.endpoint();
    po.upstream.download_timeout = std::chrono::seconds(5);
    po.log = [this](std::string_view line) {
      std::lock_guard lock(log_mutex);
      log_lines.emplace_back(line);
    };
    if (tweak) tweak(po);
    auto p = proxy::Proxy::create(std::move(po));
    ASSERT_TRUE(p) << p.error().message;
    proxy = std::move(*p);
    server::ServerOptions so;
    so.router.cache_dir = proxy_cache;
    so.port = 0;
    so.handler = [this](const server::Request& req) { return proxy->handle(req); };
    auto s = server::Server::start(std::move(so));
    ASSERT_TRUE(s) << s.error().message;
    front = std::move(*s);
  }
  // A client of the proxy, writing into its own cache.
  DownloadOptions client(const std::string& cache_dir) {
    DownloadOptions o;
    o.endpoint = front->url();
    o.cache_dir = cache_dir;
    o.download_timeout = std::chrono::seconds(5);
    return o;
  }
  std::string url(const std::string& path) const { return front->url() + path; }
};

TEST_F(ProxyTest, ACacheFilledThroughTheProxyEqualsADirectDownload) {
  start();
  const std::string through = dir / "through", direct = dir / "direct";
  std::filesystem::create_directories(through);
  std::filesystem::create_directories(direct);
  SnapshotRequest req;
  req.repo_id = k_model.id;
  auto via = Downloader(client(through)).snapshot_download(req);
  ASSERT_TRUE(via) << via.error().message;
  EXPECT_EQ(via->commit, c1);
  DownloadOptions d = options();
  d.cache_dir = direct;
  ASSERT_TRUE(Downloader(d).snapshot_download(req));

  const auto want = describe_tree(direct);
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(describe_tree(through), want);  // the client's cache, as if it had gone to the Hub
  // The client makes an empty file without asking for it (its size is listed); one client asks.
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/main/empty.txt")).status, 200);
  EXPECT_EQ(describe_tree(proxy_cache + "/models--org--model"), describe_tree(direct + "/models--org--model"))
      << "the proxy stores what it fetched exactly as a download would";
  EXPECT_EQ(read_file(RepoLayout(proxy_cache, k_model).blob_path(sha256_hex(weights))), weights);
  const auto n = proxy->counters();
  EXPECT_GT(n.misses, 0u);
}

// A proxy starts from an empty cache: a missing cache folder is made (the trial found `serve
// --upstream` refusing one); offline there is nothing to fill it with, so it stays an error.
TEST_F(ProxyTest, AMissingCacheFolderIsMadeUnlessOffline) {
  std::filesystem::remove_all(proxy_cache);
  proxy::ProxyOptions offline;
  offline.router.cache_dir = proxy_cache;
  offline.upstream.endpoint = server.endpoint();
  offline.offline = true;
  EXPECT_FALSE(proxy::Proxy::create(std::move(offline)));
  EXPECT_FALSE(std::filesystem::exists(proxy_cache));
  start();
  EXPECT_TRUE(std::filesystem::is_directory(proxy_cache));
  SnapshotRequest req;
  req.repo_id = k_model.id;
  auto r = Downloader(client(dir / "first")).snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path + "/model.safetensors"), weights);
}

TEST_F(ProxyTest, WhatTheCacheHoldsIsServedWithoutAskingTheUpstream) {
  start();
  SnapshotRequest req;
  req.repo_id = k_model.id;
  ASSERT_TRUE(Downloader(client(dir / "first")).snapshot_download(req));
  server.clear_requests();
  auto again = Downloader(client(dir / "second")).snapshot_download(req);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(server.requests().size(), 0u) << "within --revalidate a branch is not asked again, and files are cached";
  EXPECT_EQ(read_file(again->path + "/model.safetensors"), weights);
  // A commit is immutable: never asked again, whatever the revalidation delay.
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/" + c1 + "/config.json")).body, "{\"model\": 1}");
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST_F(ProxyTest, ABranchIsAskedAgainOnceRevalidateHasPassed) {
  start([](proxy::ProxyOptions& o) { o.revalidate = std::chrono::seconds(0); });
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).body, "{\"model\": 1}");
  const std::string c3 = commit_id(12);
  server.add_file(k_model, c3, "config.json", "{\"model\": 3}");
  server.set_ref(k_model, "main", c3);
  const auto r = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(r.body, "{\"model\": 3}");
  EXPECT_EQ(r.header("x-repo-commit"), c3);
  EXPECT_EQ(*resolve_commit(RepoLayout(proxy_cache, k_model), "main"), c3);
}

TEST_F(ProxyTest, SixteenClientsOnOneUncachedFileMakeOneUpstreamTransfer) {
  const std::string big(6u << 20, 'b');
  server.add_file(k_model, c1, "big.bin", big, /*lfs=*/true);
  server.set_throttle(8u << 20);  // ~0.75 s: every client arrives while it is fetched
  start();
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i)
    clients.emplace_back([&, i] {
      auto got = Downloader(client(dir / ("c" + std::to_string(i)))).download_file(file_request("big.bin"));
      if (got && read_file(got->path) == big) ++ok;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 16);
  int cdn_gets = 0;
  std::uint64_t cdn_bytes = 0;
  for (const auto& rec : server.requests())
    if (rec.cdn && rec.method == "GET") {
      ++cdn_gets;
      cdn_bytes += rec.body_bytes;
    }
  EXPECT_EQ(cdn_gets, 1);
  EXPECT_EQ(cdn_bytes, big.size());
}

// A GET through libcurl that notes whether the proxy's blob was already published when the
// first body byte arrived.
struct StreamedGet {
  long status = 0;
  std::string body;
  bool first_byte_before_blob = false;
};
StreamedGet get_noting_first_byte(const std::string& url, const std::string& blob, const std::string& range = {}) {
  struct Sink {
    StreamedGet* out;
    const std::string* blob;
  };
  StreamedGet out;
  Sink sink{&out, &blob};
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (!range.empty()) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION, +[](char* d, size_t sz, size_t n, void* u) {
        auto* k = static_cast<Sink*>(u);
        if (k->out->body.empty()) k->out->first_byte_before_blob = !exists(*k->blob);
        k->out->body.append(d, sz * n);
        return sz * n;
      });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  curl_easy_cleanup(c);
  return out;
}

struct ProxyStreaming : ProxyTest {
  std::string big = std::string(12u << 20, 'x');
  std::string blob;
  void SetUp() override {
    ProxyTest::SetUp();
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
    server.add_file(k_model, c1, "big.bin", big, /*lfs=*/true);
    server.set_throttle(6u << 20);  // 2 s for the whole file
    blob = RepoLayout(proxy_cache, k_model).blob_path(sha256_hex(big));
  }
};

TEST_F(ProxyStreaming, ABigFileIsServedWhileItIsFetched) {
  start();
  const auto head = test::http("HEAD", url("/org/model/resolve/main/big.bin"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("x-linked-size"), std::to_string(big.size()));
  EXPECT_EQ(head.header("x-repo-commit"), c1);
  EXPECT_FALSE(exists(blob)) << "a HEAD answers from the upstream's metadata at once";
  const auto got = get_noting_first_byte(url("/org/model/resolve/main/big.bin"), blob);
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.first_byte_before_blob) << "the first bytes came before the whole file was stored";
  EXPECT_TRUE(got.body == big);
  // Stored verified for the next client, fetched once (the HEAD started it, the GET joined it).
  for (int i = 0; i < 200 && !exists(blob); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(read_file(blob) == big);
  EXPECT_EQ(server.body_bytes("/cdn/"), big.size());
}

TEST_F(ProxyStreaming, ARangeIsServedOnceItsBytesArrive) {
  start();
  const auto got = get_noting_first_byte(url("/org/model/resolve/main/big.bin"), blob, "6000000-6000099");
  EXPECT_EQ(got.status, 206);
  EXPECT_TRUE(got.body == big.substr(6000000, 100));
  EXPECT_TRUE(got.first_byte_before_blob);
}

// The proxy fetches a file past the split threshold as parallel ranges (with holes until they
// land): what it serves comes only from ranges its checkpoints name, in order.
TEST_F(ProxyStreaming, AFileFetchedAsParallelRangesIsServedAsItsRangesLand) {
  start([](proxy::ProxyOptions& o) {
    o.upstream.transfer.split_threshold = 1u << 20;
    o.upstream.transfer.part_size = 1u << 20;
    o.upstream.transfer.parallel_below_rate = 0;
    o.upstream.transfer.max_parts_per_file = 4;
  });
  server.set_throttle(2u << 20);  // 4 ranges at once: 1.5 s for the file
  StreamedGet got;
  std::thread whole([&] { got = get_noting_first_byte(url("/org/model/resolve/main/big.bin"), blob); });
  const auto tail = get_noting_first_byte(url("/org/model/resolve/main/big.bin"), blob, "10000000-10000999");
  whole.join();
  EXPECT_EQ(tail.status, 206);
  EXPECT_TRUE(tail.body == big.substr(10000000, 1000));  // (its range may land last: no timing asserted)
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.first_byte_before_blob);
  EXPECT_TRUE(got.body == big) << "no hole served as zeros";
  // The fill verifies and publishes after the last byte was served: the blob follows shortly.
  for (int i = 0; i < 500 && !exists(blob); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(read_file(blob) == big);
  int ranged = 0;
  for (const auto& rec : server.requests())
    if (rec.cdn && !rec.range.empty()) ++ranged;
  EXPECT_GT(ranged, 1) << "fetched as parallel ranges";
}

TEST_F(ProxyStreaming, AnUpstreamCutMidFileIsResumedUnseenByTheClient) {
  server.add_fault(Fault::body(FaultKind::ResetMidBody, "GET", "/cdn/", 3u << 20));
  start();
  auto got = Downloader(client(dir / "client")).download_file(file_request("big.bin"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(read_file(got->path) == big);
  EXPECT_LT(server.body_bytes("/cdn/"), big.size() + (1u << 20)) << "resumed, not fetched again from byte 0";
}

TEST_F(ProxyStreaming, AFillThatFailsCutsTheStreamAndARetrySucceeds) {
  // 2 MiB, then the CDN fails every request: the proxy's fill gives up.
  server.add_fault(Fault::body(FaultKind::ResetMidBody, "GET", "/cdn/", 2u << 20));
  server.add_fault(Fault::http_status("GET", "/cdn/", 500, -1));
  start([](proxy::ProxyOptions& o) { o.upstream.transfer.stream_retries = 1; });
  const auto cut = get_noting_first_byte(url("/org/model/resolve/main/big.bin"), blob);
  EXPECT_NE(cut.status, 200) << "a body that cannot be completed is cut, never padded";
  EXPECT_LT(cut.body.size(), big.size());
  EXPECT_FALSE(exists(blob));
  server.clear_faults();
  const auto again = get_noting_first_byte(url("/org/model/resolve/main/big.bin"), blob);
  EXPECT_EQ(again.status, 200);
  EXPECT_TRUE(again.body == big);
}

TEST_F(ProxyTest, AFileTheUpstreamLacksIsTheHubsEntryNotFoundAndRecorded) {
  start();
  const auto r = test::http("GET", url("/org/model/resolve/main/missing.txt"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("x-error-code"), "EntryNotFound");
  EXPECT_EQ(r.header("x-repo-commit"), c1);
  EXPECT_TRUE(exists(RepoLayout(proxy_cache, k_model).no_exist_path(c1, "missing.txt")));
  const auto repo = test::http("GET", url("/api/models/org/nope"));
  EXPECT_EQ(repo.header("x-error-code"), "RepoNotFound");
  const auto rev = test::http("GET", url("/org/model/resolve/no-such-branch/config.json"));
  EXPECT_EQ(rev.header("x-error-code"), "RevisionNotFound");
}

TEST_F(ProxyTest, UpstreamDownServesTheCacheAndSaysSo) {
  start([](proxy::ProxyOptions& o) { o.revalidate = std::chrono::seconds(0); });
  ASSERT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).status, 200);
  server.add_fault(Fault::http_status("", "", 503, -1));
  const auto cached = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(cached.status, 200);
  EXPECT_EQ(cached.body, "{\"model\": 1}");
  EXPECT_NE(cached.header("x-hubcache-stale"), "");
  const auto info = test::http("GET", url("/api/models/org/model/revision/main"));
  EXPECT_EQ(info.status, 200);
  EXPECT_NE(info.header("x-hubcache-stale"), "");
  const auto uncached = test::http("GET", url("/org/model/resolve/main/sub/dir/notes.txt"));
  EXPECT_EQ(uncached.status, 502) << uncached.body;
  EXPECT_NE(uncached.body.find("upstream"), std::string::npos) << uncached.body;
  EXPECT_GT(proxy->counters().stale, 0u);
  std::lock_guard lock(log_mutex);
  EXPECT_FALSE(log_lines.empty());
}

TEST_F(ProxyTest, UnreachableUpstreamIsA504ForWhatTheCacheLacks) {
  start([](proxy::ProxyOptions& o) {
    o.upstream.endpoint = "http://127.0.0.1:1";  // nothing listens there
    o.upstream.transfer.retry.max_retries = 0;
  });
  const auto r = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(r.status, 504) << r.body;
}

TEST_F(ProxyTest, ListingsComeFromTheUpstreamTreeWithoutXet) {
  server.set_xet(true);
  start();
  const auto tree = test::http("GET", url("/api/models/org/model/tree/main?recursive=true"));
  ASSERT_EQ(tree.status, 200) << tree.body;
  EXPECT_NE(tree.body.find("model.safetensors"), std::string::npos);
  EXPECT_NE(tree.body.find("sub/dir/notes.txt"), std::string::npos);
  EXPECT_EQ(tree.body.find("xetHash"), std::string::npos) << tree.body;
  const auto paths = test::http("POST", url("/api/models/org/model/paths-info/main"),
                                {"Content-Type: application/x-www-form-urlencoded"}, "paths=model.safetensors");
  ASSERT_EQ(paths.status, 200) << paths.body;
  EXPECT_EQ(paths.body.find("xetHash"), std::string::npos) << paths.body;
  for (const char* method : {"HEAD", "GET"}) {
    const auto r = test::http(method, url("/org/model/resolve/main/model.safetensors"));
    EXPECT_FALSE(r.has("x-xet-hash")) << method;
    EXPECT_EQ(r.header("link").find("xet"), std::string::npos) << method;
    EXPECT_EQ(r.header("x-linked-etag"), "\"" + sha256_hex(weights) + "\"") << method;
  }
  EXPECT_TRUE(read_tree_file(RepoLayout(proxy_cache, k_model), c1).value().has_value());
}

TEST_F(ProxyTest, GatedReposAreNotSharedAnonymously) {
  server.set_gated(k_model, true);
  server.set_valid_token("upstream-token");
  start([](proxy::ProxyOptions& o) {
    o.upstream.token = "upstream-token";
    o.router.tokens = {"mirror-token"};
  });
  const auto anonymous = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.header("x-error-code"), "GatedRepo");
  const auto member = test::http("GET", url("/org/model/resolve/main/config.json"), {"Authorization: Bearer mirror-token"});
  EXPECT_EQ(member.status, 200);
  EXPECT_EQ(member.body, "{\"model\": 1}");
  for (const auto& rec : server.requests()) EXPECT_TRUE(rec.cdn || rec.had_auth) << rec.path;  // the proxy's token upstream
  // Cached now, still not for anonymous clients.
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).status, 401);
}

TEST_F(ProxyTest, OfflineNeverContactsTheUpstream) {
  start([](proxy::ProxyOptions& o) { o.offline = true; });
  const auto r = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(r.header("x-error-code"), "RepoNotFound");
  EXPECT_EQ(server.requests().size(), 0u);
}

}  // namespace

namespace {

TEST_F(ProxyTest, AnUpstream429IsPassedOnAndTheUpstreamLeftAloneForAWhile) {
  Fault limited = Fault::http_status("GET", "/api/models/org/model/revision/main", 429);
  limited.retry_after = "1";
  server.add_fault(limited);
  start([](proxy::ProxyOptions& o) { o.upstream_pause = std::chrono::seconds(1); });
  const auto r = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.header("retry-after"), "");
  // Within the pause: answered at once, the upstream not asked.
  const auto again = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(again.status, 429) << again.body;
  EXPECT_NE(again.header("retry-after"), "");
  EXPECT_EQ(server.count("GET", "/api/models/org/model/revision/main"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto later = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(later.status, 200) << later.body;
  EXPECT_EQ(server.count("GET", "/api/models/org/model/revision/main"), 2);
}

TEST_F(ProxyTest, TreePagesLinkToTheProxyNotTheUpstream) {
  start([](proxy::ProxyOptions& o) { o.router.tree_page_size = 2; });
  const auto page = test::http("GET", url("/api/models/org/model/tree/main?recursive=true"));
  ASSERT_EQ(page.status, 200) << page.body;
  const std::string link = page.header("link");
  EXPECT_EQ(link.rfind("<" + front->url() + "/api/models/org/model/tree/main", 0), 0u) << link;
  EXPECT_EQ(link.find(server.endpoint()), std::string::npos) << link;
}

TEST_F(ProxyTest, AHostileUpstreamEtagIsRefusedAndWritesNothingOutsideTheCache) {
  server.set_hostile_etag("../../../../evil");
  start();
  const auto r = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_FALSE(exists(dir / "evil"));
  EXPECT_FALSE(exists(proxy_cache + "/evil"));
  EXPECT_FALSE(exists(proxy_cache + "/models--org--model/evil"));
}

TEST_F(ProxyTest, TheRevisionAsAQueryArgumentIsAccepted) {
  start();  // Dragonfly's hf:// backend lists files with GET /api/models/{id}?revision={rev}
  const auto r = test::http("GET", url("/api/models/org/model?revision=" + c2));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(c2), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(c1), std::string::npos) << r.body;
}

TEST_F(ProxyTest, WithForwardedTokensTheUpstreamDecidesForEachClient) {
  server.set_gated(k_model, true);
  server.set_valid_token("client-token");
  server.add_token_without_access("other-token");
  start([](proxy::ProxyOptions& o) { o.forward_client_token = true; });
  const auto member = test::http("GET", url("/org/model/resolve/main/config.json"), {"Authorization: Bearer client-token"});
  EXPECT_EQ(member.status, 200) << member.body;
  // Cached now: still each client's own token decides.
  const auto anonymous = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.header("x-error-code"), "GatedRepo");
  const auto outsider = test::http("GET", url("/org/model/resolve/main/config.json"), {"Authorization: Bearer other-token"});
  EXPECT_EQ(outsider.status, 403) << outsider.body;
  EXPECT_EQ(outsider.header("x-error-code"), "GatedRepo");
}

TEST_F(ProxyTest, AGatedRepoStaysRestrictedWhenTheUpstreamCannotBeAsked) {
  server.set_gated(k_model, true);
  server.set_valid_token("upstream-token");
  const auto configure = [](proxy::ProxyOptions& o) {
    o.upstream.token = "upstream-token";
    o.router.tokens = {"mirror-token"};
    o.revalidate = std::chrono::seconds(0);
  };
  start(configure);
  ASSERT_EQ(test::http("GET", url("/org/model/resolve/main/config.json"), {"Authorization: Bearer mirror-token"}).status, 200);
  // A restarted proxy (nothing in memory) while the upstream fails, then one started --offline.
  front->stop();
  server.add_fault(Fault::http_status("", "", 503, -1));
  start(configure);
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).status, 401);
  const auto member = test::http("GET", url("/org/model/resolve/main/config.json"), {"Authorization: Bearer mirror-token"});
  EXPECT_EQ(member.status, 200);
  EXPECT_NE(member.header("x-hubcache-stale"), "");
  front->stop();
  start([&](proxy::ProxyOptions& o) {
    configure(o);
    o.offline = true;
  });
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).status, 401);
  EXPECT_EQ(test::http("GET", url("/api/models/org/model/tree/main")).status, 401);
}

}  // namespace

namespace {

TEST_F(ProxyStreaming, TheSizeCapEvictsTheLeastRecentlyServedNeverAFileBeingFetched) {
  const RepoRef a{RepoType::Model, "org/a"}, b{RepoType::Model, "org/b"};
  server.add_file(a, c1, "w.bin", std::string(400000, 'a'));
  server.set_ref(a, "main", c1);
  server.add_file(b, c1, "w.bin", std::string(400000, 'b'));
  server.set_ref(b, "main", c1);
  start([](proxy::ProxyOptions& o) { o.max_size = 1000000; });
  ASSERT_EQ(test::http("GET", url("/org/a/resolve/main/w.bin")).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a's use comes first
  // The big file (12 MiB, over the cap on its own) is fetched for 2 s while b pushes the cache over.
  StreamedGet big_get;
  std::thread whole([&] { big_get = get_noting_first_byte(url("/org/model/resolve/main/big.bin"), blob); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(test::http("GET", url("/org/b/resolve/main/w.bin")).status, 200);
  whole.join();
  EXPECT_EQ(big_get.status, 200);
  EXPECT_TRUE(big_get.body == big) << "the file being fetched was never cut by the eviction";
  // Once nothing is fetched, rounds bring the cache under the cap, least recently served first.
  const std::string a_folder = proxy_cache + "/models--org--a";
  for (int i = 0; i < 500 && (exists(a_folder) || proxy->counters().evicted == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(exists(a_folder)) << "org/a, the least recently served, is evicted; log: " << [&] {
    std::lock_guard lock(log_mutex);
    std::string all;
    for (const auto& l : log_lines) all += l + "\n";
    return all;
  }();
  EXPECT_GT(proxy->counters().evicted, 0u) << [&] {
    std::lock_guard lock(log_mutex);
    std::string all;
    for (const auto& l : log_lines) all += l.substr(0, 200) + "\n";
    return all;
  }();
  // An evicted file is fetched again on the next request.
  const auto again = test::http("GET", url("/org/a/resolve/main/w.bin"));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(again.body == std::string(400000, 'a'));
}

}  // namespace

namespace {

TEST_F(ProxyTest, WhatNoHubCouldHoldIsNeverAskedUpstream) {
  start();
  for (const char* path : {"/org/model/resolve/main/..%2F..%2Fetc%2Fpasswd", "/org/model/resolve/main/a%5Cb",
                           "/org/model/resolve/..%2Fmain/config.json", "/api/models/org/model/revision/..%2F.."}) {
    const auto r = test::http("GET", url(path));
    // The Router's answer for a repo it does not hold (401 RepoNotFound), never a 5xx.
    EXPECT_EQ(r.status, 401) << path << " " << r.body;
  }
  EXPECT_EQ(server.requests().size(), 0u);
  EXPECT_FALSE(exists(proxy_cache + "/models--org--model"));
}

}  // namespace

namespace {

TEST_F(ProxyTest, AnUpstreamThatDoesNotAnswerIsNotWaitedOnAgainAtOnce) {
  start([](proxy::ProxyOptions& o) {
    o.revalidate = std::chrono::seconds(0);
    o.upstream.etag_timeout = std::chrono::seconds(1);
    o.upstream.download_timeout = std::chrono::seconds(1);
  });
  ASSERT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).status, 200);
  RealHubOptions silent;
  silent.latency = std::chrono::milliseconds(3000);  // every answer: later than the 1 s timeout
  server.set_real_hub(silent);
  server.clear_requests();
  const auto first = test::http("GET", url("/org/model/resolve/main/config.json"));
  EXPECT_EQ(first.status, 200);
  EXPECT_NE(first.header("x-hubcache-stale"), "");
  // The next requests are answered from the cache without waiting on the silent upstream again.
  for (int i = 0; i < 3; ++i) {
    const auto again = test::http("GET", url("/org/model/resolve/main/config.json"));
    EXPECT_EQ(again.status, 200);
    EXPECT_NE(again.header("x-hubcache-stale"), "");
  }
  const auto uncached = test::http("GET", url("/org/model/resolve/main/sub/dir/notes.txt"));
  EXPECT_EQ(uncached.status, 504) << uncached.body;
  EXPECT_EQ(uncached.body.find(server.endpoint()), std::string::npos) << "the upstream's URL stays internal: " << uncached.body;
  EXPECT_EQ(server.count("GET", "/api/models/org/model/revision/main"), 1);
}

TEST_F(ProxyTest, OfflineWhatTheCacheLacksIsA504NotAnAbsentFile) {
  start();
  ASSERT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).status, 200);
  ASSERT_EQ(test::http("GET", url("/org/model/resolve/main/missing.txt")).status, 404);  // the upstream's word: absent
  front->stop();
  start([](proxy::ProxyOptions& o) { o.offline = true; });
  server.clear_requests();
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).status, 200);
  const auto lacking = test::http("GET", url("/org/model/resolve/main/sub/dir/notes.txt"));
  EXPECT_EQ(lacking.status, 504) << lacking.body;
  EXPECT_FALSE(lacking.has("x-error-code")) << "never EntryNotFound: clients would record the file as absent";
  const auto absent = test::http("GET", url("/org/model/resolve/main/missing.txt"));
  EXPECT_EQ(absent.status, 404);
  EXPECT_EQ(absent.header("x-error-code"), "EntryNotFound");
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/no-such-branch/config.json")).status, 504);
  EXPECT_EQ(server.requests().size(), 0u);
}

}  // namespace

TEST_F(ProxyTest, ThePageShowsTheUpstreamAndTheHitRateAndNeverFillsTheCache) {
  start();
  auto page = test::http("GET", url("/"));
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<tr><th>Upstream</th><td>" + server.endpoint() + "</td></tr>"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("<tr><th>Hit rate</th><td>no repo request yet</td></tr>"), std::string::npos);
  EXPECT_EQ(test::http("GET", url("/org/model")).status, 404) << "a repo page shows the cache, it fetches nothing";
  EXPECT_EQ(server.requests().size(), 0u);
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).status, 200);  // a miss
  EXPECT_EQ(test::http("GET", url("/org/model/resolve/main/config.json")).status, 200);  // a hit
  page = test::http("GET", url("/"));
  EXPECT_NE(page.body.find("<tr><th>Hit rate</th><td>50% (1 of 2 repo requests answered from the cache, 1 fetched "
                           "upstream)</td></tr>"),
            std::string::npos)
      << page.body;
  EXPECT_NE(page.body.find("<a href=\"/org/model\">org/model</a>"), std::string::npos);
  EXPECT_NE(test::http("GET", url("/org/model")).body.find("/resolve/" + c1 + "/config.json\">config.json</a>"),
            std::string::npos);
}

TEST_F(ProxyTest, ThePageListsAGatedRepoOnlyForTheProxysTokens) {
  server.set_gated(k_model, true);
  server.set_valid_token("upstream-token");
  start([](proxy::ProxyOptions& o) {
    o.upstream.token = "upstream-token";
    o.router.tokens = {"mirror-token"};
  });
  const std::vector<std::string> member = {"Authorization: Bearer mirror-token"};
  ASSERT_EQ(test::http("GET", url("/org/model/resolve/main/config.json"), member).status, 200);
  EXPECT_EQ(test::http("GET", url("/")).body.find("org/model"), std::string::npos);
  EXPECT_EQ(test::http("GET", url("/org/model")).status, 404);
  EXPECT_NE(test::http("GET", url("/"), member).body.find("<a href=\"/org/model\">org/model</a>"), std::string::npos);
  EXPECT_EQ(test::http("GET", url("/org/model"), member).status, 200);
}

namespace {

// serve --upstream --xet: the proxy's fills go over Xet to an upstream that offers it, and the
// proxy serves over Xet what its cache holds (a miss streamed while fetched is answered plainly).
std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

struct ProxyXet : ProxyTest {
  std::string big = random_bytes(6u << 20, 7);  // streamed on a miss (>= 1 MiB)
  std::string big_sha = sha256_hex(big);
  std::string blob = RepoLayout(proxy_cache, k_model).blob_path(big_sha);

  void SetUp() override {
    ProxyTest::SetUp();
    server.add_file(k_model, c1, "big.bin", big, /*lfs=*/true);
    server.set_xet(true);
  }
  void start_xet() {
    start([](proxy::ProxyOptions& o) { o.router.xet = true; });
  }
  DownloadOptions xet_client(const std::string& cache_dir, XetMode mode) {
    DownloadOptions o = client(cache_dir);
    o.xet = mode;
    return o;
  }
  std::uint64_t xorb_bytes() const { return server.body_bytes("/cas/xorbs/"); }
  std::uint64_t cdn_bytes() const { return server.body_bytes("/cdn/"); }
  // The first client: a miss, streamed while the proxy fetches it; then the proxy holds the blob.
  void first_download() {
    const std::string first = dir / "first";
    auto got = Downloader(client(first)).download_file(file_request("big.bin"));
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_TRUE(read_file(got->path) == big);
    EXPECT_FALSE(read_xet_record(RepoLayout(first, k_model), big_sha).value().has_value())
        << "the miss was answered plainly (no Xet record in the client's cache)";
    for (int i = 0; i < 500 && !exists(blob); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(exists(blob));
  }
  // A listing's files by path: their xetHash, or "".
  static std::map<std::string, std::string> listed_xet_hashes(const std::string& body) {
    std::map<std::string, std::string> out;
    for (const auto& e : nlohmann::json::parse(body))
      if (e.value("type", "") == "file") out[e.at("path").get<std::string>()] = e.value("xetHash", "");
    return out;
  }
};

TEST_F(ProxyXet, AMissIsServedPlainlyAndTheFillGoesToTheUpstreamOverXet) {
  start_xet();
  first_download();
  EXPECT_GT(xorb_bytes(), 0u) << "the proxy's fill fetched xorbs";
  EXPECT_EQ(cdn_bytes(), 0u) << "no LFS body over the plain path upstream";
  auto record = read_xet_record(RepoLayout(proxy_cache, k_model), big_sha);
  ASSERT_TRUE(record && record->has_value()) << "the fill left its Xet record";
  EXPECT_EQ((*record)->file_hash.hex(), server.xet_hash(big_sha));
}

TEST_F(ProxyXet, AHeldFileIsServedOverXetWithoutAskingTheUpstream) {
  start_xet();
  first_download();
  server.clear_requests();
  const std::uint64_t xorbs_before = xorb_bytes();
  const auto head = test::http("HEAD", url("/org/model/resolve/main/big.bin"));
  EXPECT_EQ(head.header("x-xet-hash"), server.xet_hash(big_sha));
  EXPECT_NE(head.header("link").find("/_xet/v2/reconstructions/" + server.xet_hash(big_sha)), std::string::npos)
      << head.header("link");
  const std::string second = dir / "second";
  auto got = Downloader(xet_client(second, XetMode::On)).download_file(file_request("big.bin"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(read_file(got->path) == big);
  auto record = read_xet_record(RepoLayout(second, k_model), big_sha);
  ASSERT_TRUE(record && record->has_value()) << "the second client went over Xet";
  EXPECT_EQ((*record)->file_hash.hex(), server.xet_hash(big_sha));
  // The proxy served the record its fill left (the upstream's xorbs), not one made by chunking.
  const auto terms = server.xet_terms(big_sha);
  ASSERT_EQ((*record)->segments.size(), terms.size());
  for (std::size_t i = 0; i < terms.size(); ++i) EXPECT_EQ((*record)->segments[i].xorb, terms[i].xorb);
  EXPECT_EQ(server.requests().size(), 0u) << "the upstream is not asked again";
  EXPECT_EQ(xorb_bytes(), xorbs_before);
}

TEST_F(ProxyXet, ListingsShowAXetHashOnlyForFilesTheProxyHolds) {
  start_xet();
  const auto tree_url = url("/api/models/org/model/tree/main?recursive=true");
  const auto before = test::http("GET", tree_url);
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(before.body.find("xetHash"), std::string::npos) << "nothing is held yet: " << before.body;
  first_download();
  const auto after = test::http("GET", tree_url);
  ASSERT_EQ(after.status, 200) << after.body;
  auto hashes = listed_xet_hashes(after.body);
  EXPECT_EQ(hashes["big.bin"], server.xet_hash(big_sha));
  ASSERT_TRUE(hashes.count("model.safetensors"));
  EXPECT_EQ(hashes["model.safetensors"], "") << "an LFS file the proxy does not hold is listed without it";
  const auto paths = test::http("POST", url("/api/models/org/model/paths-info/main"),
                                {"Content-Type: application/x-www-form-urlencoded"}, "paths=big.bin&paths=model.safetensors");
  ASSERT_EQ(paths.status, 200) << paths.body;
  hashes = listed_xet_hashes(paths.body);
  EXPECT_EQ(hashes["big.bin"], server.xet_hash(big_sha));
  EXPECT_EQ(hashes["model.safetensors"], "");
  // A small file is filled before the answer: held then, so its resolve offers Xet.
  const auto small = test::http("HEAD", url("/org/model/resolve/main/model.safetensors"));
  EXPECT_EQ(small.header("x-xet-hash"), server.xet_hash(sha256_hex(weights)));
}

// B = A with 5% changed: the proxy's fill of B fetches about that much upstream, and a second
// client gets B from the proxy over Xet, even once A's blob is gone.
TEST_F(ProxyXet, ANewRevisionThroughTheProxyMovesOnlyWhatChangedUpstream) {
  std::string b = big;
  const std::size_t changed = big.size() / 20, at = big.size() / 2 - changed / 2;
  b.replace(at, changed, random_bytes(changed, 8));
  server.add_file(k_model, c2, "big.bin", b, /*lfs=*/true);
  start_xet();
  first_download();
  // A is served over Xet: the proxy's index knows A's xorbs in A's blob.
  EXPECT_EQ(test::http("HEAD", url("/org/model/resolve/main/big.bin")).header("x-xet-hash"), server.xet_hash(big_sha));
  const std::uint64_t after_a = xorb_bytes();
  // A HEAD starts the fill of B (streamed while fetched); once held, B is served over Xet.
  EXPECT_EQ(test::http("HEAD", url("/org/model/resolve/" + c2 + "/big.bin")).status, 200);
  const std::string blob_b = RepoLayout(proxy_cache, k_model).blob_path(sha256_hex(b));
  for (int i = 0; i < 500 && !exists(blob_b); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(exists(blob_b));
  const std::uint64_t fetched = xorb_bytes() - after_a;
  EXPECT_LE(fetched, b.size() * 8 / 100) << fetched << " of " << b.size();
  EXPECT_GT(fetched, b.size() * 5 / 100);  // the changed bytes did travel
  EXPECT_EQ(cdn_bytes(), 0u);
  // B's terms name A's xorbs, whose chunks the proxy first knew in A's blob: with A's blob gone (as
  // --max-size removes the older revision), they are read from B's.
  std::filesystem::remove(std::filesystem::canonical(blob));  // the shared store's payload, if it is one
  std::filesystem::remove(blob);
  const std::string second = dir / "second";
  auto got = Downloader(xet_client(second, XetMode::On)).download_file(file_request("big.bin", c2));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(read_file(got->path) == b);
  EXPECT_EQ(xorb_bytes() - after_a, fetched) << "the upstream is not asked again";
}

// A Xet read token opens every held file of the repo: for a gated repo with forwarded tokens the
// upstream must accept the client's token first, as for a resolve.
TEST_F(ProxyXet, AXetReadTokenOfAGatedRepoNeedsTheUpstreamsWordForTheClientsToken) {
  server.set_gated(k_model, true);
  server.set_valid_token("client-token");
  server.add_token_without_access("other-token");
  start([](proxy::ProxyOptions& o) {
    o.router.xet = true;
    o.forward_client_token = true;
  });
  const auto token_url = url("/api/models/org/model/xet-read-token/main");
  EXPECT_EQ(test::http("GET", token_url).status, 401);
  const auto outsider = test::http("GET", token_url, {"Authorization: Bearer other-token"});
  EXPECT_EQ(outsider.status, 403) << outsider.body;
  EXPECT_EQ(outsider.header("x-error-code"), "GatedRepo");
  const auto member = test::http("GET", token_url, {"Authorization: Bearer client-token"});
  EXPECT_EQ(member.status, 200) << member.body;
  EXPECT_NE(member.body.find("accessToken"), std::string::npos) << member.body;
}

TEST_F(ProxyXet, AXetReadTokenIsGivenBeforeAnythingIsCached) {
  start_xet();
  const auto r = test::http("GET", url("/api/models/org/model/xet-read-token/main"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"casUrl\":\"" + front->url() + "/_xet\""), std::string::npos) << r.body;
}

}  // namespace

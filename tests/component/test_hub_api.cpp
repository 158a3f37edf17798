// The hub and http modules against the fault-injecting test server.
#include <gtest/gtest.h>

#include <thread>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/http/multi.hpp"
#include "hubcache/hub/hub.hpp"
#include "hubcache/util/hash.hpp"
#include "retry_seams.hpp"

using namespace hubcache;
using namespace hubcache::hub;
using namespace std::chrono_literals;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

http::Request get(const std::string& url) {
  http::Request r;
  r.url = url;
  return r;
}

struct Fixture : ::testing::Test {
  test::HubServer server;
  std::string c1 = test::commit_id(1);
  std::string c2 = test::commit_id(2);
  std::vector<std::chrono::milliseconds> delays;
  http::detail::ScopedRetryDelayMap delay_map{[this](std::chrono::milliseconds d) {
    delays.push_back(d);
    return 1ms;
  }};

  void SetUp() override {
    server.add_file(k_repo, c1, "config.json", "{\"a\": 1}");
    server.add_file(k_repo, c1, "weights.bin", std::string(5000, 'w'), /*lfs=*/true);
    server.add_file(k_repo, c1, "sub/dir/x.txt", "x");
    server.set_ref(k_repo, "main", c1);
    server.set_ref(k_repo, "refs/pr/1", c2);
    server.add_file(k_repo, c2, "config.json", "{\"a\": 2}");
  }
  HubApi api(std::optional<std::string> token = std::nullopt) {
    HubOptions o;
    o.endpoint = server.endpoint();
    o.token = std::move(token);
    return HubApi(o, std::make_shared<http::Client>());
  }
};

}  // namespace

TEST_F(Fixture, RegularFileHeadVector13_7) {
  auto m = api().file_metadata(k_repo, "main", "config.json");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->commit, c1);
  EXPECT_EQ(m->etag, git_blob_sha1_hex("{\"a\": 1}"));
  EXPECT_EQ(m->size, 8u);
  EXPECT_EQ(m->location, server.endpoint() + "/org/model/resolve/main/config.json");
  EXPECT_EQ(server.count("HEAD", "/resolve/"), 1);
}

TEST_F(Fixture, LfsHeadVector13_6) {
  auto m = api().file_metadata(k_repo, "main", "weights.bin");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->etag, sha256_hex(std::string(5000, 'w')));
  EXPECT_EQ(m->size, 5000u);  // X-Linked-Size, not the redirect's Content-Length
  EXPECT_EQ(m->location.find("http://127.0.0.1:" + std::to_string(server.cdn_port()) + "/cdn/"), 0u);
  EXPECT_EQ(server.count("", "/cdn/"), 0);  // HEAD does not follow the absolute redirect
  EXPECT_FALSE(m->xet_hash);
  server.set_xet(true);
  auto x = api().file_metadata(k_repo, "main", "weights.bin");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->xet_hash, server.xet_hash(sha256_hex(std::string(5000, 'w'))));  // the real Xet file id
  EXPECT_EQ(x->xet_hash->size(), 64u);
  EXPECT_EQ(x->etag, m->etag);
}

TEST_F(Fixture, PrRevisionIsEncoded) {
  auto m = api().file_metadata(k_repo, "refs/pr/1", "config.json");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->commit, c2);
  EXPECT_EQ(server.requests().back().path, "/org/model/resolve/refs%2Fpr%2F1/config.json");
}

TEST_F(Fixture, RelativeRedirectKeepsAuthVector13_13) {
  const RepoRef old_repo{RepoType::Model, "old/x"};
  server.add_rename(old_repo, k_repo);
  server.set_valid_token("hf_goodtoken");
  auto m = api("hf_goodtoken").file_metadata(old_repo, "main", "config.json");
  ASSERT_TRUE(m) << m.error().message;
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].path, "/old/x/resolve/main/config.json");
  EXPECT_EQ(reqs[1].path, "/org/model/resolve/main/config.json");
  EXPECT_TRUE(reqs[1].had_auth);
}

TEST_F(Fixture, TypedErrors) {
  auto a = api();
  auto entry = a.file_metadata(k_repo, "main", "missing.txt");
  ASSERT_FALSE(entry);
  EXPECT_EQ(entry.error().code, ErrorCode::EntryNotFound);
  auto rev = a.file_metadata(k_repo, "nope", "config.json");
  ASSERT_FALSE(rev);
  EXPECT_EQ(rev.error().code, ErrorCode::RevisionNotFound);
  auto repo = a.file_metadata(RepoRef{RepoType::Model, "no/such"}, "main", "config.json");
  ASSERT_FALSE(repo);
  EXPECT_EQ(repo.error().code, ErrorCode::RepoNotFound);
  auto dataset = a.repo_info(RepoRef{RepoType::Dataset, "org/model"}, "main");  // types are separate namespaces
  ASSERT_FALSE(dataset);
  EXPECT_EQ(dataset.error().code, ErrorCode::RepoNotFound);
}

TEST_F(Fixture, PrivateAndGatedRepos) {
  server.set_private(k_repo, true);
  server.set_valid_token("hf_goodtoken");
  auto anon = api().file_metadata(k_repo, "main", "config.json");
  ASSERT_FALSE(anon);
  EXPECT_EQ(anon.error().code, ErrorCode::RepoNotFound);
  EXPECT_NE(anon.error().message.find("authenticated"), std::string::npos);
  auto bad = api("hf_badtoken").file_metadata(k_repo, "main", "config.json");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::Unauthorized);
  EXPECT_EQ(bad.error().message.find("hf_badtoken"), std::string::npos);
  EXPECT_TRUE(api("hf_goodtoken").file_metadata(k_repo, "main", "config.json"));
  server.set_private(k_repo, false);
  server.set_gated(k_repo, true);
  auto gated = api().file_metadata(k_repo, "main", "config.json");
  ASSERT_FALSE(gated);
  EXPECT_EQ(gated.error().code, ErrorCode::Gated);
}

TEST_F(Fixture, HostileServerValuesVector13_39) {
  server.set_hostile_commit("../../x");
  auto c = api().file_metadata(k_repo, "main", "config.json");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("X-Repo-Commit"), std::string::npos);
  auto info = api().repo_info(k_repo, "main");
  ASSERT_FALSE(info);
  server.set_hostile_commit("");
  server.set_hostile_etag("../x");
  auto e = api().file_metadata(k_repo, "main", "config.json");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("ETag"), std::string::npos);
  server.set_hostile_etag("a/b");
  EXPECT_FALSE(api().file_metadata(k_repo, "main", "weights.bin"));
}

TEST_F(Fixture, FirstAttemptNeverRetriesSecondUsesBackoffVector13_18) {
  server.add_fault(test::Fault::http_status("HEAD", "/resolve/", 503));
  auto first = api().file_metadata(k_repo, "main", "config.json", Attempt::First);
  ASSERT_FALSE(first);
  EXPECT_TRUE(first.error().is_transient());
  EXPECT_EQ(server.count("HEAD", "/resolve/"), 1);
  EXPECT_TRUE(delays.empty());
  server.add_fault(test::Fault::http_status("HEAD", "/resolve/", 503, 3));
  auto a = api();
  auto second = a.file_metadata(k_repo, "main", "config.json", Attempt::Second);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{1s, 2s, 4s}));
}

TEST_F(Fixture, RetryAfterAndRateLimitAreHonouredVector13_19) {
  auto limited = test::Fault::http_status("GET", "/api/", 429);
  limited.ratelimit = "\"api\";r=0;t=55";
  server.add_fault(limited);
  auto busy = test::Fault::http_status("GET", "/api/", 503);
  busy.retry_after = "120";
  server.add_fault(busy);
  auto info = api().repo_info(k_repo, "main", Attempt::Second);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->sha, c1);
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{56s, 121s}));
}

TEST_F(Fixture, TreePaginationVector13_36) {
  server.set_tree_page_size(2);
  auto tree = api().list_tree(k_repo, c1);
  ASSERT_TRUE(tree) << tree.error().message;
  std::vector<std::string> files;
  for (const auto& e : *tree)
    if (e.type == "file") files.push_back(e.path);
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"config.json", "sub/dir/x.txt", "weights.bin"}));
  EXPECT_EQ(server.count("GET", "/tree/"), 3);  // 5 entries (3 files, 2 dirs) in pages of 2
  for (const auto& e : *tree)
    if (e.path == "weights.bin") {
      ASSERT_TRUE(e.lfs);
      EXPECT_EQ(e.etag(), sha256_hex(std::string(5000, 'w')));
    }
  auto sub = api().list_tree(k_repo, c1, "sub", false);
  ASSERT_TRUE(sub);
  ASSERT_EQ(sub->size(), 1u);
  EXPECT_EQ((*sub)[0].type, "directory");
  auto missing = api().list_tree(k_repo, c1, "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::EntryNotFound);
}

TEST_F(Fixture, PathsInfo) {
  auto r = api().paths_info(k_repo, "main", {"config.json", "nope", "weights.bin"});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
}

TEST_F(Fixture, ClientStreamsRangesAndReportsTransportErrors) {
  http::Client client;
  const std::string url = server.endpoint() + "/org/model/resolve/main/config.json";
  http::Request req;
  req.url = url;
  req.headers.set("Range", "bytes=2-");
  std::string got;
  int status = 0;
  http::Sink sink{[&](const http::Response& h) {
                    status = h.status;
                    return true;
                  },
                  [&](const char* d, std::size_t n) {
                    got.append(d, n);
                    return true;
                  }};
  auto r = client.perform(req, sink);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(status, 206);
  EXPECT_EQ(got, "a\": 1}");
  EXPECT_EQ(r->headers.get("Content-Range"), "bytes 2-7/8");

  server.add_fault(test::Fault::body(test::FaultKind::ResetMidBody, "GET", "/resolve/", 3));
  auto reset = client.perform(get(url));
  ASSERT_FALSE(reset);
  EXPECT_EQ(reset.error().code, ErrorCode::Network);

  server.add_fault(test::Fault::body(test::FaultKind::Stall, "GET", "/resolve/", 2));
  http::Request slow = get(url);
  slow.idle_timeout = 1000ms;
  auto stalled = client.perform(slow);
  ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error().code, ErrorCode::Timeout);

  // Following the LFS redirect to another origin drops Authorization (vector 14).
  http::Request lfs = get(server.endpoint() + "/org/model/resolve/main/weights.bin");
  lfs.redirects = http::Redirects::Follow;
  lfs.headers.set("authorization", "Bearer hf_goodtoken");
  auto body = client.perform(lfs);
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(body->status, 200);
  EXPECT_EQ(body->body, std::string(5000, 'w'));
  int resolve_with_auth = 0, cdn_with_auth = 0, cdn = 0;
  for (const auto& rec : server.requests()) {
    if (rec.path.find("weights.bin") != std::string::npos && rec.had_auth) ++resolve_with_auth;
    if (rec.path.rfind("/cdn/", 0) == 0) {
      ++cdn;
      cdn_with_auth += rec.had_auth ? 1 : 0;
    }
  }
  EXPECT_EQ(resolve_with_auth, 1);
  EXPECT_EQ(cdn, 1);
  EXPECT_EQ(cdn_with_auth, 0);
}

TEST_F(Fixture, MultiRunsConcurrentExchanges) {
  http::Multi multi;
  int done = 0;
  std::string bodies[3];
  for (int i = 0; i < 3; ++i) {
    http::Request req = get(server.endpoint() + "/org/model/resolve/main/config.json");
    multi.add(req,
              http::Sink{nullptr,
                         [&, i](const char* d, std::size_t n) {
                           bodies[i].append(d, n);
                           return true;
                         }},
              [&](Result<http::Response> r) {
                EXPECT_TRUE(r);
                ++done;
              });
  }
  const auto id = multi.add(get(server.endpoint() + "/org/model/resolve/main/weights.bin"), {}, [&](Result<http::Response> r) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::Cancelled);
    ++done;
  });
  multi.cancel(id);
  for (int i = 0; i < 200 && multi.poll(50ms) > 0;) ++i;
  EXPECT_EQ(done, 4);
  for (const auto& b : bodies) EXPECT_EQ(b, "{\"a\": 1}");
}

// The event loop under churn: more exchanges than connections (so libcurl queues them and reuses
// or replaces sockets, whose descriptor numbers come back), added while others run, plus one
// that fails to connect. Every exchange ends exactly once with its own body.
TEST_F(Fixture, MultiDrivesManyExchangesOverFewConnections) {
  http::Multi multi(4);
  constexpr int k_total = 240;
  int ok = 0, failed = 0;
  std::vector<std::string> bodies(k_total);
  auto add = [&](int i) {
    const std::string file = i % 2 ? "config.json" : "sub/dir/x.txt";
    multi.add(get(server.endpoint() + "/org/model/resolve/main/" + file),
              http::Sink{nullptr,
                         [&, i](const char* d, std::size_t n) {
                           bodies[static_cast<std::size_t>(i)].append(d, n);
                           return true;
                         }},
              [&](Result<http::Response> r) {
                EXPECT_TRUE(r) << (r ? "" : r.error().message);
                ++ok;
              });
  };
  for (int i = 0; i < k_total / 2; ++i) add(i);
  multi.add(get("http://127.0.0.1:1/nothing-listens-here"), {}, [&](Result<http::Response> r) {
    EXPECT_FALSE(r);
    ++failed;
  });
  int next = k_total / 2;
  for (int spins = 0; spins < 2000 && (ok + failed < k_total + 1); ++spins) {
    multi.poll(50ms);
    if (next < k_total) add(next++);  // new work while the first half is still running
  }
  EXPECT_EQ(ok, k_total);
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(multi.running(), 0u);
  for (int i = 0; i < k_total; ++i) EXPECT_EQ(bodies[static_cast<std::size_t>(i)], i % 2 ? "{\"a\": 1}" : "x") << i;
}

TEST_F(Fixture, MultiWakeupEndsAWaitEarly) {
  http::Multi multi;
  std::thread waker([&] {
    std::this_thread::sleep_for(100ms);
    multi.wakeup();
  });
  const auto start = std::chrono::steady_clock::now();
  multi.poll(std::chrono::milliseconds(20000));
  const auto waited = std::chrono::steady_clock::now() - start;
  waker.join();
  EXPECT_LT(waited, 10s) << "wakeup() did not interrupt poll()";
}

// Loops a server's answers drive (pagination, redirects, retries, bodies) end with an error that
// names the server's fault, quickly and with bounded memory: the test hub's hostile modes.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/hub/hub.hpp"
#include "retry_seams.hpp"

using namespace hubcache;
using namespace hubcache::hub;
using namespace std::chrono_literals;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

long peak_rss_kib() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

struct Hostile : ::testing::Test {
  test::HubServer server;
  std::string c1 = test::commit_id(1);
  int retries_waited = 0;
  http::detail::ScopedRetryDelayMap delay_map{[this](std::chrono::milliseconds) {
    ++retries_waited;
    return 1ms;
  }};

  void SetUp() override {
    for (int i = 0; i < 6; ++i) server.add_file(k_repo, c1, "f" + std::to_string(i) + ".txt", "x");
    server.set_ref(k_repo, "main", c1);
    server.set_tree_page_size(2);
  }
  HubApi api(ServerLimits limits = {}) {
    HubOptions o;
    o.endpoint = server.endpoint();
    o.token = "hf_sometoken";
    o.limits = limits;
    return HubApi(o, std::make_shared<http::Client>());
  }
  // The error of a server at fault: Http (never transient, so never retried), naming the Hub
  // and saying whose fault it is.
  void expect_server_fault(const Error& e, const std::string& code, const std::string& text) {
    EXPECT_EQ(e.code, ErrorCode::Http);
    EXPECT_FALSE(e.is_transient());
    ASSERT_TRUE(e.http);
    EXPECT_EQ(e.http->error_code, code);
    EXPECT_NE(e.message.find(text), std::string::npos) << e.message;
    EXPECT_NE(e.message.find(server.endpoint()), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("fault of the server"), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("hf_sometoken"), std::string::npos);
  }
};

}  // namespace

TEST_F(Hostile, NextLinkToItselfIsAPaginationLoop) {
  server.set_hostile(test::Hostile::NextLinksToItself);
  const auto t0 = std::chrono::steady_clock::now();
  auto tree = api().list_tree(k_repo, c1);
  ASSERT_FALSE(tree);
  expect_server_fault(tree.error(), "PaginationLoop",
                      "returned a pagination loop listing the files of model 'org/model': page URL " + server.endpoint() +
                          "/api/models/org/model/tree/" + c1 + "?recursive=true&expand=false was already fetched");
  EXPECT_EQ(server.count("GET", "/tree/"), 1);  // the page is not fetched again
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(Hostile, NextLinksCyclingAToBToAIsAPaginationLoop) {
  server.set_hostile(test::Hostile::NextLinksCycle);
  auto tree = api().list_tree(k_repo, c1);
  ASSERT_FALSE(tree);
  expect_server_fault(tree.error(), "PaginationLoop",
                      "page URL " + server.endpoint() + "/api/models/org/model/tree/" + c1 +
                          "?recursive=true&expand=false was already fetched (next link of page 2)");
  EXPECT_EQ(server.count("GET", "/tree/"), 2);
}

TEST_F(Hostile, EndlessDistinctNextPagesStopAtThePageLimit) {
  server.set_hostile(test::Hostile::EndlessNextPages);
  ServerLimits limits;
  limits.max_pages = 40;
  auto tree = api(limits).list_tree(k_repo, c1);
  ASSERT_FALSE(tree);
  expect_server_fault(tree.error(), "PaginationLoop", "returned more than 40 pages listing the files of model 'org/model'");
  EXPECT_EQ(server.count("GET", "/tree/"), 40);
  EXPECT_EQ(retries_waited, 0);
}

TEST_F(Hostile, EndlessDistinctNextPagesStopAtTheListingSize) {
  server.set_hostile(test::Hostile::EndlessNextPages);
  ServerLimits limits;
  limits.max_listing_bytes = 4000;  // pages of two entries: about 200 bytes each, then empty pages
  auto tree = api(limits).list_tree(k_repo, c1);
  ASSERT_FALSE(tree);
  expect_server_fault(tree.error(), "ListingTooLarge",
                      "returned more than 4000 bytes of pages listing the files of model 'org/model'");
  EXPECT_LT(server.count("GET", "/tree/"), 10000);
}

TEST_F(Hostile, DefaultLimitsEndEndlessPagination) {
  server.set_hostile(test::Hostile::EndlessNextPages);
  auto tree = api().list_tree(k_repo, c1);
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().http->error_code, "PaginationLoop");
  EXPECT_EQ(server.count("GET", "/tree/"), ServerLimits{}.max_pages);  // ends at the page limit (no wall-clock check: sanitizers)
}

TEST_F(Hostile, RedirectLoopOnTheMetadataHeadIsNamed) {
  server.set_hostile(test::Hostile::RedirectLoop);
  auto m = api().file_metadata(k_repo, "main", "f0.txt", Attempt::Second);
  ASSERT_FALSE(m);
  expect_server_fault(
      m.error(), "RedirectLoop",
      "returned a redirect loop resolving 'f0.txt': " + server.endpoint() + "/org/model/resolve/main/f0.txt was already visited");
  EXPECT_EQ(server.count("HEAD", "/resolve/"), 2);  // A, B, and A is not asked again
  EXPECT_EQ(retries_waited, 0);
}

TEST_F(Hostile, RedirectLoopOnApiCallsStopsAtTheHopLimitWithoutRetries) {
  server.set_hostile(test::Hostile::RedirectLoop);
  auto info = api().repo_info(k_repo, "main", Attempt::Second);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::Http);
  EXPECT_FALSE(info.error().is_transient());
  EXPECT_EQ(info.error().http->error_code, "TooManyRedirects");
  EXPECT_NE(info.error().message.find("redirected more than 10 times"), std::string::npos) << info.error().message;
  EXPECT_NE(info.error().message.find("not your connection"), std::string::npos) << info.error().message;
  EXPECT_EQ(server.count("GET", "/api/"), 11);  // the request and 10 hops, never retried
  EXPECT_EQ(retries_waited, 0);
}

TEST_F(Hostile, HugeAnnouncedBodyIsRefusedBeforeItIsRead) {
  server.set_hostile(test::Hostile::HugeBody);
  const long rss = peak_rss_kib();
  auto info = api().repo_info(k_repo, "main", Attempt::Second);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::Http);
  EXPECT_FALSE(info.error().is_transient());
  EXPECT_EQ(info.error().http->error_code, "ResponseTooLarge");
  EXPECT_NE(info.error().message.find("larger than the limit of " + std::to_string(ServerLimits{}.max_response_bytes) + " bytes"),
            std::string::npos)
      << info.error().message;
  EXPECT_NE(info.error().message.find("(HTTP 200, Content-Type application/json, Content-Length 4294967296)"), std::string::npos)
      << info.error().message;
  EXPECT_EQ(server.count("GET", "/api/"), 1);
  auto tree = api().list_tree(k_repo, c1);
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().http->error_code, "ResponseTooLarge");
  EXPECT_LT(peak_rss_kib() - rss, 32 * 1024);
}

TEST_F(Hostile, HugeUndeclaredBodyStopsAtTheLimit) {
  server.set_hostile(test::Hostile::HugeBodyUndeclared);
  ServerLimits limits;
  limits.max_response_bytes = 4u << 20;
  const long rss = peak_rss_kib();
  const auto t0 = std::chrono::steady_clock::now();
  auto tree = api(limits).list_tree(k_repo, c1);
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().http->error_code, "ResponseTooLarge");
  EXPECT_NE(tree.error().message.find("body starts with '[{\"type\":\"file\""), std::string::npos) << tree.error().message;
  // The client stopped reading: what the server got out is the limit plus socket buffers.
  EXPECT_LT(server.body_bytes("/tree/"), (4u << 20) + (48u << 20));
  EXPECT_LT(peak_rss_kib() - rss, 64 * 1024);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST_F(Hostile, AUrlOfAnotherSchemeIsNotANetworkBlip) {
  http::Client client;
  for (const std::string url : {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/x"}) {
    http::Request req;
    req.url = url;
    req.redirects = http::Redirects::Follow;
    auto r = client.perform(req);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, ErrorCode::Http) << r.error().message;
    EXPECT_FALSE(r.error().is_transient());
    EXPECT_NE(r.error().message.find("only http:// and https://"), std::string::npos) << r.error().message;
  }
}

// Request::receive_buffer only sizes libcurl's buffer: a body much larger than the buffer (and
// a size below libcurl's 1 KiB minimum, which is clamped) still arrives whole, as does one with 0.
TEST_F(Hostile, ATinyReceiveBufferStillDeliversTheWholeBody) {
  std::string body(300'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
  server.add_file(k_repo, c1, "big.bin", body);
  http::Client client;
  for (const std::size_t buffer : {std::size_t{1}, std::size_t{3000}, std::size_t{0}, std::size_t{64} << 20}) {
    http::Request req;
    req.url = server.endpoint() + "/" + k_repo.id + "/resolve/" + c1 + "/big.bin";
    req.redirects = http::Redirects::Follow;
    req.receive_buffer = buffer;
    auto r = client.perform(req);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200) << buffer;
    EXPECT_TRUE(r->body == body) << "buffer " << buffer << ": got " << r->body.size() << " bytes";
  }
}

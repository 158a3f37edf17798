// Every request follows redirects with the same rules: a moved endpoint (308 relative with a
// query the target needs, or to another host) for repo info, tree pages, paths-info and the
// metadata HEAD; Authorization kept on the same origin and dropped for good on another.
#include <gtest/gtest.h>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/hub/hub.hpp"
#include "hubcache/util/hash.hpp"
#include "retry_seams.hpp"

using namespace hubcache;
using namespace hubcache::hub;
using namespace std::chrono_literals;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

struct Redirects : ::testing::Test {
  test::HubServer server;
  http::detail::ScopedRetryDelayMap delay_map{[](std::chrono::milliseconds) { return 1ms; }};
  std::string c1 = test::commit_id(1);

  void SetUp() override {
    server.add_file(k_repo, c1, "config.json", "{\"a\": 1}");
    server.add_file(k_repo, c1, "weights.bin", std::string(5000, 'w'), /*lfs=*/true);
    server.add_file(k_repo, c1, "sub/x.txt", "x");
    server.set_ref(k_repo, "main", c1);
    server.set_tree_page_size(2);
  }
  HubApi api() {
    HubOptions o;
    o.endpoint = server.endpoint();
    o.token = "hf_goodtoken";
    return HubApi(o, std::make_shared<http::Client>());
  }
  void expect_every_call_works() {
    auto a = api();
    auto info = a.repo_info(k_repo, "main");
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->sha, c1);
    auto tree = a.list_tree(k_repo, c1);
    ASSERT_TRUE(tree) << tree.error().message;
    EXPECT_EQ(tree->size(), 4u);                                                // 3 files and "sub", over two redirected pages
    auto paths = a.paths_info(k_repo, "main", {"config.json", "weights.bin"});  // a POST: 308 keeps method and body
    ASSERT_TRUE(paths) << paths.error().message;
    EXPECT_EQ(paths->size(), 2u);
    auto small = a.file_metadata(k_repo, "main", "config.json");
    ASSERT_TRUE(small) << small.error().message;
    EXPECT_EQ(small->commit, c1);
    EXPECT_EQ(small->etag, git_blob_sha1_hex("{\"a\": 1}"));
    auto lfs = a.file_metadata(k_repo, "main", "weights.bin");
    ASSERT_TRUE(lfs) << lfs.error().message;
    EXPECT_EQ(lfs->etag, sha256_hex(std::string(5000, 'w')));
    EXPECT_EQ(lfs->size, 5000u);
  }
};

}  // namespace

TEST_F(Redirects, RelativePermanentRedirectWithANeededQueryKeepsAuthorization) {
  server.set_moved(test::Moved::RelativeWithQuery);
  expect_every_call_works();
  int moved = 0;
  for (const auto& r : server.requests()) {
    if (r.path.rfind("/moved/", 0) != 0) continue;
    ++moved;
    EXPECT_FALSE(r.cdn);
    EXPECT_NE(r.status, 403) << r.path << "?" << r.query;  // the key came along
    EXPECT_TRUE(r.had_auth) << r.path;                     // same origin: the token stays
  }
  EXPECT_EQ(moved, 6);  // repo info, two tree pages, paths-info, two HEADs
}

TEST_F(Redirects, RedirectToAnotherHostDropsAuthorization) {
  server.set_moved(test::Moved::OtherHost);
  expect_every_call_works();
  int other_host = 0, first_hops_with_auth = 0;
  for (const auto& r : server.requests()) {
    if (r.cdn) {
      ++other_host;
      EXPECT_FALSE(r.had_auth) << r.method << " " << r.path;  // the token never leaves its origin
    } else if (r.status == 308) {
      first_hops_with_auth += r.had_auth ? 1 : 0;
    }
  }
  EXPECT_EQ(other_host, 6);
  EXPECT_EQ(first_hops_with_auth, 6);
}

TEST_F(Redirects, AnHtmlAnswerIsNamedNotBlamedOnTheConnection) {
  server.set_hostile(test::Hostile::HtmlApi);
  auto info = api().repo_info(k_repo, "main");
  ASSERT_FALSE(info);
  const Error& e = info.error();
  EXPECT_EQ(e.code, ErrorCode::Http);
  EXPECT_FALSE(e.is_transient());
  ASSERT_TRUE(e.http);
  EXPECT_EQ(e.http->error_code, "UnexpectedAnswer");
  EXPECT_NE(e.message.find("repo info is not a JSON object"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(
                "HTTP 200, Content-Type text/html; charset=utf-8, body starts with '<!DOCTYPE html> <html><head><title>Sign in"),
            std::string::npos)
      << e.message;
  EXPECT_NE(e.message.find("/api/models/org/model/revision/main"), std::string::npos) << e.message;
  auto tree = api().list_tree(k_repo, c1);
  ASSERT_FALSE(tree);
  EXPECT_NE(tree.error().message.find("tree listing is not a JSON array"), std::string::npos) << tree.error().message;
  EXPECT_NE(tree.error().message.find("Content-Type text/html"), std::string::npos) << tree.error().message;
}

TEST_F(Redirects, ARedirectWithoutLocationIsNamed) {
  server.add_fault(test::Fault::http_status("GET", "/api/", 308));
  auto info = api().repo_info(k_repo, "main");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().http->error_code, "UnexpectedAnswer");
  EXPECT_NE(info.error().message.find("answered HTTP 308, Content-Type application/json"), std::string::npos)
      << info.error().message;
}

// whoami (auth login / auth whoami) follows a moved endpoint like every other call.
TEST_F(Redirects, WhoamiKeepsTheTokenOnTheSameHostAndNamesAnotherHostThatNeverGetsIt) {
  server.set_valid_token("hf_goodtoken");
  server.set_moved(test::Moved::RelativeWithQuery);
  auto same = api().whoami();
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_EQ(same->name, "tester");
  EXPECT_EQ(same->token_name, "test-token");
  int moved = 0;
  for (const auto& r : server.requests()) {
    if (r.path != "/moved/api/whoami-v2") continue;
    ++moved;
    EXPECT_TRUE(r.had_auth);  // same origin: the token stays
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(moved, 1);

  server.clear_requests();
  server.set_moved(test::Moved::OtherHost);
  auto other = api().whoami();
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::Unauthorized);
  const std::string cdn = "http://127.0.0.1:" + std::to_string(server.cdn_port());
  EXPECT_NE(other.error().message.find("redirected whoami-v2 to " + cdn + ", another host"), std::string::npos)
      << other.error().message;
  EXPECT_NE(other.error().message.find("never sent to another host"), std::string::npos) << other.error().message;
  EXPECT_EQ(other.error().message.find("invalid, expired"), std::string::npos) << other.error().message;
  EXPECT_EQ(other.error().message.find("hf_goodtoken"), std::string::npos);
  int first = 0, second = 0;
  for (const auto& r : server.requests()) {
    if (r.cdn) {
      ++second;
      EXPECT_FALSE(r.had_auth) << r.path;  // the token never leaves its origin
    } else if (r.path == "/api/whoami-v2") {
      ++first;
      EXPECT_TRUE(r.had_auth);
      EXPECT_EQ(r.status, 308);
    }
  }
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
}

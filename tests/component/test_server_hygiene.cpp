// The mirror against requests a proxy in front could read differently (RFC 9112), forged Host
// headers, stale If-Range validators and one client holding every connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tiny_repo_fixture.hpp"

namespace hubcache::test {
namespace {

const std::string k_config = "/org/tiny/resolve/main/config.json";
const std::string k_paths_info = "/api/models/org/tiny/paths-info/main";

class Hygiene : public TinyRepoFixture {
 protected:
  std::string weights = std::string(5000, 'w');
  void SetUp() override {
    TinyRepoFixture::SetUp();
    cache.add_file(k_tiny, c1, "w.bin", weights, true);
  }
  std::string exchange(const std::string& bytes) { return raw_exchange(srv->port(), bytes, 3000); }
};

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST_F(Hygiene, WellFormedRequestsAreServed) {
  start();
  // Controls for the refusals below: the same shapes without the fault.
  for (const std::string& req : {
           "GET " + k_config + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
           "GET " + k_config + "?x=1 HTTP/1.1\r\nHost: a\r\nX-A: b\tc\r\nConnection: close\r\n\r\n",
           "GET " + k_config + " HTTP/1.1\nHost: a\nConnection: close\n\n",  // bare LF line ends
           "GET " + k_config + " HTTP/1.0\r\n\r\n",                          // HTTP/1.0 needs no Host
       }) {
    const std::string resp = exchange(req);
    EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << req << "\n" << resp.substr(0, 200);
    EXPECT_EQ(resp.substr(resp.size() - 2), "{}") << req;
  }
  const std::string post = exchange("POST " + k_paths_info +
                                    " HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n"
                                    "Content-Length: 17\r\nConnection: close\r\n\r\npaths=config.json");
  EXPECT_EQ(post.rfind("HTTP/1.1 200", 0), 0u) << post.substr(0, 200);
  const std::string chunked = exchange("POST " + k_paths_info +
                                       " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                                       "Connection: close\r\n\r\n11\r\npaths=config.json\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.rfind("HTTP/1.1 200", 0), 0u) << chunked.substr(0, 200);
  EXPECT_NE(chunked.find("\"path\":\"config.json\""), std::string::npos) << chunked;
}

TEST_F(Hygiene, AmbiguousRequestsGet400SayingWhat) {
  start();
  const std::string get = "GET " + k_config + " HTTP/1.1\r\n";
  const std::string post = "POST " + k_paths_info + " HTTP/1.1\r\nHost: a\r\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {get + "Host: a\r\nHost: b\r\n\r\n", "more than one Host header"},
      {get + "Connection: close\r\n\r\n", "an HTTP/1.1 request must carry a Host header"},
      {get + "Host: evil.example/x\r\n\r\n", "Host header is not a valid"},
      {post + "Content-Length: 3\r\nContent-Length: 17\r\n\r\npaths=config.json", "different Content-Length"},
      {post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "both Transfer-Encoding and Content-Length"},
      {post + "Transfer-Encoding: gzip\r\n\r\n", "last Transfer-Encoding"},
      {get + "Host: a\r\nX-A: b" + std::string(1, '\0') + "c\r\nConnection: close\r\n\r\n", "NUL byte"},
      {get + "Host: a\r\nConnection: close\r\nX-A: b" + std::string(1, '\0') + "c\r\n\r\n", "NUL byte"},
      {get + "Host: a" + std::string(1, '\0') + "evil.example\r\n\r\n", "NUL byte"},
      {get + "Host: a\r\nX-A: b\x01"
             "c\r\n\r\n",
       "control byte"},
      {get + "Host: a\r\nX-A: b\r\n c\r\n\r\n", "folded line"},
      {"GET " + k_config + std::string(1, '\0') + "x HTTP/1.1\r\nHost: a\r\n\r\n", "NUL byte"},
      {"GET " + k_config + std::string(1, '\0') + "x?a=b HTTP/1.1\r\nHost: a\r\n\r\n", "NUL byte"},
      {"GET " + k_config + "%00x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "control byte"},
      {"GET " + k_config + "%0d%0aX:%20y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "control byte"},
      {get + "Host : a\r\n\r\n", "header name"},  // whitespace before the colon
      {get + "Host: a\r\nX-A : b\r\n\r\n", "header name"},
      {"GET /org/tiny/resolve/main/config .json HTTP/1.1\r\nHost: a\r\n\r\n", "request target"},
  };
  for (const auto& [req, why] : cases) {
    const std::string resp = exchange(req);
    EXPECT_EQ(resp.rfind("HTTP/1.1 400", 0), 0u) << req << "\n" << resp.substr(0, 300);
    EXPECT_NE(resp.find(why), std::string::npos) << req << "\n" << resp;
    EXPECT_EQ(resp.find("\r\n\r\n{}"), std::string::npos) << "served a file for: " << req;
  }
  EXPECT_EQ(http("GET", url(k_config)).status, 200);
}

TEST_F(Hygiene, ARefusedRequestClosesTheConnectionSoNothingIsSmuggled) {
  start();
  // Read by Content-Length, the body would end after "0\r\n\r\n" and the GET after it would be a
  // second request; the server must answer once and close.
  const std::string smuggled = "GET " + k_config + " HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string resp = exchange("POST " + k_paths_info +
                                    " HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                                    smuggled);
  EXPECT_EQ(resp.rfind("HTTP/1.1 400", 0), 0u) << resp;
  EXPECT_EQ(count(resp, "HTTP/1.1 "), 1u) << resp;
  EXPECT_NE(resp.find("Connection: close"), std::string::npos) << resp;
}

TEST_F(Hygiene, AForgedHostNeverReachesALocationOrLink) {
  start([](server::ServerOptions& o) { o.router.tree_page_size = 1; });
  const std::string own = srv->url();  // http://127.0.0.1:PORT
  const std::string port = std::to_string(srv->port());
  for (const std::string& host : {std::string("evil.example"), "evil.example:" + port, std::string("localhost:1")}) {
    auto r = http("GET", url("/org/tiny/resolve/main/w.bin"), {"Host: " + host});
    ASSERT_EQ(r.status, 302) << host;
    EXPECT_EQ(r.header("location").rfind(own + "/_blobs/models--org--tiny/", 0), 0u) << host << ": " << r.header("location");
    EXPECT_EQ(r.body.find("evil"), std::string::npos) << r.body;
    auto page = http("GET", url("/api/models/org/tiny/tree/main"), {"Host: " + host});
    ASSERT_EQ(page.status, 200);
    EXPECT_EQ(page.header("link").rfind("<" + own + "/api/models/org/tiny/tree/main?", 0), 0u) << page.header("link");
  }
  // A Host that names this server is kept (a client that reached it as "localhost").
  auto local = http("GET", url("/org/tiny/resolve/main/w.bin"), {"Host: localhost:" + port});
  EXPECT_EQ(local.header("location").rfind("http://localhost:" + port + "/_blobs/", 0), 0u) << local.header("location");
  EXPECT_EQ(http("GET", local.header("location")).body, weights);
  // Without a Host (HTTP/1.0): the bound address.
  const std::string resp = exchange("GET /org/tiny/resolve/main/w.bin HTTP/1.0\r\n\r\n");
  EXPECT_NE(resp.find("Location: " + own + "/_blobs/"), std::string::npos) << resp;
}

TEST_F(Hygiene, APublicUrlIsTheBaseOfEveryAbsoluteUrl) {
  start([](server::ServerOptions& o) {
    o.router.public_url = "https://mirror.example/hub/";
    o.router.tree_page_size = 1;
  });
  for (const std::string& host : {std::string("evil.example"), "127.0.0.1:" + std::to_string(srv->port())}) {
    auto r = http("GET", url("/org/tiny/resolve/main/w.bin"), {"Host: " + host});
    ASSERT_EQ(r.status, 302) << host;  // served whatever Host it names
    const std::string location = r.header("location");
    EXPECT_EQ(location.rfind("https://mirror.example/hub/_blobs/models--org--tiny/" + sha256(weights) + "?expires=", 0), 0u)
        << location;
    // The signed path works on this server (as a proxy at /hub would forward it).
    EXPECT_EQ(http("GET", url(location.substr(std::string("https://mirror.example/hub").size()))).body, weights);
    auto page = http("GET", url("/api/models/org/tiny/tree/main"), {"Host: " + host});
    EXPECT_EQ(page.header("link").rfind("<https://mirror.example/hub/api/models/org/tiny/tree/main?", 0), 0u)
        << page.header("link");
  }
}

TEST_F(Hygiene, AMalformedPublicUrlIsRefusedAtStart) {
  for (const char* bad :
       {"mirror.example", "ftp://mirror.example", "http://", "http:///x", "http://a/b?x=1", "http://a b", "http://a/#frag"}) {
    server::ServerOptions o;
    o.router.cache_dir = cache.root();
    o.router.public_url = bad;
    o.port = 0;
    auto s = server::Server::start(std::move(o));
    ASSERT_FALSE(s.has_value()) << bad;
    EXPECT_NE(s.error().message.find("the public URL"), std::string::npos) << s.error().message;
  }
}

TEST_F(Hygiene, IfRangeWithAStaleValidatorGetsTheWholeFile) {
  cache.add_file(k_tiny, c1, "ten.txt", "0123456789");
  start();
  const std::string u = url("/org/tiny/resolve/main/ten.txt");
  const auto full = http("GET", u);
  ASSERT_EQ(full.status, 200);
  const std::string etag = full.header("etag");
  const std::string modified = full.header("last-modified");
  ASSERT_EQ(etag, "\"" + git_oid("0123456789") + "\"");
  ASSERT_FALSE(modified.empty());
  auto ranged = [&](const std::string& if_range, const std::string& range = "bytes=2-4") {
    return http("GET", u, {"Range: " + range, "If-Range: " + if_range});
  };
  auto r = ranged(etag);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "234");
  r = ranged(modified);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "234");
  for (const std::string& stale :
       {std::string("\"") + git_oid("old") + "\"", "W/" + etag, std::string("Thu, 01 Jan 1970 00:00:00 GMT")}) {
    r = ranged(stale);
    EXPECT_EQ(r.status, 200) << stale;
    EXPECT_EQ(r.body, "0123456789") << stale;
    EXPECT_FALSE(r.has("content-range")) << stale;
  }
  // Not even an unsatisfiable range is looked at when If-Range fails.
  r = ranged("\"old\"", "bytes=100-");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "0123456789");
  EXPECT_EQ(ranged(etag, "bytes=100-").status, 416);

  // The same on the signed LFS download URL.
  const std::string location = http("GET", url("/org/tiny/resolve/main/w.bin")).header("location");
  const std::string blob_etag = "\"" + sha256(weights) + "\"";
  r = http("GET", location, {"Range: bytes=0-9", "If-Range: " + blob_etag});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, std::string(10, 'w'));
  r = http("GET", location, {"Range: bytes=0-9", "If-Range: \"" + sha256("previous version") + "\""});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), weights.size());
}

std::vector<int> idle_connections(std::uint16_t port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
      fds.push_back(fd);
    else
      ::close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the server accept them all
  return fds;
}

TEST_F(Hygiene, OneClientHoldingIdleConnectionsStarvesOthersWithoutAPerClientLimit) {
  // The control for the test below: with no per-client limit, 127.0.0.1 takes every slot.
  start([](server::ServerOptions& o) {
    o.max_connections = 8;
    o.max_connections_per_client = 0;
  });
  const auto fds = idle_connections(srv->port(), 20);
  EXPECT_EQ(http_from("127.0.0.2", url(k_config)).status, 0);
  for (int fd : fds) ::close(fd);
}

TEST_F(Hygiene, APerClientLimitKeepsSlotsForOtherClients) {
  start([](server::ServerOptions& o) {
    o.max_connections = 8;
    o.max_connections_per_client = 4;
  });
  const auto fds = idle_connections(srv->port(), 20);
  // 127.0.0.1 holds its 4 idle connections; its further ones are closed at once.
  EXPECT_EQ(http("GET", url(k_config)).status, 0);
  // Another client address still gets through, several times.
  for (int i = 0; i < 3; ++i) {
    auto r = http_from("127.0.0.2", url(k_config));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{}");
  }
  for (int fd : fds) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(http("GET", url(k_config)).status, 200);
}

}  // namespace
}  // namespace hubcache::test

// File bodies: small ones are read into memory and sent with their head in one write, larger
// ones go by sendfile. Both must give the exact bytes for whole files and for any range.
#include <random>

#include "server_client.hpp"

namespace hubcache::test {
namespace {

const RepoRef k_repo{RepoType::Model, "org/bodies"};

std::string varied_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

class Bodies : public ServerFixture {
 protected:
  std::string commit = commit_id(7);
  // Either side of the in-memory limit (16 KiB), and well above it.
  std::string small = varied_bytes(16 * 1024, 1);
  std::string just_over = varied_bytes(16 * 1024 + 1, 2);
  std::string large = varied_bytes(300000, 3);
  void SetUp() override {
    ServerFixture::SetUp();
    cache.add_file(k_repo, commit, "small.bin", small);
    cache.add_file(k_repo, commit, "just_over.bin", just_over);
    cache.add_file(k_repo, commit, "large.bin", large);
    cache.add_ref(k_repo, "main", commit);
    start();
  }
  std::string file_url(const std::string& name) { return url("/org/bodies/resolve/main/" + name); }
};

TEST_F(Bodies, WholeFilesAreExact) {
  for (const auto& [name, content] : {std::pair{"small.bin", &small}, {"just_over.bin", &just_over}, {"large.bin", &large}}) {
    auto r = http("GET", file_url(name));
    EXPECT_EQ(r.status, 200) << name;
    EXPECT_EQ(r.header("content-length"), std::to_string(content->size())) << name;
    EXPECT_TRUE(r.body == *content) << name << ": " << r.body.size() << " bytes";
    auto h = http("HEAD", file_url(name));
    EXPECT_EQ(h.status, 200) << name;
    EXPECT_EQ(h.header("content-length"), std::to_string(content->size())) << name;
    EXPECT_TRUE(h.body.empty()) << name;
  }
}

TEST_F(Bodies, RangesAtAnyOffsetAreExact) {
  // Small ranges of large files take the in-memory path at an offset; large ranges sendfile.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> spans = {{0, 0},           {1, 100},         {12345, 12399},
                                                                      {100000, 116383}, {100000, 116384}, {150000, 299999}};
  for (const auto& [a, b] : spans) {
    auto r = http("GET", file_url("large.bin"), {"Range: bytes=" + std::to_string(a) + "-" + std::to_string(b)});
    EXPECT_EQ(r.status, 206) << a << "-" << b;
    EXPECT_EQ(r.header("content-range"), "bytes " + std::to_string(a) + "-" + std::to_string(b) + "/300000");
    EXPECT_TRUE(r.body == large.substr(a, b - a + 1)) << a << "-" << b << ": " << r.body.size() << " bytes";
  }
  auto tail = http("GET", file_url("small.bin"), {"Range: bytes=-10"});
  EXPECT_EQ(tail.status, 206);
  EXPECT_TRUE(tail.body == small.substr(small.size() - 10));
}

TEST_F(Bodies, ManyRequestsOnOneKeepAliveConnectionStayExact) {
  // The same connection alternates between both body kinds.
  std::string request;
  for (int i = 0; i < 6; ++i) {
    const char* name = i % 2 ? "large.bin" : "small.bin";
    request += "GET /org/bodies/resolve/main/" + std::string(name) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    request += i == 5 ? "Connection: close\r\n\r\n" : "\r\n";
  }
  const std::string resp = raw_exchange(srv->port(), request, 5000);
  std::size_t at = 0;
  for (int i = 0; i < 6; ++i) {
    const std::string& want = i % 2 ? large : small;
    const auto head_end = resp.find("\r\n\r\n", at);
    ASSERT_NE(head_end, std::string::npos) << "response " << i;
    EXPECT_EQ(resp.compare(at, 15, "HTTP/1.1 200 OK"), 0) << "response " << i;
    EXPECT_TRUE(resp.compare(head_end + 4, want.size(), want) == 0) << "response " << i;
    at = head_end + 4 + want.size();
  }
  EXPECT_EQ(at, resp.size());
}

}  // namespace
}  // namespace hubcache::test

// Tree pagination as the Hub does it: 1000 entries a page (50 with expand), Link rel="next".
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "server_client.hpp"

namespace hubcache::test {
namespace {

using nlohmann::json;

// Parses `<url>; rel="next"`.
std::string next_link(const HttpResult& r) {
  const std::string link = r.header("link");
  if (link.empty()) return {};
  EXPECT_NE(link.find("rel=\"next\""), std::string::npos);
  return link.substr(1, link.find('>') - 1);
}

// File creation is slow on some disks: the 2,100-file cache is built once for the suite.
class Pagination : public ::testing::Test {
 protected:
  static inline std::unique_ptr<TempDir> s_tmp;
  std::unique_ptr<server::Server> srv;
  static void SetUpTestSuite() {
    s_tmp = std::make_unique<TempDir>();
    CacheBuilder cache(s_tmp->path());
    const RepoRef repo{RepoType::Dataset, "org/many"};
    for (int i = 0; i < 2105; ++i) {
      char name[64];
      std::snprintf(name, sizeof name, "data/part-%05d.txt", i);
      cache.add_file(repo, commit_id(3), name, std::to_string(i));
    }
    cache.add_file(repo, commit_id(3), "README.md", "readme");
    cache.add_ref(repo, "main", commit_id(3));
  }
  static void TearDownTestSuite() { s_tmp.reset(); }
  void SetUp() override {
    server::ServerOptions o;
    o.router.cache_dir = s_tmp->path();
    o.port = 0;
    auto s = server::Server::start(std::move(o));
    ASSERT_TRUE(s.has_value()) << s.error().message;
    srv = std::move(*s);
  }
  std::string url(const std::string& path) const { return srv->url() + path; }
};

TEST_F(Pagination, RecursiveListingPagesBy1000AndFollowsLinks) {
  std::string next = url("/api/datasets/org/many/tree/main?recursive=true");
  std::vector<std::size_t> sizes;
  std::set<std::string> paths;
  while (!next.empty() && sizes.size() < 10) {
    auto r = http("GET", next);
    ASSERT_EQ(r.status, 200) << next;
    auto j = json::parse(r.body);
    sizes.push_back(j.size());
    for (const auto& e : j) EXPECT_TRUE(paths.insert(e["path"].get<std::string>()).second) << "duplicate " << e["path"];
    next = next_link(r);
    if (!next.empty()) {
      EXPECT_EQ(next.rfind(srv->url() + "/api/datasets/org/many/tree/main?", 0), 0u) << next;
      EXPECT_NE(next.find("cursor="), std::string::npos);
      EXPECT_NE(next.find("recursive=true"), std::string::npos);
    }
  }
  // 2105 files + README + the "data" directory = 2107 entries.
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1000, 1000, 107}));
  EXPECT_EQ(paths.size(), 2107u);
  EXPECT_TRUE(paths.count("data"));
  EXPECT_TRUE(paths.count("data/part-02104.txt"));
}

TEST_F(Pagination, ExpandPagesBy50RootFitsOnePageForgedCursorRefused) {
  auto r = http("GET", url("/api/datasets/org/many/tree/main/data?expand=true"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body).size(), 50u);
  const std::string next = next_link(r);
  ASSERT_FALSE(next.empty());
  EXPECT_NE(next.find("/tree/main/data?"), std::string::npos);
  EXPECT_NE(next.find("expand=true"), std::string::npos);
  auto j = json::parse(http("GET", next).body);
  ASSERT_EQ(j.size(), 50u);
  EXPECT_EQ(j[0]["path"], "data/part-00050.txt");
  EXPECT_EQ(j[0]["lastCommit"]["id"], commit_id(3));
  // A non-recursive root listing fits one page; a forged cursor is refused.
  auto root = http("GET", url("/api/datasets/org/many/tree/main"));
  EXPECT_EQ(json::parse(root.body).size(), 2u);  // README.md and data/
  EXPECT_FALSE(root.has("link"));
  EXPECT_EQ(http("GET", url("/api/datasets/org/many/tree/main?cursor=zz")).status, 400);
}

// A folder's entries are one run of the sorted listing; pages stay inside it even with
// neighbours sorting right before and after ("sub-a.txt" < "sub/..." < "sub0", "subz").
class FolderPages : public ServerFixture {};

TEST_F(FolderPages, PagesOfASubfolderHoldExactlyItsEntries) {
  const RepoRef repo{RepoType::Model, "org/pages"};
  const std::string c = commit_id(4);
  std::vector<std::string> inside;
  for (const char* n : {"sub-a.txt", "sub.txt", "sub0", "subz/x.txt", "a.txt"}) cache.add_file(repo, c, n, n);
  for (int i = 0; i < 7; ++i) {
    inside.push_back("sub/f" + std::to_string(i) + ".txt");
    cache.add_file(repo, c, inside.back(), inside.back());
  }
  cache.add_file(repo, c, "sub/deeper/g.txt", "g");
  cache.add_ref(repo, "main", c);
  start([](server::ServerOptions& o) { o.router.tree_page_size = 3; });
  std::vector<std::string> got;
  std::string next = url("/api/models/org/pages/tree/main/sub");
  for (int pages = 0; !next.empty() && pages < 10; ++pages) {
    auto r = http("GET", next);
    ASSERT_EQ(r.status, 200) << next;
    for (const auto& e : json::parse(r.body)) got.push_back(e["path"].get<std::string>());
    next = next_link(r);
  }
  inside.insert(inside.begin(), "sub/deeper");  // non-recursive: the folder, not its files
  EXPECT_EQ(got, inside);
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST_F(FolderPages, ListingsKeepNoFilesOpen) {
  // The descriptor budget is for files being served; listing a repo must not spend it.
  const RepoRef repo{RepoType::Model, "org/wide"};
  const std::string c = commit_id(5);
  for (int i = 0; i < 60; ++i) cache.add_file(repo, c, "f" + std::to_string(i) + ".txt", std::to_string(i));
  cache.add_ref(repo, "main", c);
  // Entries changed in the last 2 s are never cached (racily clean): age the pointers.
  const timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  for (const auto& e : std::filesystem::directory_iterator(cache.layout(repo).snapshot_dir(c)))
    ASSERT_EQ(::utimensat(AT_FDCWD, e.path().c_str(), old, AT_SYMLINK_NOFOLLOW), 0);
  start();
  const std::size_t before = open_descriptors();
  auto r = http("GET", url("/api/models/org/wide/tree/main?recursive=true"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body).size(), 60u);
  EXPECT_LT(open_descriptors(), before + 10);
  // Serving a file still keeps its descriptor for the next request.
  EXPECT_EQ(http("GET", url("/org/wide/resolve/main/f7.txt")).body, "7");
}

}  // namespace
}  // namespace hubcache::test

// The mirror over a cache that another tool keeps changing: new files and refs show up, partial
// blobs never do, moved refs and replaced or deleted blobs are followed.
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "tiny_repo_fixture.hpp"

namespace hubcache::test {
namespace {

using Freshness = TinyRepoFixture;

TEST_F(Freshness, NewDownloadsShowUpAndPartialOnesNever) {
  start();
  auto list = [&] {
    std::vector<std::string> out;
    for (const auto& e : nlohmann::json::parse(http("GET", url("/api/models/org/tiny/tree/main?recursive=true")).body))
      out.push_back(e["path"]);
    return out;
  };
  EXPECT_EQ(list().size(), 3u);
  // Another tool adds a file (and a deeper one) to the snapshot, and starts a partial blob.
  cache.add_file(k_tiny, c1, "added.txt", "new");
  cache.add_file(k_tiny, c1, "sub/deeper/z.txt", "z");
  write_file(cache.layout(k_tiny).incomplete_path(std::string(64, 'c')), "partial");
  EXPECT_EQ(list(), (std::vector<std::string>{"added.txt", "config.json", "sub", "sub/a.txt", "sub/deeper", "sub/deeper/z.txt"}));
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/added.txt")).body, "new");
  // A new revision appears too.
  cache.add_file(k_tiny, commit_id(5), "v2.txt", "v2");
  cache.add_ref(k_tiny, "v2", commit_id(5));
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/v2/v2.txt")).body, "v2");
}

// Makes a file look old, so the mirror's caches may keep it (recent changes are never cached).
void age(const std::string& path) {
  timespec times[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
}

TEST_F(Freshness, AMovedRefIsSeenAtOnceOrAfterTheRevalidationDelay) {
  for (const int delay_ms : {0, 300}) {
    const RepoRef repo{RepoType::Model, "org/moving" + std::to_string(delay_ms)};
    cache.add_file(repo, commit_id(1), "f.txt", "one");
    cache.add_file(repo, commit_id(2), "f.txt", "two");
    cache.add_ref(repo, "main", commit_id(1));
    age(cache.layout(repo).ref_path("main"));
    age(cache.layout(repo).pointer_path(commit_id(1), "f.txt"));
    if (srv) srv->stop();
    start([&](server::ServerOptions& o) { o.router.revalidate_after = std::chrono::milliseconds(delay_ms); });
    const std::string u = url("/org/moving" + std::to_string(delay_ms) + "/resolve/main/f.txt");
    EXPECT_EQ(http("GET", u).body, "one");
    EXPECT_EQ(http("GET", u).body, "one");  // now served from the caches
    cache.add_ref(repo, "main", commit_id(2));
    if (delay_ms == 0) {
      EXPECT_EQ(http("GET", u).body, "two");
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms + 200));
      auto r = http("GET", u);
      EXPECT_EQ(r.body, "two");
      EXPECT_EQ(r.header("x-repo-commit"), commit_id(2));
    }
  }
}

TEST_F(Freshness, ADeletedOrReplacedBlobIsNotServedFromAKeptDescriptor) {
  const RepoRef repo{RepoType::Model, "org/kept"};
  const std::string oid = cache.add_file(repo, c1, "f.txt", "original");
  cache.add_ref(repo, "main", c1);
  age(cache.layout(repo).ref_path("main"));
  age(cache.layout(repo).pointer_path(c1, "f.txt"));
  start([](server::ServerOptions& o) { o.router.revalidate_after = std::chrono::milliseconds(0); });
  const std::string u = url("/org/kept/resolve/main/f.txt");
  EXPECT_EQ(http("GET", u).body, "original");
  EXPECT_EQ(http("GET", u).body, "original");  // from the kept descriptor
  // Replaced under the same name (a repair tool rewrote the blob): the new bytes are served.
  const std::string blob = cache.layout(repo).blob_path(oid);
  write_file(blob + ".tmp", "rewritten");
  std::filesystem::rename(blob + ".tmp", blob);
  EXPECT_EQ(http("GET", u).body, "rewritten");
  // Deleted (cache cleanup): 404, not the old bytes.
  std::filesystem::remove(blob);
  auto r = http("GET", u);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("x-error-code"), "EntryNotFound");
}

TEST_F(Freshness, ARemovedOrRepointedSharedStoreLinkIsNotServedFromTheCache) {
  // huggingface_hub >= 1.32: pointer -> blobs/<etag> -> ../../blobs/<h[:2]>/<h>. The payload
  // outlives the repo's link (other repos use it), so the link itself must be re-checked.
  const RepoRef repo{RepoType::Model, "org/sharing"};
  cache.mark_shared_store();
  const std::string hash_a(64, 'a'), hash_b = "b" + std::string(63, 'e');
  const std::string etag = cache.add_shared_file(repo, c1, "w.bin", "payload one", hash_a);
  cache.add_shared_payload(hash_b, "the second payload");
  cache.add_ref(repo, "main", c1);
  const std::string link = cache.layout(repo).blob_path(etag);
  age(cache.layout(repo).ref_path("main"));
  age(cache.layout(repo).pointer_path(c1, "w.bin"));
  age(link);
  start([](server::ServerOptions& o) { o.router.revalidate_after = std::chrono::milliseconds(0); });
  const std::string u = url("/org/sharing/resolve/main/w.bin");
  auto body_of = [&](const HttpResult& r) { return http("GET", r.header("location")).body; };
  auto first = http("GET", u);
  ASSERT_EQ(first.status, 302);
  EXPECT_EQ(first.header("x-linked-size"), "11");
  EXPECT_EQ(body_of(first), "payload one");
  EXPECT_EQ(body_of(http("GET", u)), "payload one");  // from the lookup cache
  // Re-pointed at another payload of the store (a repair): the new bytes, not the cached ones.
  std::filesystem::remove(link);
  std::filesystem::create_symlink("../../blobs/" + hash_b.substr(0, 2) + "/" + hash_b, link);
  auto again = http("GET", u);
  EXPECT_EQ(again.header("x-linked-size"), "18");
  EXPECT_EQ(body_of(again), "the second payload");
  // Removed (cache rm of this repo's entry): 404, although the payloads are still there.
  std::filesystem::remove(link);
  auto gone = http("HEAD", u);
  EXPECT_EQ(gone.status, 404);
  EXPECT_TRUE(exists(cache.root() + "/blobs/aa/" + hash_a));
}

}  // namespace
}  // namespace hubcache::test

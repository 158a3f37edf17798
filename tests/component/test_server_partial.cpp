// A mirror holding part of a commit: trees/<commit>.json lists every file of the commit, the
// snapshot only some. Listings show the whole commit; a file the cache lacks is refused as the
// mirror's lack (503), never as a file the commit does not have (404 EntryNotFound + commit,
// which clients record in .no_exist).
#include <fcntl.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/cache/lfs_pointer.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/hash.hpp"
#include "server_client.hpp"

namespace hubcache::test {
namespace {

using nlohmann::json;

const RepoRef k_part{RepoType::Model, "org/part"};

class Partial : public ServerFixture {
 protected:
  std::string c = commit_id(3);
  std::string weights = std::string(4000, 'W');
  std::vector<TreeFileEntry> record;

  void SetUp() override {
    ServerFixture::SetUp();
    cache.add_file(k_part, c, "config.json", "{\"held\": true}");
    cache.add_file(k_part, c, "sub/a.txt", "a");
    cache.add_ref(k_part, "main", c);
    auto entry = [](const std::string& path, const std::string& content, bool lfs) {
      TreeFileEntry e;
      e.path = path;
      e.size = content.size();
      e.blob_id = lfs ? git_oid(lfs_pointer_text(sha256(content), content.size())) : git_oid(content);
      if (lfs) {
        e.lfs_sha256 = sha256(content);
        e.lfs_size = content.size();
      }
      return e;
    };
    record = {entry("config.json", "{\"held\": true}", false), entry("extra/b.txt", "b", false),
              entry("model.safetensors", weights, true), entry("sub/a.txt", "a", false), entry("sub/c.txt", "c", false)};
  }
  void write_record() { ASSERT_TRUE(write_tree_file(cache.layout(k_part), c, record)); }
  std::vector<std::string> tree_paths(const std::string& query = "?recursive=true") {
    std::vector<std::string> out;
    for (const auto& e : json::parse(http("GET", url("/api/models/org/part/tree/main" + query)).body)) out.push_back(e["path"]);
    return out;
  }
};

TEST_F(Partial, ListingsShowEveryFileOfTheCommit) {
  write_record();
  start();
  EXPECT_EQ(tree_paths(), (std::vector<std::string>{"config.json", "extra", "extra/b.txt", "model.safetensors", "sub",
                                                    "sub/a.txt", "sub/c.txt"}));
  EXPECT_EQ(tree_paths("/extra"), (std::vector<std::string>{"extra/b.txt"}));  // a folder only the record knows
  const auto tree = json::parse(http("GET", url("/api/models/org/part/tree/main?recursive=true")).body);
  for (const auto& e : tree) {
    if (e["path"] == "model.safetensors") {
      EXPECT_EQ(e["oid"], record[2].blob_id);
      EXPECT_EQ(e["size"], weights.size());
      EXPECT_EQ(e["lfs"]["oid"], sha256(weights));
      EXPECT_EQ(e["lfs"]["pointerSize"], lfs_pointer_text(sha256(weights), weights.size()).size());
    }
    if (e["path"] == "sub") {  // the folder's git tree id covers the file the cache lacks too
      EXPECT_EQ(e["oid"], git_tree_sha1_hex({{"a.txt", false, git_oid("a")}, {"c.txt", false, git_oid("c")}}));
    }
  }
  const auto info = json::parse(http("GET", url("/api/models/org/part?blobs=true")).body);
  EXPECT_EQ(info["siblings"].size(), 5u);
  const auto paths = json::parse(
      http("POST", url("/api/models/org/part/paths-info/main"), {}, "paths=model.safetensors&paths=extra/b.txt&paths=nope.txt")
          .body);
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths[0]["path"], "model.safetensors");
  EXPECT_EQ(paths[1]["path"], "extra/b.txt");
  EXPECT_EQ(paths[1]["oid"], git_oid("b"));
}

TEST_F(Partial, AFileTheMirrorLacksIsNeverReportedAsMissingFromTheCommit) {
  write_record();
  start();
  for (const char* method : {"HEAD", "GET"}) {
    for (const char* path : {"model.safetensors", "extra/b.txt", "sub/c.txt"}) {
      auto r = http(method, url(std::string("/org/part/resolve/main/") + path));
      EXPECT_EQ(r.status, 503) << method << " " << path;
      EXPECT_FALSE(r.has("x-error-code")) << path;   // not EntryNotFound
      EXPECT_FALSE(r.has("x-repo-commit")) << path;  // nothing to record a .no_exist under
      const std::string msg = r.header("x-error-message");
      EXPECT_NE(msg.find(std::string("This mirror lacks '") + path + "' of model 'org/part' at " + c), std::string::npos) << msg;
      EXPECT_NE(msg.find("add it to the mirror's cache (download that file at that commit"), std::string::npos) << msg;
    }
  }
  EXPECT_EQ(http("GET", url("/org/part/raw/main/model.safetensors")).status, 503);
  // What the commit does not have is still a 404 EntryNotFound with the commit; held files are served.
  auto absent = http("HEAD", url("/org/part/resolve/main/not-in-commit.txt"));
  EXPECT_EQ(absent.status, 404);
  EXPECT_EQ(absent.header("x-error-code"), "EntryNotFound");
  EXPECT_EQ(absent.header("x-repo-commit"), c);
  EXPECT_EQ(http("GET", url("/org/part/resolve/main/sub/a.txt")).body, "a");
}

TEST_F(Partial, ATreeRecordWrittenLaterShowsUp) {
  // Old directories make the first listing cacheable (recent ones are never cached).
  const std::string folder = cache.layout(k_part).folder();
  for (const std::string& d : {folder + "/snapshots/" + c, folder + "/snapshots/" + c + "/sub"}) {
    const timespec old[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 60, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, d.c_str(), old, 0), 0) << d;
  }
  start();
  EXPECT_EQ(tree_paths(), (std::vector<std::string>{"config.json", "sub", "sub/a.txt"}));
  EXPECT_EQ(http("HEAD", url("/org/part/resolve/main/extra/b.txt")).header("x-error-code"), "EntryNotFound");
  write_record();
  EXPECT_EQ(tree_paths().size(), 7u);
  EXPECT_EQ(http("HEAD", url("/org/part/resolve/main/extra/b.txt")).status, 503);
}

}  // namespace
}  // namespace hubcache::test

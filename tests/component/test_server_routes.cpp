// Protocol tests of the mirror's routes with a plain HTTP client (libcurl).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "server_client.hpp"

namespace hubcache::test {
namespace {

using nlohmann::json;

const RepoRef k_model{RepoType::Model, "org/tiny"};
const std::string k_config = "{\"hidden\": 8}\n";
const std::string k_weights(200000, 'w');

class Routes : public ServerFixture {
 protected:
  std::string c1 = commit_id(1), c2 = commit_id(2);
  void SetUp() override {
    ServerFixture::SetUp();
    cache.add_file(k_model, c1, "config.json", k_config);
    cache.add_file(k_model, c1, "model.safetensors", k_weights, true);
    cache.add_file(k_model, c1, "sub/dir/a.txt", "A");
    cache.add_file(k_model, c1, "sub/b.txt", "B");
    cache.add_ref(k_model, "main", c1);
    cache.add_file(k_model, c2, "config.json", "pr version\n");
    cache.add_ref(k_model, "refs/pr/1", c2);
    start();
  }
};

TEST_F(Routes, RepoInfoHasShaSiblingsAndTheFieldsClientsRead) {
  auto r = http("GET", url("/api/models/org/tiny"));
  ASSERT_EQ(r.status, 200);
  auto j = json::parse(r.body);
  EXPECT_EQ(j["sha"], c1);
  EXPECT_EQ(j["id"], "org/tiny");
  EXPECT_EQ(j["private"], false);
  EXPECT_EQ(j["gated"], false);
  EXPECT_EQ(j["disabled"], false);
  EXPECT_TRUE(j["lastModified"].is_string());
  ASSERT_EQ(j["siblings"].size(), 4u);
  EXPECT_EQ(j["siblings"][0], json({{"rfilename", "config.json"}}));  // no sizes unless asked
  EXPECT_EQ(r.header("content-type").rfind("application/json", 0), 0u);
}

TEST_F(Routes, RepoInfoWithBlobsHasSizesAndLfs) {
  auto j = json::parse(http("GET", url("/api/models/org/tiny/revision/main?blobs=true")).body);
  const auto& s = j["siblings"];
  EXPECT_EQ(s[0]["size"], k_config.size());
  EXPECT_EQ(s[0]["blobId"], git_oid(k_config));
  EXPECT_FALSE(s[0].contains("lfs"));
  EXPECT_EQ(s[1]["rfilename"], "model.safetensors");
  EXPECT_EQ(s[1]["lfs"]["sha256"], sha256(k_weights));
  EXPECT_EQ(s[1]["lfs"]["size"], k_weights.size());
  EXPECT_GT(s[1]["lfs"]["pointerSize"].get<int>(), 100);
}

TEST_F(Routes, RevisionsRefsPrCommitsAndHeadAlias) {
  EXPECT_EQ(json::parse(http("GET", url("/api/models/org/tiny/revision/refs%2Fpr%2F1")).body)["sha"], c2);
  EXPECT_EQ(json::parse(http("GET", url("/api/models/org/tiny/revision/" + c2)).body)["sha"], c2);
  EXPECT_EQ(json::parse(http("GET", url("/api/models/org/tiny/revision/HEAD")).body)["sha"], c1);
  auto r = http("GET", url("/org/tiny/resolve/refs%2Fpr%2F1/config.json"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "pr version\n");
  EXPECT_EQ(r.header("x-repo-commit"), c2);
  // Sent unencoded, as huggingface.js does for tree URLs.
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/refs/pr/1/config.json")).body, "pr version\n");
}

TEST_F(Routes, UnknownRepoRevisionAndEntryGiveTheHubErrors) {
  // Anonymous: the Hub's 401 (see Security.MissingAndPrivateReposLookAlikeWithoutAToken).
  auto r = http("GET", url("/api/models/org/missing"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("x-error-code"), "RepoNotFound");
  EXPECT_EQ(json::parse(r.body)["error"], "Invalid username or password.");
  r = http("HEAD", url("/org/missing/resolve/main/config.json"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("x-error-code"), "RepoNotFound");
  r = http("HEAD", url("/org/tiny/resolve/nope/config.json"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("x-error-code"), "RevisionNotFound");
  EXPECT_FALSE(r.has("x-repo-commit"));
  r = http("GET", url("/api/models/org/tiny/revision/" + commit_id(9)));
  EXPECT_EQ(r.header("x-error-code"), "RevisionNotFound");
  r = http("HEAD", url("/org/tiny/resolve/main/absent.json"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("x-error-code"), "EntryNotFound");
  EXPECT_EQ(r.header("x-repo-commit"), c1);
  EXPECT_NE(r.header("x-error-message").find("absent.json"), std::string::npos);
  // A directory is not a file.
  EXPECT_EQ(http("HEAD", url("/org/tiny/resolve/main/sub")).header("x-error-code"), "EntryNotFound");
}

TEST_F(Routes, RefToMissingSnapshotIsRevisionNotFound) {
  cache.add_ref(k_model, "stale", commit_id(7));
  auto r = http("GET", url("/api/models/org/tiny/revision/stale"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("x-error-code"), "RevisionNotFound");
  EXPECT_NE(r.header("x-error-message").find(commit_id(7)), std::string::npos);
}

TEST_F(Routes, ResolveRegularFile) {
  auto r = http("GET", url("/org/tiny/resolve/main/config.json"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, k_config);
  EXPECT_EQ(r.header("etag"), "\"" + git_oid(k_config) + "\"");
  EXPECT_EQ(r.header("x-repo-commit"), c1);
  EXPECT_EQ(r.header("content-length"), std::to_string(k_config.size()));
  EXPECT_EQ(r.header("accept-ranges"), "bytes");
  EXPECT_FALSE(r.has("x-linked-etag"));
  auto h = http("HEAD", url("/org/tiny/resolve/main/config.json"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.header("content-length"), std::to_string(k_config.size()));
  EXPECT_EQ(h.header("etag"), r.header("etag"));
  EXPECT_TRUE(h.body.empty());
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/" + c1 + "/sub/dir/a.txt")).body, "A");
}

TEST_F(Routes, ResolveLfsRedirectsWithLinkedHeadersToADownloadPathWeServe) {
  auto h = http("HEAD", url("/org/tiny/resolve/main/model.safetensors"));
  ASSERT_EQ(h.status, 302);
  EXPECT_EQ(h.header("x-linked-etag"), "\"" + sha256(k_weights) + "\"");
  EXPECT_EQ(h.header("x-linked-size"), std::to_string(k_weights.size()));
  EXPECT_EQ(h.header("x-repo-commit"), c1);
  const std::string pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256(k_weights) + "\nsize " +
                              std::to_string(k_weights.size()) + "\n";
  EXPECT_EQ(h.header("etag"), "\"" + git_oid(pointer) + "\"");
  const std::string location = h.header("location");
  ASSERT_EQ(location.rfind(srv->url() + "/_blobs/models--org--tiny/" + sha256(k_weights) + "?", 0), 0u) << location;
  auto g = http("GET", location);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, k_weights);
  EXPECT_EQ(g.header("etag"), "\"" + sha256(k_weights) + "\"");
  EXPECT_EQ(g.header("cache-control"), "public, max-age=31536000, immutable");  // content-addressed
  EXPECT_FALSE(h.has("cache-control")) << "the redirect itself names a branch: never cached for good";
  auto part = http("GET", location, {"Range: bytes=10-19"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, std::string(10, 'w'));
  // The raw route gives the LFS pointer itself.
  auto raw = http("GET", url("/org/tiny/raw/main/model.safetensors"));
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(raw.body, pointer);
}

TEST_F(Routes, BlobUrlsMustBeSignedAndUnexpired) {
  const std::string location = http("HEAD", url("/org/tiny/resolve/main/model.safetensors")).header("location");
  std::string tampered = location;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(http("GET", tampered).status, 403);
  const std::string unsigned_url = location.substr(0, location.find('?'));
  EXPECT_EQ(http("GET", unsigned_url).status, 403);
  // A signature for one blob does not open another.
  std::string other = location;
  other.replace(other.find(sha256(k_weights)), 64, std::string(64, 'a'));
  EXPECT_EQ(http("GET", other).status, 403);
}

TEST_F(Routes, ExpiredBlobUrlIsRefused) {
  srv->stop();
  start([](server::ServerOptions& o) { o.router.blob_url_ttl = std::chrono::seconds(-10); });
  const std::string location = http("HEAD", url("/org/tiny/resolve/main/model.safetensors")).header("location");
  auto r = http("GET", location);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.header("x-error-message").find("expired"), std::string::npos);
}

TEST_F(Routes, RangeEdgeCases) {
  const std::string u = url("/org/tiny/resolve/main/config.json");
  const std::string n = std::to_string(k_config.size());
  auto r = http("GET", u, {"Range: bytes=0-0"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "{");
  EXPECT_EQ(r.header("content-range"), "bytes 0-0/" + n);
  r = http("GET", u, {"Range: bytes=5-"});  // open range
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, k_config.substr(5));
  r = http("GET", u, {"Range: bytes=-3"});  // suffix
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, k_config.substr(k_config.size() - 3));
  r = http("GET", u, {"Range: bytes=-1000"});  // suffix longer than the file: all of it
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, k_config);
  r = http("GET", u, {"Range: bytes=2-1000"});  // end clipped
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("content-range"), "bytes 2-" + std::to_string(k_config.size() - 1) + "/" + n);
  r = http("GET", u, {"Range: bytes=" + n + "-"});  // start beyond the end
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.header("content-range"), "bytes */" + n);
  r = http("GET", u, {"Range: bytes=-0"});
  EXPECT_EQ(r.status, 416);
  r = http("GET", u, {"Range: bytes=0-1,4-5"});  // multi-range: answered whole (documented)
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, k_config);
  r = http("GET", u, {"Range: bytes=5-2"});  // invalid: ignored
  EXPECT_EQ(r.status, 200);
  r = http("GET", u, {"Range: items=0-1"});
  EXPECT_EQ(r.status, 200);
}

TEST_F(Routes, EmptyFileWithRangeProbeAnswersWholeWithItsSize) {
  cache.add_file(k_model, c1, "empty.txt", "");
  auto r = http("GET", url("/org/tiny/resolve/main/empty.txt"), {"Range: bytes=0-0"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("content-range"), "bytes */0");
  EXPECT_EQ(r.header("etag"), "\"e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\"");
}

TEST_F(Routes, IfNoneMatchGives304) {
  const std::string u = url("/org/tiny/resolve/main/config.json");
  const std::string etag = "\"" + git_oid(k_config) + "\"";
  auto r = http("GET", u, {"If-None-Match: " + etag});
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.header("etag"), etag);
  EXPECT_EQ(http("HEAD", u, {"If-None-Match: \"other\", " + etag}).status, 304);
  EXPECT_EQ(http("GET", u, {"If-None-Match: \"other\""}).status, 200);
  const std::string location = http("HEAD", url("/org/tiny/resolve/main/model.safetensors")).header("location");
  EXPECT_EQ(http("GET", location, {"If-None-Match: \"" + sha256(k_weights) + "\""}).status, 304);
}

TEST_F(Routes, EncodedPathsAreDecodedLikeTheHub) {
  const std::string awful = "subfolder/to?/awful?filename%you:should,never.give";
  cache.add_file(k_model, c1, awful, "awful");
  auto r = http("GET", url("/org/tiny/resolve/main/subfolder/to%3F/awful%3Ffilename%25you%3Ashould%2Cnever.give"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "awful");
  cache.add_file(k_model, c1, "with space+plus.txt", "sp");
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/with%20space%2Bplus.txt")).body, "sp");
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/with%20space+plus.txt")).body, "sp");  // '+' is literal in paths
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/bad%zzescape")).status, 400);
}

TEST_F(Routes, TreeRootNonRecursiveListsDirectoriesAndFiles) {
  auto r = http("GET", url("/api/models/org/tiny/tree/main"));
  ASSERT_EQ(r.status, 200);
  auto j = json::parse(r.body);
  std::vector<std::string> paths;
  for (const auto& e : j) paths.push_back(e["path"]);
  EXPECT_EQ(paths, (std::vector<std::string>{"config.json", "model.safetensors", "sub"}));
  EXPECT_EQ(j[2]["type"], "directory");
  EXPECT_EQ(j[0]["type"], "file");
  EXPECT_EQ(j[0]["oid"], git_oid(k_config));
  EXPECT_EQ(j[0]["size"], k_config.size());
  EXPECT_FALSE(j[0].contains("lastCommit"));
  EXPECT_EQ(j[1]["lfs"]["oid"], sha256(k_weights));
  EXPECT_EQ(j[1]["size"], k_weights.size());
  EXPECT_FALSE(r.has("link"));
}

TEST_F(Routes, TreeRecursiveSubpathAndExpand) {
  auto j = json::parse(http("GET", url("/api/models/org/tiny/tree/main?recursive=true")).body);
  std::vector<std::string> paths;
  for (const auto& e : j) paths.push_back(e["path"]);
  EXPECT_EQ(paths,
            (std::vector<std::string>{"config.json", "model.safetensors", "sub", "sub/b.txt", "sub/dir", "sub/dir/a.txt"}));
  // Directory oids are git tree ids (values from `git write-tree` of the same files).
  EXPECT_EQ(j[2]["oid"], "e83551e59de401b2f6661a7dfc705e030968b259");
  EXPECT_EQ(j[4]["oid"], "a383868b6d7d052bae54aa4a1f7d2c1fb3695d0a");
  j = json::parse(http("GET", url("/api/models/org/tiny/tree/main/sub?recursive=false")).body);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["path"], "sub/b.txt");
  EXPECT_EQ(j[1]["path"], "sub/dir");
  j = json::parse(http("GET", url("/api/models/org/tiny/tree/" + c1 + "/sub%2Fdir?expand=true")).body);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["lastCommit"]["id"], c1);
  EXPECT_TRUE(j[0]["lastCommit"]["date"].is_string());
  auto missing = http("GET", url("/api/models/org/tiny/tree/main/nope"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.header("x-error-code"), "EntryNotFound");
  EXPECT_EQ(http("GET", url("/api/models/org/tiny/tree/nope")).header("x-error-code"), "RevisionNotFound");
}

TEST_F(Routes, PathsInfoFormAndJson) {
  const std::string u = url("/api/models/org/tiny/paths-info/main");
  auto r = http("POST", u, {"Content-Type: application/x-www-form-urlencoded"},
                "paths=config.json&paths=sub&paths=missing.txt&expand=false");
  ASSERT_EQ(r.status, 200);
  auto j = json::parse(r.body);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["path"], "config.json");
  EXPECT_EQ(j[0]["oid"], git_oid(k_config));
  EXPECT_EQ(j[1]["type"], "directory");
  r = http("POST", u, {"Content-Type: application/json"}, R"({"paths":["model.safetensors"],"expand":true})");
  j = json::parse(r.body);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["lfs"]["oid"], sha256(k_weights));
  EXPECT_EQ(j[0]["lastCommit"]["id"], c1);
  EXPECT_EQ(http("POST", u, {"Content-Type: application/json"}, "{not json").status, 400);
  EXPECT_EQ(http("GET", u).status, 405);
}

TEST_F(Routes, DatasetsAndSpacesUseTheirPrefixes) {
  const RepoRef ds{RepoType::Dataset, "org/data"};
  const RepoRef sp{RepoType::Space, "demo"};
  cache.add_file(ds, c1, "train.csv", "a,b\n");
  cache.add_ref(ds, "main", c1);
  cache.add_file(sp, c2, "app.py", "print(1)\n");
  cache.add_ref(sp, "main", c2);
  EXPECT_EQ(http("GET", url("/datasets/org/data/resolve/main/train.csv")).body, "a,b\n");
  EXPECT_EQ(json::parse(http("GET", url("/api/datasets/org/data")).body)["sha"], c1);
  EXPECT_EQ(http("GET", url("/spaces/demo/resolve/main/app.py")).body, "print(1)\n");
  EXPECT_EQ(json::parse(http("GET", url("/api/spaces/demo/tree/main")).body)[0]["path"], "app.py");
  // Same id, wrong type: not found.
  EXPECT_EQ(http("GET", url("/org/data/resolve/main/train.csv")).header("x-error-code"), "RepoNotFound");
  EXPECT_EQ(http("GET", url("/api/models/demo")).status, 401);
}

TEST_F(Routes, RefsListing) {
  auto j = json::parse(http("GET", url("/api/models/org/tiny/refs")).body);
  ASSERT_EQ(j["branches"].size(), 1u);
  EXPECT_EQ(j["branches"][0]["name"], "main");
  EXPECT_EQ(j["branches"][0]["targetCommit"], c1);
  ASSERT_EQ(j["pullRequests"].size(), 1u);
  EXPECT_EQ(j["pullRequests"][0]["ref"], "refs/pr/1");
}

TEST_F(Routes, AccessLogHasOneLinePerRequest) {
  http("GET", url("/org/tiny/resolve/main/config.json"));
  http("HEAD", url("/org/tiny/resolve/main/nope"));
  for (int i = 0; i < 50 && logs().size() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // Each line is written when its response is done, possibly by another worker thread: the two
  // lines may come in either order.
  auto l = logs();
  ASSERT_EQ(l.size(), 2u);
  std::sort(l.begin(), l.end());  // "GET ..." < "HEAD ..."
  EXPECT_EQ(l[0].rfind("GET /org/tiny/resolve/main/config.json 200 " + std::to_string(k_config.size()) + " ", 0), 0u) << l[0];
  EXPECT_EQ(l[1].rfind("HEAD /org/tiny/resolve/main/nope 404 0 ", 0), 0u) << l[1];
  EXPECT_NE(l[0].find("ms"), std::string::npos);
}

}  // namespace
}  // namespace hubcache::test

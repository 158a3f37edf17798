// download_file (docs/hub-protocol.md#download-file) against the test server.
#include <sys/stat.h>

#include <mutex>
#include <thread>

#include "download_fixture.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/resolve/offline.hpp"

using namespace hubcache;
using namespace hubcache::test;

TEST_F(DownloadFixture, RegularFileLaysOutTheCache) {
  Downloader d(options());
  auto r = d.download_file(file_request("config.json"));
  ASSERT_TRUE(r) << r.error().message;
  const std::string etag = git_blob_sha1_hex("{\"model\": 1}");
  EXPECT_EQ(r->path, layout().pointer_path(c1, "config.json"));
  EXPECT_EQ(read_link(r->path), "../../blobs/" + etag);
  EXPECT_EQ(read_file(r->path), "{\"model\": 1}");
  EXPECT_EQ(read_file(layout().ref_path("main")), c1);
  EXPECT_EQ(read_file(cache + "/CACHEDIR.TAG").substr(0, 10), "Signature:");
  EXPECT_TRUE(exists(layout().refs_dir()));
  EXPECT_FALSE(exists(layout().incomplete_path(etag)));
  EXPECT_TRUE(r->transferred);
}

TEST_F(DownloadFixture, LfsFileNamedBySha256WithoutAuthAtCdn) {
  server.set_valid_token("hf_token123");
  Downloader d(options("hf_token123"));
  auto r = d.download_file(file_request("model.safetensors"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_link(r->path), "../../blobs/" + sha256_hex(weights));
  EXPECT_EQ(read_file(r->path), weights);
  for (const auto& rec : server.requests()) {
    if (rec.path.rfind("/cdn/", 0) == 0)
      EXPECT_FALSE(rec.had_auth);  // vector 14
    else
      EXPECT_TRUE(rec.had_auth);
  }
}

TEST_F(DownloadFixture, NestedPathsAndEmptyFile) {
  Downloader d(options());
  auto r = d.download_file(file_request("sub/dir/notes.txt"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_link(r->path), "../../../../blobs/" + git_blob_sha1_hex("notes"));  // vector 2
  auto e = d.download_file(file_request("empty.txt"));
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(read_link(e->path), "../../blobs/e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");  // vector 8
  EXPECT_EQ(read_file(e->path), "");
}

TEST_F(DownloadFixture, RevisionForms) {
  Downloader d(options());
  auto pr = d.download_file(file_request("config.json", "refs/pr/1"));
  ASSERT_TRUE(pr) << pr.error().message;
  EXPECT_EQ(read_file(pr->path), "{\"model\": 2}");
  EXPECT_EQ(read_file(layout().ref_path("refs/pr/1")), c2);  // exactly 40 bytes (vector 3)
  auto tag = d.download_file(file_request("config.json", "v1.0"));
  ASSERT_TRUE(tag);
  EXPECT_EQ(read_file(layout().ref_path("v1.0")), c1);
  auto shorthash = d.download_file(file_request("config.json", c1.substr(0, 7)));
  ASSERT_TRUE(shorthash) << shorthash.error().message;
  EXPECT_EQ(read_file(layout().ref_path(c1.substr(0, 7))), c1);  // vector 12
  std::string upper = c1;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(ch));
  server.clear_requests();
  auto up = d.download_file(file_request("config.json", upper));
  ASSERT_TRUE(up) << up.error().message;
  EXPECT_EQ(server.count("HEAD", ""), 1);  // an uppercase hash is a ref: always asked
  EXPECT_EQ(read_file(layout().ref_path(upper)), c1);
  server.clear_requests();
  auto commit = d.download_file(file_request("config.json", c1));
  ASSERT_TRUE(commit);
  EXPECT_EQ(server.requests().size(), 0u);  // a cached commit: zero requests (vector 12)
}

TEST_F(DownloadFixture, RepoTypes) {
  const RepoRef ds{RepoType::Dataset, "org/data"}, sp{RepoType::Space, "org/app"};
  server.add_file(ds, c1, "data.csv", "a,b\n");
  server.set_ref(ds, "main", c1);
  server.add_file(sp, c1, "app.py", "print(1)");
  server.set_ref(sp, "main", c1);
  Downloader d(options());
  auto a = d.download_file(file_request("data.csv", "main", ds));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->path, cache + "/datasets--org--data/snapshots/" + c1 + "/data.csv");
  auto b = d.download_file(file_request("app.py", "main", sp));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->path, cache + "/spaces--org--app/snapshots/" + c1 + "/app.py");
  auto wrong = d.download_file(file_request("data.csv", "main", RepoRef{RepoType::Model, "org/data"}));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::RepoNotFound);
}

TEST_F(DownloadFixture, PrivateRepoWithAndWithoutTokenVector13_17) {
  server.set_private(k_model, true);
  server.set_valid_token("hf_token123");
  {
    Downloader anon(options());
    auto r = anon.download_file(file_request("config.json"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::RepoNotFound);
    EXPECT_NE(r.error().message.find("HF_TOKEN"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().remedy, Remedy::UseToken);
  }
  Downloader authed(options("hf_token123"));
  ASSERT_TRUE(authed.download_file(file_request("config.json")));
  Downloader anon(options());  // 401 now, but a cached copy wins
  auto cached = anon.download_file(file_request("config.json"));
  ASSERT_TRUE(cached) << cached.error().message;
  EXPECT_EQ(read_file(cached->path), "{\"model\": 1}");
  EXPECT_FALSE(cached->warnings.empty());
}

TEST_F(DownloadFixture, EntryNotFoundWritesNoExistVector13_15) {
  Downloader d(options());
  auto r = d.download_file(file_request("generation_config.json"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::EntryNotFound);
  const std::string marker = layout().no_exist_path(c1, "generation_config.json");
  ASSERT_TRUE(exists(marker));
  EXPECT_EQ(read_file(marker), "");
  EXPECT_EQ(read_file(layout().ref_path("main")), c1);
  for (const std::string& rev : {std::string("main"), c1}) {
    auto look = try_to_load_from_cache(k_model.id, "generation_config.json", {rev, RepoType::Model, cache});
    ASSERT_TRUE(look);
    EXPECT_EQ(look->kind, CacheLookup::Kind::NoExist) << rev;
  }
}

TEST_F(DownloadFixture, RevisionNotFoundEvenWhenCachedVector13_16) {
  Downloader d(options());
  ASSERT_TRUE(d.download_file(file_request("config.json")));
  CacheBuilder(cache).add_ref(k_model, "gone", c1);  // an older mapping of a now-deleted branch
  auto r = d.download_file(file_request("config.json", "nope"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::RevisionNotFound);
  EXPECT_FALSE(exists(layout().ref_path("nope")));
  auto gone = d.download_file(file_request("config.json", "gone"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::RevisionNotFound);
}

TEST_F(DownloadFixture, OfflineUsesNoSocketVector13_10) {
  {
    Downloader online(options());
    ASSERT_TRUE(online.download_file(file_request("config.json")));
  }
  server.clear_requests();
  auto o = options();
  o.offline = true;
  Downloader d(o);
  auto hit = d.download_file(file_request("config.json"));
  ASSERT_TRUE(hit) << hit.error().message;
  auto miss = d.download_file(file_request("model.safetensors"));
  ASSERT_FALSE(miss);
  EXPECT_EQ(miss.error().code, ErrorCode::LocalEntryNotFound);
  EXPECT_EQ(miss.error().missing, std::vector<std::string>{"model.safetensors"});
  auto forced = file_request("config.json");
  forced.force_download = true;
  auto f = d.download_file(forced);  // vector 11
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST_F(DownloadFixture, HostileEtagWritesNothingVector13_39) {
  server.set_hostile_etag("../../../../evil");
  Downloader d(options());
  const std::string before = tree_fingerprint(dir.path());
  auto r = d.download_file(file_request("config.json"));
  ASSERT_FALSE(r);
  EXPECT_FALSE(exists(dir / "evil"));
  EXPECT_FALSE(exists(cache + "/evil"));
  EXPECT_EQ(tree_fingerprint(dir.path()), before);
}

TEST_F(DownloadFixture, RenamedRepoKeepsRequestedFolderVector13_13) {
  const RepoRef old_repo{RepoType::Model, "old/x"};
  server.add_rename(old_repo, k_model);
  Downloader d(options());
  auto r = d.download_file(file_request("config.json", "main", old_repo));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, cache + "/models--old--x/snapshots/" + c1 + "/config.json");
}

TEST_F(DownloadFixture, NoSymlinkModeVector13_32) {
  auto o = options();
  o.disable_symlinks = true;
  Downloader d(o);
  auto r = d.download_file(file_request("config.json"));
  ASSERT_TRUE(r) << r.error().message;
  struct stat st {};
  ASSERT_EQ(::lstat(r->path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_FALSE(exists(layout().blob_path(git_blob_sha1_hex("{\"model\": 1}"))));
}

TEST_F(DownloadFixture, ForceDownloadTransfersAgain) {
  Downloader d(options());
  ASSERT_TRUE(d.download_file(file_request("config.json")));
  auto req = file_request("config.json");
  req.force_download = true;
  auto r = d.download_file(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->transferred);
  EXPECT_EQ(server.count("GET", "config.json"), 2);
}

TEST_F(DownloadFixture, InvalidInputIsRejectedBeforeAnyRequest) {
  Downloader d(options());
  EXPECT_EQ(d.download_file(file_request("../x")).error().code, ErrorCode::InvalidPath);
  EXPECT_EQ(d.download_file(file_request("x", "../main")).error().code, ErrorCode::InvalidRevision);
  auto bad = file_request("x");
  bad.repo_id = "a--b";
  EXPECT_EQ(d.download_file(bad).error().code, ErrorCode::InvalidRepoId);
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST(HfUri, Parsing) {
  auto a = parse_hf_uri("hf://datasets/org/data@refs/pr/3/sub/x.csv");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->type, RepoType::Dataset);
  EXPECT_EQ(a->repo_id, "org/data");
  EXPECT_EQ(a->revision, "refs/pr/3");
  EXPECT_EQ(a->path, "sub/x.csv");
  auto b = parse_hf_uri("hf://org/model@v1%2E0/folder/");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->revision, "v1.0");
  EXPECT_EQ(b->path, "folder/");
  auto c = parse_hf_uri("hf://org/model/a/b.bin");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->revision);
  EXPECT_EQ(c->path, "a/b.bin");
  EXPECT_FALSE(parse_hf_uri("hf://gpt2"));
  EXPECT_FALSE(parse_hf_uri("hf://model/org/x"));
  EXPECT_FALSE(parse_hf_uri("hf://buckets/org/x"));
  EXPECT_FALSE(parse_hf_uri("https://org/x"));
}

TEST_F(DownloadFixture, XetFileOverPlainHttpVector13_37) {
  server.set_xet(true);
  Downloader d(options());
  auto r = d.download_file(file_request("model.safetensors"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->etag, sha256_hex(weights));  // named by X-Linked-Etag, fetched through the redirect
  EXPECT_EQ(read_link(r->path), "../../blobs/" + sha256_hex(weights));
  EXPECT_EQ(read_file(r->path), weights);
}

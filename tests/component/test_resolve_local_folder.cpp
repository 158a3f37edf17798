// from_pretrained step 1: a model named by the path of an existing folder is that folder, in
// every call of the resolve module that names a model; an existing folder wins over a repo id.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "cache_builder.hpp"
#include "hubcache/resolve/download.hpp"
#include "hubcache/resolve/local_folder.hpp"
#include "hubcache/resolve/offline.hpp"
#include "temp_dir.hpp"

using namespace hubcache;

namespace {
struct LocalFolder : ::testing::Test {
  test::TempDir dir;
  std::string cache = dir.path() + "/cache";
  std::string work = dir.path() + "/work";
  test::CacheBuilder cb{cache};
  std::string c1 = test::commit_id(1);
  std::filesystem::path old_cwd = std::filesystem::current_path();
  void SetUp() override {
    // The cache holds org/name too: the folder must win anyway.
    cb.add_file(RepoRef{RepoType::Model, "org/name"}, c1, "config.json", "{\"from\":\"cache\"}");
    cb.add_ref(RepoRef{RepoType::Model, "org/name"}, "main", c1);
    test::write_file(work + "/org/name/config.json", "{\"from\":\"folder\"}");
    test::write_file(work + "/org/name/sub/w.safetensors", "weights");
    test::write_file(work + "/org/name/.cache/huggingface/download/config.json.metadata", "x");
    test::write_file(work + "/models/llama/config.json", "{}");
    std::filesystem::current_path(work);
  }
  void TearDown() override { std::filesystem::current_path(old_cwd); }
  Downloader downloader() {
    DownloadOptions o;
    o.endpoint = "http://127.0.0.1:1";  // nothing listens: any request would fail
    o.cache_dir = cache;
    return Downloader(o);
  }
};
}  // namespace

TEST_F(LocalFolder, TryToLoadReturnsTheFolderFileAsIsAndAnExistingFolderWinsOverTheRepo) {
  auto r = try_to_load_from_cache("org/name", "config.json", {"main", RepoType::Model, cache});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->kind, CacheLookup::Kind::Found);
  EXPECT_EQ(r->path, "org/name/config.json");
  auto p = try_to_load_from_cache("./models/llama", "config.json", {"main", RepoType::Model, cache});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->path, "./models/llama/config.json");
  auto abs = try_to_load_from_cache(work + "/models/llama/", "config.json", {"main", RepoType::Model, cache});
  ASSERT_TRUE(abs) << abs.error().message;
  EXPECT_EQ(abs->path, work + "/models/llama/config.json");
}

TEST_F(LocalFolder, AMissingFileIsAnErrorNamingTheFolder) {
  auto r = try_to_load_from_cache("./models/llama", "tokenizer.json", {"main", RepoType::Model, cache});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().message.find("'./models/llama' does not have a file named 'tokenizer.json'"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().missing, std::vector<std::string>{"tokenizer.json"});
  EXPECT_EQ(try_to_load_from_cache("./models/llama", "../../x", {"main", RepoType::Model, cache}).error().code,
            ErrorCode::InvalidPath);
}

TEST_F(LocalFolder, WithoutTheFolderTheRepoIdIsUsedAndANonFolderPathIsAClearError) {
  std::filesystem::current_path(dir.path());  // no org/name folder here
  auto r = try_to_load_from_cache("org/name", "config.json", {"main", RepoType::Model, cache});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, cache + "/models--org--name/snapshots/" + c1 + "/config.json");
  SnapshotLookupOptions so;
  so.cache_dir = cache;
  auto bad = resolve_snapshot("./models/absent", so);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidRepoId);
  EXPECT_NE(bad.error().message.find("neither a folder that exists nor a valid repo id"), std::string::npos)
      << bad.error().message;
}

TEST_F(LocalFolder, ResolveSnapshotIsTheFolderWithItsSelectedFiles) {
  SnapshotLookupOptions o;
  o.cache_dir = cache;
  auto all = resolve_snapshot("org/name", o);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->snapshot_dir, "org/name");
  EXPECT_TRUE(all->verified_complete);
  EXPECT_EQ(all->files, (std::vector<std::string>{"config.json", "sub/w.safetensors"}));  // no .cache/huggingface
  o.filter = PathFilter::make(std::vector<std::string>{"*.json"}, {});
  EXPECT_EQ(resolve_snapshot("org/name", o)->files, std::vector<std::string>{"config.json"});
  o.filenames = {"config.json", "a.bin", "b.bin"};
  auto missing = resolve_snapshot("org/name", o);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_EQ(missing.error().missing, (std::vector<std::string>{"a.bin", "b.bin"}));
  EXPECT_NE(missing.error().message.find("'org/name'"), std::string::npos);
}

TEST_F(LocalFolder, DownloaderUsesTheFolderWithoutTheNetwork) {
  auto d = downloader();
  FileRequest fr;
  fr.repo_id = "org/name";
  fr.filename = "sub/w.safetensors";
  auto f = d.download_file(fr);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->path, "org/name/sub/w.safetensors");
  EXPECT_EQ(f->size, 7u);
  EXPECT_FALSE(f->transferred);
  fr.repo_id = "./models/llama";
  fr.filename = "model.safetensors";
  auto gone = d.download_file(fr);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::NotFound);
  EXPECT_NE(gone.error().message.find("'./models/llama'"), std::string::npos);

  SnapshotRequest sr;
  sr.repo_id = "org/name";
  sr.allow_patterns = std::vector<std::string>{"*.safetensors"};
  auto s = d.snapshot_download(sr);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->path, "org/name");
  ASSERT_EQ(s->files.size(), 1u);
  EXPECT_EQ(s->files[0].path, "sub/w.safetensors");
  EXPECT_EQ(s->files[0].size, 7u);
  EXPECT_EQ(s->repo_files, 2u);
  EXPECT_EQ(s->bytes_transferred, 0u);

  SnapshotRequest lr;
  lr.repo_id = "org/name";
  lr.local_dir = dir.path() + "/out";
  auto ld = d.snapshot_download(lr);
  ASSERT_FALSE(ld);
  EXPECT_EQ(ld.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/out"));
}

// The cache's one folder rule (cache/folders.hpp) in resolve: offline lookups and downloads refuse
// a repo folder, snapshots/ or snapshots/<commit> that is a symlink out of the cache: nothing is
// read from behind it, and nothing is written through it.
#include <gtest/gtest.h>

#include <filesystem>

#include "download_fixture.hpp"
#include "folder_symlinks.hpp"
#include "hubcache/resolve/offline.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

struct ResolveFolderSymlinks : DownloadFixture, ::testing::WithParamInterface<LinkedFolder> {
  TempDir outside;
  std::string link;
  std::string before;
  void SetUp() override {
    DownloadFixture::SetUp();
    link = link_folder_out(cache, outside.path(), k_model, c1, GetParam());
    before = tree_fingerprint(outside.path());
  }
  void expect_refused(const Error& e) {
    EXPECT_EQ(e.code, ErrorCode::CacheCorrupted) << e.message;
    EXPECT_EQ(e.path, link) << e.message;
    EXPECT_NE(e.message.find("is a symlink to " + outside.path()), std::string::npos) << e.message;
    EXPECT_EQ(tree_fingerprint(outside.path()), before) << "something was written outside the cache";
  }
  FileRequest file(const std::string& name) {
    FileRequest r;
    r.repo_id = k_model.id;
    r.filename = name;
    return r;
  }
};

TEST_P(ResolveFolderSymlinks, OfflineLookupsRefuseIt) {
  auto found = try_to_load_from_cache(k_model.id, "config.json", {"main", RepoType::Model, cache});
  ASSERT_FALSE(found) << "found " << found->path;
  expect_refused(found.error());
  SnapshotLookupOptions so;
  so.cache_dir = cache;
  auto snap = resolve_snapshot(k_model.id, so);
  ASSERT_FALSE(snap) << "resolved " << snap->snapshot_dir;
  expect_refused(snap.error());
  so.revision = c1;
  auto by_commit = resolve_snapshot(k_model.id, so);
  ASSERT_FALSE(by_commit);
  expect_refused(by_commit.error());
  EXPECT_EQ(cached_commits_hint(k_model, "main", cache).text, "");  // names no commit behind the link
}

TEST_P(ResolveFolderSymlinks, DownloadsRefuseItOnlineAndOffline) {
  Downloader d(options());
  auto r = d.download_file(file("config.json"));
  ASSERT_FALSE(r) << "downloaded to " << r->path;
  expect_refused(r.error());
  FileRequest local = file("config.json");
  local.local_files_only = true;
  auto l = d.download_file(local);
  ASSERT_FALSE(l) << "found " << l->path;
  expect_refused(l.error());
  SnapshotRequest s;
  s.repo_id = k_model.id;
  auto snap = d.snapshot_download(s);
  ASSERT_FALSE(snap) << "snapshot at " << snap->path;
  expect_refused(snap.error());
  s.local_files_only = true;
  auto snap_local = d.snapshot_download(s);
  ASSERT_FALSE(snap_local);
  expect_refused(snap_local.error());
}

TEST_P(ResolveFolderSymlinks, ADownloadOfAnotherCommitNeverWritesThroughIt) {
  // refs/pr/1 is another commit: only the Repo and Snapshots links stand in its way.
  Downloader d(options());
  FileRequest pr = file("config.json");
  pr.revision = "refs/pr/1";
  auto r = d.download_file(pr);
  if (GetParam() == LinkedFolder::Snapshot) {
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->path, layout().pointer_path(c2, "config.json"));
    EXPECT_EQ(tree_fingerprint(outside.path()), before);
  } else {
    ASSERT_FALSE(r) << "downloaded to " << r->path;
    expect_refused(r.error());
  }
}

INSTANTIATE_TEST_SUITE_P(Linked, ResolveFolderSymlinks, ::testing::ValuesIn(k_linked_folders), [](const auto& p) {
  return std::string(p.param == LinkedFolder::Repo        ? "RepoFolder"
                     : p.param == LinkedFolder::Snapshots ? "Snapshots"
                                                          : "Snapshot");
});

}  // namespace

// plan_prune / execute on real temp caches: detached revisions and interrupted downloads
// (`<etag>[.<8hex>].incomplete`, split downloads' `<etag>.parts.incomplete` + `<etag>.parts.state`).
#include <gtest/gtest.h>

#include <filesystem>

#include "hubcache/cache/store.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/manage/delete_plan.hpp"
#include "hubcache/manage/verify.hpp"
#include "hubcache/util/lock.hpp"
#include "manage_helpers.hpp"

using namespace hubcache;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_repo{RepoType::Model, "org/name"};
using Prune = test::DeleteFixture;

TEST_F(Prune, TakesDetachedRevisionsAndIncompleteFiles) {
  const RepoLayout l = cb.layout(k_repo);
  const std::string keep = cb.add_file(k_repo, c1, "keep.txt", "keep");
  const std::string gone = cb.add_file(k_repo, c2, "gone.txt", "gone!");
  cb.add_file(k_repo, c2, "keep.txt", "keep");
  cb.add_ref(k_repo, "main", c1);
  const RepoRef all_detached{RepoType::Dataset, "d/d"};
  cb.add_file(all_detached, c3, "x.csv", "1,2,3");
  cb.write_raw("models--org--name/blobs/" + std::string(64, 'a') + ".incomplete", std::string(10, 'p'));
  cb.write_raw("models--org--name/blobs/" + std::string(64, 'b') + ".1234abcd.incomplete", std::string(20, 'p'));

  auto p = plan_prune(scan());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->total_revision_count(), 2u);
  EXPECT_EQ(p->entire_repo_count(), 1u);
  EXPECT_EQ(p->incomplete_files().size(), 2u);
  EXPECT_EQ(p->freed_bytes(), 5u + 5u + 30u);
  const DeleteReport r = p->execute();
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(r.incomplete_deleted, 2u);
  EXPECT_EQ(r.freed_bytes, 40u);
  EXPECT_FALSE(exists(l.snapshot_dir(c2)));
  EXPECT_FALSE(exists(l.blob_path(gone)));
  EXPECT_TRUE(exists(l.blob_path(keep)));
  EXPECT_TRUE(exists(l.pointer_path(c1, "keep.txt")));
  EXPECT_FALSE(exists(cb.layout(all_detached).folder()));
  EXPECT_FALSE(exists(l.blobs_dir() + "/" + std::string(64, 'a') + ".incomplete"));

  auto again = plan_prune(scan());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}

// A pruned blob's Xet record goes with it; the record of a blob that stays, stays; a record
// whose blob was already gone (deleted by hand) goes with the next removal, in any repo.
TEST_F(Prune, XetRecordsFollowTheirBlobs) {
  const RepoLayout l = cb.layout(k_repo);
  const std::string keep = cb.add_file(k_repo, c1, "w.bin", "kept weights", /*lfs=*/true);
  const std::string gone = cb.add_file(k_repo, c2, "w.bin", "old weights", /*lfs=*/true);
  cb.add_ref(k_repo, "main", c1);
  const std::string by_hand(64, 'e');
  XetRecord record;
  record.size = 12;
  record.segments.push_back({xet::MerkleHash{}, 0, {12}});
  for (const auto& etag : {keep, gone, by_hand}) ASSERT_TRUE(write_xet_record(l, etag, record));
  ASSERT_EQ(list_xet_records(l).size(), 3u);
  const RepoRef other{RepoType::Model, "org/other"};
  const std::string other_blob = cb.add_file(other, c1, "w.bin", "other weights", /*lfs=*/true);
  cb.add_ref(other, "main", c1);
  ASSERT_TRUE(write_xet_record(cb.layout(other), by_hand, record));  // its blob was never there
  ASSERT_TRUE(write_xet_record(cb.layout(other), other_blob, record));

  auto p = plan_prune(scan());
  ASSERT_TRUE(p);
  ASSERT_EQ(p->blob_files().size(), 1u);
  const DeleteReport r = p->execute();
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_FALSE(exists(l.blob_path(gone)));
  EXPECT_EQ(r.xet_records_deleted, 3u);
  EXPECT_EQ(list_xet_records(l), std::vector<std::string>{keep});
  EXPECT_EQ(list_xet_records(cb.layout(other)), std::vector<std::string>{other_blob});
}

// A pinned detached revision stays (a pin of its commit, or of the whole repo; a broken pins file
// keeps them all); an unpinned one goes.
TEST_F(Prune, KeepsPinnedDetachedRevisions) {
  const RepoRef other{RepoType::Model, "org/other"}, broken{RepoType::Model, "org/broken"};
  cb.add_file(k_repo, c1, "a.txt", "a");
  cb.add_file(k_repo, c2, "b.txt", "b");
  cb.add_file(k_repo, c3, "c.txt", "c");
  cb.add_ref(k_repo, "main", c1);
  ASSERT_TRUE(add_pin(cb.layout(k_repo), c2));
  cb.add_file(other, c2, "o.txt", "o");
  ASSERT_TRUE(add_pin(cb.layout(other), "*"));
  cb.add_file(broken, c3, "x.txt", "x");
  cb.write_raw("models--org--broken/.hubcache/pins", "main extra\n");
  auto p = plan_prune(scan());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->total_revision_count(), 1u);
  EXPECT_EQ(p->kept_pinned(),
            (std::vector<std::string>{"model/org/broken " + c3, "model/org/name " + c2, "model/org/other " + c2}));
  const DeleteReport r = p->execute();
  EXPECT_TRUE(exists(cb.layout(k_repo).snapshot_dir(c2)));
  EXPECT_FALSE(exists(cb.layout(k_repo).snapshot_dir(c3)));
  EXPECT_TRUE(exists(cb.layout(other).snapshot_dir(c2)));
  EXPECT_TRUE(exists(cb.layout(broken).snapshot_dir(c3)));
}

TEST_F(Prune, LeavesALiveDownloadAlone) {
  const RepoRef busy{RepoType::Model, "busy/repo"};
  cb.add_file(busy, c1, "old.txt", "old");  // detached: the only revision
  const std::string etag(64, 'c');
  cb.write_raw("models--busy--repo/blobs/" + etag + ".incomplete", "downloading");
  auto lock = lock_blob(cb.layout(busy), etag);
  ASSERT_TRUE(lock);
  auto p = plan_prune(scan());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->incomplete_files().empty());
  ASSERT_EQ(p->locked_incomplete().size(), 1u);
  EXPECT_EQ(p->locked_incomplete()[0].lock_path, cb.layout(busy).lock_path(etag));
  EXPECT_EQ(p->entire_repo_count(), 0u);  // the folder holding the download stays
  EXPECT_EQ(p->partial_revision_count(), 1u);
  const DeleteReport r = p->execute();
  EXPECT_TRUE(r.problems.empty());
  EXPECT_TRUE(exists(cb.layout(busy).blobs_dir() + "/" + etag + ".incomplete"));
  EXPECT_FALSE(exists(cb.layout(busy).snapshot_dir(c1)));
  EXPECT_TRUE(exists(cb.layout(busy).folder()));

  // The download finishes meanwhile? A plan made while it ran and executed after keeps its promise:
  lock->release();
  auto later = plan_prune(scan());
  ASSERT_TRUE(later);
  EXPECT_EQ(later->incomplete_files().size(), 1u);
  // ...but if a download takes the lock between plan and execute, the file is skipped.
  auto relock = lock_blob(cb.layout(busy), etag);
  ASSERT_TRUE(relock);
  const DeleteReport r2 = later->execute();
  EXPECT_EQ(r2.skipped_locked.size(), 1u);
  EXPECT_TRUE(exists(cb.layout(busy).blobs_dir() + "/" + etag + ".incomplete"));
}

TEST_F(Prune, EmptiedRepoFolderGoes) {
  const RepoLayout l = cb.layout(k_repo);
  stdfs::create_directories(l.snapshots_dir());
  stdfs::create_directories(l.refs_dir());
  cb.write_raw("models--org--name/blobs/" + std::string(64, 'a') + ".incomplete", "x");
  auto p = plan_prune(scan());
  ASSERT_TRUE(p);
  p->execute();
  EXPECT_FALSE(exists(l.folder()));
}

// A split download interrupted in blobs/: data, state, and a crashed atomic write of the state;
// a state file whose data file is gone (as `hf cache prune` leaves it); a plain prefix download.
struct SplitLeftovers {
  std::string split = std::string(64, 'a'), orphan = std::string(64, 'b'), plain = std::string(64, 'c');
  std::string data, state, state_tmp, orphan_state, plain_inc;
  SplitLeftovers(test::CacheBuilder& cb, const RepoLayout& l) {
    const std::string f = repo_folder_name(l.repo()) + "/blobs/";
    data = l.blobs_dir() + "/" + split + ".parts.incomplete";
    state = l.blobs_dir() + "/" + split + ".parts.state";
    state_tmp = l.blobs_dir() + "/." + split + ".parts.state.1234abcd.tmp";
    orphan_state = l.blobs_dir() + "/" + orphan + ".parts.state";
    plain_inc = l.blobs_dir() + "/" + plain + ".incomplete";
    cb.write_raw(f + split + ".parts.incomplete", std::string(100, 'd'));
    cb.write_raw(f + split + ".parts.state", std::string(20, 's'));
    cb.write_raw(f + "." + split + ".parts.state.1234abcd.tmp", std::string(5, 't'));
    cb.write_raw(f + orphan + ".parts.state", std::string(7, 's'));
    cb.write_raw(f + plain + ".incomplete", std::string(3, 'p'));
  }
};

TEST_F(Prune, ScanGroupsSplitDownloadStateWithItsDataAndListsOrphans) {
  const RepoLayout l = cb.layout(k_repo);
  cb.add_file(k_repo, c1, "a.txt", "a");
  cb.add_ref(k_repo, "main", c1);
  const SplitLeftovers s(cb, l);
  const HFCacheInfo c = scan();
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front().message;
  ASSERT_EQ(c.incomplete_files.size(), 3u);  // one per interrupted download
  const IncompleteFile& split = c.incomplete_files[0];
  EXPECT_EQ(split.path, s.data);
  EXPECT_EQ(split.etag, s.split);
  EXPECT_EQ(split.sidecars, (std::vector<std::string>{s.state_tmp, s.state}));
  EXPECT_EQ(split.size, 125u);
  EXPECT_EQ(c.incomplete_files[1].path, s.orphan_state);
  EXPECT_EQ(c.incomplete_files[1].etag, s.orphan);
  EXPECT_TRUE(c.incomplete_files[1].sidecars.empty());
  EXPECT_EQ(c.incomplete_files[1].size, 7u);
  EXPECT_EQ(c.incomplete_files[2].path, s.plain_inc);
  EXPECT_EQ(c.incomplete_size(), 135u);
  // The repo's own numbers ignore them, and verify has nothing to say about them.
  ASSERT_EQ(c.repos.size(), 1u);
  EXPECT_EQ(c.repos[0].size_on_disk, 1u);
  auto v = verify_repo(dir.path(), k_repo, std::nullopt);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_TRUE(v->ok());
  EXPECT_TRUE(v->notes.empty());
}

TEST_F(Prune, RemovesSplitDownloadLeftoversAfterADryRun) {
  const RepoLayout l = cb.layout(k_repo);
  cb.add_file(k_repo, c1, "a.txt", "a");
  cb.add_ref(k_repo, "main", c1);
  const SplitLeftovers s(cb, l);
  const std::string before = test::tree_fingerprint(dir.path());
  auto p = plan_prune(scan());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->total_revision_count(), 0u);
  ASSERT_EQ(p->incomplete_files().size(), 3u);
  EXPECT_EQ(p->incomplete_files()[0].sidecars.size(), 2u);
  EXPECT_EQ(p->incomplete_bytes(), 135u);
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);  // planning (a dry run) writes nothing
  const DeleteReport r = p->execute();
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(r.incomplete_deleted, 3u);
  EXPECT_EQ(r.freed_bytes, 135u);
  for (const auto& f : {s.data, s.state, s.state_tmp, s.orphan_state, s.plain_inc}) EXPECT_FALSE(exists(f)) << f;
  EXPECT_TRUE(exists(l.pointer_path(c1, "a.txt")));
  auto again = plan_prune(scan());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}

TEST_F(Prune, LeavesALiveSplitDownloadAndItsStateAlone) {
  const RepoLayout l = cb.layout(k_repo);
  cb.add_file(k_repo, c1, "a.txt", "a");  // detached: the only revision
  const SplitLeftovers s(cb, l);
  auto split_lock = lock_blob(l, s.split);
  auto orphan_lock = lock_blob(l, s.orphan);
  ASSERT_TRUE(split_lock && orphan_lock);
  auto p = plan_prune(scan());
  ASSERT_TRUE(p);
  ASSERT_EQ(p->incomplete_files().size(), 1u);
  EXPECT_EQ(p->incomplete_files()[0].path, s.plain_inc);
  ASSERT_EQ(p->locked_incomplete().size(), 2u);
  EXPECT_EQ(p->locked_incomplete()[0].lock_path, l.lock_path(s.split));
  EXPECT_EQ(p->locked_incomplete()[0].sidecars.size(), 2u);
  EXPECT_EQ(p->locked_incomplete()[1].lock_path, l.lock_path(s.orphan));
  EXPECT_EQ(p->entire_repo_count(), 0u);  // the folder holding live downloads stays
  const DeleteReport r = p->execute();
  EXPECT_TRUE(r.problems.empty());
  for (const auto& f : {s.data, s.state, s.state_tmp, s.orphan_state}) EXPECT_TRUE(exists(f)) << f;
  EXPECT_FALSE(exists(s.plain_inc));
  EXPECT_FALSE(exists(l.snapshot_dir(c1)));

  // Planned while idle, but a download takes the lock before execute: skipped, state included.
  split_lock->release();
  auto later = plan_prune(scan());
  ASSERT_TRUE(later);
  ASSERT_EQ(later->incomplete_files().size(), 1u);
  auto relock = lock_blob(l, s.split);
  ASSERT_TRUE(relock);
  const DeleteReport r2 = later->execute();
  EXPECT_EQ(r2.skipped_locked, std::vector<std::string>{s.data});
  for (const auto& f : {s.data, s.state, s.state_tmp}) EXPECT_TRUE(exists(f)) << f;
}

}  // namespace

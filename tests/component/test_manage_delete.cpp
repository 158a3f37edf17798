// plan_delete / plan_prune / execute on real temp caches.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "hubcache/cache/hf_uri.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/manage/delete_plan.hpp"
#include "hubcache/util/lock.hpp"
#include "manage_helpers.hpp"

using namespace hubcache;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_repo{RepoType::Model, "org/name"};
using Delete = test::DeleteFixture;

TEST_F(Delete, SharedBlobSurvivesUntilItsLastRevisionGoes) {
  // vector 24: two revisions share blob X.
  const RepoLayout l = cb.layout(k_repo);
  const std::string x = cb.add_file(k_repo, c1, "shared.bin", std::string(1000, 'x'), true);
  cb.add_file(k_repo, c2, "shared.bin", std::string(1000, 'x'), true);
  const std::string only1 = cb.add_file(k_repo, c1, "only1.txt", "one");
  cb.add_ref(k_repo, "main", c2);
  cb.add_ref(k_repo, "refs/pr/1", c1);

  const DeletePlan p = plan({c1});
  EXPECT_EQ(p.freed_bytes(), 3u);  // X freed 0 bytes
  EXPECT_EQ(p.blob_files(), std::vector<std::string>{l.blob_path(only1)});
  EXPECT_EQ(p.snapshot_dirs(), std::vector<std::string>{l.snapshot_dir(c1)});
  EXPECT_EQ(p.ref_files(), std::vector<std::string>{l.folder() + "/refs/refs/pr/1"});
  EXPECT_TRUE(p.repo_dirs().empty());
  EXPECT_EQ(p.entire_repo_count(), 0u);
  EXPECT_EQ(p.partial_revision_count(), 1u);
  ASSERT_EQ(p.repos().size(), 1u);
  EXPECT_EQ(p.repos()[0].revisions[0].refs, std::vector<std::string>{"refs/pr/1"});
  const DeleteReport r = p.execute();
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(r.revisions_deleted, 1u);
  EXPECT_EQ(r.freed_bytes, 3u);
  EXPECT_TRUE(exists(l.blob_path(x)));
  EXPECT_FALSE(exists(l.blob_path(only1)));
  EXPECT_FALSE(exists(l.snapshot_dir(c1)));
  EXPECT_FALSE(exists(l.folder() + "/refs/refs"));  // emptied ref dirs are dropped too
  EXPECT_TRUE(exists(l.ref_path("main")));
  EXPECT_TRUE(exists(l.pointer_path(c2, "shared.bin")));

  const DeletePlan both = plan({c2});
  EXPECT_EQ(both.repo_dirs(), std::vector<std::string>{l.folder()});  // last revision: the whole repo
  EXPECT_EQ(both.freed_bytes(), 1000u);
  EXPECT_EQ(both.execute().repos_deleted, 1u);
  EXPECT_FALSE(exists(l.folder()));
}

TEST_F(Delete, BothSharingRevisionsAtOnceRemoveTheRepoFolder) {
  cb.add_file(k_repo, c1, "shared.bin", "xx", true);
  cb.add_file(k_repo, c2, "shared.bin", "xx", true);
  const DeletePlan p = plan({c1, c2});
  EXPECT_EQ(p.entire_repo_count(), 1u);
  EXPECT_EQ(p.total_revision_count(), 2u);
  EXPECT_EQ(p.freed_bytes(), 2u);
  const DeleteReport r = p.execute();
  EXPECT_EQ(r.repos_deleted, 1u);
  EXPECT_EQ(r.revisions_deleted, 2u);
  EXPECT_FALSE(exists(cb.layout(k_repo).folder()));
}

TEST_F(Delete, TargetsByTypeIdUriBareIdAndCase) {
  cb.add_file({RepoType::Model, "Org/Model"}, c1, "a", "a");
  cb.add_file({RepoType::Dataset, "org/data"}, c2, "b", "bb");
  cb.add_file({RepoType::Space, "org/app"}, c3, "c", "ccc");
  cb.add_file({RepoType::Model, "gpt2"}, test::commit_id(4), "d", "dddd");
  auto labels = [](const DeletePlan& p) {
    std::vector<std::string> out;
    for (const auto& r : p.repos()) out.push_back(r.label() + (r.entire ? "" : "(partial)"));
    return out;
  };
  EXPECT_EQ(labels(plan({"model/org/model"})), std::vector<std::string>{"model/Org/Model"});  // case-insensitive
  EXPECT_EQ(labels(plan({"hf://datasets/org/data"})), std::vector<std::string>{"dataset/org/data"});
  EXPECT_EQ(labels(plan({"hf://Org/Model"})), std::vector<std::string>{"model/Org/Model"});
  EXPECT_EQ(labels(plan({"org/app", "gpt2"})), (std::vector<std::string>{"model/gpt2", "space/org/app"}));
  EXPECT_EQ(labels(plan({std::string(40, '3')})), std::vector<std::string>{"space/org/app"});
  const DeletePlan none = plan({"model/org/data", "nope", std::string(40, '9'), "dataset/gpt2"});
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.unknown_targets(), (std::vector<std::string>{"model/org/data", "nope", std::string(40, '9'), "dataset/gpt2"}));
}

TEST_F(Delete, AmbiguousAndMalformedTargetsAreErrors) {
  cb.add_file({RepoType::Model, "org/x"}, c1, "a", "a");
  cb.add_file({RepoType::Dataset, "org/x"}, c2, "a", "a");
  auto ambiguous = plan_delete(scan(), {"org/x"});
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(ambiguous.error().message.find("model/org/x"), std::string::npos);
  EXPECT_NE(ambiguous.error().message.find("dataset/org/x"), std::string::npos);
  for (const char* bad : {"hf://gpt2", "hf://org/x@main", "hf://org/x/file.txt", "hf://model/org/x", "hf://buckets/a/b",
                          "hf://org/../x", "", "model/"}) {
    auto r = plan_delete(scan(), {bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument) << bad;
  }
  // One hf:// parser: a repo URI names the same repo for `cache rm` as for `download`.
  for (const char* uri : {"hf://org/x", "hf://datasets/org/x", "hf://spaces/org/app", "hf://kernels/org/k", "hf://Org/Model"}) {
    auto u = parse_hf_uri(uri);
    auto t = parse_delete_target(uri);
    ASSERT_TRUE(u) << uri;
    ASSERT_TRUE(t) << uri;
    EXPECT_EQ(t->kind, DeleteTarget::Kind::Repo) << uri;
    EXPECT_EQ(t->type, u->type) << uri;
    EXPECT_EQ(t->id, u->repo_id) << uri;
  }
  auto parsed = parse_delete_target("ABCDEF0123ABCDEF0123ABCDEF0123ABCDEF0123");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, DeleteTarget::Kind::Revision);
  EXPECT_EQ(parsed->commit, "abcdef0123abcdef0123abcdef0123abcdef0123");
}

TEST_F(Delete, RepoRevisionTargetsTouchOnlyTheirRepo) {
  // Two repos holding the same commit (a fork pushed with the same history): a bare revision
  // target takes it from both, a RepoRevision target (what `cache rm`'s selection list builds)
  // from its repo only.
  const RepoRef fork{RepoType::Model, "other/fork"};
  cb.add_file(k_repo, c1, "a.txt", "a");
  cb.add_file(k_repo, c2, "b.txt", "bb");
  cb.add_file(fork, c1, "a.txt", "a");
  EXPECT_EQ(plan({c1}).repos().size(), 2u);

  auto p = plan_delete_targets(scan(), {DeleteTarget::revision_of(k_repo, c1)});
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->repos().size(), 1u);
  EXPECT_EQ(p->repos()[0].label(), "model/org/name");
  EXPECT_FALSE(p->repos()[0].entire);
  EXPECT_EQ(p->snapshot_dirs(), std::vector<std::string>{cb.layout(k_repo).snapshot_dir(c1)});
  EXPECT_EQ(p->execute().revisions_deleted, 1u);
  EXPECT_FALSE(exists(cb.layout(k_repo).snapshot_dir(c1)));
  EXPECT_TRUE(exists(cb.layout(k_repo).snapshot_dir(c2)));
  EXPECT_TRUE(exists(cb.layout(fork).snapshot_dir(c1)));

  // The repo's exact id and type are needed; what matches nothing is reported under its label.
  const DeleteTarget other_case = DeleteTarget::revision_of({RepoType::Model, "Other/Fork"}, c1);
  const DeleteTarget other_type = DeleteTarget::revision_of({RepoType::Dataset, "other/fork"}, c1);
  EXPECT_EQ(other_type.text, "dataset/other/fork@" + c1);
  auto none = plan_delete_targets(scan(), {other_case, other_type});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(none->unknown_targets(), (std::vector<std::string>{"model/Other/Fork@" + c1, "dataset/other/fork@" + c1}));
  DeleteTarget untyped = DeleteTarget::revision_of(fork, c1);
  untyped.type.reset();
  auto refused = plan_delete_targets(scan(), {untyped});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
}

TEST_F(Delete, NoSymlinkModeFilesGoWithTheirSnapshot) {
  // vector 32: regular files in snapshots are counted by scan and removed by rm.
  const RepoLayout l = cb.layout(k_repo);
  test::write_file(l.pointer_path(c1, "w.bin"), std::string(500, 'w'));
  test::write_file(l.pointer_path(c2, "w.bin"), std::string(500, 'w'));
  stdfs::create_directories(l.refs_dir());
  cb.add_ref(k_repo, "main", c2);
  const DeletePlan p = plan({c1});
  EXPECT_TRUE(p.blob_files().empty());
  EXPECT_EQ(p.freed_bytes(), 500u);
  p.execute();
  EXPECT_FALSE(exists(l.snapshot_dir(c1)));
  EXPECT_TRUE(exists(l.pointer_path(c2, "w.bin")));
}

TEST_F(Delete, PlanningChangesNothingOnDisk) {
  cb.add_file(k_repo, c1, "a.bin", "aaaa", true);
  cb.add_file(k_repo, c2, "b.bin", "bbbb", true);
  cb.add_ref(k_repo, "main", c2);
  cb.write_raw("models--org--name/blobs/" + std::string(64, 'f') + ".incomplete", "partial");
  cb.write_raw(".locks/models--org--name/" + std::string(64, 'f') + ".lock", "");
  cb.write_raw("models--x--y/blobs/" + std::string(64, 'e') + ".incomplete", "p");  // no lock file at all
  const std::string before = test::tree_fingerprint(dir.path());
  const HFCacheInfo c = scan();
  ASSERT_TRUE(plan_delete(c, {"model/org/name", c1, "unknown"}));
  auto pr = plan_prune(c);
  ASSERT_TRUE(pr);
  EXPECT_EQ(pr->incomplete_files().size(), 2u);
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
}

TEST_F(Delete, MissingPathsAreReportedNotFatal) {
  const RepoLayout l = cb.layout(k_repo);
  const std::string a = cb.add_file(k_repo, c1, "a", "a1");
  const std::string b = cb.add_file(k_repo, c2, "b", "b22");
  cb.add_file(k_repo, c3, "c", "c333");
  const DeletePlan p = plan({c1, c2});
  stdfs::remove_all(l.snapshot_dir(c1));
  stdfs::remove(l.blob_path(a));
  const DeleteReport r = p.execute();
  ASSERT_EQ(r.problems.size(), 2u);
  for (const auto& pb : r.problems) EXPECT_EQ(pb.code, ErrorCode::NotFound);
  EXPECT_FALSE(exists(l.snapshot_dir(c2)));
  EXPECT_FALSE(exists(l.blob_path(b)));
  EXPECT_EQ(r.revisions_deleted, 1u);
  EXPECT_EQ(r.freed_bytes, 3u);
}

TEST_F(Delete, PermissionErrorsAreReportedAndTheRestIsDeleted) {
  const RepoLayout l = cb.layout(k_repo);
  cb.add_file(k_repo, c1, "a", "a1");
  cb.add_file(k_repo, c1, "sub/b", "b1");
  cb.add_file({RepoType::Model, "other/repo"}, c2, "x", "x");
  const HFCacheInfo c = scan();
  auto p = plan_delete(c, {"model/org/name", "model/other/repo"});
  ASSERT_TRUE(p);
  test::open_up(dir.path());
  const std::string sub = l.snapshot_dir(c1) + "/sub";
  ::chmod(sub.c_str(), 0555);
  const int rc = test::run_unprivileged([&] {
    const DeleteReport r = p->execute();
    if (r.repos_deleted != 1) return 1;  // other/repo
    if (r.problems.empty() || r.problems[0].code != ErrorCode::PermissionDenied) return 2;
    if (r.problems[0].path != sub + "/b") return 3;
    return 0;
  });
  ::chmod(sub.c_str(), 0755);
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(exists(l.pointer_path(c1, "sub/b")));
  EXPECT_FALSE(exists(l.pointer_path(c1, "a")));
  EXPECT_FALSE(exists(cb.layout({RepoType::Model, "other/repo"}).folder()));
}

TEST_F(Delete, NothingOutsideTheCacheIsEverTouched) {
  test::TempDir outside;
  test::write_file(outside / "precious/file.bin", "precious");
  test::write_file(outside / "blobs/" + std::string(40, 'b'), "outside blob");
  // A pointer to an outside file, a repo folder that is a symlink, a pointer into another repo.
  cb.add_file(k_repo, c1, "a", "a");
  test::make_symlink(outside / "precious/file.bin", cb.layout(k_repo).pointer_path(c1, "escape.bin"));
  test::make_symlink(outside / "precious", dir / "models--linked--repo");
  const RepoRef thief{RepoType::Model, "thief/repo"};
  const RepoRef victim{RepoType::Model, "victim/repo"};
  const std::string vb = cb.add_file(victim, c2, "v", "victim data");
  cb.add_file(thief, c3, "own", "own");
  cb.add_file(thief, test::commit_id(4), "own", "own");
  test::make_symlink("../../../models--victim--repo/blobs/" + vb, cb.layout(thief).pointer_path(c3, "stolen"));
  const std::string outside_before = test::tree_fingerprint(outside.path());

  const DeletePlan p = plan({"model/org/name", "model/linked/repo", c3});
  EXPECT_EQ(p.repo_dirs(), (std::vector<std::string>{cb.layout(k_repo).folder(), dir / "models--linked--repo"}));
  for (const auto& b : p.blob_files()) EXPECT_EQ(b.find("victim"), std::string::npos) << b;
  const DeleteReport r = p.execute();
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(test::tree_fingerprint(outside.path()), outside_before);
  EXPECT_FALSE(exists(dir / "models--linked--repo"));  // the link itself is removed
  EXPECT_TRUE(exists(cb.layout(victim).blob_path(vb)));
  EXPECT_FALSE(exists(cb.layout(thief).snapshot_dir(c3)));
}

TEST_F(Delete, SymlinkedSnapshotParentStopsTheDeletion) {
  test::TempDir outside;
  test::write_file(outside / "x/" + c1 + "/keep.txt", "keep");
  const RepoLayout l = cb.layout(k_repo);
  cb.add_file(k_repo, c1, "keep", "k");
  cb.add_file(k_repo, c2, "a", "a");
  const DeletePlan p = plan({c2});
  ASSERT_EQ(p.snapshot_dirs(), std::vector<std::string>{l.snapshot_dir(c2)});
  // Between plan and execute, snapshots/ is swapped for a symlink to an outside folder.
  stdfs::rename(l.snapshots_dir(), dir / "moved");
  test::make_symlink(outside / "x", l.snapshots_dir());
  test::make_symlink(outside / "x/" + c1, outside / "x/" + c2);
  const std::string before = test::tree_fingerprint(outside.path());
  const DeleteReport r = p.execute();
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems[0].code, ErrorCode::InvalidPath);
  EXPECT_EQ(test::tree_fingerprint(outside.path()), before);
}

TEST_F(Delete, BrokenRepoCanBeDeletedByItsId) {
  cb.add_file(k_repo, c1, "a", std::string(123, 'a'));
  cb.add_ref(k_repo, "main", c2);  // a ref to a missing snapshot: the scan skips the repo
  const HFCacheInfo c = scan();
  ASSERT_TRUE(c.repos.empty());
  auto p = plan_delete(c, {"model/org/name"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->repos().size(), 1u);
  EXPECT_TRUE(p->repos()[0].broken);
  EXPECT_EQ(p->freed_bytes(), 123u + 40u);  // every regular file of the folder
  EXPECT_EQ(p->execute().repos_deleted, 1u);
  EXPECT_FALSE(exists(cb.layout(k_repo).folder()));
}

// A no-symlink snapshot where a second name links to a file of the same snapshot: the file goes
// with the snapshot dir and counts once, as in the revision's own size (the file lists counted it
// once per name).
TEST_F(Delete, ACopiedFileWithASecondNameInItsSnapshotCountsOnce) {
  const RepoLayout l = cb.layout(k_repo);
  test::write_file(l.pointer_path(c1, "a.bin"), std::string(1000, 'a'));
  test::make_symlink("a.bin", l.pointer_path(c1, "alias.bin"));
  test::make_symlink("../a.bin", l.pointer_path(c1, "sub/alias2.bin"));
  cb.add_file(k_repo, c2, "x.txt", "xy");
  cb.add_ref(k_repo, "main", c2);
  const HFCacheInfo c = scan();
  ASSERT_EQ(c.repos.size(), 1u);
  ASSERT_EQ(c.repos[0].revisions.size(), 2u);
  EXPECT_EQ(c.repos[0].revisions[0].size_on_disk, 1000u);
  const DeletePlan p = plan({c1});
  EXPECT_EQ(p.freed_bytes(), 1000u);
  EXPECT_TRUE(p.blob_files().empty());
  EXPECT_EQ(p.execute().freed_bytes, 1000u);
  EXPECT_FALSE(exists(l.snapshot_dir(c1)));
  EXPECT_TRUE(exists(l.snapshot_dir(c2)));
}

// `cache ls` scans numbers only: such a scan cannot plan, and says what it lacks.
TEST_F(Delete, ScanWithoutBlobsCannotPlan) {
  cb.add_file(k_repo, c1, "a", "a");
  ScanOptions o;
  o.collect_files = false;
  o.collect_blobs = false;
  auto c = scan_cache(dir.path(), o);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->has_blobs);
  EXPECT_TRUE(c->repos.at(0).blobs.empty());
  auto p = plan_delete(*c, {c1});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(p.error().message.find("collect_blobs"), std::string::npos) << p.error().message;
  EXPECT_FALSE(plan_prune(*c));
}

// Two revisions sharing a blob, one with two of its own, a copied (no-symlink) file and a blob
// hardlinked into another repo: removing each revision in turn plans the same from blobs as from
// files (plan() compares both), and the shared blob goes only with its last revision.
TEST_F(Delete, PlansFromBlobsEqualPlansFromFiles) {
  const std::string shared = cb.add_file(k_repo, c1, "w.bin", std::string(300, 's'), true);
  cb.add_file(k_repo, c2, "w.bin", std::string(300, 's'), true);
  const std::string small = cb.add_file(k_repo, c2, "sub/small.bin", "x");
  const std::string own = cb.add_file(k_repo, c2, "own.bin", std::string(50, 'o'), true);
  test::write_file(cb.layout(k_repo).pointer_path(c3, "plain.bin"), std::string(7, 'p'));  // no-symlink mode
  cb.add_ref(k_repo, "main", c2);
  const RepoRef other{RepoType::Model, "org/other"};
  cb.add_file(other, c1, "w.bin", std::string(300, 's'), true);
  const std::string other_blob = cb.layout(other).blob_path(shared);
  ASSERT_EQ(::unlink(other_blob.c_str()), 0);
  ASSERT_EQ(::link(cb.layout(k_repo).blob_path(shared).c_str(), other_blob.c_str()), 0);
  test::expect_blob_tables_match_files(scan(), scan(test::blobs_only()));

  const DeletePlan p1 = plan({c1});
  EXPECT_TRUE(p1.blob_files().empty()) << "c2 still names the shared blob";
  const DeletePlan p2 = plan({c2});
  std::vector<std::string> going{cb.layout(k_repo).blob_path(own), cb.layout(k_repo).blob_path(small)};
  std::sort(going.begin(), going.end());
  EXPECT_EQ(p2.blob_files(), going);
  const DeletePlan both = plan({c1, c2});
  EXPECT_EQ(both.blob_files().size(), 3u);
  const DeletePlan p3 = plan({c3});
  EXPECT_TRUE(p3.blob_files().empty());
  EXPECT_EQ(p3.freed_bytes(), 7u);  // the copied file goes with its snapshot
  EXPECT_EQ(plan({"model/org/name"}).repo_dirs().size(), 1u);
}

}  // namespace

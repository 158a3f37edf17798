// Import of plain folders: layout, blob names, modes, idempotence, interruption, dry run.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "cache_builder.hpp"
#include "hubcache/cache/lfs_pointer.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/lock.hpp"
#include "import_fixture.hpp"

using namespace hubcache;
using test::ImportFixture;

namespace {

std::string sample_dir() { return test::source_dir() + "/sample/tiny-model"; }

const ImportFile* find(const ImportPlan& p, const std::string& path) {
  for (const auto& f : p.files)
    if (f.path == path) return &f;
  return nullptr;
}

}  // namespace

TEST_F(ImportFixture, SampleModelLayoutMatchesTheHubCache) {
  auto o = opts();
  o.source_dir = sample_dir();
  auto r = import_folder(o);
  ASSERT_TRUE(r) << r.error().message;
  const auto& p = r->plan;
  const std::set<std::string> expected_paths = {
      "1_Pooling/config.json",   "README.md",      "config.json",          "model.safetensors",
      "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"};
  std::set<std::string> got;
  for (const auto& f : p.files) got.insert(f.path);
  EXPECT_EQ(got, expected_paths);
  EXPECT_EQ(p.commit_source, CommitSource::Derived);
  EXPECT_TRUE(is_commit_hash(p.commit));

  const RepoLayout l = layout();
  for (const auto& f : p.files) {
    const std::string content = test::read_file(sample_dir() + "/" + f.path);
    const bool lfs = f.path == "model.safetensors";
    EXPECT_EQ(f.lfs, lfs) << f.path;
    EXPECT_EQ(f.blob, lfs ? sha256_hex(content) : git_blob_sha1_hex(content)) << f.path;
    EXPECT_EQ(test::read_file(l.blob_path(f.blob)), content) << f.path;
  }
  const std::string snap = l.snapshot_dir(p.commit);
  EXPECT_EQ(test::read_link(snap + "/config.json"), "../../blobs/" + find(p, "config.json")->blob);
  EXPECT_EQ(test::read_link(snap + "/1_Pooling/config.json"), "../../../blobs/" + find(p, "1_Pooling/config.json")->blob);
  struct stat st {};
  ASSERT_EQ(::lstat((snap + "/1_Pooling").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));                          // sub-dirs of a snapshot are real dirs
  EXPECT_EQ(test::read_file(l.ref_path("main")), p.commit);  // 40 bytes, no newline
  EXPECT_EQ(test::read_file(cache + "/CACHEDIR.TAG"), std::string(cachedir_tag_content()));
  EXPECT_FALSE(test::exists(l.trees_dir()));  // never written by import
  for (const auto& f : p.files) EXPECT_TRUE(test::exists(l.lock_path(f.blob)));
  expect_resolvable(*r);
  expect_resolvable(*r, p.commit);
  SnapshotLookupOptions so;
  so.cache_dir = cache;
  auto snap_lookup = resolve_snapshot(repo.id, so);
  ASSERT_TRUE(snap_lookup);
  EXPECT_EQ(snap_lookup->snapshot_dir, snap);
  EXPECT_EQ(std::set<std::string>(snap_lookup->files.begin(), snap_lookup->files.end()), expected_paths);
}

TEST_F(ImportFixture, DerivedCommitEqualsGitWriteTree) {
  if (std::system("git --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "git not installed";
  put("a.b", "dot sorts before slash");
  put("a/x.txt", "in a dir");
  put("a-", "dash");
  put("z/y/deep.json", "{}");
  put("weights.bin", "pretend weights");
  auto plan = plan_import(opts());
  ASSERT_TRUE(plan) << plan.error().message;
  // Rebuild the folder as git would store it (the LFS file as its pointer) and ask git.
  const std::string g = dir / "git";
  std::filesystem::copy(src, g, std::filesystem::copy_options::recursive);
  const ImportFile* w = find(*plan, "weights.bin");
  ASSERT_TRUE(w && w->lfs);
  test::write_file(g + "/weights.bin", lfs_pointer_text(w->blob, w->size));
  auto res = test::run_process({"/bin/sh", "-c", "cd '" + g + "' && git init -q && git add -A && git write-tree"},
                               {"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(res.out, plan->commit + "\n");
  // Same files + contents give the same id; a changed byte gives another.
  auto again = plan_import(opts());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->commit, plan->commit);
  put("a/x.txt", "in a dir!");
  EXPECT_NE(plan_import(opts())->commit, plan->commit);
}

TEST_F(ImportFixture, AnEarlierPlansDigestsStandForUnchangedFilesOnly) {
  put("w.bin", "weights");
  put("notes.txt", "notes");
  auto first = plan_import(opts());
  ASSERT_TRUE(first) << first.error().message;
  // Known digests that differ from the contents: a plan that reads the file would not use them.
  ImportOptions o = opts();
  const std::string fake_sha(64, 'e'), fake_sha1(40, 'e');
  for (const auto& f : first->files)
    o.known_digests[f.read_from] = KnownDigest{f.size, f.lfs ? fake_sha : fake_sha1, f.lfs, f.stamp};
  auto again = plan_import(o);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(find(*again, "w.bin")->blob, fake_sha) << "an unchanged file is not read again";
  EXPECT_EQ(find(*again, "notes.txt")->blob, fake_sha1);
  // A file changed since (another mtime) is hashed again.
  const std::string w = src + "/w.bin";
  const timespec later[2] = {{0, UTIME_OMIT}, {1700000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, w.c_str(), later, 0), 0);
  auto third = plan_import(o);
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(find(*third, "w.bin")->blob, sha256_hex("weights"));
  EXPECT_EQ(find(*third, "notes.txt")->blob, fake_sha1);
}

TEST_F(ImportFixture, BlobNamesFollowLfsRulesAndSize) {
  put("notes.txt", "plain text");
  put("w.bin", "binary-ish");
  put("saved_model/variables/v.data", "tf");
  put("sub/saved_model/x", "not anchored");
  test::make_sparse(src + "/big.txt", static_cast<off_t>(LfsRules::k_size_threshold + 1));
  test::make_sparse(src + "/edge.txt", static_cast<off_t>(LfsRules::k_size_threshold));
  auto r = import_folder(opts());
  ASSERT_TRUE(r) << r.error().message;
  auto blob_of = [&](const std::string& p) { return find(r->plan, p)->blob; };
  EXPECT_EQ(blob_of("notes.txt"), git_blob_sha1_hex("plain text"));
  EXPECT_EQ(blob_of("w.bin"), sha256_hex("binary-ish"));
  EXPECT_EQ(blob_of("saved_model/variables/v.data"), sha256_hex("tf"));
  EXPECT_EQ(blob_of("sub/saved_model/x"), git_blob_sha1_hex("not anchored"));
  auto big = hash_file(src + "/big.txt", HashWhat::Both);
  auto edge = hash_file(src + "/edge.txt", HashWhat::Both);
  ASSERT_TRUE(big && edge);
  EXPECT_EQ(blob_of("big.txt"), big->sha256);      // > 10 MiB: LFS whatever the name
  EXPECT_EQ(blob_of("edge.txt"), edge->git_sha1);  // exactly 10 MiB: a regular git file
  EXPECT_EQ(test::read_link(layout().pointer_path(r->plan.commit, "saved_model/variables/v.data")),
            "../../../../blobs/" + sha256_hex("tf"));
  expect_resolvable(*r);
}

TEST_F(ImportFixture, RepoGitattributesAreHonoured) {
  put(".gitattributes", "*.txt filter=lfs diff=lfs merge=lfs -text\n*.bin -filter\n");
  put("a.txt", "lfs by repo rule");
  put("b.bin", "not lfs any more");
  auto r = import_folder(opts());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(find(r->plan, "a.txt")->blob, sha256_hex("lfs by repo rule"));
  EXPECT_EQ(find(r->plan, "b.bin")->blob, git_blob_sha1_hex("not lfs any more"));
  EXPECT_FALSE(find(r->plan, ".gitattributes")->lfs);  // imported as a repo file
}

TEST_F(ImportFixture, LinkSharesTheInodeCopyDoesNot) {
  put("a.json", "A");
  put("d/b.safetensors", "B");
  auto r = import_folder(opts(ImportMode::Link));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->plan.mode, ImportMode::Link);
  EXPECT_EQ(r->blobs_copied, 0u);
  for (const auto& f : r->plan.files) EXPECT_EQ(test::inode_of(layout().blob_path(f.blob)), test::inode_of(f.source)) << f.path;

  repo.id = "org/copied";
  auto c = import_folder(opts(ImportMode::Copy));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->blobs_copied, 2u);
  for (const auto& f : c->plan.files) {
    EXPECT_NE(test::inode_of(layout().blob_path(f.blob)), test::inode_of(f.source));
    EXPECT_EQ(test::read_file(layout().blob_path(f.blob)), test::read_file(f.source));
    EXPECT_TRUE(test::exists(f.source));
  }
}

TEST_F(ImportFixture, AutoModeLinksOnOneFilesystem) {
  put("a.json", "A");
  auto p = plan_import(opts(ImportMode::Auto));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->same_filesystem);  // both in one temp dir
  EXPECT_EQ(p->mode, ImportMode::Link);
}

TEST_F(ImportFixture, MoveRemovesSourcesOnlyAfterCompletion) {
  put("a.json", "A");
  put("dup.json", "A");  // same content: one blob, two pointers
  put("sub/deeper/w.bin", "W");
  put("keep/.git/HEAD", "ref: refs/heads/main");  // skipped, so stays
  auto r = import_folder(opts(ImportMode::Move));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->sources_removed, 3u);
  EXPECT_EQ(r->plan.new_blobs, 2u);
  EXPECT_EQ(r->plan.transfer_bytes, 2u);  // the duplicate counts once
  EXPECT_FALSE(test::exists(src + "/a.json"));
  EXPECT_FALSE(test::exists(src + "/sub"));  // emptied folders go
  EXPECT_TRUE(test::exists(src + "/keep/.git/HEAD"));
  EXPECT_TRUE(test::exists(src));
  EXPECT_EQ(test::read_file(layout().pointer_path(r->plan.commit, "dup.json")), "A");
  EXPECT_EQ(test::read_file(layout().pointer_path(r->plan.commit, "sub/deeper/w.bin")), "W");
  expect_resolvable(*r);
}

TEST_F(ImportFixture, RerunIsIdempotent) {
  put("a.json", "A");
  put("m/w.safetensors", "W");
  auto first = import_folder(opts());
  ASSERT_TRUE(first);
  const std::string before = test::tree_fingerprint(cache);
  auto second = import_folder(opts());
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->blobs_written, 0u);
  EXPECT_EQ(second->pointers_written, 0u);
  EXPECT_EQ(second->plan.new_blobs, 0u);
  EXPECT_EQ(second->plan.commit, first->plan.commit);
  EXPECT_TRUE(second->plan.warnings.empty());
  EXPECT_EQ(test::tree_fingerprint(cache), before);
}

TEST_F(ImportFixture, InterruptedImportCompletesOnRerun) {
  put("a.json", "A");
  put("b/c.bin", "C");
  put("d.txt", "D");
  auto full = import_folder(opts());
  ASSERT_TRUE(full);
  const std::string complete = test::tree_fingerprint(cache);
  const RepoLayout l = layout();
  // As if stopped after the blobs: no ref, one pointer missing, another wrong, a temp file left.
  std::filesystem::remove(l.ref_path("main"));
  std::filesystem::remove(l.pointer_path(full->plan.commit, "b/c.bin"));
  std::filesystem::remove(l.pointer_path(full->plan.commit, "d.txt"));
  ASSERT_EQ(::symlink("../../blobs/nope", l.pointer_path(full->plan.commit, "d.txt").c_str()), 0);
  auto mid = try_to_load_from_cache(repo.id, "a.json", {"main", repo.type, cache});
  EXPECT_EQ(mid->kind, CacheLookup::Kind::NotCached);  // without the ref, nothing half-done is visible
  auto rerun = import_folder(opts());
  ASSERT_TRUE(rerun) << rerun.error().message;
  EXPECT_EQ(rerun->blobs_written, 0u);
  EXPECT_EQ(rerun->pointers_written, 2u);
  EXPECT_EQ(test::tree_fingerprint(cache), complete);
  expect_resolvable(*rerun);

  // Blobs only (snapshots gone entirely). The lookups above recorded their use (.hubcache/), which
  // is no part of an import.
  std::filesystem::remove_all(l.records_dir());
  std::filesystem::remove_all(l.snapshots_dir());
  std::filesystem::remove(l.ref_path("main"));
  ASSERT_TRUE(import_folder(opts()));
  EXPECT_EQ(test::tree_fingerprint(cache), complete);
}

TEST_F(ImportFixture, SourceChangedAfterPlanningIsRefused) {
  put("a.json", "A");
  put("b.json", "B");
  auto plan = plan_import(opts(ImportMode::Copy));
  ASSERT_TRUE(plan);
  put("b.json", "B but edited");
  auto r = execute_import(*plan);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Conflict);
  EXPECT_NE(r.error().message.find("b.json"), std::string::npos);
  EXPECT_NE(r.error().message.find("re-run"), std::string::npos);
  EXPECT_FALSE(test::exists(layout().blob_path(git_blob_sha1_hex("B"))));
  EXPECT_FALSE(test::exists(layout().blob_path(git_blob_sha1_hex("B but edited"))));
  EXPECT_FALSE(test::exists(layout().ref_path("main")));
  for (const auto& e : std::filesystem::directory_iterator(layout().blobs_dir()))
    EXPECT_EQ(e.path().string().find(".incomplete"), std::string::npos);  // no temp left behind
  ASSERT_TRUE(import_folder(opts()));                                     // re-run with the new content completes
}

TEST_F(ImportFixture, ExistingBlobIsNeverRewritten) {
  put("a.json", "A");
  const RepoLayout l = layout();
  test::write_file(l.blob_path(git_blob_sha1_hex("A")), "A");
  const ino_t ino = test::inode_of(l.blob_path(git_blob_sha1_hex("A")));
  auto r = import_folder(opts(ImportMode::Link));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->plan.files[0].blob_exists);
  EXPECT_EQ(r->blobs_written, 0u);
  EXPECT_EQ(test::inode_of(l.blob_path(git_blob_sha1_hex("A"))), ino);
}

TEST_F(ImportFixture, WaitsForTheBlobLock) {
  put("a.json", "A");
  const RepoLayout l = layout();
  ASSERT_TRUE(fs::make_dirs(l.locks_dir()));
  auto lock = FileLock::acquire(l.lock_path(git_blob_sha1_hex("A")));
  ASSERT_TRUE(lock);
  std::optional<Result<ImportResult>> r;
  std::thread t([&] { r.emplace(import_folder(opts())); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(test::exists(l.blob_path(git_blob_sha1_hex("A"))));  // blocked on the lock
  lock->release();
  t.join();
  ASSERT_TRUE(r && *r);
  EXPECT_TRUE(test::exists(l.blob_path(git_blob_sha1_hex("A"))));
}

TEST_F(ImportFixture, RevisionsCommitsAndRefs) {
  put("a.json", "A");
  const std::string c1 = test::commit_id(1), c2 = test::commit_id(2);
  auto o = opts();
  o.revision = c1;  // a commit revision: snapshot at c1, no ref
  auto r = import_folder(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->plan.commit, c1);
  EXPECT_EQ(r->plan.commit_source, CommitSource::Explicit);
  EXPECT_FALSE(test::exists(layout().refs_dir() + "/" + c1));
  EXPECT_TRUE(test::exists(layout().refs_dir()));  // empty refs/ for JS's scanner
  o = opts();
  o.revision = "refs/pr/1";
  o.commit = c2;
  ASSERT_TRUE(import_folder(o));
  EXPECT_EQ(test::read_file(layout().ref_path("refs/pr/1")), c2);
  o.revision = "refs/pr/1";
  o.commit.reset();  // derived: another commit; refused while c2's snapshot is cached
  auto refused = import_folder(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::Conflict);
  EXPECT_NE(refused.error().message.find("force the import to move the ref"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().remedy, Remedy::ForceRef);
  EXPECT_EQ(test::read_file(layout().ref_path("refs/pr/1")), c2);  // nothing changed
  o.force = true;                                                  // asked: moves the ref, with a warning
  auto moved = import_folder(o);
  ASSERT_TRUE(moved);
  ASSERT_EQ(moved->plan.previous_ref, c2);
  ASSERT_EQ(moved->plan.warnings.size(), 1u);
  EXPECT_NE(moved->plan.warnings[0].find(c2), std::string::npos);
  o.revision = c1;
  o.commit = c2;
  EXPECT_EQ(plan_import(o).error().code, ErrorCode::InvalidArgument);
  o.revision = "main";
  o.commit = "ABC";
  EXPECT_EQ(plan_import(o).error().code, ErrorCode::InvalidRevision);
}

TEST_F(ImportFixture, DryRunPlansAndChangesNothing) {
  put("a.json", "A");
  put("b.json", "B");
  put("b2.json", "B");
  auto o = opts();
  o.repo.id = "org/other";
  ASSERT_TRUE(import_folder(o));  // another repo: its blobs do not count for org/name
  put("c.safetensors", "C");
  repo.id = "org/name";
  ASSERT_TRUE(fs::make_dirs(layout().blobs_dir()));
  test::write_file(layout().blob_path(git_blob_sha1_hex("A")), "A");
  const std::string before = test::tree_fingerprint(dir.path());
  auto p = plan_import(opts());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  EXPECT_EQ(p->files.size(), 4u);
  EXPECT_EQ(p->total_bytes, 4u);
  EXPECT_EQ(p->new_blobs, 2u);  // B (once) and C
  EXPECT_EQ(p->transfer_bytes, 2u);
  EXPECT_TRUE(find(*p, "a.json")->blob_exists);
  EXPECT_TRUE(find(*p, "c.safetensors")->lfs);
  EXPECT_EQ(p->snapshot_dir, layout().snapshot_dir(p->commit));
}

// Issue 9 §3: no commit source moves a ref off a complete cached snapshot without --force. A commit
// the Hub named is imported under that commit (nothing is lost) and the ref stays; a derived one
// is refused; an absent ref, or one at a missing or incomplete snapshot, is set.
TEST_F(ImportFixture, NoCommitSourceMovesARefOffACompleteSnapshotUnasked) {
  const std::string c1 = test::commit_id(1), c2 = test::commit_id(2), c3 = test::commit_id(3);
  put("a.json", "A");
  auto o = opts();
  o.commit = c1;
  ASSERT_TRUE(import_folder(o));  // no ref yet: set
  ASSERT_EQ(test::read_file(layout().ref_path("main")), c1);
  const auto stays = [&](const ImportResult& r, const std::string& to) {
    EXPECT_TRUE(r.plan.keep_ref);
    EXPECT_FALSE(r.plan.writes_ref());
    EXPECT_EQ(test::read_file(layout().ref_path("main")), c1);
    bool warned = false;
    for (const auto& w : r.plan.warnings)
      warned |= w.find("refs/main stays at " + c1 + "; force the import to move it to " + to) != std::string::npos;
    EXPECT_TRUE(warned) << ::testing::PrintToString(r.plan.warnings);
    EXPECT_TRUE(test::exists(layout().pointer_path(to, "a.json")));  // the files are imported all the same
    auto main_file = try_to_load_from_cache(repo.id, "a.json", {"main", repo.type, cache});
    ASSERT_TRUE(main_file);
    EXPECT_EQ(main_file->commit, c1);
  };

  put("a.json", "A2");  // explicit --commit
  o.commit = c2;
  auto explicit_commit = import_folder(o);
  ASSERT_TRUE(explicit_commit) << explicit_commit.error().message;
  EXPECT_EQ(explicit_commit->plan.commit_source, CommitSource::Explicit);
  stays(*explicit_commit, c2);

  // local-dir metadata (an older `hf download --local-dir` copy)
  o.commit.reset();
  test::write_file(src + "/.cache/huggingface/download/a.json.metadata",
                   c3 + "\n" + git_blob_sha1_hex("A2") + "\n1712656091.5\n");
  auto metadata = import_folder(o);
  ASSERT_TRUE(metadata) << metadata.error().message;
  EXPECT_EQ(metadata->plan.commit_source, CommitSource::LocalDirMetadata);
  EXPECT_EQ(metadata->plan.commit, c3);
  stays(*metadata, c3);

  // derived: refused, nothing written
  o.metadata = MetadataPolicy::Ignore;
  auto derived = import_folder(o);
  ASSERT_FALSE(derived);
  EXPECT_EQ(derived.error().code, ErrorCode::Conflict);
  EXPECT_NE(derived.error().message.find("force the import to move the ref"), std::string::npos) << derived.error().message;
  EXPECT_EQ(derived.error().remedy, Remedy::ForceRef);
  EXPECT_EQ(test::read_file(layout().ref_path("main")), c1);

  // --force moves it
  o.metadata = MetadataPolicy::Use;
  o.force = true;
  auto forced = import_folder(o);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_FALSE(forced->plan.keep_ref);
  EXPECT_EQ(test::read_file(layout().ref_path("main")), c3);

  // a ref at a snapshot its tree record proves incomplete is set without --force
  std::vector<TreeFileEntry> tree{{"a.json", 2, git_blob_sha1_hex("A2"), {}, {}, {}},
                                  {"b.json", 1, git_blob_sha1_hex("B"), {}, {}, {}}};
  ASSERT_TRUE(write_tree_file(layout(), c3, tree));
  o.force = false;
  o.metadata = MetadataPolicy::Ignore;
  o.commit = c2;
  auto over_partial = import_folder(o);
  ASSERT_TRUE(over_partial) << over_partial.error().message;
  EXPECT_FALSE(over_partial->plan.keep_ref);
  EXPECT_EQ(test::read_file(layout().ref_path("main")), c2);

  // a ref at a snapshot that is gone is set too
  test::write_file(layout().ref_path("main"), test::commit_id(9));
  o.commit = test::commit_id(4);
  ASSERT_TRUE(import_folder(o));
  EXPECT_EQ(test::read_file(layout().ref_path("main")), test::commit_id(4));
}

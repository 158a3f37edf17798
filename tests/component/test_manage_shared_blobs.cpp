// The shared blob store (huggingface_hub >= 1.32) under scan, delete, prune, verify and the
// store's own primitives: the research note's test vectors 6.2 and 6.3.
#include <gtest/gtest.h>
#include <sys/file.h>

#include <filesystem>
#include <thread>
#include <atomic>

#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/manage/verify.hpp"
#include "hubcache/util/hash.hpp"
#include "manage_helpers.hpp"

using namespace hubcache;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_a{RepoType::Model, "o/a"};
const RepoRef k_b{RepoType::Model, "o/b"};
const std::string k_s = "ab" + std::string(62, '1');
const std::string k_aa = "cd" + std::string(62, '2');
const std::string k_o = "ef" + std::string(62, '3');

// Research note 6.2, built as Python lays it out.
struct Shared : test::DeleteFixture {
  // The note names the commits c0, c1, c2; `cache rm` needs 40-hex ones.
  std::string c0 = test::commit_id(0xa), c1v = test::commit_id(0xb), c2v = test::commit_id(0xc);
  void SetUp() override {
    cb.mark_shared_store();
    cb.add_shared_payload(k_s, "0123456789");
    cb.add_shared_payload(k_aa, "abcdefg");
    cb.add_shared_payload(k_o, "xyz");
    cb.link_shared_blob(k_a, "e_shared", k_s);
    cb.link_shared_blob(k_b, "e_shared", k_s);
    cb.link_shared_blob(k_a, "e_only_a", k_aa);
    test::write_file(payload(k_o) + ".refs", "");
    cb.add_pointer(k_a, c0, "x.bin", "e_shared");
    cb.add_pointer(k_a, c1v, "x.bin", "e_shared");
    cb.add_pointer(k_a, c1v, "y.bin", "e_only_a");
    cb.add_pointer(k_b, c2v, "x.bin", "e_shared");
    cb.add_ref(k_a, "main", c1v);
    cb.add_ref(k_b, "main", c2v);
  }
  std::string payload(const std::string& h) const { return dir.path() + "/blobs/" + h.substr(0, 2) + "/" + h; }
  std::string refs_of(const std::string& h) const { return test::read_file(payload(h) + ".refs"); }
  const CachedRepoInfo* repo(const HFCacheInfo& c, const RepoRef& r) const {
    for (const auto& info : c.repos)
      if (info.repo == r) return &info;
    return nullptr;
  }
};

TEST_F(Shared, ScanCountsReposLogicallyAndTheCachePhysically) {
  const HFCacheInfo c = scan();
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front().message;  // the marked `blobs` is no repo
  ASSERT_EQ(c.repos.size(), 2u);
  ASSERT_NE(repo(c, k_a), nullptr);
  EXPECT_EQ(repo(c, k_a)->size_on_disk, 17u);
  EXPECT_EQ(repo(c, k_b)->size_on_disk, 10u);
  EXPECT_EQ(c.size_on_disk, 20u);  // S and A once, plus the unreferenced O
  const auto& b_files = repo(c, k_b)->revisions.at(0).files;
  ASSERT_EQ(b_files.size(), 1u);
  EXPECT_EQ(b_files[0].blob_path, dir.path() + "/models--o--b/blobs/e_shared");  // the first hop
  EXPECT_EQ(b_files[0].shared_hash, k_s);
  EXPECT_EQ(b_files[0].size, 10u);
  // The blob tables (what delete, prune and gc plan from): one entry per first hop, the payload's figures.
  test::expect_blob_tables_match_files(c, scan(test::blobs_only()));
  ASSERT_EQ(repo(c, k_a)->blobs.size(), 2u);
  ASSERT_EQ(repo(c, k_b)->blobs.size(), 1u);
  EXPECT_EQ(repo(c, k_b)->blobs[0].path, dir.path() + "/models--o--b/blobs/e_shared");
  EXPECT_EQ(repo(c, k_b)->blobs[0].shared_hash, k_s);
  EXPECT_EQ(repo(c, k_b)->blobs[0].size, 10u);
}

TEST_F(Shared, WithoutTheMarkerThereIsNoStore) {
  stdfs::remove(dir.path() + "/blobs/.huggingface-shared-blobs");
  const HFCacheInfo c = scan();
  EXPECT_EQ(c.size_on_disk, 27u);
  ASSERT_FALSE(c.warnings.empty());
  EXPECT_EQ(c.warnings[0].path, dir.path() + "/blobs");  // an unmarked `blobs` still warns
}

TEST_F(Shared, AMarkerOtherThanOneNewlineIsNoStore) {
  stdfs::remove(dir.path() + "/blobs/.huggingface-shared-blobs");
  test::write_file(dir.path() + "/blobs/.huggingface-shared-blobs", "1");
  EXPECT_FALSE(SharedBlobStore(dir.path()).marked());
  EXPECT_EQ(scan().size_on_disk, 27u);
}

TEST_F(Shared, DeletingARevisionFreesThePayloadOnlyItReferenced) {
  const DeletePlan p = plan({c1v});
  EXPECT_EQ(p.freed_bytes(), 7u);
  ASSERT_EQ(p.shared_blobs().size(), 1u);
  EXPECT_EQ(p.shared_blobs()[0].hash, k_aa);
  const DeleteReport r = p.execute();
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(r.freed_bytes, 7u);
  EXPECT_EQ(r.shared_blobs_deleted, 1u);
  EXPECT_FALSE(exists(payload(k_aa)));
  EXPECT_FALSE(exists(payload(k_aa) + ".refs"));
  EXPECT_TRUE(exists(payload(k_aa) + ".lock"));  // persistent, like Python's
  EXPECT_TRUE(exists(payload(k_s)));
  EXPECT_FALSE(exists(cb.layout(k_a).blob_path("e_only_a")));
  EXPECT_TRUE(exists(cb.layout(k_a).blob_path("e_shared")));
}

TEST_F(Shared, DeletingARepoStillSharingFreesNothingAndRewritesTheManifest) {
  const DeletePlan p = plan({"model/o/b"});
  EXPECT_EQ(p.freed_bytes(), 0u);
  const DeleteReport r = p.execute();
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(r.freed_bytes, 0u);
  EXPECT_FALSE(exists(cb.layout(k_b).folder()));
  EXPECT_EQ(test::read_file(payload(k_s)), "0123456789");
  EXPECT_EQ(refs_of(k_s), "models--o--a/blobs/e_shared\n");
}

TEST_F(Shared, AMissingManifestKeepsThePayload) {
  stdfs::remove(payload(k_aa) + ".refs");
  const DeletePlan p = plan({c1v});
  EXPECT_EQ(p.freed_bytes(), 0u);
  const DeleteReport r = p.execute();
  EXPECT_EQ(r.freed_bytes, 0u);
  EXPECT_TRUE(exists(payload(k_aa)));
  EXPECT_FALSE(exists(cb.layout(k_a).blob_path("e_only_a")));  // only the repo's link went
}

TEST_F(Shared, DeletingEveryUserFreesThePayloadOnce) {
  const DeletePlan p = plan({"model/o/a", "model/o/b"});
  EXPECT_EQ(p.freed_bytes(), 17u);  // S and A once each; O is not touched by rm
  const DeleteReport r = p.execute();
  EXPECT_EQ(r.freed_bytes, 17u);
  EXPECT_FALSE(exists(payload(k_s)));
  EXPECT_FALSE(exists(payload(k_aa)));
  EXPECT_TRUE(exists(payload(k_o)));
}

TEST_F(Shared, PruneRemovesUnreferencedPayloads) {
  const DeletePlan p = plan_prune(scan()).value();
  ASSERT_EQ(p.unreferenced_shared_count(), 1u);
  EXPECT_EQ(p.shared_blobs()[0].hash, k_o);
  EXPECT_EQ(p.freed_bytes(), 3u);  // the detached c0 frees nothing: S is still used
  const DeleteReport r = p.execute();
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(r.freed_bytes, 3u);
  EXPECT_FALSE(exists(payload(k_o)));
  EXPECT_FALSE(exists(payload(k_o) + ".refs"));
  EXPECT_TRUE(exists(payload(k_s)));
}

TEST_F(Shared, PruneRevalidatesUnderTheLock) {
  const DeletePlan p = plan_prune(scan()).value();
  cb.link_shared_blob(k_b, "e_o", k_o);  // a download links O after the plan
  const DeleteReport r = p.execute();
  EXPECT_EQ(r.freed_bytes, 0u);
  EXPECT_TRUE(exists(payload(k_o)));
  EXPECT_EQ(refs_of(k_o), "models--o--b/blobs/e_o\n");
}

TEST_F(Shared, PruneNeverTakesAPayloadWithoutManifest) {
  stdfs::remove(payload(k_o) + ".refs");
  const DeletePlan p = plan_prune(scan()).value();
  EXPECT_EQ(p.unreferenced_shared_count(), 0u);
}

// Research note 6.3.
TEST_F(Shared, InvalidManifestLinesAreStale) {
  test::write_file(payload(k_o) + ".refs",
                   "../../outside\n/etc/passwd\nmodels--org--missing/blobs/etag\n"
                   "models--o--a/blobs/e_shared\nkernels--o--k/blobs/e\n");
  const SharedBlobStore store(dir.path());
  auto eval = store.evaluate_manifest(k_o);
  ASSERT_TRUE(eval) << eval.error().message;
  EXPECT_TRUE(eval->valid.empty());  // e_shared links to S, not O
  EXPECT_EQ(eval->stale, 5u);
  EXPECT_EQ(store.sweep(k_o).value(), 3u);
  EXPECT_FALSE(exists(payload(k_o)));
}

TEST_F(Shared, AnIoErrorWhileCheckingALineKeepsEverything) {
  const std::string text = "models--o--a/blobs/" + std::string(300, 'x') + "\n";  // lstat: ENAMETOOLONG
  test::write_file(payload(k_o) + ".refs", text);
  const SharedBlobStore store(dir.path());
  EXPECT_FALSE(store.evaluate_manifest(k_o));
  EXPECT_EQ(store.sweep(k_o).value(), 0u);
  EXPECT_TRUE(exists(payload(k_o)));
  EXPECT_EQ(refs_of(k_o), text);
}

TEST_F(Shared, TheRewriteKeepsValidLinesDedupedAndComponentSorted) {
  cb.link_shared_blob({RepoType::Model, "o/a-b"}, "e", k_s);
  cb.link_shared_blob({RepoType::Model, "o/a"}, "e_s2", k_s);
  test::write_file(payload(k_s) + ".refs", refs_of(k_s) + "models--o--a/blobs/e_shared\nmodels--gone/blobs/x\n");
  ::chmod((payload(k_s) + ".refs").c_str(), 0600);
  const SharedBlobStore store(dir.path());
  EXPECT_EQ(store.sweep(k_s).value(), 0u);
  // Component-wise: "models--o--a" < "models--o--a-b" (a plain string sort puts '-' before '/').
  EXPECT_EQ(refs_of(k_s),
            "models--o--a/blobs/e_s2\nmodels--o--a/blobs/e_shared\nmodels--o--a-b/blobs/e\nmodels--o--b/blobs/e_shared\n");
  struct stat st {};
  ASSERT_EQ(::stat((payload(k_s) + ".refs").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
}

TEST_F(Shared, LinksAreRecognisedLexically) {
  const SharedBlobStore store(dir.path());
  const std::string entry = dir.path() + "/models--o--a/blobs/e";
  EXPECT_EQ(store.hash_of_link(entry, "../../blobs/ab/" + k_s), k_s);
  EXPECT_EQ(store.hash_of_link(entry, payload(k_s)), k_s);  // absolute text
  EXPECT_EQ(store.hash_of_link(entry, "../../blobs/cd/../ab/" + k_s), k_s);
  EXPECT_FALSE(store.hash_of_link(entry, "../../blobs/cd/" + k_s));  // wrong prefix
  EXPECT_FALSE(store.hash_of_link(entry, "../../blobs/AB/AB" + k_s.substr(2)));
  EXPECT_FALSE(store.hash_of_link(entry, "../../other/ab/" + k_s));
  EXPECT_FALSE(store.hash_of_link(entry, "../../blobs/ab/" + k_s + "/x"));
}

TEST_F(Shared, TheHashLockExcludesPythonsFlock) {
  const SharedBlobStore store(dir.path());
  const std::string lock = store.lock_path(k_s);
  // Python's filelock: flock(LOCK_EX) on its own open of the file.
  const int py = ::open(lock.c_str(), O_RDWR | O_CREAT, 0666);
  ASSERT_GE(py, 0);
  ASSERT_EQ(::flock(py, LOCK_EX | LOCK_NB), 0);
  auto ours = FileLock::try_acquire(lock);
  ASSERT_TRUE(ours);
  EXPECT_FALSE(ours->held());
  ::flock(py, LOCK_UN);
  ::close(py);
  stdfs::remove(lock);
  const mode_t old = ::umask(022);
  auto held = store.lock(k_s);
  ::umask(old);
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_TRUE(held->held());
  struct stat st {};
  ASSERT_EQ(::stat(lock.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  // While we hold it, Python's non-blocking flock fails.
  const int py2 = ::open(lock.c_str(), O_RDWR);
  EXPECT_NE(::flock(py2, LOCK_EX | LOCK_NB), 0);
  ::close(py2);
}

TEST_F(Shared, VerifyChecksASharedFileAgainstItsEtag) {
  const RepoRef r{RepoType::Model, "o/v"};
  const std::string hash = "9a" + std::string(62, '4');
  const std::string c = test::commit_id(7);
  cb.add_shared_file(r, c, "w.bin", "weights", hash);
  cb.add_ref(r, "main", c);
  auto ok = verify_repo(dir.path(), r, std::nullopt);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(ok->ok()) << ok->problems.front().detail;
  EXPECT_EQ(ok->checked, 1u);

  cb.add_shared_payload(hash, "tampered");
  auto bad = verify_repo(dir.path(), r, std::nullopt);
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad->problems.size(), 1u);
  EXPECT_EQ(bad->problems[0].kind, VerifyProblemKind::Mismatch);
  EXPECT_EQ(bad->problems[0].expected, sha256_hex("weights"));

  stdfs::remove(payload(hash));
  auto gone = verify_repo(dir.path(), r, std::nullopt);
  ASSERT_TRUE(gone);
  ASSERT_EQ(gone->problems.size(), 1u);
  EXPECT_EQ(gone->problems[0].kind, VerifyProblemKind::MissingBlob);
}

TEST_F(Shared, ADanglingSharedLinkIsReportedNotCounted) {
  stdfs::remove(payload(k_aa));
  const HFCacheInfo c = scan();
  const CachedRepoInfo* a = repo(c, k_a);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->size_on_disk, 10u);
  bool dangling = false;
  for (const auto& rev : a->revisions) dangling = dangling || !rev.dangling.empty();
  EXPECT_TRUE(dangling);
  EXPECT_EQ(c.size_on_disk, 13u);  // S and O
}

// Marking a new store while others do the same: every thread sees a store (the trial found
// workers of one download taking a sibling's fresh marker temporary for abandoned), and a fresh
// temporary of another process is waited for, not deleted, until its marker appears.
TEST(SharedMarker, ConcurrentMarkersAllSeeTheStore) {
  for (int round = 0; round < 20; ++round) {
    test::TempDir dir;
    std::atomic<int> marked{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t)
      threads.emplace_back([&] {
        SharedBlobStore store(dir.path());
        auto m = store.ensure_marked();
        if (m && *m) ++marked;
      });
    for (auto& t : threads) t.join();
    ASSERT_EQ(marked.load(), 6) << "round " << round;
  }
}

TEST(SharedMarker, AnotherProcesssFreshTemporaryIsWaitedFor) {
  test::TempDir dir;
  const std::string store = dir.path() + "/blobs";
  ASSERT_EQ(::mkdir(store.c_str(), 0755), 0);
  const std::string temp = store + "/.huggingface-shared-blobs.0123abcd.tmp";
  test::write_file(temp, "1");
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    test::write_file(temp, "1\n");
    ASSERT_EQ(::rename(temp.c_str(), (store + "/.huggingface-shared-blobs").c_str()), 0);
  });
  SharedBlobStore mine(dir.path());
  auto m = mine.ensure_marked();
  other.join();
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(*m);
  EXPECT_EQ(test::read_file(store + "/.huggingface-shared-blobs"), "1\n");
}

}  // namespace

// plan_gc / GcPlan::execute on real temp caches: LRU order from use records (and the blob-time
// fallback), size and age rules, --keep, pins, running downloads, shared blobs.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "hubcache/cache/use_records.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/manage/gc.hpp"
#include "hubcache/util/lock.hpp"
#include "manage_helpers.hpp"

using namespace hubcache;
namespace stdfs = std::filesystem;

namespace {

constexpr double k_day = 86400;

struct Gc : test::DeleteFixture {
  double now = 2'000'000'000;  // a fixed "now" (2033): every time below is relative to it

  /// Records a use of `commit` at `when` (the record's mtime).
  void used_at(const RepoRef& repo, const std::string& commit, double when) {
    const RepoLayout l = cb.layout(repo);
    record_use(l, commit);
    test::set_times(l.use_record_path(commit), when, when);
  }
  /// Every blob of the repo accessed and modified at `when`.
  void blobs_at(const RepoRef& repo, double when) {
    for (const auto& e : stdfs::directory_iterator(cb.layout(repo).blobs_dir())) test::set_times(e.path(), when, when);
  }
  /// The plan from a scan without files, as `cache gc` makes it, checked against the plan from a
  /// scan with files.
  GcPlan gc(GcOptions o) {
    o.now = now;
    auto p = plan_gc(scan(test::blobs_only()), o);
    auto full = plan_gc(scan(), o);
    EXPECT_TRUE(p) << p.error().message;
    EXPECT_TRUE(full) << full.error().message;
    if (p && full) {
      EXPECT_EQ(order(*full), order(*p));
      EXPECT_EQ(full->freed_bytes(), p->freed_bytes());
      EXPECT_EQ(full->size_before, p->size_before);
      EXPECT_EQ(full->protected_.size(), p->protected_.size());
      expect_same_plan(full->deletion, p->deletion);
    }
    return std::move(p).value();
  }
  static std::vector<std::string> order(const GcPlan& p) {
    std::vector<std::string> out;
    for (const auto& r : p.selected) out.push_back(r.repo.id + "@" + r.commit.substr(0, 4));
    return out;
  }
};

// A generated cache with known use records: the plan for --max-size removes exactly the least
// recently used revisions, in that order, until the target is met (sizes computed here).
TEST_F(Gc, MaxSizeFollowsTheUseRecordsInLruOrder) {
  std::mt19937 rng(12345);
  struct Rev {
    std::string label;
    double used;
    std::uint64_t size;
  };
  std::vector<Rev> revs;
  std::uint64_t total = 0;
  for (int r = 0; r < 12; ++r) {
    const RepoRef repo{RepoType::Model, "org/m" + std::to_string(r)};
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int v = 0; v < n; ++v) {
      const std::string commit = test::commit_id(100 + r * 10 + v);
      std::uint64_t size = 0;
      for (int f = 0; f < 2; ++f) {
        const std::string content(100 + rng() % 900, static_cast<char>('a' + (r + v + f) % 26));
        cb.add_file(repo, commit, "f" + std::to_string(f) + "-" + commit.substr(0, 4) + ".bin",
                    content + std::to_string(r * 100 + v * 10 + f));
        size += content.size() + std::to_string(r * 100 + v * 10 + f).size();
      }
      if (v == 0) cb.add_ref(repo, "main", commit);
      const double used = now - static_cast<double>(1 + rng() % 1000) * 3600 - r - v * 0.25;
      used_at(repo, commit, used);
      revs.push_back({repo.id + "@" + commit.substr(0, 4), used, size});
      total += size;
    }
    blobs_at(repo, now - 400 * k_day);  // older than every record: the records decide
  }
  std::sort(revs.begin(), revs.end(), [](const Rev& a, const Rev& b) { return a.used < b.used; });
  const std::uint64_t max_size = total * 6 / 10;
  std::vector<std::string> expected;
  std::uint64_t freed = 0;
  for (const auto& r : revs) {
    if (total - freed <= max_size) break;
    expected.push_back(r.label);
    freed += r.size;
  }

  GcOptions o;
  o.max_size = max_size;
  const GcPlan p = gc(o);
  EXPECT_EQ(order(p), expected);
  EXPECT_EQ(p.size_before, total);
  EXPECT_EQ(p.deletion.freed_bytes(), freed);
  EXPECT_TRUE(p.target_met);
  for (const auto& r : p.selected) EXPECT_EQ(r.source, UseSource::Record) << r.repo.id;

  const DeleteReport report = p.execute();
  EXPECT_TRUE(report.problems.empty());
  EXPECT_EQ(report.freed_bytes, freed);
  const HFCacheInfo after = scan();
  EXPECT_LE(after.size_on_disk, max_size);
  EXPECT_EQ(after.revision_count(), revs.size() - expected.size());
  // A removed revision's use record goes with it.
  for (const auto& r : p.selected) EXPECT_FALSE(test::exists(cb.layout(r.repo).use_record_path(r.commit))) << r.repo.id;
}

// The Xet records of the blobs gc removes go with them (the chunk index never points at a
// removed blob); those of the revisions kept stay.
TEST_F(Gc, RemovedBlobsTakeTheirXetRecords) {
  const RepoRef a{RepoType::Model, "org/a"}, b{RepoType::Model, "org/b"};
  const std::string old_blob = cb.add_file(a, c1, "w.bin", "old weights", /*lfs=*/true);
  const std::string new_blob = cb.add_file(b, c2, "w.bin", "new weights", /*lfs=*/true);
  used_at(a, c1, now - 100 * k_day);
  used_at(b, c2, now - 1 * k_day);
  XetRecord record;
  record.size = 11;
  record.segments.push_back({xet::MerkleHash{}, 0, {11}});
  ASSERT_TRUE(write_xet_record(cb.layout(a), old_blob, record));
  ASSERT_TRUE(write_xet_record(cb.layout(b), new_blob, record));
  GcOptions o;
  o.unused_for = 30 * k_day;
  const GcPlan p = gc(o);
  ASSERT_EQ(order(p), std::vector<std::string>{"org/a@" + c1.substr(0, 4)});
  const DeleteReport report = p.execute();
  EXPECT_TRUE(report.problems.empty());
  EXPECT_TRUE(list_xet_records(cb.layout(a)).empty());
  EXPECT_EQ(list_xet_records(cb.layout(b)), std::vector<std::string>{new_blob});
}

// Without a record, the later of blob atime and mtime orders revisions (caches hubcache never
// saw); a record newer than them wins.
TEST_F(Gc, FallsBackToBlobTimesWithoutARecord) {
  const RepoRef a{RepoType::Model, "org/a"}, b{RepoType::Model, "org/b"}, c{RepoType::Model, "org/c"};
  cb.add_file(a, c1, "w.bin", "aaaa");
  cb.add_file(b, c2, "w.bin", "bbbbbb");
  cb.add_file(c, c3, "w.bin", "cccccccc");
  blobs_at(a, now - 50 * k_day);
  for (const auto& e : stdfs::directory_iterator(cb.layout(b).blobs_dir()))
    test::set_times(e.path(), now - 90 * k_day, now - 10 * k_day);  // mtime later than atime (noatime)
  blobs_at(c, now - 300 * k_day);
  used_at(c, c3, now - 5 * k_day);
  GcOptions o;
  o.max_size = 0;
  const GcPlan p = gc(o);
  ASSERT_EQ(p.selected.size(), 3u);
  EXPECT_EQ(p.selected[0].repo.id, "org/a");
  EXPECT_EQ(p.selected[0].source, UseSource::Atime);
  EXPECT_EQ(p.selected[1].repo.id, "org/b");
  EXPECT_EQ(p.selected[1].source, UseSource::Mtime);
  EXPECT_EQ(p.selected[2].repo.id, "org/c");
  EXPECT_EQ(p.selected[2].source, UseSource::Record);
  EXPECT_DOUBLE_EQ(p.selected[2].last_used, now - 5 * k_day);
}

TEST_F(Gc, UnusedForAndKeep) {
  const RepoRef r{RepoType::Model, "org/r"};
  for (int i = 1; i <= 4; ++i) {
    const std::string commit = test::commit_id(i);
    const std::string blob = cb.add_file(r, commit, "w.bin", std::string(10 * i, 'x'));
    used_at(r, commit, now - i * 10 * k_day);
    // Blob mtimes (older than every record) make commit 4 the newest revision, commit 1 the oldest.
    test::set_times(cb.layout(r).blob_path(blob), now - 200 * k_day, now - (100 - i) * k_day);
  }
  {
    GcOptions o;
    o.unused_for = 25 * k_day;  // commits 3 (30 d) and 4 (40 d)
    EXPECT_EQ(order(gc(o)),
              (std::vector<std::string>{"org/r@" + test::commit_id(4).substr(0, 4), "org/r@" + test::commit_id(3).substr(0, 4)}));
  }
  {
    GcOptions o;
    o.unused_for = 25 * k_day;
    o.keep = 1;  // the newest (commit 4) stays
    const GcPlan p = gc(o);
    EXPECT_EQ(order(p), std::vector<std::string>{"org/r@" + test::commit_id(3).substr(0, 4)});
  }
  {
    GcOptions o;
    o.keep = 2;  // alone: all but the two newest (4, 3), least recently used (2: 20 d) first
    EXPECT_EQ(order(gc(o)),
              (std::vector<std::string>{"org/r@" + test::commit_id(2).substr(0, 4), "org/r@" + test::commit_id(1).substr(0, 4)}));
  }
}

TEST_F(Gc, PinsAndRunningDownloadsAreKept) {
  const RepoRef whole{RepoType::Model, "org/whole"}, byref{RepoType::Model, "org/byref"},
      bycommit{RepoType::Model, "org/bycommit"}, busy{RepoType::Model, "org/busy"}, broken{RepoType::Model, "org/broken"},
      free_{RepoType::Model, "org/free"};
  for (const auto& repo : {whole, byref, bycommit, busy, broken, free_}) {
    cb.add_file(repo, c1, "a.bin", repo.id + "-1");
    cb.add_file(repo, c2, "a.bin", repo.id + "-2");
    cb.add_ref(repo, "main", c2);
    used_at(repo, c1, now - 100 * k_day);
    used_at(repo, c2, now - 90 * k_day);
  }
  ASSERT_TRUE(add_pin(cb.layout(whole), k_pin_all));
  ASSERT_TRUE(add_pin(cb.layout(byref), "main"));
  ASSERT_TRUE(add_pin(cb.layout(bycommit), c1));
  EXPECT_FALSE(*add_pin(cb.layout(bycommit), c1));                          // already there
  cb.write_raw("models--org--broken/.hubcache/pins", "main\n../escape\n");  // not a revision
  stdfs::create_directories(cb.layout(busy).locks_dir());
  auto lock = FileLock::acquire(cb.layout(busy).lock_path(std::string(64, 'e')));
  ASSERT_TRUE(lock && lock->held());

  GcOptions o;
  o.unused_for = 30 * k_day;
  const GcPlan p = gc(o);
  std::vector<std::string> got = order(p);
  std::sort(got.begin(), got.end());
  const std::string s1 = c1.substr(0, 4), s2 = c2.substr(0, 4);
  EXPECT_EQ(got, (std::vector<std::string>{"org/bycommit@" + s2, "org/byref@" + s1, "org/free@" + s1, "org/free@" + s2}));
  std::map<std::string, std::string> why;
  for (const auto& k : p.protected_) why[k.repo.id + "@" + k.commit.substr(0, 4)] = k.reason;
  EXPECT_EQ(why["org/whole@" + s1], "pinned");
  EXPECT_EQ(why["org/byref@" + s2], "pinned");
  EXPECT_EQ(why["org/bycommit@" + s1], "pinned");
  EXPECT_EQ(why["org/busy@" + s1], "a download is running");
  EXPECT_EQ(why["org/broken@" + s2], "pins file unreadable");
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_NE(p.warnings[0].find("models--org--broken/.hubcache/pins"), std::string::npos) << p.warnings[0];

  // Whitespace pins nothing a ref could be named: the file is malformed, not silently empty.
  cb.write_raw("models--org--free/.hubcache/pins", "main \n");
  EXPECT_FALSE(read_pins(cb.layout(free_)));
  stdfs::remove(cb.layout(free_).pins_path());

  // Unpinned, the same rule takes it.
  ASSERT_TRUE(*remove_pin(cb.layout(whole), k_pin_all));
  EXPECT_FALSE(*remove_pin(cb.layout(whole), k_pin_all));
  EXPECT_EQ(gc(o).selected.size(), 6u);
}

// A blob shared with a kept revision is not freed; the last revision using it frees it.
TEST_F(Gc, SharedBlobsAreFreedOnlyWithTheirLastRevision) {
  const RepoRef r{RepoType::Model, "org/r"};
  cb.add_file(r, c1, "shared.bin", std::string(1000, 's'));
  cb.add_file(r, c1, "old.bin", std::string(10, 'o'));
  cb.add_file(r, c2, "shared.bin", std::string(1000, 's'));
  cb.add_file(r, c2, "new.bin", std::string(20, 'n'));
  cb.add_ref(r, "main", c2);
  used_at(r, c1, now - 20 * k_day);
  used_at(r, c2, now - 1 * k_day);
  GcOptions o;
  o.max_size = 1025;  // 1030 in the cache: removing c1 frees 10, enough
  GcPlan p = gc(o);
  ASSERT_EQ(p.selected.size(), 1u);
  EXPECT_EQ(p.selected[0].freed, 10u);
  EXPECT_EQ(p.deletion.freed_bytes(), 10u);
  o.max_size = 15;  // c2 must go too: then the shared blob is freed with it (whole repo)
  p = gc(o);
  ASSERT_EQ(p.selected.size(), 2u);
  EXPECT_EQ(p.selected[1].freed, 1020u);
  EXPECT_EQ(p.deletion.freed_bytes(), 1030u);
}

TEST_F(Gc, TargetThatCannotBeMetAndMinFree) {
  const RepoRef r{RepoType::Model, "org/r"};
  cb.add_file(r, c1, "a.bin", std::string(100, 'a'));
  cb.add_file(r, c2, "b.bin", std::string(200, 'b'));
  used_at(r, c1, now - 2 * k_day);
  used_at(r, c2, now - 1 * k_day);
  ASSERT_TRUE(add_pin(cb.layout(r), c2));
  GcOptions o;
  o.max_size = 0;
  GcPlan p = gc(o);
  EXPECT_FALSE(p.target_met);
  EXPECT_EQ(p.bytes_needed, 300u);
  EXPECT_EQ(order(p), std::vector<std::string>{"org/r@" + c1.substr(0, 4)});

  GcOptions f;
  f.min_free = 1'000'050;
  f.free_space = 1'000'000;  // 50 short: the least recently used revision (100) is enough
  p = gc(f);
  EXPECT_TRUE(p.target_met);
  EXPECT_EQ(p.bytes_needed, 50u);
  EXPECT_EQ(order(p), std::vector<std::string>{"org/r@" + c1.substr(0, 4)});
  f.free_space = 2'000'000;  // already met
  EXPECT_TRUE(gc(f).selected.empty());
}

TEST_F(Gc, RefusesWithoutARule) {
  cb.add_file({RepoType::Model, "org/r"}, c1, "a.bin", "a");
  auto p = plan_gc(scan(), GcOptions{});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::InvalidArgument);
  GcOptions o;
  o.keep = 0;
  EXPECT_FALSE(plan_gc(scan(), o));
}

// A pointer of repo b into repo a's blobs/ (written by hand; no client makes one): the blob's bytes
// count once in the cache's size, with or without another hardlink outside the cache, and removing
// b's revision frees only b's own blob, since the plan leaves a's blob where it is. Found by a
// differential run against the previous gc, which counted the blob twice when it had a second
// name and so removed revisions a cache already under the target did not need to lose.
TEST_F(Gc, APointerIntoAnotherReposBlobsCountsOnceAndFreesNothingThere) {
  const RepoRef a{RepoType::Model, "org/a"}, b{RepoType::Model, "org/b"};
  const std::string k_etag = cb.add_file(a, c1, "k.bin", std::string(400, 'k'), true);
  cb.add_file(b, c2, "own.bin", std::string(600, 'b'), true);
  test::make_symlink("../../../models--org--a/blobs/" + k_etag, cb.layout(b).pointer_path(c2, "k.bin"));
  used_at(a, c1, now - 20 * k_day);
  used_at(b, c2, now - 10 * k_day);
  const test::TempDir elsewhere;
  for (const bool outside_link : {false, true}) {
    if (outside_link) {
      const std::string outside = elsewhere.path() + "/k";
      ASSERT_EQ(::link(cb.layout(a).blob_path(k_etag).c_str(), outside.c_str()), 0);
    }
    GcOptions o;
    o.max_size = 1000;  // exactly what the disk holds: nothing to remove
    GcPlan p = gc(o);
    EXPECT_EQ(p.size_before, 1000u) << "outside link: " << outside_link;
    EXPECT_TRUE(p.selected.empty());
    o.max_size = 1;
    p = gc(o);
    ASSERT_EQ(order(p), (std::vector<std::string>{"org/a@" + c1.substr(0, 4), "org/b@" + c2.substr(0, 4)}));
    EXPECT_EQ(p.selected[0].freed, outside_link ? 0u : 400u) << "the outside name keeps the bytes";
    EXPECT_EQ(p.selected[1].freed, 600u) << "b's pointer into a's blobs/ frees nothing of a";
    EXPECT_EQ(p.deletion.blob_files().size(), 0u);  // both repos go whole
  }
}

// A blob hardlinked into a second repo (dedupe's result) or from outside the cache (Ollama) counts
// once in the cache's size and frees nothing until its last name goes: gc removes more, in LRU
// order, rather than stopping on bytes that stay on disk.
TEST_F(Gc, HardlinkedBlobsCountOnceAndFreeOnlyWithTheirLastName) {
  const RepoRef a{RepoType::Model, "org/a"}, b{RepoType::Model, "org/b"}, c{RepoType::Model, "org/c"};
  const std::string big(10000, 'x'), other(3000, 'y'), third(2000, 'z');
  const std::string etag = cb.add_file(a, c1, "w.bin", big, true);
  cb.add_file(b, c1, "w.bin", big, true);
  const std::string a_blob = cb.layout(a).blob_path(etag), b_blob = cb.layout(b).blob_path(etag);
  ASSERT_EQ(::unlink(b_blob.c_str()), 0);
  ASSERT_EQ(::link(a_blob.c_str(), b_blob.c_str()), 0);  // one inode, two repos
  cb.add_file(c, c1, "o.bin", other, true);
  const test::TempDir elsewhere;  // same filesystem, outside the cache
  const std::string outside = elsewhere.path() + "/ollama-blob";
  const std::string c_etag = cb.add_file(c, c2, "t.bin", third, true);
  ASSERT_EQ(::link(cb.layout(c).blob_path(c_etag).c_str(), outside.c_str()), 0);  // a name outside the cache
  used_at(a, c1, now - 30 * k_day);
  used_at(c, c2, now - 20 * k_day);
  used_at(b, c1, now - 10 * k_day);
  used_at(c, c1, now - 5 * k_day);
  GcOptions o;
  o.max_size = 5000;  // 15000 on disk (10000 once + 3000 + 2000): 10000 must go
  const GcPlan p = gc(o);
  EXPECT_EQ(p.size_before, 15000u);
  ASSERT_EQ(order(p),
            (std::vector<std::string>{"org/a@" + c1.substr(0, 4), "org/c@" + c2.substr(0, 4), "org/b@" + c1.substr(0, 4)}));
  EXPECT_EQ(p.selected[0].freed, 0u) << "org/b still holds the inode";
  EXPECT_EQ(p.selected[1].freed, 0u) << "the Ollama name still holds it";
  EXPECT_EQ(p.selected[2].freed, 10000u);
  EXPECT_EQ(p.freed_bytes(), 10000u);
  EXPECT_TRUE(p.target_met);
}

// record_use never fails a lookup: not 40 hex, a missing repo, a symlink in place of .hubcache.
TEST_F(Gc, UseRecordsAreBestEffortAndNeverFollowSymlinks) {
  const RepoRef r{RepoType::Model, "org/r"};
  cb.add_file(r, c1, "a.bin", "a");
  const RepoLayout l = cb.layout(r);
  record_use(l, "main");
  record_use(cb.layout({RepoType::Model, "org/absent"}), c1);
  EXPECT_FALSE(test::exists(l.records_dir()));
  EXPECT_FALSE(test::exists(cb.layout({RepoType::Model, "org/absent"}).folder()));
  const test::TempDir elsewhere;
  stdfs::create_directories(elsewhere.path() + "/used");
  test::make_symlink(elsewhere.path(), l.records_dir());
  record_use(l, c1);
  EXPECT_FALSE(test::exists(elsewhere.path() + "/used/" + c1));
  EXPECT_TRUE(read_use_records(l).empty());
  EXPECT_TRUE(*read_pins(l) == std::vector<std::string>{});
  EXPECT_FALSE(add_pin(l, k_pin_all));  // cannot open .hubcache as a folder: an error, nothing written
  EXPECT_FALSE(test::exists(elsewhere.path() + "/pins"));
}

// Link records (what `cache move` re-points): written once per folder, read back sorted, a
// record whose name does not match its path or that is not an absolute path ignored, forgotten on
// demand, never written through a symlinked records folder.
TEST_F(Gc, LinkRecordsRoundTripAndIgnoreWhatTheyDidNotWrite) {
  const RepoRef r{RepoType::Model, "org/r"};
  cb.add_file(r, c1, "a.bin", "a");
  const RepoLayout l = cb.layout(r);
  record_linked_folder(l, "/views/b");
  record_linked_folder(l, "/views/a");
  record_linked_folder(l, "/views/a");
  record_linked_folder(l, "relative/path");
  record_linked_folder(l, "/two\nlines");
  EXPECT_EQ(read_linked_folders(l), (std::vector<std::string>{"/views/a", "/views/b"}));
  test::write_file(l.records_dir() + "/links/0123456789abcdef", "/planted\n");  // name is not its hash
  test::write_file(l.records_dir() + "/links/ffffffffffffffff", "not a path");
  EXPECT_EQ(read_linked_folders(l), (std::vector<std::string>{"/views/a", "/views/b"}));
  forget_linked_folder(l, "/views/a");
  EXPECT_EQ(read_linked_folders(l), (std::vector<std::string>{"/views/b"}));

  const RepoRef s{RepoType::Model, "org/s"};
  cb.add_file(s, c1, "a.bin", "a");
  const test::TempDir elsewhere;
  test::make_symlink(elsewhere.path(), cb.layout(s).records_dir());
  record_linked_folder(cb.layout(s), "/views/a");
  EXPECT_TRUE(stdfs::is_empty(elsewhere.path()));
  EXPECT_TRUE(read_linked_folders(cb.layout(s)).empty());
}

}  // namespace

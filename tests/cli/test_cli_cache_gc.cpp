// `hubcache cache gc`, `cache pin`, `cache unpin` and the LAST_USED source of `cache ls`.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cache_builder.hpp"
#include "exit_codes.hpp"
#include "hubcache/cache/use_records.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_old{RepoType::Model, "org/old"};
const RepoRef k_new{RepoType::Model, "org/new"};

/// tree_fingerprint plus every entry's mtime and atime in ns: a dry run must not touch even those.
std::string fingerprint_with_times(const std::string& root) {
  std::string out = test::tree_fingerprint(root);
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    struct ::stat st {};
    ::lstat(e.path().c_str(), &st);
    out += e.path().string() + " " + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "\n";
  }
  return out;
}

struct CliGc : ::testing::Test {
  test::TempDir dir;
  test::CacheBuilder cb{dir.path()};
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2), c3 = test::commit_id(3);

  void SetUp() override {
    cb.add_file(k_old, c1, "w.bin", std::string(3000, 'o'), true);
    cb.add_ref(k_old, "main", c1);
    cb.add_file(k_new, c2, "w.bin", std::string(2000, 'n'), true);
    cb.add_file(k_new, c3, "w.bin", std::string(1000, 'm'), true);
    cb.add_ref(k_new, "main", c3);
    const double now = static_cast<double>(::time(nullptr));
    used(k_old, c1, now - 90 * 86400.0);
    used(k_new, c2, now - 60 * 86400.0);
    used(k_new, c3, now - 3600.0);
  }
  void used(const RepoRef& repo, const std::string& commit, double when) {
    record_use(cb.layout(repo), commit);
    const timespec t[2] = {{static_cast<time_t>(when), 0}, {static_cast<time_t>(when), 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, cb.layout(repo).use_record_path(commit).c_str(), t, 0), 0);
  }
  test::ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {test::hubcache_bin(), "cache"});
    args.insert(args.end(), {"--cache-dir", dir.path()});
    return test::run_process(args);
  }
};

TEST_F(CliGc, DryRunPlansLruFirstAndChangesNothing) {
  const std::string before = fingerprint_with_times(dir.path());
  const auto r = run({"gc", "--max-size", "2.5kb", "--dry-run"});
  ASSERT_EQ(r.exit_code, 2) << "decimals are refused: " << r.out << r.err;
  EXPECT_NE(r.err.find("--max-size takes a size"), std::string::npos) << r.err;
  const auto d = run({"gc", "--max-size", "3000", "--dry-run"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  // 6000 B cached: the oldest (org/old, 3000) is enough; org/new's older revision stays.
  EXPECT_NE(d.out.find("About to remove 1 revision(s), least recently used first, freeing 3.0K:"), std::string::npos) << d.out;
  EXPECT_NE(
      d.out.find("  - model/org/old " + c1 + " [main] last used 3 months ago (record): least recently used, for --max-size"),
      std::string::npos)
      << d.out;
  EXPECT_NE(d.out.find("Dry run: no files were deleted."), std::string::npos);
  EXPECT_EQ(fingerprint_with_times(dir.path()), before);

  const auto all = run({"gc", "--max-size", "0", "--dry-run"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const auto old_at = all.out.find("model/org/old " + c1), mid = all.out.find("model/org/new " + c2),
             last = all.out.find("model/org/new " + c3);
  ASSERT_NE(last, std::string::npos) << all.out;
  EXPECT_LT(old_at, mid);
  EXPECT_LT(mid, last);
  EXPECT_EQ(fingerprint_with_times(dir.path()), before);
}

TEST_F(CliGc, RemovesUnusedRevisionsAndRespectsPins) {
  const auto pin = run({"pin", "org/old"});
  ASSERT_EQ(pin.exit_code, 0) << pin.err;
  EXPECT_NE(pin.out.find("Pinned model/org/old (every revision)"), std::string::npos) << pin.out;
  const auto r = run({"gc", "--unused-for", "30d", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("  kept: model/org/old " + c1), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Removed 1 revision(s) (0 whole repo(s)); freed 2.0K."), std::string::npos) << r.out;
  EXPECT_TRUE(stdfs::exists(cb.layout(k_old).snapshot_dir(c1)));
  EXPECT_FALSE(stdfs::exists(cb.layout(k_new).snapshot_dir(c2)));
  EXPECT_TRUE(stdfs::exists(cb.layout(k_new).snapshot_dir(c3)));

  const auto unpin = run({"unpin", "org/old"});
  ASSERT_EQ(unpin.exit_code, 0) << unpin.err;
  const auto again = run({"gc", "--unused-for", "30d", "--yes"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_FALSE(stdfs::exists(cb.layout(k_old).folder()));  // its only revision: the whole repo goes
}

TEST_F(CliGc, LsNamesTheSourceOfLastUsed) {
  const auto r = run({"ls", "--revisions", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = nlohmann::json::parse(r.out);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) EXPECT_EQ(row["last_used_source"], "record") << row.dump();
  // Without records, blob times are the fallback, and the table says so.
  // Whether a fresh file's atime or mtime is later depends on the filesystem, so set both.
  stdfs::remove_all(cb.layout(k_old).records_dir());
  const auto set_blob_times = [&](double atime, double mtime) {
    for (const auto& blob : stdfs::directory_iterator(cb.layout(k_old).blobs_dir())) {
      const timespec t[2] = {{static_cast<time_t>(atime), 0}, {static_cast<time_t>(mtime), 0}};
      ASSERT_EQ(::utimensat(AT_FDCWD, blob.path().c_str(), t, 0), 0);
    }
  };
  const double now = static_cast<double>(::time(nullptr));
  set_blob_times(now - 60, now - 7200);
  const auto t = run({"ls"});
  EXPECT_NE(t.out.find("(atime)"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("(record)"), std::string::npos) << t.out;
  set_blob_times(now - 7200, now - 60);
  const auto m = run({"ls"});
  EXPECT_NE(m.out.find("(mtime)"), std::string::npos) << m.out;
}

TEST_F(CliGc, BadInput) {
  EXPECT_EQ(run({"gc"}).exit_code, exit_code::usage);
  EXPECT_EQ(run({"gc", "--unused-for", "soon"}).exit_code, exit_code::usage);
  // An age without a unit of hours or more is refused, never read as seconds or minutes.
  for (const char* age : {"30", "90s", "6m", "0"}) {
    const auto r = run({"gc", "--unused-for", age, "--dry-run"});
    EXPECT_EQ(r.exit_code, exit_code::usage) << age << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("with its unit"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("About to remove"), std::string::npos) << r.out;
  }
  EXPECT_NE(run({"gc", "--unused-for", "6m", "--dry-run"}).err.find("write 6mo for months"), std::string::npos);
  EXPECT_EQ(run({"gc", "--unused-for", "12h", "--dry-run"}).exit_code, 0);
  EXPECT_EQ(run({"gc", "--keep", "-1"}).exit_code, exit_code::usage);
  EXPECT_EQ(run({"gc", "--keep", "0"}).exit_code, exit_code::usage);
  const auto no_tty = run({"gc", "--max-size", "0"});
  EXPECT_EQ(no_tty.exit_code, exit_code::failure);
  EXPECT_NE(no_tty.err.find("without confirmation"), std::string::npos) << no_tty.err;
  EXPECT_TRUE(stdfs::exists(cb.layout(k_old).snapshot_dir(c1)));
  const auto bad_rev = run({"pin", "org/old", "--revision", "v9"});
  EXPECT_EQ(bad_rev.exit_code, exit_code::not_found) << bad_rev.err;
  EXPECT_NE(bad_rev.err.find("nothing cached at revision 'v9'"), std::string::npos) << bad_rev.err;
  EXPECT_EQ(run({"pin", "org/absent"}).exit_code, exit_code::not_found);
  EXPECT_EQ(run({"pin", "../x"}).exit_code, exit_code::usage);
  // A pins file someone broke: gc keeps the whole repo and says why.
  test::write_file(cb.layout(k_new).pins_path(), "../escape\n");
  const auto g = run({"gc", "--max-size", "0", "--dry-run"});
  ASSERT_EQ(g.exit_code, exit_code::disk_full) << "the kept repo leaves --max-size 0 unmet, as the run would: " << g.err;
  EXPECT_NE(g.err.find("the target cannot be met"), std::string::npos) << g.err;
  EXPECT_NE((g.out + g.err).find("pins file unreadable"), std::string::npos) << g.out << g.err;
  EXPECT_EQ(g.out.find("  - model/org/new"), std::string::npos) << g.out;
  // A repo the scan skips is never collected, and gc says the scan found something.
  test::write_file(dir.path() + "/models--org--broken", "not a folder");
  const auto w = run({"gc", "--unused-for", "30d", "--dry-run"});
  EXPECT_NE(w.err.find("found 1 cache inconsistencies"), std::string::npos) << w.out << w.err;
}

}  // namespace

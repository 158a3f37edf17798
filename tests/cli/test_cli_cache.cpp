// `hubcache cache ls|rm|prune|verify`: output, JSON shape, exit codes, filters, confirmation.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>

#include <regex>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "folder_symlinks.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"
#include "terminal.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_model{RepoType::Model, "org/model"};
const RepoRef k_data{RepoType::Dataset, "org/data"};

using test::run_in_terminal;

struct CliCache : ::testing::Test {
  test::TempDir dir;
  test::CacheBuilder cb{dir.path()};
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2), c3 = test::commit_id(3);

  void SetUp() override {
    cb.add_file(k_model, c1, "config.json", "{}");
    cb.add_file(k_model, c1, "model.bin", std::string(2500, 'm'), true);
    cb.add_file(k_model, c2, "model.bin", std::string(2500, 'm'), true);
    cb.add_file(k_model, c2, "extra/new.txt", "new");
    cb.add_ref(k_model, "main", c2);
    cb.add_ref(k_model, "refs/pr/1", c1);
    cb.add_file(k_data, c3, "train.csv", std::string(1500, 'd'));
  }
  test::ProcessResult cache(std::vector<std::string> args, const std::string& stdin_data = {}) {
    args.insert(args.begin(), {test::hubcache_bin(), "cache"});
    args.insert(args.end(), {"--cache-dir", dir.path()});
    return test::run_process(args, {}, stdin_data);
  }
  std::vector<std::string> bin_args(std::vector<std::string> args) {
    args.insert(args.begin(), {test::hubcache_bin(), "cache"});
    args.insert(args.end(), {"--cache-dir", dir.path()});
    return args;
  }
};

TEST_F(CliCache, LsPrintsATableAndTheSummary) {
  // Each blob read after its last write (atime later than mtime), so LAST_USED's source is atime
  // whatever the clock did between the builder's writes.
  struct timespec times[2]{};
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[1] = times[0];
  times[0].tv_sec -= 1;
  times[1].tv_sec -= 2;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path()))
    if (e.path().parent_path().filename() == "blobs") ::utimensat(AT_FDCWD, e.path().c_str(), times, 0);
  const auto r = cache({"ls"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      r.out.rfind(
          "ID               SIZE FILES LAST_ACCESSED     LAST_MODIFIED     LAST_USED                 REFS            PATH\n", 0),
      0u)
      << r.out;
  EXPECT_NE(
      r.out.find("dataset/org/data 1.5K     1 a few seconds ago a few seconds ago a few seconds ago (atime)                 " +
                 dir.path() + "/datasets--org--data\n"),
      std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find("model/org/model  2.5K     3 a few seconds ago a few seconds ago a few seconds ago (atime) main, refs/pr/1 "),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nFound 2 repo(s) for a total of 3 revision(s) and 4.0K on disk.\n"), std::string::npos) << r.out;
  EXPECT_LT(r.out.find("dataset/org/data"), r.out.find("model/org/model"));
  EXPECT_EQ(r.err, "");

  const auto rev = cache({"ls", "--revisions"});
  ASSERT_EQ(rev.exit_code, 0);
  EXPECT_EQ(rev.out.rfind("ID               REVISION                                 SIZE FILES LAST_MODIFIED     LAST_USED      "
                          "           REFS      PATH\n",
                          0),
            0u)
      << rev.out;
  // LAST_USED names its source: no use record here, so the blobs' atime or mtime, the later one.
  EXPECT_TRUE(std::regex_search(
      rev.out,
      std::regex("model/org/model  " + c1 + " 2\\.5K     2 a few seconds ago a few seconds ago \\([am]time\\) refs/pr/1 " +
                 dir.path() + "/models--org--model/snapshots/" + c1 + "\n")))
      << rev.out;
  // Revisions share blobs: the total counts each blob once, the same as without --revisions.
  EXPECT_NE(rev.out.find("Found 2 repo(s) for a total of 3 revision(s) and 4.0K on disk."), std::string::npos) << rev.out;
}

TEST_F(CliCache, LsJsonCarriesRawNumbersAndFormattedStrings) {
  const auto r = cache({"ls", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  const auto& m = j[1];
  EXPECT_EQ(m["id"], "model/org/model");
  EXPECT_EQ(m["repo_id"], "org/model");
  EXPECT_EQ(m["repo_type"], "model");
  EXPECT_EQ(m["size"], "2.5K");
  EXPECT_EQ(m["size_bytes"], 2505);
  EXPECT_EQ(m["nb_files"], 3);
  EXPECT_EQ(m["revisions"], 2);
  EXPECT_EQ(m["last_accessed"], "a few seconds ago");
  EXPECT_TRUE(m["last_accessed_ts"].is_number());
  EXPECT_GT(m["last_modified_ts"].get<double>(), 1.6e9);
  EXPECT_EQ(m["refs"], nlohmann::json({"main", "refs/pr/1"}));
  EXPECT_EQ(m["path"], dir.path() + "/models--org--model");

  const auto rev = nlohmann::json::parse(cache({"ls", "--json", "--revisions"}).out);
  ASSERT_EQ(rev.size(), 3u);
  EXPECT_EQ(rev[1]["revision"], c1);
  EXPECT_EQ(rev[1]["snapshot_path"], dir.path() + "/models--org--model/snapshots/" + c1);
  EXPECT_EQ(rev[1]["path"], rev[1]["snapshot_path"]);
  EXPECT_EQ(rev[1]["size_bytes"], 2502);
  EXPECT_EQ(rev[1]["nb_files"], 2);
  EXPECT_EQ(rev[1]["refs"], nlohmann::json({"refs/pr/1"}));
  EXPECT_FALSE(rev[1].contains("last_accessed"));

  const auto empty = cache({"ls", "--json", "--filter", "size>1TB"});
  EXPECT_EQ(empty.out, "[]\n");
}

TEST_F(CliCache, LsQuietFilterSortLimit) {
  EXPECT_EQ(cache({"ls", "-q"}).out, "dataset/org/data\nmodel/org/model\n");
  EXPECT_EQ(cache({"ls", "-q", "--revisions", "--filter", "refs=main"}).out, c2 + "\n");
  EXPECT_EQ(cache({"ls", "-q", "-f", "type=dataset"}).out, "dataset/org/data\n");
  EXPECT_EQ(cache({"ls", "-q", "--filter", "size>2k", "--filter", "accessed<1h"}).out, "model/org/model\n");
  EXPECT_EQ(cache({"ls", "-q", "--sort", "size"}).out, "model/org/model\ndataset/org/data\n");
  EXPECT_EQ(cache({"ls", "-q", "--sort", "name:desc", "--limit", "1"}).out, "model/org/model\n");
  const auto none = cache({"ls", "--filter", "type=space"});
  EXPECT_EQ(none.out, "No results found.\n");
  EXPECT_EQ(none.exit_code, 0);
}

TEST_F(CliCache, LsUsageErrorsExitTwo) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"ls", "--filter", "size==1"},
                                               {"ls", "--filter", "size>1.5GB"},
                                               {"ls", "--filter", "bogus>1"},
                                               {"ls", "--filter", "type>model"},
                                               {"ls", "--sort", "color"},
                                               {"ls", "--limit", "-1"},
                                               {"ls", "--limit", "x"}}) {
    const auto r = cache(args);
    EXPECT_EQ(r.exit_code, 2) << args[2];
    EXPECT_FALSE(r.err.empty());
    EXPECT_EQ(r.out, "");
  }
  EXPECT_NE(cache({"ls", "--filter", "size==1"}).err.find("Unsupported operator '=='"), std::string::npos);
}

TEST_F(CliCache, LsMissingCacheIsAnError) {
  const auto r = test::run_process({test::hubcache_bin(), "cache", "ls", "--cache-dir", dir / "nope"});
  EXPECT_EQ(r.exit_code, exit_code::not_found);
  EXPECT_NE(r.err.find("Error: Cache directory not found: " + dir.path() + "/nope"), std::string::npos) << r.err;
}

TEST_F(CliCache, LsTrailersForWarningsAndIncompleteDownloads) {
  cb.write_raw("version.txt", "1");
  cb.write_raw("models--org--model/blobs/" + std::string(64, 'a') + ".incomplete", std::string(2000, 'p'));
  const auto r = cache({"ls"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("Warning: Found 1 cache inconsistencies. Re-run with `--show-warnings` to display them.\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("Hint: Found 1 incomplete download(s) totalling 2.0K. Rerun their download to resume, or remove them with "
                       "'hubcache cache prune'."),
            std::string::npos)
      << r.err;
  const auto shown = cache({"ls", "--show-warnings"});
  EXPECT_NE(shown.err.find("Warning: Repo path is not a directory: " + dir.path() + "/version.txt. Repo ignored.\n"),
            std::string::npos)
      << shown.err;
}

TEST_F(CliCache, RmDryRunChangesNothing) {
  const std::string before = test::tree_fingerprint(dir.path());
  const auto r = cache({"rm", "model/org/model", c3, "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "About to delete 2 repo(s) totalling 4.0K.\n"
            "  - dataset/org/data (entire repo)\n"
            "  - model/org/model (entire repo)\n"
            "Dry run: no files were deleted.\n");
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);

  const auto rev = cache({"rm", c1, "--dry-run"});
  EXPECT_EQ(rev.out,
            "About to delete 1 revision(s) totalling 2.0.\n"
            "  - model/org/model:\n"
            "      " +
                c1 +
                " [refs/pr/1] 2.5K\n"
                "Dry run: no files were deleted.\n");
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
}

TEST_F(CliCache, RmWithoutTerminalOrYesRefuses) {
  const std::string before = test::tree_fingerprint(dir.path());
  const auto r = cache({"rm", "model/org/model"}, "y\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stdin is not a terminal"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Hint: re-run with --yes"), std::string::npos) << r.err;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
}

TEST_F(CliCache, RmYesDeletes) {
  const auto r = cache({"rm", "hf://datasets/org/data", c1, "nothing/here", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Warning: Could not find in cache:\n  - nothing/here\n"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("About to delete 1 repo(s) and 1 revision(s) totalling 1.5K.\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Deleted 1 repo(s) and 2 revision(s); freed 1.5K.\n"), std::string::npos) << r.out;
  EXPECT_FALSE(test::exists(dir / "datasets--org--data"));
  EXPECT_FALSE(test::exists(dir / "models--org--model/snapshots/" + c1));
  EXPECT_FALSE(test::exists(dir / "models--org--model/refs/refs/pr/1"));
  EXPECT_TRUE(test::exists(dir / "models--org--model/snapshots/" + c2 + "/model.bin"));
  EXPECT_EQ(cache({"ls", "-q", "--revisions"}).out, c2 + "\n");
}

TEST_F(CliCache, RevisionsCountTheSameReposAsTheRepoListing) {
  for (const char* d : {"blobs", "refs", "snapshots"})
    std::filesystem::create_directories(dir / ("models--org--empty/" + std::string(d)));
  test::write_file(dir / "models--org--empty/blobs/0123456789012345678901234567890123456789", "orphan");
  const auto repos = cache({"ls"}), revisions = cache({"ls", "--revisions"});
  ASSERT_EQ(repos.exit_code, 0) << repos.err;
  ASSERT_EQ(revisions.exit_code, 0) << revisions.err;
  const auto summary = [](const std::string& out) { return out.substr(out.rfind("\nFound ") + 1); };
  EXPECT_NE(summary(repos.out).find("Found 3 repo(s) for a total of 3 revision(s)"), std::string::npos) << repos.out;
  EXPECT_EQ(summary(revisions.out), summary(repos.out));
}

TEST_F(CliCache, OlderNamesScanAndDeleteWork) {
  EXPECT_EQ(cache({"scan", "-q"}).out, cache({"ls", "-q"}).out);
  const auto r = cache({"delete", "hf://datasets/org/data", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(test::exists(dir / "datasets--org--data"));
  EXPECT_EQ(cache({"scan", "-q"}).out, "model/org/model\n");
}

TEST_F(CliCache, RmTargetErrors) {
  const auto nothing = cache({"rm", "unknown/repo", std::string(40, 'f'), "-y"});
  EXPECT_EQ(nothing.exit_code, 0);
  EXPECT_EQ(nothing.out, "Nothing to delete.\n");
  cb.add_file({RepoType::Space, "org/model"}, test::commit_id(5), "app.py", "x");
  const auto ambiguous = cache({"rm", "org/model", "--dry-run"});
  EXPECT_EQ(ambiguous.exit_code, 2);
  EXPECT_NE(ambiguous.err.find("matches several cached repos"), std::string::npos);
  EXPECT_NE(ambiguous.err.find("space/org/model"), std::string::npos);
  const auto uri = cache({"rm", "hf://org/model@main", "--dry-run"});
  EXPECT_EQ(uri.exit_code, 2);
  EXPECT_NE(uri.err.find("a revision (@...) is not supported"), std::string::npos) << uri.err;
  EXPECT_EQ(cache({"rm", "--dry-run"}).exit_code, 2);  // no target, and no terminal to pick from
}

TEST_F(CliCache, RmAsksOnATerminal) {
  const std::string before = test::tree_fingerprint(dir.path());
  const auto no = run_in_terminal(bin_args({"rm", "dataset/org/data"}), "n\n");
  EXPECT_EQ(no.exit_code, 1);
  EXPECT_NE(no.out.find("Proceed with deletion? [y/N]"), std::string::npos) << no.out;
  EXPECT_NE(no.out.find("Aborted: nothing was deleted."), std::string::npos) << no.out;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);

  const auto empty = run_in_terminal(bin_args({"rm", "dataset/org/data"}), "\n");  // default is No
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);

  const auto yes = run_in_terminal(bin_args({"rm", "dataset/org/data"}), "y\n");
  EXPECT_EQ(yes.exit_code, 0) << yes.out;
  EXPECT_NE(yes.out.find("Deleted 1 repo(s) and 1 revision(s); freed 1.5K."), std::string::npos) << yes.out;
  EXPECT_FALSE(test::exists(dir / "datasets--org--data"));
}

TEST_F(CliCache, Prune) {
  cb.add_ref(k_data, "main", c3);
  const auto nothing = cache({"prune", "--yes"});
  ASSERT_EQ(nothing.exit_code, 0);
  EXPECT_EQ(nothing.out, "No unreferenced revisions or incomplete downloads found. Nothing to prune.\n");

  cb.add_file(k_model, test::commit_id(4), "old.txt", std::string(1200, 'o'));  // detached
  const std::string inc = dir / "models--org--model/blobs/" + std::string(64, 'b') + ".incomplete";
  test::write_file(inc, std::string(300, 'p'));
  const std::string before = test::tree_fingerprint(dir.path());
  const auto dry = cache({"prune", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "About to delete 1 unreferenced revision(s) and 1 incomplete download(s) (1.5K total).\n"
            "  - model/org/model:\n"
            "      " +
                test::commit_id(4) +
                " [(detached)] 1.2K\n"
                "  - " +
                inc +
                " (300.0)\n"
                "Dry run: no files were deleted.\n");
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  EXPECT_EQ(cache({"prune"}).exit_code, 1);  // no terminal, no --yes
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  const auto done = cache({"prune", "-y"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.out.find("Deleted 1 unreferenced revision(s) and 1 incomplete download(s); freed 1.5K."), std::string::npos)
      << done.out;
  EXPECT_FALSE(test::exists(inc));
  EXPECT_FALSE(test::exists(dir / "models--org--model/snapshots/" + test::commit_id(4)));
}

TEST_F(CliCache, PruneSplitDownloadWithItsState) {
  cb.add_ref(k_data, "main", c3);
  const std::string blobs = dir / "models--org--model/blobs/" + std::string(64, 'e');
  test::write_file(blobs + ".parts.incomplete", std::string(900, 'p'));
  test::write_file(blobs + ".parts.state", std::string(100, 's'));
  const auto ls = cache({"ls"});
  EXPECT_NE(ls.err.find("Hint: Found 1 incomplete download(s) totalling 1.0K."), std::string::npos) << ls.err;
  const std::string before = test::tree_fingerprint(dir.path());
  const auto dry = cache({"prune", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "About to delete 1 incomplete download(s) (1.0K total).\n"
            "  - " +
                blobs +
                ".parts.incomplete (1.0K)\n"
                "    + " +
                blobs +
                ".parts.state\n"
                "Dry run: no files were deleted.\n");
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  const auto done = cache({"prune", "-y"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.out.find("Deleted 1 incomplete download(s); freed 1.0K."), std::string::npos) << done.out;
  EXPECT_FALSE(test::exists(blobs + ".parts.incomplete"));
  EXPECT_FALSE(test::exists(blobs + ".parts.state"));
}

TEST_F(CliCache, Verify) {
  const auto ok = cache({"verify", "org/model"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("Verified 2 file(s) for model 'org/model'. All checksums match."), std::string::npos) << ok.out;
  EXPECT_EQ(cache({"verify", "org/data", "--repo-type", "dataset"}).exit_code, 0);
  EXPECT_EQ(cache({"verify", "org/model", "--revision", "refs/pr/1"}).exit_code, 0);

  const std::string blob = dir / "models--org--model/blobs/" + git_blob_sha1_hex("new");
  test::write_file(blob, "NEW");
  stdfs::remove(dir / "models--org--model/blobs/" + git_blob_sha1_hex("{}"));
  EXPECT_EQ(cache({"verify", "org/model"}).exit_code, exit_code::integrity);  // main is c2
  const auto bad1 = cache({"verify", "org/model", "--revision", c1});
  EXPECT_EQ(bad1.exit_code, exit_code::integrity);
  EXPECT_NE(bad1.out.find("  - config.json: blob missing: "), std::string::npos) << bad1.out;
  const auto bad2 = cache({"verify", "org/model", "--revision", c2});
  EXPECT_EQ(bad2.exit_code, exit_code::integrity);
  EXPECT_NE(
      bad2.out.find("  - extra/new.txt: expected " + git_blob_sha1_hex("new") + " (git-sha1), got " + git_blob_sha1_hex("NEW")),
      std::string::npos)
      << bad2.out;
  EXPECT_NE(bad2.err.find("Error: Verification failed for 'org/model' (model)"), std::string::npos) << bad2.err;
  // The repair, at the commit verified: a forced download of the damaged files.
  EXPECT_NE(bad2.err.find("Hint: Download it again with: hubcache download org/model extra/new.txt --revision " + c2 +
                          " --cache-dir " + dir.path() + " --force-download\n"),
            std::string::npos)
      << bad2.err;
  EXPECT_NE(bad1.err.find("Hint: Download it again with: hubcache download org/model config.json --revision " + c1 +
                          " --cache-dir " + dir.path() + " --force-download\n"),
            std::string::npos)
      << bad1.err;

  const auto js = cache({"verify", "org/model", "--revision", c2, "--json"});
  EXPECT_EQ(js.exit_code, exit_code::integrity);
  const auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["revision"], c2);
  EXPECT_EQ(j["checked"], 2);
  ASSERT_EQ(j["problems"].size(), 1u);
  EXPECT_EQ(j["problems"][0]["kind"], "mismatch");
  EXPECT_EQ(j["problems"][0]["path"], "extra/new.txt");
  EXPECT_EQ(j["problems"][0]["algorithm"], "git-sha1");
  EXPECT_EQ(j["hint"], "Download it again with: hubcache download org/model extra/new.txt --revision " + c2 + " --cache-dir " +
                           dir.path() + " --force-download");
  EXPECT_FALSE(nlohmann::json::parse(cache({"verify", "org/data", "--repo-type", "dataset", "--json"}).out).contains("hint"));

  const auto missing = cache({"verify", "org/nothing"});
  EXPECT_EQ(missing.exit_code, exit_code::not_found);
  EXPECT_NE(missing.err.find("Repo is not present in cache"), std::string::npos);
  EXPECT_EQ(cache({"verify", "org/model", "--revision", "nope"}).exit_code, exit_code::not_found);
  EXPECT_EQ(cache({"verify", "org/model", "--repo-type", "bogus"}).exit_code, 2);
}

// Issue 9 section 4: verify follows no symlinked repo folder, snapshots/ or snapshot out of the
// cache (cache ls refuses them too): the folder is reported, the exit code is 1, and it never says
// "All checksums match" for files from elsewhere.
TEST_F(CliCache, VerifyRefusesSymlinkedFoldersLikeLs) {
  const RepoRef linked{RepoType::Model, "org/linked"};
  for (const auto which : test::k_linked_folders) {
    test::TempDir outside;
    const std::string link = test::link_folder_out(dir.path(), outside.path(), linked, c1, which);
    for (const std::vector<std::string>& extra : {std::vector<std::string>{}, std::vector<std::string>{"--json"}}) {
      std::vector<std::string> args = {"verify", "org/linked"};
      args.insert(args.end(), extra.begin(), extra.end());
      const auto r = cache(args);
      EXPECT_EQ(r.exit_code, exit_code::integrity) << test::to_string(which) << "\n" << r.out << r.err;
      EXPECT_EQ(r.out.find("All checksums match"), std::string::npos) << r.out;
      EXPECT_EQ((r.out + r.err).find("\"ok\": true"), std::string::npos) << r.out;
      EXPECT_NE((r.out + r.err).find(link), std::string::npos) << test::to_string(which) << "\n" << r.out << r.err;
      EXPECT_NE((r.out + r.err).find("is a symlink"), std::string::npos) << r.out << r.err;
    }
    const auto ls = cache({"ls", "--json"});
    ASSERT_EQ(ls.exit_code, 0) << ls.err;
    for (const auto& row : nlohmann::json::parse(ls.out)) EXPECT_NE(row["repo_id"], "org/linked");  // ls refuses it too
    stdfs::remove_all(dir / "models--org--linked");
  }
  EXPECT_EQ(cache({"verify", "org/model"}).exit_code, 0);  // the other repos are untouched
}

TEST_F(CliCache, VerifyMissingFilesWarnUnlessAsked) {
  // trees/<c2>.json lists a file the snapshot lacks (as after `download --include`).
  std::vector<TreeFileEntry> tree(3);
  tree[0].path = "extra/new.txt";
  tree[0].size = 3;
  tree[0].blob_id = git_blob_sha1_hex("new");
  tree[1].path = "model.bin";
  tree[1].size = 2500;
  tree[1].blob_id = std::string(40, 'b');
  tree[1].lfs_sha256 = sha256_hex(std::string(2500, 'm'));
  tree[1].lfs_size = 2500;
  tree[2].path = "tokenizer.json";
  tree[2].size = 10;
  tree[2].blob_id = std::string(40, 'c');
  ASSERT_TRUE(write_tree_file(cb.layout(k_model), c2, tree));
  const auto warn = cache({"verify", "org/model", "--revision", c2});
  EXPECT_EQ(warn.exit_code, 0) << warn.out << warn.err;
  EXPECT_NE(warn.err.find("1 file(s) of the revision are not cached: tokenizer.json"), std::string::npos) << warn.err;
  const auto js = nlohmann::json::parse(cache({"verify", "org/model", "--revision", c2, "--json"}).out);
  EXPECT_EQ(js["missing_files"], nlohmann::json{"tokenizer.json"});
  EXPECT_TRUE(js["problems"].empty());
  const auto strict = cache({"verify", "org/model", "--revision", c2, "--fail-on-missing-files"});
  EXPECT_EQ(strict.exit_code, exit_code::integrity);
  EXPECT_NE(strict.out.find("tokenizer.json"), std::string::npos) << strict.out;
  EXPECT_EQ(strict.err.find("--force-download"), std::string::npos) << strict.err;  // a missing file is not damaged
}

}  // namespace

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "hubcache/cache/store.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
using test::run_process;

namespace {
struct CliResolve : ::testing::Test {
  test::TempDir dir;
  std::string cache = dir.path() + "/cache";
  test::CacheBuilder cb{cache};
  std::string c1 = test::commit_id(1);
  RepoRef repo{RepoType::Model, "org/tiny"};
  void SetUp() override {
    cb.add_file(repo, c1, "config.json", "{}");
    cb.add_file(repo, c1, "model.safetensors", "weights", true);
    cb.add_file(repo, c1, "1_Pooling/config.json", "{\"p\":1}");
    cb.add_ref(repo, "main", c1);
    test::write_file(cb.layout(repo).no_exist_path(c1, "generation_config.json"), "");
  }
  test::ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), test::hubcache_bin());
    args.push_back("--cache-dir");
    args.push_back(cache);
    return run_process(args, {"HF_HUB_OFFLINE=1"});
  }
};
}  // namespace

TEST_F(CliResolve, PrintsSnapshotPathsOfFiles) {
  auto r = run({"resolve", "org/tiny", "config.json", "1_Pooling/config.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string snap = cache + "/models--org--tiny/snapshots/" + c1;
  EXPECT_EQ(r.out, snap + "/config.json\n" + snap + "/1_Pooling/config.json\n");
}

TEST_F(CliResolve, SnapshotAndJson) {
  auto r = run({"resolve", "org/tiny"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, cache + "/models--org--tiny/snapshots/" + c1 + "\n");
  auto j = run({"resolve", "org/tiny", "--include", "*.json", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["commit"], c1);
  EXPECT_EQ(doc["files"], (nlohmann::json{"1_Pooling/config.json", "config.json"}));
}

TEST_F(CliResolve, MissingFilesAreAllNamedWithTheFetchCommand) {
  auto r = run({"resolve", "org/tiny", "config.json", "tokenizer.json", "vocab.txt"});
  EXPECT_EQ(r.exit_code, exit_code::not_cached);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vocab.txt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hubcache download org/tiny 'tokenizer.json' 'vocab.txt'"), std::string::npos) << r.err;
  auto j = run({"resolve", "org/tiny", "tokenizer.json", "--json"});
  EXPECT_EQ(j.exit_code, exit_code::not_cached);
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["error"]["code"], "local_entry_not_found");
  EXPECT_EQ(doc["error"]["missing"], nlohmann::json{"tokenizer.json"});
}

TEST_F(CliResolve, NoExistMarkerIsReportedAsAbsent) {
  auto r = run({"resolve", "org/tiny", "generation_config.json"});
  EXPECT_EQ(r.exit_code, exit_code::not_found);
  EXPECT_NE(r.err.find(".no_exist"), std::string::npos) << r.err;
}

TEST_F(CliResolve, BadInputGivesClearErrors) {
  auto a = run({"resolve", "org/../tiny", "config.json"});
  EXPECT_EQ(a.exit_code, exit_code::usage);
  EXPECT_NE(a.err.find("invalid repo id"), std::string::npos) << a.err;
  auto b = run({"resolve", "org/tiny", "../../../etc/passwd"});
  EXPECT_EQ(b.exit_code, exit_code::usage);
  EXPECT_NE(b.err.find("'..'"), std::string::npos) << b.err;
  auto c = run({"resolve", "org/tiny", "--revision", "a\\b"});
  EXPECT_EQ(c.exit_code, exit_code::usage);
  EXPECT_NE(c.err.find("invalid revision"), std::string::npos) << c.err;
  auto d = run({"resolve", "org/tiny", "--repo-type", "banana"});
  EXPECT_EQ(d.exit_code, 2);
}

TEST_F(CliResolve, PointerLinkedOutsideTheCacheResolvesToTheSnapshotPath) {
  // huggingface_hub follows such a link; we do too, and still print the snapshot path, never the target.
  test::write_file(dir / "outside/weights.gguf", "gguf");
  const std::string ptr = cb.layout(repo).pointer_path(c1, "weights.gguf");
  ASSERT_EQ(::symlink((dir.path() + "/outside/weights.gguf").c_str(), ptr.c_str()), 0);
  auto r = run({"resolve", "org/tiny", "weights.gguf"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ptr + "\n");
}

TEST_F(CliResolve, CacheDirThatIsAFileIsAClearError) {
  test::write_file(dir / "file", "x");
  auto e = run_process({test::hubcache_bin(), "resolve", "org/tiny", "config.json", "--cache-dir", dir / "file"});
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_NE(e.err.find("is not a directory"), std::string::npos) << e.err;
}

TEST_F(CliResolve, ASnapshotWithoutAFileListSaysItsCompletenessIsUnknown) {
  auto r = run({"resolve", "org/tiny"});  // the builder writes no trees/<commit>.json
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("cannot tell whether the snapshot of model 'org/tiny' at commit " + c1 + " is complete"),
            std::string::npos)
      << r.err;
  auto j = run({"resolve", "org/tiny", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(nlohmann::json::parse(j.out)["verified_complete"], false);
}

TEST_F(CliResolve, WithoutTheRefItNamesTheCachedCommitsAndTheRevisionToUse) {
  ::unlink(cb.layout(repo).ref_path("main").c_str());  // downloaded by commit: no refs/main
  auto snap = run({"resolve", "org/tiny"});
  EXPECT_NE(snap.exit_code, 0);
  EXPECT_NE(snap.err.find("The cache holds a snapshot at commit " + c1), std::string::npos) << snap.err;
  EXPECT_NE(snap.err.find("Hint: Use it with --revision " + c1), std::string::npos) << snap.err;
  auto file = run({"resolve", "org/tiny", "config.json"});
  EXPECT_NE(file.exit_code, 0);
  EXPECT_NE(file.err.find("Hint: Use it with --revision " + c1), std::string::npos) << file.err;
  auto by_commit = run({"resolve", "org/tiny", "config.json", "--revision", c1});
  ASSERT_EQ(by_commit.exit_code, 0) << by_commit.err;
  cb.add_file(repo, test::commit_id(2), "config.json", "{}");
  auto two = run({"resolve", "org/tiny"});
  EXPECT_NE(two.err.find("The cache holds snapshots at commits " + c1 + " " + test::commit_id(2)), std::string::npos) << two.err;
}

namespace {
// Runs hubcache in `cwd` (relative model folders are relative to the working directory).
test::ProcessResult run_in(const std::string& cwd, const std::string& cache, std::vector<std::string> args) {
  std::vector<std::string> argv{"/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", cwd, test::hubcache_bin()};
  for (auto& a : args) argv.push_back(std::move(a));
  argv.push_back("--cache-dir");
  argv.push_back(cache);
  return run_process(argv, {"HF_HUB_OFFLINE=1"});
}
}  // namespace

TEST_F(CliResolve, ALocalFolderIsUsedDirectly) {
  const std::string work = dir.path() + "/work";
  test::write_file(work + "/models/llama/config.json", "{}");
  test::write_file(work + "/models/llama/model.safetensors", "w");
  auto f = run_in(work, cache, {"resolve", "./models/llama", "config.json"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.out, "./models/llama/config.json\n");
  auto s = run_in(work, cache, {"resolve", "models/llama", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto doc = nlohmann::json::parse(s.out);
  EXPECT_EQ(doc["snapshot_path"], "models/llama");
  EXPECT_EQ(doc["files"], nlohmann::json::array({"config.json", "model.safetensors"}));
  auto miss = run_in(work, cache, {"resolve", "./models/llama", "config.json", "tokenizer.json", "vocab.txt"});
  EXPECT_EQ(miss.exit_code, exit_code::not_found);
  EXPECT_EQ(miss.out, "");
  EXPECT_NE(miss.err.find("'./models/llama' does not have 'tokenizer.json' 'vocab.txt'"), std::string::npos) << miss.err;
  auto absent = run_in(work, cache, {"resolve", "./models/absent", "config.json"});
  EXPECT_EQ(absent.exit_code, exit_code::usage);
  EXPECT_NE(absent.err.find("neither a folder that exists nor a valid repo id"), std::string::npos) << absent.err;
}

TEST_F(CliResolve, AnExistingFolderNamedLikeTheRepoIdWins) {
  const std::string work = dir.path() + "/work";
  test::write_file(work + "/org/tiny/config.json", "{\"local\":1}");
  auto f = run_in(work, cache, {"resolve", "org/tiny", "config.json"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.out, "org/tiny/config.json\n");
  auto elsewhere = run_in(dir.path(), cache, {"resolve", "org/tiny", "config.json"});  // no such folder here
  ASSERT_EQ(elsewhere.exit_code, 0) << elsewhere.err;
  EXPECT_EQ(elsewhere.out, cache + "/models--org--tiny/snapshots/" + c1 + "/config.json\n");
}

// Issue 9 section 3: when the cache's file list of the commit (trees/<commit>.json) proves files
// missing, `resolve REPO` fails (exit 1, nothing on stdout) and names every missing file and the
// command that fetches them, on stderr and in --json; patterns that select only cached files pass.
TEST_F(CliResolve, ASnapshotTheTreeRecordProvesIncompleteFailsListingTheMissingFiles) {
  std::vector<TreeFileEntry> tree;
  for (const char* p : {"1_Pooling/config.json", "config.json", "model.safetensors", "tok/vocab.txt", "tokenizer.json"}) {
    TreeFileEntry e;
    e.path = p;
    tree.push_back(e);
  }
  ASSERT_TRUE(write_tree_file(cb.layout(repo), c1, tree));
  auto r = run({"resolve", "org/tiny"});
  EXPECT_EQ(r.exit_code, exit_code::not_cached);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("is missing 2 file(s):\n  - tok/vocab.txt\n  - tokenizer.json\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Fetch them with: hubcache download org/tiny"), std::string::npos) << r.err;
  // ... or, if it was meant to be partial, how to resolve it as --for selects it.
  EXPECT_NE(r.err.find("`hubcache download org/tiny --for TARGET --offline` resolves it as such."), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("  - config.json"), std::string::npos) << r.err;  // only the missing ones
  auto j = run({"resolve", "org/tiny", "--json"});
  EXPECT_EQ(j.exit_code, exit_code::not_cached);
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["error"]["code"], "incomplete_snapshot");
  EXPECT_EQ(doc["error"]["missing"], (nlohmann::json{"tok/vocab.txt", "tokenizer.json"}));
  auto cached_only = run({"resolve", "org/tiny", "--include", "*.json", "--exclude", "tok*", "--json"});
  ASSERT_EQ(cached_only.exit_code, 0) << cached_only.err;
  EXPECT_EQ(nlohmann::json::parse(cached_only.out)["verified_complete"], true);
}

// A ref that holds no commit hash (empty, or garbage): a file is not cached (PY's
// try_to_load_from_cache gives None; exit 3), and the message names the ref and what to do; the
// snapshot form fails on the ref itself (exit 6), as before.
TEST_F(CliResolve, AnEmptyOrGarbageRefIsNamedNotJustNotCached) {
  const std::string ref = cache + "/models--org--tiny/refs/main";
  for (const std::string content : {"", "garbage\n"}) {
    SCOPED_TRACE("ref content '" + content + "'");
    test::write_file(ref, content);
    auto file = run({"resolve", "org/tiny", "config.json"});
    EXPECT_EQ(file.exit_code, exit_code::not_cached) << file.err;
    EXPECT_NE(file.err.find("The ref '" + ref + "' does not hold a 40-hex commit hash; delete it or re-download"),
              std::string::npos)
        << file.err;
    EXPECT_NE(file.err.find("- config.json"), std::string::npos) << file.err;
    auto snapshot = run({"resolve", "org/tiny"});
    EXPECT_EQ(snapshot.exit_code, exit_code::integrity) << snapshot.err;
    EXPECT_NE(snapshot.err.find("ref '" + ref + "' does not hold a 40-hex commit hash"), std::string::npos) << snapshot.err;
  }
  test::write_file(ref, c1);
  EXPECT_EQ(run({"resolve", "org/tiny", "config.json"}).exit_code, 0);
}

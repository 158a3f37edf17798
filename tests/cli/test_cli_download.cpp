// `hubcache download` end to end against the test server.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <filesystem>
#include <sstream>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "cli_env.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

struct Cli : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string cache = dir / "cache";
  std::string c1 = commit_id(10);
  std::vector<std::string> env;

  void SetUp() override {
    server.add_file(k_repo, c1, "config.json", "{}");
    server.add_file(k_repo, c1, "model.bin", std::string(100000, 'm'), true);
    server.add_file(k_repo, c1, "docs/readme.md", "# hi");
    server.add_file(k_repo, c1, "docs/more/x.md", "x");
    server.set_ref(k_repo, "main", c1);
    env = cli_env(server, dir, cache);
  }
  ProcessResult run(std::vector<std::string> args, std::vector<std::string> extra_env = {}) {
    auto e = env;
    for (auto& x : extra_env) e.push_back(x);
    return run_process(cmd(std::move(args)), e);
  }
  std::string snapshot() const { return cache + "/models--org--model/snapshots/" + c1; }
};

}  // namespace

TEST_F(Cli, SingleFilePrintsItsPath) {
  auto r = run({"download", "org/model", "config.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, snapshot() + "/config.json\n");  // the path alone, like `hf download`: MODEL=$(...) works
  EXPECT_NE(r.err.find("[OK] Downloaded"), std::string::npos) << r.err;
  auto snap = run({"download", "org/model", "--include", "docs/*"});
  ASSERT_EQ(snap.exit_code, 0) << snap.err;
  EXPECT_EQ(snap.out, snapshot() + "\n");
  auto q = run({"download", "org/model", "config.json", "--quiet"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_EQ(q.out, snapshot() + "/config.json\n");
  EXPECT_EQ(q.err, "");
}

TEST_F(Cli, SnapshotWithIncludeExclude) {
  auto r = run({"download", "org/model", "--include", "docs/*", "--exclude", "*/more/*", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, snapshot() + "\n");
  EXPECT_TRUE(exists(snapshot() + "/docs/readme.md"));
  EXPECT_FALSE(exists(snapshot() + "/docs/more/x.md"));
  EXPECT_FALSE(exists(snapshot() + "/model.bin"));
  auto folder = run({"download", "org/model", "docs/", "-q"});  // a folder name becomes docs/**
  ASSERT_EQ(folder.exit_code, 0) << folder.err;
  EXPECT_TRUE(exists(snapshot() + "/docs/more/x.md"));
  EXPECT_FALSE(exists(snapshot() + "/model.bin"));
  auto two = run({"download", "org/model", "config.json", "model.bin", "-q"});  // two names: snapshot mode
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(two.out, snapshot() + "\n");
  EXPECT_EQ(read_file(snapshot() + "/model.bin"), std::string(100000, 'm'));
}

TEST_F(Cli, IncludeMatchingNothingFailsAndSaysHowToList) {
  auto r = run({"download", "org/model", "--include", "nomatch*"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("no file of org/model at " + c1 + " matches --include 'nomatch*'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the repo has 4 files"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--dry-run"), std::string::npos) << r.err;
  auto j = run({"download", "org/model", "--exclude", "*", "--json"});
  EXPECT_NE(j.exit_code, 0);
  EXPECT_NE(j.out.find("\"entry_not_found\""), std::string::npos) << j.out;
  EXPECT_FALSE(exists(snapshot() + "/config.json"));
}

TEST_F(Cli, JsonProgressCountsCachedFilesInTheTotal) {
  ASSERT_EQ(run({"download", "org/model", "config.json", "-q"}).exit_code, 0);  // 1 of 4 cached
  auto r = run({"download", "org/model", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto events = json_lines(r.out);
  ASSERT_GE(events.size(), 3u);
  std::size_t last_done = 0, total = 0;
  for (const auto& e : events) {
    if (!e.contains("files_total")) continue;
    total = e["files_total"];
    EXPECT_EQ(total, 4u) << e.dump();
    EXPECT_LE(e["files_done"].get<std::size_t>(), total) << e.dump();
    EXPECT_LE(e["bytes_done"].get<std::uint64_t>(), e["bytes_total"].get<std::uint64_t>()) << e.dump();
    last_done = e["files_done"];
  }
  EXPECT_EQ(last_done, 4u);
}

TEST_F(Cli, AModelIdThatIsADatasetSaysSo) {
  const RepoRef ds{RepoType::Dataset, "org/ds"};
  server.add_file(ds, c1, "train.csv", "a,b");
  server.set_ref(ds, "main", c1);
  for (std::vector<std::string> args : {std::vector<std::string>{"download", "org/ds"}, {"download", "org/ds", "train.csv"}}) {
    auto r = run(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("There is a dataset named 'org/ds' (hf://datasets/org/ds)."), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Hint: Add --repo-type dataset."), std::string::npos) << r.err;
  }
  auto ok = run({"download", "org/ds", "--repo-type", "dataset", "-q"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto none = run({"download", "org/nothing"});  // no such repo of any type: no hint
  EXPECT_NE(none.exit_code, 0);
  EXPECT_EQ(none.err.find("There is a"), std::string::npos) << none.err;
}

// Issue 9 section 3: a Hub URL path as the repo id ("datasets/org/ds") is refused with the flag and
// the URI to use, by download (snapshot and file) and resolve alike: the local-folder reading of
// the name (no such folder) keeps the repo id's advice as the last word. Nothing is requested.
TEST_F(Cli, ATypePrefixedRepoIdPointsAtRepoTypeAndTheUri) {
  const std::string message = "Use 'org/ds' as a dataset id, or the URI 'hf://datasets/org/ds'.";
  const std::string hint = "Add --repo-type dataset.";
  server.clear_requests();
  for (std::vector<std::string> args : {std::vector<std::string>{"download", "datasets/org/ds"},
                                        {"download", "datasets/org/ds", "train.csv"},
                                        {"resolve", "datasets/org/ds"},
                                        {"resolve", "datasets/org/ds", "train.csv"}}) {
    SCOPED_TRACE(args[0] + " " + std::to_string(args.size()));
    auto r = run(args);
    EXPECT_EQ(r.exit_code, exit_code::usage);  // the CLI's exit code for input the library refuses (2 is for flag misuse)
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(r.err.ends_with(message + "\nHint: " + hint + "\n")) << r.err;
    args.push_back("--json");
    auto j = run(args);
    EXPECT_EQ(j.exit_code, exit_code::usage);
    const auto doc = nlohmann::json::parse(j.out);
    EXPECT_EQ(doc["error"]["code"], "invalid_repo_id");
    EXPECT_TRUE(doc["error"]["message"].get<std::string>().ends_with(message)) << j.out;
    EXPECT_EQ(doc["error"]["remedy"], "use_repo_type");
    EXPECT_EQ(doc["error"]["hint"], hint);
  }
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST_F(Cli, FlagsOfOlderGuidesAreAcceptedWithANote) {
  auto r = run({"download", "org/model", "config.json", "--local-dir-use-symlinks", "False", "--resume-download"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, snapshot() + "/config.json\n");
  EXPECT_NE(r.err.find("Note: --local-dir-use-symlinks is no longer needed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Note: --resume-download is no longer needed"), std::string::npos) << r.err;
}

TEST_F(Cli, DryRunPrintsPlanAndTransfersNothing) {
  ASSERT_EQ(run({"download", "org/model", "config.json", "-q"}).exit_code, 0);
  const std::string before = tree_fingerprint(cache);
  auto r = run({"download", "org/model", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[dry-run] Will download 3 files (out of 4) totalling 100.0KB."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FILE"), std::string::npos);
  std::istringstream in(r.out);
  bool cached_dash = false;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("config.json", 0) == 0) cached_dash = line.back() == '-';
  EXPECT_TRUE(cached_dash) << r.out;
  EXPECT_EQ(tree_fingerprint(cache), before);
}

TEST_F(Cli, JsonEmitsProgressLinesThenResult) {
  auto r = run({"download", "org/model", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = json_lines(r.out);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.front()["event"], "plan");
  EXPECT_EQ(lines.back()["path"], snapshot());
  int done = 0;
  for (const auto& l : lines)
    if (l.contains("event") && l["event"] == "file_done") ++done;
  EXPECT_EQ(done, 4);
}

TEST_F(Cli, LocalDir) {
  auto r = run({"download", "org/model", "--local-dir", dir / "out", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, dir / "out" + "\n");
  EXPECT_EQ(read_file(dir / "out/docs/readme.md"), "# hi");
  EXPECT_EQ(read_file(dir / "out/.cache/huggingface/.gitignore"), "*");
}

// --local-dir D --link: the cache is filled as usual and D's files are links of its blobs, with the
// records huggingface_hub keeps, so the model is on disk once.
TEST_F(Cli, LocalDirLinkKeepsOneCopyAndBothLayoutsWork) {
  const std::string out = dir / "out";
  auto r = run({"download", "org/model", "--local-dir", out, "--link", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, out + "\n");
  struct stat local {
  }, blob{};
  ASSERT_EQ(::stat((out + "/model.bin").c_str(), &local), 0);
  ASSERT_EQ(::stat((snapshot() + "/model.bin").c_str(), &blob), 0);
  EXPECT_EQ(local.st_ino, blob.st_ino) << "one copy of the bytes (a hardlink here: no reflinks on this filesystem)";
  EXPECT_EQ(read_file(out + "/docs/more/x.md"), "x");
  const std::string record = read_file(out + "/.cache/huggingface/download/model.bin.metadata");
  EXPECT_EQ(record.substr(0, 41), c1 + "\n") << record;
  EXPECT_NE(record.find(sha256_hex(std::string(100000, 'm'))), std::string::npos) << record;
  EXPECT_EQ(read_file(out + "/.cache/huggingface/.gitignore"), "*");
  // The records make a plain --local-dir download take the files as current: nothing transferred.
  server.clear_requests();
  auto again = run({"download", "org/model", "--local-dir", out, "-q"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server.body_bytes("/resolve/"), 0u);
  ASSERT_EQ(::stat((out + "/model.bin").c_str(), &local), 0);
  EXPECT_EQ(local.st_ino, blob.st_ino) << "left as it is";
  // A folder filled the old way (copies) becomes links of the cache.
  const std::string copies = dir / "copies";
  ASSERT_EQ(run({"download", "org/model", "--local-dir", copies, "-q"}).exit_code, 0);
  ASSERT_EQ(::stat((copies + "/model.bin").c_str(), &local), 0);
  EXPECT_NE(local.st_ino, blob.st_ino);
  ASSERT_EQ(run({"download", "org/model", "--local-dir", copies, "--link", "-q"}).exit_code, 0);
  ASSERT_EQ(::stat((copies + "/model.bin").c_str(), &local), 0);
  EXPECT_EQ(local.st_ino, blob.st_ino);
  // A file of the user's own that differs is never replaced.
  ASSERT_TRUE(fs::write_file_atomic(copies + "/config.json", "{\"edited\": true}"));
  auto edited = run({"download", "org/model", "--local-dir", copies, "--link", "-q"});
  EXPECT_NE(edited.exit_code, 0);
  EXPECT_NE(edited.err.find(copies + "/config.json"), std::string::npos) << edited.err;
  EXPECT_EQ(read_file(copies + "/config.json"), "{\"edited\": true}");
  EXPECT_EQ(run({"download", "org/model", "--link"}).exit_code, 2) << "--link needs --local-dir";
}

// `hf download --local-dir D --cache-dir C` fills D from blobs already in C, with no file transfer.
TEST_F(Cli, LocalDirWithCacheDirCopiesFromThatCache) {
  const std::string other = dir / "other_cache";
  ASSERT_EQ(run({"download", "org/model", "--cache-dir", other, "-q"}).exit_code, 0);
  server.clear_requests();
  auto both = run({"download", "org/model", "--local-dir", dir / "out2", "--cache-dir", other, "-q"});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(both.out, dir / "out2" + "\n");
  EXPECT_EQ(read_file(dir / "out2/model.bin"), std::string(100000, 'm'));
  EXPECT_EQ(read_file(dir / "out2/docs/more/x.md"), "x");
  EXPECT_EQ(server.count("GET", "/resolve/"), 0);  // metadata only: every byte came from the cache
  EXPECT_EQ(server.body_bytes("/resolve/"), 0u);
}

TEST_F(Cli, LocalDirNeverWritesThroughSymlinksInsideIt) {
  const std::string out = dir / "out", elsewhere = dir / "elsewhere";
  ::mkdir(out.c_str(), 0755);
  ::mkdir(elsewhere.c_str(), 0755);
  ASSERT_EQ(::symlink(elsewhere.c_str(), (out + "/docs").c_str()), 0);
  auto data = run({"download", "org/model", "--local-dir", out, "--json"});
  EXPECT_EQ(data.exit_code, 1);
  EXPECT_NE(data.err.find("'" + out + "/docs' is a symbolic link (to '" + elsewhere + "')"), std::string::npos) << data.err;
  EXPECT_EQ(json_lines(data.out).back()["error"]["code"], "invalid_path");
  auto one = run({"download", "org/model", "docs/readme.md", "--local-dir", out});
  EXPECT_EQ(one.exit_code, 1);
  EXPECT_NE(one.err.find("never writes outside the local dir"), std::string::npos) << one.err;
  ASSERT_EQ(::unlink((out + "/docs").c_str()), 0);
  std::filesystem::remove_all(out + "/.cache");                           // made by the refused runs
  ASSERT_EQ(::symlink(elsewhere.c_str(), (out + "/.cache").c_str()), 0);  // the metadata folder
  auto meta = run({"download", "org/model", "config.json", "--local-dir", out});
  EXPECT_EQ(meta.exit_code, 1);
  EXPECT_NE(meta.err.find("'" + out + "/.cache' is a symbolic link"), std::string::npos) << meta.err;
  EXPECT_EQ(describe_tree(elsewhere).size(), 0u);
}

TEST_F(Cli, OfflineWithAndWithoutFiles) {
  server.clear_requests();
  auto miss = run({"download", "org/model", "config.json", "--offline"});
  EXPECT_EQ(miss.exit_code, exit_code::not_cached);
  EXPECT_NE(miss.err.find("Error: Local entry not found."), std::string::npos) << miss.err;
  ASSERT_EQ(run({"download", "org/model", "config.json", "-q"}).exit_code, 0);
  server.clear_requests();
  auto hit = run({"download", "org/model", "config.json", "-q"}, {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(hit.exit_code, 0) << hit.err;
  EXPECT_EQ(hit.out, snapshot() + "/config.json\n");
  EXPECT_EQ(server.requests().size(), 0u);
}

// Issue 9 section 3: offline, a repo downloaded by commit (no refs/main) -- download names the
// cached commit and the --revision to use, for a single file and a snapshot, as resolve does (the
// hint comes from the library's offline errors); with that --revision it works offline.
TEST_F(Cli, OfflineWithoutTheRefNamesTheCachedCommitsAndTheRevisionToUse) {
  ASSERT_EQ(run({"download", "org/model", "--revision", c1, "-q"}).exit_code, 0);
  ASSERT_FALSE(exists(cache + "/models--org--model/refs/main"));  // by commit: no ref written
  server.clear_requests();
  const std::string held = "The cache holds a snapshot at commit " + c1 + ": use that commit as the revision.";
  const std::string hint = "Use it with --revision " + c1 + ".";
  for (std::vector<std::string> args :
       {std::vector<std::string>{"download", "org/model", "config.json", "--offline"}, {"download", "org/model", "--offline"}}) {
    SCOPED_TRACE(std::to_string(args.size()));
    auto r = run(args);
    EXPECT_EQ(r.exit_code, exit_code::not_cached);
    EXPECT_NE(r.err.find("Local entry not found."), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(held), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Hint: " + hint), std::string::npos) << r.err;
    args.push_back("--json");
    auto j = run(args);
    EXPECT_EQ(j.exit_code, exit_code::not_cached);
    const auto doc = json_lines(j.out).back();
    EXPECT_EQ(doc["error"]["code"], "local_entry_not_found");
    EXPECT_NE(doc["error"]["message"].get<std::string>().find(held), std::string::npos) << j.out;
    EXPECT_EQ(doc["error"]["hint"], hint) << j.out;
  }
  auto file = run({"download", "org/model", "config.json", "--offline", "--revision", c1, "-q"});
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, snapshot() + "/config.json\n");
  auto snap = run({"download", "org/model", "--revision", c1, "-q"}, {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(snap.exit_code, 0) << snap.err;
  EXPECT_EQ(snap.out, snapshot() + "\n");
  // With refs/main present, no other commit is offered for a file that snapshot lacks.
  write_file(cache + "/models--org--model/refs/main", c1);
  auto lacking = run({"download", "org/model", "nope.txt", "--offline"});
  EXPECT_EQ(lacking.exit_code, exit_code::not_cached);
  EXPECT_EQ(lacking.err.find("The cache holds"), std::string::npos) << lacking.err;
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST_F(Cli, ErrorsAreClear) {
  auto repo = run({"download", "no/such", "config.json"});
  EXPECT_EQ(repo.exit_code, exit_code::not_found);
  EXPECT_NE(repo.err.find("Error: Model 'no/such' not found."), std::string::npos) << repo.err;
  auto entry = run({"download", "org/model", "nope.txt"});
  EXPECT_EQ(entry.exit_code, exit_code::not_found);
  EXPECT_NE(entry.err.find("File not found in model 'org/model'."), std::string::npos) << entry.err;
  auto rev = run({"download", "org/model", "--revision", "nope"});
  EXPECT_EQ(rev.exit_code, exit_code::not_found);
  EXPECT_NE(rev.err.find("Revision not found in model 'org/model'."), std::string::npos) << rev.err;
  // A bad file name is a bad argument (README: exit 2), refused before any request.
  const auto requests_before = server.count("", "/");
  auto bad = run({"download", "org/model", "../x"});
  EXPECT_EQ(bad.exit_code, exit_code::usage);
  EXPECT_NE(bad.err.find("Invalid filename"), std::string::npos);
  auto bad_json = run({"download", "org/model", "docs/../../x/", "--json"});
  EXPECT_EQ(bad_json.exit_code, exit_code::usage);
  EXPECT_EQ(json_lines(bad_json.out).back()["error"]["code"], "invalid_path");
  EXPECT_EQ(server.count("", "/"), requests_before);
  auto json = run({"download", "no/such", "--json"});
  EXPECT_EQ(json.exit_code, exit_code::not_found);
  EXPECT_EQ(json_lines(json.out).back()["error"]["code"], "repo_not_found");
}

TEST_F(Cli, HfUris) {
  auto r = run({"download", "hf://org/model@main/config.json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, snapshot() + "/config.json\n");
  EXPECT_EQ(run({"download", "hf://org/model", "--revision", "main"}).exit_code, 2);
  EXPECT_EQ(run({"download", "hf://gpt2"}).exit_code, 2);
}

TEST_F(Cli, PrivateRepoNeedsToken) {
  server.set_private(k_repo, true);
  server.set_valid_token("hf_secrettoken");
  auto anon = run({"download", "org/model", "config.json"});
  EXPECT_EQ(anon.exit_code, exit_code::not_found);
  EXPECT_NE(anon.err.find("authenticated"), std::string::npos);
  auto ok = run({"download", "org/model", "config.json", "--token", "hf_secrettoken", "-q"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto env_token = run({"download", "org/model", "docs/readme.md", "-q"}, {"HF_TOKEN=hf_secrettoken"});
  EXPECT_EQ(env_token.exit_code, 0) << env_token.err;
  auto bad = run({"download", "org/model", "config.json", "--token", "hf_wrongtoken"});
  EXPECT_EQ(bad.exit_code, 0);  // cached copy wins over a 401 (docs/hub-protocol.md#download-file step 4)
  EXPECT_EQ(bad.err.find("hf_wrongtoken"), std::string::npos);
}

TEST_F(Cli, ProgressBarsCanBeForcedOn) {
  auto r = run({"download", "org/model", "model.bin"}, {"HF_HUB_DISABLE_PROGRESS_BARS=0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("100.0%"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("files 1/1"), std::string::npos) << r.err;
  auto off = run({"download", "org/model", "config.json"}, {"HF_HUB_DISABLE_PROGRESS_BARS=1"});
  ASSERT_EQ(off.exit_code, 0);
  EXPECT_EQ(off.err, "[OK] Downloaded\n");  // no bar, only the status line
}

TEST_F(Cli, BlobModeFollowsUmask) {
  ASSERT_EQ(run({"download", "org/model", "config.json", "-q"}).exit_code, 0);
  struct stat st {};
  ASSERT_EQ(::stat((snapshot() + "/config.json").c_str(), &st), 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
}

TEST_F(Cli, PatternsTakeOneValuePerFlag) {
  auto r = run({"download", "org/model", "--include", "docs/*", "--include", "*.json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(exists(snapshot() + "/config.json"));
  EXPECT_TRUE(exists(snapshot() + "/docs/readme.md"));
  EXPECT_FALSE(exists(snapshot() + "/model.bin"));
  // A pattern flag before a file name does not swallow it: the name wins (with a warning).
  auto w = run({"download", "org/model", "--exclude", "*.md", "model.bin"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_NE(w.out.find(snapshot() + "/model.bin"), std::string::npos) << w.out;
  EXPECT_NE(w.err.find("ignored"), std::string::npos);
}

TEST_F(Cli, ALocalFolderIsUsedDirectlyAndWinsOverTheRepo) {
  const std::string work = dir / "work";
  write_file(work + "/org/model/config.json", "{\"local\":1}");
  write_file(work + "/org/model/w.safetensors", "w");
  auto in_work = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", work, hubcache_bin()};
    for (auto& a : args) argv.push_back(std::move(a));
    return run_process(argv, env);
  };
  server.clear_requests();
  auto f = in_work({"download", "org/model", "config.json"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.out, "org/model/config.json\n");
  auto s = in_work({"download", "org/model", "--include", "*.safetensors"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, "org/model\n");
  auto none = in_work({"download", "org/model", "--include", "*.bin"});
  EXPECT_EQ(none.exit_code, exit_code::not_found);
  EXPECT_NE(none.err.find("(a local folder) matches --include '*.bin'"), std::string::npos) << none.err;
  auto miss = in_work({"download", "org/model", "tokenizer.json"});
  EXPECT_EQ(miss.exit_code, exit_code::not_found);
  EXPECT_NE(miss.err.find("'org/model' does not have a file named 'tokenizer.json'"), std::string::npos) << miss.err;
  EXPECT_EQ(server.requests().size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(cache + "/models--org--model"));
}

// A cache on a filesystem too small for the file: exit 7 (disk full), the space named, no blob
// and no partial file left behind. The filesystem is a 1 MiB tmpfs the test mounts (root only).
TEST_F(Cli, ADiskTooSmallExitsWithTheDiskFullCode) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  const std::string small = dir / "small";
  std::filesystem::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=1m") != 0) GTEST_SKIP() << "cannot mount a tmpfs here";
  server.add_file(k_repo, c1, "big.bin", std::string(3u << 20, 'b'), true);
  auto r = run({"download", "org/model", "big.bin", "--cache-dir", small + "/cache"});
  EXPECT_EQ(r.exit_code, exit_code::disk_full) << r.err;
  EXPECT_NE(r.err.find("space"), std::string::npos) << r.err;
  // Nothing is left in blobs/: no blob and no empty .incomplete (there was nothing to resume).
  if (std::filesystem::exists(small + "/cache/models--org--model/blobs"))
    for (const auto& e : std::filesystem::directory_iterator(small + "/cache/models--org--model/blobs"))
      ADD_FAILURE() << "left behind: " << e.path() << " (" << std::filesystem::file_size(e.path()) << " bytes)";
  ::umount2(small.c_str(), MNT_DETACH);
}

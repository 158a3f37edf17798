// `hubcache import` through the built binary: output, JSON, dry run, modes, exit codes.
#include <unistd.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace sfs = std::filesystem;

namespace {

std::string sample() { return test::source_dir() + "/sample/tiny-model"; }

test::ProcessResult hub(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv{test::hubcache_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_process(argv, env);
}

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

std::uint64_t folder_bytes(const std::string& dir, std::size_t& count) {
  std::uint64_t total = 0;
  count = 0;
  for (const auto& e : sfs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) total += e.file_size(), ++count;
  return total;
}

}  // namespace

TEST(CliImport, SampleThenResolveOffline) {
  test::TempDir d;
  const std::string cache = d / "cache";
  auto r = hub({"import", sample(), "--repo", "org/tiny", "--cache-dir", cache});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::size_t n = 0;
  const auto bytes = folder_bytes(sample(), n);
  EXPECT_NE(r.out.find("Imported " + std::to_string(n) + " file(s), " + std::to_string(bytes) + " bytes"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("derived from the files"), std::string::npos);
  EXPECT_NE(r.out.find("Ref: refs/main -> "), std::string::npos);
  const std::string snapshot = last_line(r.out);
  EXPECT_EQ(snapshot.rfind(cache + "/models--org--tiny/snapshots/", 0), 0u) << snapshot;

  auto res = hub({"resolve", "org/tiny", "--cache-dir", cache}, {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(res.out, snapshot + "\n");
  auto file = hub({"resolve", "org/tiny", "1_Pooling/config.json", "model.safetensors", "--cache-dir", cache});
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, snapshot + "/1_Pooling/config.json\n" + snapshot + "/model.safetensors\n");
  EXPECT_EQ(test::read_file(snapshot + "/model.safetensors"), test::read_file(sample() + "/model.safetensors"));

  auto again = hub({"import", sample(), "--repo", "org/tiny", "--cache-dir", cache});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("Blobs: 0 written"), std::string::npos) << again.out;
  EXPECT_EQ(last_line(again.out), snapshot);
}

TEST(CliImport, JsonOutputAndHfHubCache) {
  test::TempDir d;
  const std::string cache = d / "hub";
  auto r =
      hub({"import", sample(), "--repo", "org/tiny", "--repo-type", "dataset", "--json", "--copy"}, {"HF_HUB_CACHE=" + cache});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["dry_run"], false);
  EXPECT_EQ(j["repo_id"], "org/tiny");
  EXPECT_EQ(j["repo_type"], "dataset");
  EXPECT_EQ(j["mode"], "copy");
  EXPECT_EQ(j["commit_source"], "derived");
  EXPECT_EQ(j["commit_derived"], true);
  EXPECT_EQ(j["ref"], "refs/main");
  EXPECT_EQ(j["file_count"], 7);
  EXPECT_EQ(j["blobs_written"], 7);
  EXPECT_EQ(j["blobs_copied"], 7);
  const std::string commit = j["commit"];
  EXPECT_EQ(j["snapshot_path"], cache + "/datasets--org--tiny/snapshots/" + commit);
  EXPECT_EQ(test::read_file(cache + "/datasets--org--tiny/refs/main"), commit);
  std::uint64_t total = 0;
  for (const auto& f : j["files"]) {
    const std::string path = f["path"];
    const std::string content = test::read_file(sample() + "/" + path);
    EXPECT_EQ(f["size"], content.size());
    EXPECT_EQ(f["lfs"], path == "model.safetensors") << path;
    EXPECT_EQ(f["blob"], f["lfs"] ? sha256_hex(content) : git_blob_sha1_hex(content));
    total += content.size();
  }
  EXPECT_EQ(j["total_bytes"], total);
  EXPECT_EQ(j["transfer_bytes"], total);
}

TEST(CliImport, DryRunChangesNothing) {
  test::TempDir d;
  const std::string cache = d / "cache";
  auto r = hub({"import", sample(), "--repo", "org/tiny", "--cache-dir", cache, "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(test::exists(cache));
  EXPECT_NE(r.out.find("Nothing was changed"), std::string::npos);
  for (const char* p : {"1_Pooling/config.json", "model.safetensors", "tokenizer.json"})
    EXPECT_NE(r.out.find(p), std::string::npos) << p;
  EXPECT_NE(r.out.find(sha256_hex(test::read_file(sample() + "/model.safetensors"))), std::string::npos);
  auto j = hub({"import", sample(), "--repo", "org/tiny", "--cache-dir", cache, "--dry-run", "--json"});
  ASSERT_EQ(j.exit_code, 0);
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["dry_run"], true);
  EXPECT_EQ(doc["new_blobs"], 7);
  EXPECT_FALSE(doc.contains("blobs_written"));
  EXPECT_FALSE(test::exists(cache));
}

TEST(CliImport, MoveAndCommitRevision) {
  test::TempDir d;
  const std::string src = d / "src", cache = d / "cache";
  sfs::copy(sample(), src, sfs::copy_options::recursive);
  const std::string commit(40, 'c');
  auto r = hub({"import", src, "--repo", "org/tiny", "--cache-dir", cache, "--move", "--revision", commit});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Removed 7 source file(s)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Ref:"), std::string::npos);  // a commit revision writes no ref
  EXPECT_EQ(last_line(r.out), cache + "/models--org--tiny/snapshots/" + commit);
  EXPECT_FALSE(test::exists(src + "/config.json"));
  EXPECT_FALSE(test::exists(src + "/1_Pooling"));
  auto res = hub({"resolve", "org/tiny", "config.json", "--revision", commit, "--cache-dir", cache});
  EXPECT_EQ(res.exit_code, 0) << res.err;
}

TEST(CliImport, LocalDirMismatchNamesTheFile) {
  test::TempDir d;
  const std::string src = d / "src", cache = d / "cache";
  const std::string commit(40, 'a');
  test::write_file(src + "/config.json", "{}");
  test::write_file(src + "/.cache/huggingface/download/config.json.metadata",
                   commit + "\n" + git_blob_sha1_hex("{\"x\": 1}") + "\n1712656091.5\n");
  auto r = hub({"import", src, "--repo", "org/tiny", "--cache-dir", cache});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'config.json'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Hint: Import the folder as plain files with --ignore-metadata."), std::string::npos) << r.err;
  EXPECT_FALSE(test::exists(cache));
  // An untracked file beside it: the hint offers skipping it too.
  test::write_file(src + "/notes.md", "mine");
  auto untracked = hub({"import", src, "--repo", "org/tiny", "--cache-dir", cache});
  EXPECT_NE(untracked.err.find(
                "Hint: Leave them out with --untracked skip, or import the folder as plain files with --ignore-metadata."),
            std::string::npos)
      << untracked.err;
  ASSERT_EQ(::unlink((src + "/notes.md").c_str()), 0);
  auto plain = hub({"import", src, "--repo", "org/tiny", "--cache-dir", cache, "--ignore-metadata"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  test::write_file(src + "/.cache/huggingface/download/config.json.metadata",
                   commit + "\n" + git_blob_sha1_hex("{}") + "\n1712656091.5\n");
  // The recorded commit is the Hub's: it moves refs/main off the plain import like a download would.
  auto ok = hub({"import", src, "--repo", "org/tiny", "--cache-dir", cache, "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  const auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["commit"], commit);
  EXPECT_EQ(j["commit_source"], "local_dir_metadata");
}

TEST(CliImport, BadInputExitCodes) {
  test::TempDir d;
  const std::string cache = d / "cache";
  auto missing = hub({"import", d / "nope", "--repo", "org/x", "--cache-dir", cache});
  EXPECT_EQ(missing.exit_code, test::exit_code::not_found);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  auto bad_id = hub({"import", sample(), "--repo", "org--x", "--cache-dir", cache, "--json"});
  EXPECT_EQ(bad_id.exit_code, test::exit_code::usage);
  EXPECT_EQ(nlohmann::json::parse(bad_id.out)["error"]["code"], "invalid_repo_id");
  EXPECT_FALSE(test::exists(cache));
  EXPECT_EQ(hub({"import", sample(), "--cache-dir", cache}).exit_code, 2);  // --repo is required
  EXPECT_EQ(hub({"import", sample(), "--repo", "o/x", "--link", "--copy", "--cache-dir", cache}).exit_code, 2);
  EXPECT_EQ(hub({"import", sample(), "--repo", "o/x", "--untracked", "keep", "--cache-dir", cache}).exit_code, 2);
  EXPECT_EQ(hub({"import", sample(), "--repo", "o/x", "--repo-type", "nope", "--cache-dir", cache}).exit_code, 2);
  EXPECT_FALSE(test::exists(cache));
  auto help = hub({"import", "--help"});
  EXPECT_NE(help.out.find("model, dataset, space or kernel"), std::string::npos) << help.out;
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("git tree id"), std::string::npos);  // the derived commit recipe is documented
}

// --repo-type is one option across commands: the same values, the --type alias, a clear refusal.
TEST(CliImport, RepoTypeOptionIsTheSameEverywhere) {
  test::TempDir d;
  const std::string cache = d / "cache";
  auto kernel = hub({"import", sample(), "--repo", "org/k", "--type", "kernel", "--cache-dir", cache, "--json"});
  ASSERT_EQ(kernel.exit_code, 0) << kernel.err;
  EXPECT_EQ(nlohmann::json::parse(kernel.out)["repo_type"], "kernel");
  EXPECT_TRUE(test::exists(cache + "/kernels--org--k/refs/main"));
  auto resolved = hub({"resolve", "org/k", "--type", "kernel", "--cache-dir", cache});
  EXPECT_EQ(resolved.exit_code, 0) << resolved.err;
  auto verified = hub({"cache", "verify", "org/k", "--repo-type", "kernel", "--cache-dir", cache});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"import", sample(), "--repo", "org/k"}, std::vector<std::string>{"resolve", "org/k"},
        std::vector<std::string>{"cache", "verify", "org/k"}}) {
    auto help_args = args;
    help_args.push_back("--help");
    EXPECT_NE(hub(help_args).out.find("--repo-type,--type"), std::string::npos) << args[0];
    auto bad = args;
    bad.insert(bad.end(), {"--type", "bogus", "--cache-dir", cache});
    auto r = hub(bad);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_NE(r.err.find("unknown repo type 'bogus'"), std::string::npos) << args[0] << ": " << r.err;
  }
}

// A project cache in the Hub layout is not a folder of repo files: import refuses it (and its
// repo and snapshot folders) with the commands that do the job, and the central cache keeps working.
TEST(CliImportHubLayout, ACacheARepoFolderAndASnapshotAreRefusedAndNothingBreaks) {
  test::TempDir dir;
  const std::string central = dir.path() + "/central", project = dir.path() + "/projA/model_cache";
  const RepoRef repo{RepoType::Model, "org/tiny"};
  const std::string c1 = test::commit_id(1), c9 = test::commit_id(9);
  test::CacheBuilder good{central}, other{project};
  good.add_file(repo, c1, "config.json", "{\"good\":1}");
  good.add_ref(repo, "main", c1);
  other.add_file(repo, c9, "config.json", "{\"project\":1}");
  other.add_ref(repo, "main", c9);
  auto hub = [&](std::vector<std::string> args) {
    args.insert(args.begin(), test::hubcache_bin());
    return test::run_process(args, {"HF_HUB_OFFLINE=1"});
  };
  const std::string repo_folder = project + "/models--org--tiny", snap = repo_folder + "/snapshots/" + c9;
  for (const std::string& src : {project, repo_folder, snap}) {
    auto r = hub({"import", src, "--repo", "org/tiny", "--cache-dir", central});
    EXPECT_NE(r.exit_code, 0) << src;
    EXPECT_NE(r.err.find("Nothing was changed"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hubcache serve --cache-dir '" + project + "'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hubcache download org/tiny"), std::string::npos) << r.err;
  }
  auto s = hub({"import", snap, "--repo", "org/tiny", "--cache-dir", central});
  EXPECT_NE(s.err.find("--revision " + c9), std::string::npos) << s.err;
  auto after = hub({"resolve", "org/tiny", "config.json", "--cache-dir", central});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  std::string path = after.out;
  while (!path.empty() && path.back() == '\n') path.pop_back();
  EXPECT_EQ(test::read_file(path), "{\"good\":1}");
  EXPECT_FALSE(test::exists(central + "/models--org--tiny/snapshots/" + c9));
}

// The seed-000 trap: `hf download org/tiny --local-dir ~/.cache/huggingface/hub/tiny` (or over the
// repo's own folder name). import adopts it in place: its bytes become the blobs, the folder goes.
TEST(CliImportInPlace, ALocalDirInsideTheCacheBecomesTheEntry) {
  test::TempDir dir;
  const std::string cache = dir.path() + "/hub";
  const std::string commit(40, 'b');
  auto local_dir = [&](const std::string& at) {
    test::write_file(at + "/config.json", "{\"in\":\"place\"}");
    test::write_file(at + "/sub/vocab.txt", "a b c");
    test::write_file(at + "/.cache/huggingface/download/config.json.metadata",
                     commit + "\n" + git_blob_sha1_hex("{\"in\":\"place\"}") + "\n1712656091.5\n");
    test::write_file(at + "/.cache/huggingface/download/sub/vocab.txt.metadata",
                     commit + "\n" + git_blob_sha1_hex("a b c") + "\n1712656091.5\n");
  };
  auto hub = [&](std::vector<std::string> args) {
    args.insert(args.begin(), test::hubcache_bin());
    args.insert(args.end(), {"--cache-dir", cache});
    return test::run_process(args, {"HF_HUB_OFFLINE=1"});
  };
  auto resolves = [&](const std::string& repo) {
    auto r = hub({"resolve", repo, "sub/vocab.txt"});
    std::string path = r.out;
    while (!path.empty() && path.back() == '\n') path.pop_back();
    return r.exit_code == 0 && test::read_file(path) == "a b c";
  };
  // 1. A folder in the cache root.
  local_dir(cache + "/tiny");
  auto a = hub({"import", cache + "/tiny", "--repo", "org/tiny"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(resolves("org/tiny"));
  EXPECT_FALSE(test::exists(cache + "/tiny"));
  EXPECT_EQ(test::read_file(cache + "/models--org--tiny/refs/main"), commit);
  // 2. Over the repo's own folder name.
  const std::string own = cache + "/models--org--other";
  local_dir(own);
  auto b = hub({"import", own, "--repo", "org/other"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_TRUE(resolves("org/other"));
  EXPECT_FALSE(test::exists(own + "/config.json"));
  EXPECT_FALSE(test::exists(own + "/.cache"));
  auto ls = hub({"cache", "ls", "-q"});
  EXPECT_EQ(ls.out, "model/org/other\nmodel/org/tiny\n") << ls.err;
  // 3. --keep links and leaves the folder.
  local_dir(cache + "/kept");
  auto c = hub({"import", cache + "/kept", "--repo", "org/kept", "--keep"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(resolves("org/kept"));
  EXPECT_EQ(test::read_file(cache + "/kept/sub/vocab.txt"), "a b c");
  // 4. Cache data and other repos' folders stay refused.
  auto deep = hub({"import", cache + "/models--org--tiny/blobs", "--repo", "org/tiny"});
  EXPECT_NE(deep.exit_code, 0);
  local_dir(cache + "/models--org--third");
  auto wrong = hub({"import", cache + "/models--org--third", "--repo", "org/tiny"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("is the cache folder of model 'org/third'"), std::string::npos) << wrong.err;
  EXPECT_TRUE(resolves("org/tiny"));
}

TEST(CliImportInPlace, CacheLsNamesALocalDirCopyAndTheCommandThatAdoptsIt) {
  test::TempDir dir;
  const std::string cache = dir.path() + "/hub";
  const std::string commit(40, 'c');
  test::CacheBuilder cb{cache};
  cb.add_file({RepoType::Model, "org/tiny"}, test::commit_id(1), "config.json", "{\"a\":1}");  // same bytes: a cached blob
  test::write_file(cache + "/tiny/config.json", "{\"a\":1}");
  test::write_file(cache + "/tiny/big.txt", std::string(2048, 'x'));
  test::write_file(cache + "/tiny/.cache/huggingface/download/config.json.metadata",
                   commit + "\n" + git_blob_sha1_hex("{\"a\":1}") + "\n1712656091.5\n");
  test::write_file(cache + "/tiny/.cache/huggingface/download/big.txt.metadata",
                   commit + "\n" + git_blob_sha1_hex(std::string(2048, 'x')) + "\n1712656091.5\n");
  auto ls = test::run_process({test::hubcache_bin(), "cache", "ls", "--cache-dir", cache}, {});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  // 7 + 2048 bytes, printed as cache ls prints every size
  EXPECT_NE(ls.err.find("'" + cache + "/tiny' is an `hf download --local-dir` copy at commit " + commit +
                        ": 2 file(s), 2.1K, of which 1 already in the cache as blobs"),
            std::string::npos)
      << ls.err;
  EXPECT_NE(ls.err.find("hubcache import '" + cache + "/tiny' --repo ORG/NAME"), std::string::npos) << ls.err;

  // The same copy written over the canonical folder name ($HF_HOME/hub/models--org--tiny): the
  // folder names the repo, so the hint does too and the command needs no guessing.
  const std::string home = dir.path() + "/home";
  const std::string own = home + "/hub/models--org--tiny";
  test::write_file(own + "/config.json", "{\"a\":1}");
  test::write_file(own + "/big.txt", std::string(2048, 'x'));
  test::write_file(own + "/.cache/huggingface/download/config.json.metadata",
                   commit + "\n" + git_blob_sha1_hex("{\"a\":1}") + "\n1712656091.5\n");
  test::write_file(own + "/.cache/huggingface/download/big.txt.metadata",
                   commit + "\n" + git_blob_sha1_hex(std::string(2048, 'x')) + "\n1712656091.5\n");
  auto named =
      test::run_process({test::hubcache_bin(), "cache", "ls"}, {"HF_HOME=" + home, "-HF_HUB_CACHE", "-HUGGINGFACE_HUB_CACHE"});
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_NE(named.err.find("'" + own + "' is an `hf download --local-dir` copy of model 'org/tiny' at commit " + commit +
                           ": 2 file(s), 2.1K, of which 0 already in the cache as blobs"),
            std::string::npos)
      << named.err;
  EXPECT_NE(named.err.find("hubcache import '" + own + "' --repo org/tiny"), std::string::npos) << named.err;
  EXPECT_EQ(named.err.find("ORG/NAME"), std::string::npos) << named.err;
}

// Issue 9 §3 through the CLI: an older `hf download --local-dir` copy does not move refs/main off
// the complete snapshot it points to; its files land under their commit; --force moves the ref.
TEST(CliImport, AnOlderLocalDirCopyLeavesTheRefUnlessForced) {
  test::TempDir d;
  const std::string cache = d / "cache", old_copy = d / "old";
  const std::string newer(40, 'e'), older(40, '1');
  auto r = hub({"import", sample(), "--repo", "org/tiny", "--cache-dir", cache, "--commit", newer});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(test::read_file(cache + "/models--org--tiny/refs/main"), newer);
  test::write_file(old_copy + "/config.json", "{\"old\":1}");
  test::write_file(old_copy + "/.cache/huggingface/download/config.json.metadata",
                   older + "\n" + git_blob_sha1_hex("{\"old\":1}") + "\n1612656091.5\n");
  auto kept = hub({"import", old_copy, "--repo", "org/tiny", "--cache-dir", cache});
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_NE(kept.out.find("Ref: refs/main stays at " + newer + "; pass --force to move it to " + older), std::string::npos)
      << kept.out;
  EXPECT_EQ(kept.out.find("Ref: refs/main ->"), std::string::npos) << kept.out;
  EXPECT_EQ(test::read_file(cache + "/models--org--tiny/refs/main"), newer);
  EXPECT_EQ(test::read_file(cache + "/models--org--tiny/snapshots/" + older + "/config.json"), "{\"old\":1}");
  auto main_cfg = hub({"resolve", "org/tiny", "config.json", "--cache-dir", cache}, {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(main_cfg.exit_code, 0) << main_cfg.err;
  EXPECT_NE(main_cfg.out.find("/snapshots/" + newer + "/config.json"), std::string::npos) << main_cfg.out;
  auto dry = hub({"import", old_copy, "--repo", "org/tiny", "--cache-dir", cache, "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  const auto j = nlohmann::json::parse(dry.out);
  EXPECT_TRUE(j["ref_kept"].get<bool>());
  EXPECT_TRUE(j["ref"].is_null());
  auto forced = hub({"import", old_copy, "--repo", "org/tiny", "--cache-dir", cache, "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.out.find("Ref: refs/main -> " + older), std::string::npos) << forced.out;
  EXPECT_EQ(test::read_file(cache + "/models--org--tiny/refs/main"), older);
}

TEST(CliImportNoSymlinks, DisableSymlinksMakesRealFilesLikeADownload) {
  test::TempDir dir;
  const std::string src = dir.path() + "/src", cache = dir.path() + "/cache";
  test::write_file(src + "/config.json", "{\"k\":1}");
  test::write_file(src + "/sub/w.txt", "weights");
  auto r = test::run_process({test::hubcache_bin(), "import", src, "--repo", "org/tiny", "--cache-dir", cache, "--copy"},
                             {"HF_HUB_DISABLE_SYMLINKS=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string snap;
  for (const auto& e : std::filesystem::directory_iterator(cache + "/models--org--tiny/snapshots")) snap = e.path().string();
  ASSERT_FALSE(snap.empty());
  for (const char* f : {"/config.json", "/sub/w.txt"}) {
    EXPECT_FALSE(std::filesystem::is_symlink(snap + f)) << f;
    EXPECT_TRUE(std::filesystem::is_regular_file(snap + f)) << f;
  }
  EXPECT_EQ(test::read_file(snap + "/sub/w.txt"), "weights");
  EXPECT_TRUE(std::filesystem::is_empty(cache + "/models--org--tiny/blobs"));
  EXPECT_EQ(test::read_file(src + "/sub/w.txt"), "weights");  // --copy leaves the source
}

// `hubcache cache move ORG/NAME --to DIR` / `--back`: one repo to an archive folder and back, on the
// same filesystem (an exchange) and across (a tmpfs mounted by the test: a verified copy), with
// every reader following the moved repo (ls, offline resolve, verify, serve), rm / prune / gc
// leaving it alone, a blob of the shared store made the repo's own, a whole-cache move carrying the
// record along, kill -9 at random points with a rerun finishing, and links hubcache did not make
// still refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "cache_builder.hpp"
#include "exit_codes.hpp"
#include "hubcache/util/hash.hpp"
#include "serve_process.hpp"
#include "http_get.hpp"
#include "temp_dir.hpp"
#include "tmpfs.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace stdfs = std::filesystem;

namespace {

using test::Tmpfs;

using test::http_get;

struct CliRepoMove : ::testing::Test {
  test::TempDir dir;
  std::string cache = dir.path() + "/hub";
  std::string archive = dir.path() + "/archive";
  const RepoRef a{RepoType::Model, "org/a"}, b{RepoType::Dataset, "org/b"};
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2);
  std::map<std::string, std::string> files;  // snapshot path of org/a at c1 -> content
  std::map<std::string, std::string> repo_a, repo_b;

  void SetUp() override { build(cache, 1); }

  void build(const std::string& root, int scale) {
    test::CacheBuilder cb(root);
    std::mt19937 rng(11);
    files.clear();
    for (int i = 0; i < 4; ++i) {
      std::string big(static_cast<std::size_t>(scale) * (1u << 20) + static_cast<std::size_t>(i) * 577, '\0');
      for (auto& ch : big) ch = static_cast<char>(rng());
      files["w" + std::to_string(i) + ".bin"] = big;
      cb.add_file(a, c1, "w" + std::to_string(i) + ".bin", big, true);
    }
    files["config.json"] = "{\"a\": 1}";
    cb.add_file(a, c1, "config.json", files["config.json"]);
    cb.add_file(a, c2, "config.json", "{\"a\": 2}");
    cb.add_ref(a, "main", c1);
    cb.add_ref(a, "dev", c2);
    cb.write_raw("models--org--a/.no_exist/" + c1 + "/tokenizer.json", "");
    cb.add_file(b, c1, "data.csv", "x,y\n1,2\n", true);
    cb.add_ref(b, "main", c1);
    repo_a = test::describe_tree(root + "/models--org--a");
    repo_b = test::describe_tree(root + "/datasets--org--b");
  }

  test::ProcessResult hub(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), test::hubcache_bin());
    args.insert(args.end(), {"--cache-dir", cache});
    return test::run_process(args, env);
  }
  test::ProcessResult move_out(const std::string& to) { return hub({"cache", "move", "org/a", "--to", to, "--yes"}); }
  test::ProcessResult move_back() { return hub({"cache", "move", "org/a", "--back", "--yes"}); }

  /// Every file of org/a at c1 resolves offline from the cache with its bytes.
  void expect_resolvable() {
    for (const auto& [path, content] : files) {
      SCOPED_TRACE(path);
      const auto r = test::run_process(
          {test::hubcache_bin(), "resolve", "org/a", path, "--revision", "main", "--cache-dir", cache}, {"HF_HUB_OFFLINE=1"});
      ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
      const std::string got_path = r.out.substr(0, r.out.find('\n'));
      EXPECT_TRUE(got_path.starts_with(cache + "/models--org--a/snapshots/")) << got_path;
      EXPECT_EQ(test::read_file(got_path), content);
    }
  }
  bool home_again() const {
    auto t = test::describe_tree(cache + "/models--org--a");
    t.erase(".hubcache");  // the record's folder may stay (empty)
    auto want = repo_a;
    want.erase(".hubcache");
    return !stdfs::is_symlink(cache + "/models--org--a") && t == want;
  }
};

TEST_F(CliRepoMove, OutAndBackOnTheSameFilesystemEveryReaderFollows) {
  const auto dry = hub({"cache", "move", "org/a", "--to", archive, "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("Same filesystem: one atomic exchange"), std::string::npos) << dry.out;
  EXPECT_TRUE(stdfs::is_directory(cache + "/models--org--a") && !stdfs::is_symlink(cache + "/models--org--a"));

  const auto out = move_out(archive);
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  const std::string home = archive + "/models--org--a";
  ASSERT_TRUE(stdfs::is_symlink(cache + "/models--org--a"));
  EXPECT_EQ(stdfs::read_symlink(cache + "/models--org--a").string(), home);
  EXPECT_EQ(test::read_file(home + "/.hubcache/moved-from"), cache + "\n");
  auto home_tree = test::describe_tree(home);
  home_tree.erase(".hubcache/moved-from");
  home_tree.erase(".hubcache");
  EXPECT_EQ(home_tree, repo_a) << "the folder moved whole";
  EXPECT_EQ(test::describe_tree(cache + "/datasets--org--b"), repo_b);

  expect_resolvable();
  const auto ls = hub({"cache", "ls", "--json"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  const auto j = nlohmann::json::parse(ls.out);
  ASSERT_EQ(j.size(), 2u) << ls.out;
  EXPECT_EQ(j[1].value("moved_to", ""), home) << ls.out;
  EXPECT_EQ(j[1].value("nb_files", 0), 6) << ls.out;
  EXPECT_FALSE(j[0].contains("moved_to"));
  const auto table = hub({"cache", "ls"});
  EXPECT_NE(table.out.find(cache + "/models--org--a -> " + home), std::string::npos) << table.out;
  EXPECT_EQ(table.err.find("inconsistenc"), std::string::npos) << table.err;
  const auto verify = hub({"cache", "verify", "org/a"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("Verified 5 file(s)"), std::string::npos) << verify.out;

  // rm refuses and says how; prune and gc leave it alone (its bytes are not on the cache's disk).
  const auto rm = hub({"cache", "rm", "org/a", "--yes"});
  EXPECT_EQ(rm.exit_code, exit_code::usage) << rm.out << rm.err;
  EXPECT_NE(rm.err.find("--back"), std::string::npos) << rm.err;
  const auto prune = hub({"cache", "prune", "--yes"});
  EXPECT_EQ(prune.exit_code, 0) << prune.err;
  EXPECT_NE(prune.out.find("Left alone (moved out"), std::string::npos) << prune.out;
  const auto gc = hub({"cache", "gc", "--max-size", "1", "--yes"});
  EXPECT_NE(gc.out.find("holds 8.0."), std::string::npos) << "only org/b's bytes are on the cache's disk\n" << gc.out;
  EXPECT_TRUE(stdfs::is_symlink(cache + "/models--org--a"));
  EXPECT_EQ(test::describe_tree(home).size(), home_tree.size() + 2);
  EXPECT_FALSE(stdfs::exists(cache + "/datasets--org--b")) << "gc still collects the rest";

  const auto again = move_out(archive);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already at"), std::string::npos) << again.out;
  const auto elsewhere = move_out(dir.path() + "/other");
  EXPECT_EQ(elsewhere.exit_code, exit_code::usage);
  EXPECT_NE(elsewhere.err.find("move it back first"), std::string::npos) << elsewhere.err;

  const auto back = move_back();
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  EXPECT_TRUE(home_again());
  EXPECT_FALSE(stdfs::exists(home));
  EXPECT_FALSE(stdfs::exists(cache + "/models--org--a/.hubcache/moved-from"));
  expect_resolvable();
  const auto back_again = move_back();
  EXPECT_EQ(back_again.exit_code, 0) << back_again.err;
  EXPECT_NE(back_again.out.find("already in the cache"), std::string::npos) << back_again.out;
}

TEST_F(CliRepoMove, AcrossFilesystemsAVerifiedCopyThenBack) {
  Tmpfs disk(dir.path() + "/disk2", "size=64m");
  ASSERT_TRUE(disk.mounted);
  const std::string home = disk.path + "/models--org--a";
  const auto out = move_out(disk.path);
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("hashed on the new side"), std::string::npos) << out.out;
  ASSERT_TRUE(stdfs::is_symlink(cache + "/models--org--a"));
  auto home_tree = test::describe_tree(home);
  home_tree.erase(".hubcache/moved-from");
  home_tree.erase(".hubcache");
  EXPECT_EQ(home_tree, repo_a);
  EXPECT_FALSE(stdfs::exists(cache + "/.models--org--a.hubcache-old"));
  EXPECT_FALSE(stdfs::exists(disk.path + "/.models--org--a.hubcache-move"));
  expect_resolvable();

  // serve answers from the moved repo (the mirror's boundary accepts the recorded home only).
  {
    test::ServeProcess p({"--cache-dir", cache});
    ASSERT_FALSE(p.url().empty()) << p.err_output();
    const auto [code, body] = http_get(p.url() + "/org/a/resolve/main/w2.bin");
    EXPECT_EQ(code, 200);
    EXPECT_TRUE(body == files["w2.bin"]) << body.size();
    const auto [tcode, tree] = http_get(p.url() + "/api/models/org/a/tree/main");
    EXPECT_EQ(tcode, 200);
    EXPECT_NE(tree.find("w3.bin"), std::string::npos) << tree;
  }

  const auto back = move_back();
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  EXPECT_TRUE(home_again());
  EXPECT_FALSE(stdfs::exists(home));
  EXPECT_FALSE(stdfs::exists(cache + "/.models--org--a.hubcache-move"));
  expect_resolvable();
}

TEST_F(CliRepoMove, ASharedStoreBlobBecomesTheReposOwnAndItsPayloadIsFreed) {
  test::CacheBuilder cb(cache);
  const RepoRef s{RepoType::Model, "org/s"}, t{RepoType::Model, "org/t"};
  cb.mark_shared_store();
  const std::string only = std::string(5000, 'o'), both = std::string(7000, 'b');
  const std::string h_only = std::string(64, 'c'), h_both = std::string(64, 'd');
  const std::string e_only = cb.add_shared_file(s, c1, "only.bin", only, h_only);
  const std::string e_both = cb.add_shared_file(s, c1, "both.bin", both, h_both);
  cb.add_shared_file(t, c2, "both.bin", both, h_both);
  cb.add_ref(s, "main", c1);
  cb.add_ref(t, "main", c2);
  Tmpfs disk(dir.path() + "/disk2", "size=16m");
  ASSERT_TRUE(disk.mounted);
  const auto dry = hub({"cache", "move", "org/s", "--to", disk.path, "--dry-run"});
  EXPECT_NE(dry.out.find("2 blob(s) live in the cache's shared blob store"), std::string::npos) << dry.out;
  const auto out = hub({"cache", "move", "org/s", "--to", disk.path, "--yes"});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  struct stat st {};
  ASSERT_EQ(::lstat((disk.path + "/models--org--s/blobs/" + e_only).c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(test::read_file(disk.path + "/models--org--s/blobs/" + e_both), both);
  EXPECT_FALSE(stdfs::exists(cache + "/blobs/cc/" + h_only)) << "no repo references it any more: freed";
  EXPECT_EQ(test::read_file(cache + "/blobs/dd/" + h_both), both) << "org/t still references it";
  EXPECT_NE(out.out.find("Made 2 shared blob(s) the repo's own; freed 5.0K"), std::string::npos) << out.out;
  const auto vs = hub({"cache", "verify", "org/s"});
  EXPECT_EQ(vs.exit_code, 0) << vs.out << vs.err;
  const auto vt = hub({"cache", "verify", "org/t"});
  EXPECT_EQ(vt.exit_code, 0) << vt.out << vt.err;
  const auto r =
      test::run_process({test::hubcache_bin(), "resolve", "org/s", "only.bin", "--cache-dir", cache}, {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(r.out.substr(0, r.out.find('\n'))), only);
}

TEST_F(CliRepoMove, AWholeCacheMoveTakesTheMovedRepoAlong) {
  ASSERT_EQ(move_out(archive).exit_code, 0);
  const std::string new_cache = dir.path() + "/hub2";
  const auto r = hub({"cache", "move", new_cache, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  cache = new_cache;
  EXPECT_EQ(test::read_file(archive + "/models--org--a/.hubcache/moved-from"), new_cache + "\n");
  expect_resolvable();
  const auto back = move_back();
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  EXPECT_TRUE(home_again());
}

TEST_F(CliRepoMove, LinksHubcacheDidNotMakeStayRefused) {
  // A hand-made `mv` + `ln -s`: no record, so ls skips it and resolve refuses it, as before.
  const std::string home = archive + "/models--org--a";
  stdfs::create_directories(archive);
  stdfs::rename(cache + "/models--org--a", home);
  stdfs::create_directory_symlink(home, cache + "/models--org--a");
  const auto ls = hub({"cache", "ls", "--show-warnings"});
  EXPECT_NE(ls.err.find("Repo path is a symlink, not followed"), std::string::npos) << ls.err;
  const auto r =
      test::run_process({test::hubcache_bin(), "resolve", "org/a", "config.json", "--cache-dir", cache}, {"HF_HUB_OFFLINE=1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is a symlink"), std::string::npos) << r.err;
  // A record naming another cache, or a link through another symlink, is no better.
  test::write_file(home + "/.hubcache/moved-from", dir.path() + "/elsewhere\n");
  EXPECT_NE(hub({"cache", "ls", "--show-warnings"}).err.find("not followed"), std::string::npos);
  test::write_file(home + "/.hubcache/moved-from", cache + "\n");
  stdfs::create_directory_symlink(archive, dir.path() + "/alias");
  stdfs::remove(cache + "/models--org--a");
  stdfs::create_directory_symlink(dir.path() + "/alias/models--org--a", cache + "/models--org--a");
  EXPECT_NE(hub({"cache", "ls", "--show-warnings"}).err.find("not followed"), std::string::npos);
  // moving it: refused with the symlink named
  const auto mv = move_out(dir.path() + "/x");
  EXPECT_NE(mv.exit_code, 0);
  EXPECT_NE(mv.err.find("symlink"), std::string::npos) << mv.err;
  // the exact record and link: accepted (what `cache move --to` writes)
  stdfs::remove(cache + "/models--org--a");
  stdfs::create_directory_symlink(home, cache + "/models--org--a");
  expect_resolvable();
}

TEST_F(CliRepoMove, BadInputIsRefusedBeforeAnythingIsWritten) {
  const auto before = test::tree_fingerprint(dir.path());
  auto refused = [&](std::vector<std::string> args, int code, const std::string& words) {
    SCOPED_TRACE(args.back());
    args.push_back("--yes");
    const auto r = hub(args);
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  };
  refused({"cache", "move", "org/a", "--to", cache + "/sub"}, exit_code::usage, "inside the cache");
  refused({"cache", "move", "org/a", "--to", dir.path()}, exit_code::usage, "holds the cache");
  refused({"cache", "move", "org/nope", "--to", archive}, exit_code::not_found, "not in the cache");
  refused({"cache", "move", "org/a", "--to", archive, "--back"}, exit_code::usage, "go separately");
  refused({"cache", "move", "org/a", "--back", "--repo-type", "dataset"}, exit_code::not_found, "not in the cache");
  {
    stdfs::create_directories(archive + "/models--org--a/x");
    const auto fp = test::tree_fingerprint(dir.path());
    const auto r = move_out(archive);
    EXPECT_EQ(r.exit_code, exit_code::usage);
    EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
    EXPECT_EQ(test::tree_fingerprint(dir.path()), fp);
    stdfs::remove_all(archive);
  }
  {  // no space on the archive disk: refused with the numbers, nothing written there
    Tmpfs small(dir.path() + "/small", "size=1m");
    ASSERT_TRUE(small.mounted);
    const auto r = move_out(small.path);
    EXPECT_EQ(r.exit_code, exit_code::disk_full) << r.out << r.err;
    EXPECT_NE(r.err.find("bytes needed"), std::string::npos) << r.err;
    EXPECT_TRUE(stdfs::is_empty(small.path));
  }
  EXPECT_TRUE(home_again());
}

TEST_F(CliRepoMove, TwoMovesAtOnceEndWithOneHomeAndNoChain) {
  for (int trial = 0; trial < 6; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    const std::string a1 = dir.path() + "/a1", a2 = dir.path() + "/a2";
    std::vector<pid_t> pids;
    for (const auto& to : {a1, a2}) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::execl(test::hubcache_bin().c_str(), "hubcache", "cache", "move", "org/a", "--to", to.c_str(), "--cache-dir",
                cache.c_str(), "--yes", static_cast<char*>(nullptr));
        ::_exit(127);
      }
      pids.push_back(pid);
    }
    int ok = 0;
    for (const pid_t pid : pids) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    EXPECT_EQ(ok, 1) << "one move wins, the other is refused";
    const bool in1 = stdfs::exists(a1 + "/models--org--a"), in2 = stdfs::exists(a2 + "/models--org--a");
    EXPECT_NE(in1, in2) << "exactly one home";
    EXPECT_FALSE(stdfs::is_symlink(a1 + "/models--org--a") || stdfs::is_symlink(a2 + "/models--org--a")) << "no chain";
    expect_resolvable();
    const auto back = move_back();
    ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
    EXPECT_TRUE(home_again());
    stdfs::remove_all(a1);
    stdfs::remove_all(a2);
  }
}

TEST_F(CliRepoMove, NoDestinationThatAnotherRepoOrCacheOwns) {
  const auto fp = test::tree_fingerprint(dir.path());
  // Another Hub cache, and a folder inside another repo's folder: their rm / gc / --back would take it.
  test::CacheBuilder other(dir.path() + "/other");
  other.add_file(RepoRef{RepoType::Model, "x/y"}, c1, "f", "f");
  const auto fp_other = test::tree_fingerprint(dir.path());
  auto r = move_out(dir.path() + "/other");
  EXPECT_EQ(r.exit_code, exit_code::usage);
  EXPECT_NE(r.err.find("is a Hub cache"), std::string::npos) << r.err;
  r = move_out(dir.path() + "/other/models--x--y/sub");
  EXPECT_EQ(r.exit_code, exit_code::usage);
  EXPECT_NE(r.err.find("inside the repo folder"), std::string::npos) << r.err;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), fp_other);
  stdfs::remove_all(dir.path() + "/other");
  EXPECT_EQ(test::tree_fingerprint(dir.path()), fp);
  // An archive holding homes only is fine for a second repo; a home is no place for one.
  ASSERT_EQ(move_out(archive).exit_code, 0);
  const auto b_out = hub({"cache", "move", "org/b", "--repo-type", "dataset", "--to", archive, "--yes"});
  ASSERT_EQ(b_out.exit_code, 0) << b_out.err;
  EXPECT_NE(b_out.out.find("--repo-type dataset --back --cache-dir " + cache), std::string::npos) << b_out.out;
  ASSERT_EQ(hub({"cache", "move", "org/b", "--repo-type", "dataset", "--back", "--yes"}).exit_code, 0);
  r = hub({"cache", "move", "org/b", "--repo-type", "dataset", "--to", archive + "/models--org--a", "--yes"});
  EXPECT_EQ(r.exit_code, exit_code::usage);
  EXPECT_NE(r.err.find("inside the repo folder"), std::string::npos) << r.err;
  // Nor for the whole cache.
  r = hub({"cache", "move", archive + "/models--org--a/nested", "--yes"});
  EXPECT_EQ(r.exit_code, exit_code::usage);
  EXPECT_NE(r.err.find("inside the repo folder"), std::string::npos) << r.err;
  expect_resolvable();
}

TEST_F(CliRepoMove, ABindMountOfTheSameFilesystemFallsBackToTheCopy) {
  const std::string store = dir.path() + "/store", mnt = dir.path() + "/bind";
  stdfs::create_directories(store);
  stdfs::create_directories(mnt);
  ASSERT_EQ(::mount(store.c_str(), mnt.c_str(), nullptr, MS_BIND, nullptr), 0);
  const auto out = move_out(mnt);
  ::umount2(mnt.c_str(), MNT_DETACH);
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("hashed on the new side"), std::string::npos) << out.out;
  ASSERT_EQ(::mount(store.c_str(), mnt.c_str(), nullptr, MS_BIND, nullptr), 0);
  expect_resolvable();
  const auto back = move_back();
  ::umount2(mnt.c_str(), MNT_DETACH);
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  EXPECT_TRUE(home_again());
  EXPECT_TRUE(stdfs::is_empty(store));
}

TEST_F(CliRepoMove, AnArchiveDiskNotMountedIsNamedAsSuch) {
  Tmpfs disk(dir.path() + "/disk2", "size=16m");
  ASSERT_TRUE(disk.mounted);
  ASSERT_EQ(move_out(disk.path).exit_code, 0);
  ASSERT_EQ(::umount2(disk.path.c_str(), MNT_DETACH), 0);
  disk.mounted = false;
  const auto r =
      test::run_process({test::hubcache_bin(), "resolve", "org/a", "config.json", "--cache-dir", cache}, {"HF_HUB_OFFLINE=1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("mount that disk again"), std::string::npos) << r.err;
  const auto ls = hub({"cache", "ls", "--show-warnings"});
  EXPECT_NE(ls.err.find("mount that disk again"), std::string::npos) << ls.err;
}

TEST_F(CliRepoMove, ACachePathWithANewlineIsRefused) {
  const std::string odd = dir.path() + "/c\nx";
  test::CacheBuilder(odd).add_file(a, c1, "f", "f");
  const auto fp = test::tree_fingerprint(dir.path());
  const auto r =
      test::run_process({test::hubcache_bin(), "cache", "move", "org/a", "--to", archive, "--cache-dir", odd, "--yes"});
  EXPECT_EQ(r.exit_code, exit_code::usage) << r.out << r.err;
  EXPECT_NE(r.err.find("newline"), std::string::npos) << r.err;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), fp);
}

TEST_F(CliRepoMove, KilledAtRandomPointsTheRepoStaysReadableAndARerunFinishes) {
  Tmpfs disk(dir.path() + "/disk2", "size=256m");
  ASSERT_TRUE(disk.mounted);
  const std::string pristine = dir.path() + "/pristine";
  stdfs::remove_all(cache);
  build(pristine, 6);  // ~25 MB in org/a
  auto reset = [&] {
    stdfs::remove_all(cache);
    ASSERT_EQ(test::run_process({"/bin/cp", "-a", pristine, cache}).exit_code, 0);
    for (const auto& e : stdfs::directory_iterator(disk.path)) stdfs::remove_all(e.path());
  };
  auto start = [&](bool back) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      if (back)
        ::execl(test::hubcache_bin().c_str(), "hubcache", "cache", "move", "org/a", "--back", "--cache-dir", cache.c_str(),
                "--yes", static_cast<char*>(nullptr));
      else
        ::execl(test::hubcache_bin().c_str(), "hubcache", "cache", "move", "org/a", "--to", disk.path.c_str(), "--cache-dir",
                cache.c_str(), "--yes", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  };
  // Every file of org/a is readable through the cache path, with its bytes.
  auto readable = [&] {
    for (const auto& [path, content] : files)
      if (test::read_file(cache + "/models--org--a/snapshots/" + c1 + "/" + path) != content) return false;
    const auto v = hub({"cache", "verify", "org/a"});
    return v.exit_code == 0;
  };
  for (const bool back : {false, true}) {
    SCOPED_TRACE(back ? "--back" : "--to");
    reset();
    if (back) {
      ASSERT_EQ(move_out(disk.path).exit_code, 0);
    }
    const auto t0 = std::chrono::steady_clock::now();
    int status = 0;
    ::waitpid(start(back), &status, 0);
    auto full = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    std::mt19937 rng(back ? 7 : 2026);
    int killed = 0;
    // A kill after the move ended (the timed run was slowed by a loaded machine) shrinks the
    // window; trials go on (at most 24) until 4 kills landed mid-way.
    for (int trial = 0; trial < 24 && (trial < 8 || killed < 4); ++trial) {
      SCOPED_TRACE("trial " + std::to_string(trial));
      reset();
      if (back) {
        ASSERT_EQ(move_out(disk.path).exit_code, 0);
      }
      const pid_t pid = start(back);
      std::this_thread::sleep_for(full * (static_cast<double>(rng() % 1000) / 1000.0));
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      killed += WIFSIGNALED(status);
      if (!WIFSIGNALED(status)) full = full * 7 / 10;
      EXPECT_TRUE(readable()) << "the repo must stay readable from the cache";
      const auto again = back ? move_back() : move_out(disk.path);
      ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
      EXPECT_TRUE(readable());
      EXPECT_EQ(stdfs::is_symlink(cache + "/models--org--a"), !back);
      EXPECT_EQ(stdfs::exists(disk.path + "/models--org--a"), !back);
      EXPECT_FALSE(stdfs::exists(disk.path + "/.models--org--a.hubcache-move")) << again.out;
      EXPECT_FALSE(stdfs::exists(cache + "/.models--org--a.hubcache-move"));
      EXPECT_FALSE(stdfs::exists(cache + "/.models--org--a.hubcache-old"));
    }
    EXPECT_GE(killed, 4) << "most kills must land while the move runs";
  }
}

}  // namespace

// `hubcache cache move NEW_DIR`: same filesystem (a rename), another filesystem (a tmpfs mounted
// by the test: a verified copy, the switch, the old copy removed), kill -9 at random points with a
// rerun finishing the job, and bad input refused before anything is written.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "cache_builder.hpp"
#include "exit_codes.hpp"
#include "hubcache/util/lock.hpp"
#include "temp_dir.hpp"
#include "tmpfs.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace stdfs = std::filesystem;

namespace {

using test::Tmpfs;

/// describe_tree with link targets into `root` written relative to it: the same cache anywhere.
std::map<std::string, std::string> cache_tree(const std::string& root) {
  auto t = test::describe_tree(root);
  for (auto& [rel, what] : t)
    if (what.starts_with("link " + root + "/")) what = "link <root>/" + what.substr(6 + root.size());
  return t;
}

struct CliMove : ::testing::Test {
  test::TempDir dir;
  std::string src = dir.path() + "/hub";
  std::map<std::string, std::string> original;
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2);

  void SetUp() override { build(src, 1); }

  /// A cache with LFS and git blobs, two repos sharing one blob by hardlink (as dedupe leaves
  /// them), an absolute link into the cache, refs, .no_exist and a use record.
  void build(const std::string& root, int scale) {
    test::CacheBuilder cb(root);
    const RepoRef a{RepoType::Model, "org/a"}, b{RepoType::Dataset, "org/b"};
    std::mt19937 rng(7);
    for (int i = 0; i < 6; ++i) {
      std::string big(static_cast<std::size_t>(scale) * (1u << 20) + static_cast<std::size_t>(i) * 4099, '\0');
      for (auto& ch : big) ch = static_cast<char>(rng());
      cb.add_file(a, c1, "w" + std::to_string(i) + ".bin", big, true);
    }
    cb.add_file(a, c1, "config.json", "{\"a\": 1}");
    cb.add_file(a, c2, "config.json", "{\"a\": 2}");
    cb.add_ref(a, "main", c2);
    const std::string shared = cb.add_file(b, c1, "data.csv", std::string(300000, 'd'), true);
    cb.add_ref(b, "main", c1);
    // org/a holds the same bytes under the same name: one inode for both (dedupe's result).
    const std::string a_blob = cb.layout(a).blob_path(shared), b_blob = cb.layout(b).blob_path(shared);
    ::link(b_blob.c_str(), a_blob.c_str());
    ::symlink(a_blob.c_str(), (cb.layout(a).snapshot_dir(c2) + "/data.csv").c_str());  // absolute, into the cache
    cb.write_raw("models--org--a/.no_exist/" + c1 + "/tokenizer.json", "");
    cb.write_raw("models--org--a/.hubcache/used/" + c1, "");
    ::chmod(a_blob.c_str(), 0444);
    original = cache_tree(root);
  }

  test::ProcessResult move(const std::string& to, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{test::hubcache_bin(), "cache", "move", to, "--cache-dir", src};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_process(args);
  }
  bool complete(const std::string& root) const { return stdfs::is_directory(root) && cache_tree(root) == original; }
  /// The first difference from the original tree, for failure messages.
  std::string difference(const std::string& root) const {
    const auto t = cache_tree(root);
    for (const auto& [k, v] : original)
      if (!t.contains(k) || t.at(k) != v) return k + ": " + v + " vs " + (t.contains(k) ? t.at(k) : "(absent)");
    for (const auto& [k, v] : t)
      if (!original.contains(k)) return k + ": only in " + root;
    return "";
  }
};

TEST_F(CliMove, SameFilesystemIsOneRenameAndCanLeaveALink) {
  const std::string to = dir.path() + "/elsewhere/hub";
  struct ::stat before {};
  ASSERT_EQ(::stat((src + "/models--org--a/refs/main").c_str(), &before), 0);
  const auto r = move(to, {"--yes", "--leave-link"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Same filesystem: one rename."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("export HF_HUB_CACHE=" + to), std::string::npos) << r.out;
  struct ::stat after {};
  ASSERT_EQ(::stat((to + "/models--org--a/refs/main").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // not a copy
  EXPECT_EQ(test::read_link(src), to);
  EXPECT_EQ(cache_tree(to), original);
  // Run again: the old place is now the link to the new one; the move is reported done.
  const auto again = move(to, {"--yes", "--leave-link"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("already moved"), std::string::npos) << again.out;
  EXPECT_EQ(cache_tree(to), original);
  // The cache resolves from the new place, and through the link left at the old one.
  for (const std::string& root : {to, src}) {
    const auto res =
        test::run_process({test::hubcache_bin(), "resolve", "org/a", "w3.bin", "--revision", c1, "--cache-dir", root});
    EXPECT_EQ(res.exit_code, 0) << root << res.err;
  }
}

TEST_F(CliMove, AnotherFilesystemIsAVerifiedCopyKeepingEverything) {
  Tmpfs fs2(dir.path() + "/disk2", "size=64m");
  ASSERT_TRUE(fs2.mounted) << "the tests run as root";
  const std::string to = fs2.path + "/hub";
  struct ::stat w_before {};
  ASSERT_EQ(::stat((src + "/models--org--a/snapshots/" + c1 + "/w2.bin").c_str(), &w_before), 0);
  const auto r = move(to, {"--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Another filesystem"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 hardlink(s), 1 link(s) rewritten"), std::string::npos) << r.out;
  EXPECT_FALSE(stdfs::exists(src));
  EXPECT_FALSE(stdfs::exists(dir.path() + "/.hub.hubcache-old"));
  EXPECT_FALSE(stdfs::exists(fs2.path + "/.hub.hubcache-move"));
  EXPECT_EQ(cache_tree(to), original);
  // Hardlinks, modes and times are kept.
  struct ::stat a {
  }, b{}, w_after{};
  ASSERT_EQ(::stat((to + "/models--org--a/snapshots/" + c2 + "/data.csv").c_str(), &a), 0);
  ASSERT_EQ(::stat((to + "/datasets--org--b/snapshots/" + c1 + "/data.csv").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mode & 07777, 0444u);
  ASSERT_EQ(::stat((to + "/models--org--a/snapshots/" + c1 + "/w2.bin").c_str(), &w_after), 0);
  EXPECT_EQ(w_after.st_mtim.tv_sec, w_before.st_mtim.tv_sec);
  EXPECT_EQ(w_after.st_mtim.tv_nsec, w_before.st_mtim.tv_nsec);
  const auto v = test::run_process({test::hubcache_bin(), "cache", "verify", "org/a", "--revision", c1, "--cache-dir", to});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// Folders of symlinks `hubcache link` made outside the cache are recorded in the cache and pointed
// at its new place, on another filesystem (after the switch) and on the same one; a recorded
// folder that is gone loses its record.
TEST_F(CliMove, SymlinksHubcacheMadeOutsideTheCacheFollowTheMove) {
  Tmpfs fs2(dir.path() + "/disk2", "size=64m");
  ASSERT_TRUE(fs2.mounted) << "the tests run as root";
  const std::string view = dir.path() + "/views/a", gone = dir.path() + "/views/gone";
  for (const auto& dest : {view, gone}) {
    const auto l = test::run_process(
        {test::hubcache_bin(), "link", "org/a", dest, "--revision", c1, "--link", "symlink", "--cache-dir", src});
    ASSERT_EQ(l.exit_code, 0) << l.out << l.err;
  }
  stdfs::remove_all(gone);
  const std::string w3 = test::read_file(view + "/w3.bin");
  ASSERT_TRUE(test::read_link(view + "/w3.bin").starts_with(src + "/models--org--a/blobs/"));

  const std::string to = fs2.path + "/hub";
  const auto r = move(to, {"--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Pointed 7 symlink(s) outside the cache"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("its record dropped: " + gone), std::string::npos) << r.out;
  EXPECT_FALSE(stdfs::exists(src));
  for (const auto& e : stdfs::directory_iterator(view))
    EXPECT_TRUE(test::read_link(e.path().string()).starts_with(to + "/models--org--a/blobs/")) << e.path();
  EXPECT_EQ(test::read_file(view + "/w3.bin"), w3);

  // Within that filesystem: one rename, the links follow again; the dropped record is gone.
  const std::string to2 = fs2.path + "/hub2";
  const auto again = test::run_process({test::hubcache_bin(), "cache", "move", to2, "--cache-dir", to, "--yes"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("Same filesystem: one rename."), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("Pointed 7 symlink(s)"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find(gone), std::string::npos) << again.out;
  EXPECT_EQ(test::read_file(view + "/w3.bin"), w3);
  EXPECT_TRUE(test::read_link(view + "/w3.bin").starts_with(to2 + "/models--org--a/blobs/"));

  // A run killed right after its rename (as if the cache was moved by hand): the rerun finds the
  // move done and re-points the links all the same.
  const std::string to3 = fs2.path + "/hub3";
  ASSERT_EQ(::rename(to2.c_str(), to3.c_str()), 0);
  const auto rerun = test::run_process({test::hubcache_bin(), "cache", "move", to3, "--cache-dir", to2, "--yes"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.out << rerun.err;
  EXPECT_NE(rerun.out.find("already moved"), std::string::npos) << rerun.out;
  EXPECT_EQ(rerun.out.find("Copied"), std::string::npos) << rerun.out;
  EXPECT_NE(rerun.out.find("Pointed 7 symlink(s)"), std::string::npos) << rerun.out;
  EXPECT_EQ(test::read_file(view + "/w3.bin"), w3);
}

// Files of several 64 MiB chunks, copied by two threads and hashed in order: each MiB holds its
// own index, so a chunk out of place fails the hash and the tree comparison.
TEST_F(CliMove, MultiChunkFilesArriveWhole) {
  Tmpfs fs2(dir.path() + "/disk2", "size=400m");
  ASSERT_TRUE(fs2.mounted);
  test::CacheBuilder cb(src);
  for (const std::size_t mib : {140u, 70u}) {
    std::string big(mib << 20, '\0');
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i >> 20), big[i + 1] = static_cast<char>(mib);
    cb.add_file({RepoType::Model, "org/big"}, c1, "w" + std::to_string(mib) + ".bin", big, true);
    if (mib == 70) cb.write_raw("models--org--big/extra.raw", big);  // checked against the source
  }
  original = cache_tree(src);
  const auto r = move(fs2.path + "/hub", {"--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(cache_tree(fs2.path + "/hub"), original);
}

// A rerun mirrors the source as it is now: what an interrupted run copied and was deleted from
// the cache since does not come back.
TEST_F(CliMove, AResumedMoveDropsWhatTheSourceNoLongerHolds) {
  Tmpfs fs2(dir.path() + "/disk2", "size=64m");
  ASSERT_TRUE(fs2.mounted);
  const std::string to = fs2.path + "/hub", state = fs2.path + "/.hub.hubcache-move";
  stdfs::create_directories(state + "/data/models--org--gone/snapshots/" + c1);
  stdfs::create_directories(state + "/data/models--org--a/blobs");
  test::write_file(state + "/data/models--org--a/blobs/" + std::string(64, 'e'), "deleted since");
  test::write_file(state + "/state.json", "{\"version\":1,\"from\":\"" + src + "\",\"to\":\"" + to + "\"}\n");
  const auto r = move(to, {"--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Resuming an interrupted move"), std::string::npos) << r.out;
  EXPECT_TRUE(complete(to)) << difference(to);
}

// A source blob already corrupt is copied as it is and reported, never dropped or "repaired".
TEST_F(CliMove, ACorruptSourceBlobIsCopiedAsItIsAndReported) {
  Tmpfs fs2(dir.path() + "/disk2", "size=64m");
  ASSERT_TRUE(fs2.mounted);
  const std::string blob = stdfs::read_symlink(src + "/models--org--a/snapshots/" + c1 + "/w0.bin").filename();
  const std::string path = src + "/models--org--a/blobs/" + blob;
  {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fputc('X', f);
    std::fclose(f);
  }
  const auto corrupt = cache_tree(src);
  const auto r = move(fs2.path + "/hub", {"--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 blob(s) did not match their names before the move"), std::string::npos) << r.err;
  EXPECT_EQ(cache_tree(fs2.path + "/hub"), corrupt);
}

// kill -9 at random points of a cross-filesystem move: after each, one of the two places holds
// the complete cache; a rerun finishes with the cache at the new place only.
TEST_F(CliMove, KilledAtRandomPointsARerunFinishes) {
  Tmpfs fs2(dir.path() + "/disk2", "size=256m");
  ASSERT_TRUE(fs2.mounted);
  const std::string pristine = dir.path() + "/pristine";
  stdfs::remove_all(src);
  build(pristine, 4);  // ~25 MB
  const std::string to = fs2.path + "/hub";
  auto reset = [&] {
    stdfs::remove_all(src);
    stdfs::remove_all(dir.path() + "/.hub.hubcache-old");
    ASSERT_EQ(test::run_process({"/bin/cp", "-a", pristine, src}).exit_code, 0);
    for (const auto& e : stdfs::directory_iterator(fs2.path)) stdfs::remove_all(e.path());
  };
  auto start = [&] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execl(test::hubcache_bin().c_str(), "hubcache", "cache", "move", to.c_str(), "--cache-dir", src.c_str(), "--yes",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  };
  // One full run sets the time scale of the kills.
  reset();
  original = cache_tree(src);  // its absolute link still points into the pristine tree (cp -a keeps it)
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  ::waitpid(start(), &status, 0);
  auto full = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(complete(to));

  std::mt19937 rng(2026);
  int killed_mid_way = 0;
  // The timed run may have been slowed by a loaded machine: a kill that comes after the move ended
  // shrinks the window, and trials go on (at most 40) until 8 kills landed mid-way.
  for (int trial = 0; trial < 40 && (trial < 16 || killed_mid_way < 8); ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    reset();
    const pid_t pid = start();
    std::this_thread::sleep_for(full * (static_cast<double>(rng() % 1000) / 1000.0));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    const bool was_killed = WIFSIGNALED(status);
    killed_mid_way += was_killed;
    if (!was_killed) full = full * 7 / 10;
    EXPECT_TRUE(complete(src) || complete(to)) << "neither place holds the whole cache";
    const auto again = move(to, {"--yes"});
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
    EXPECT_TRUE(complete(to)) << difference(to) << "\n" << again.out;
    EXPECT_FALSE(stdfs::exists(src));
    EXPECT_FALSE(stdfs::exists(fs2.path + "/.hub.hubcache-move"));
    EXPECT_FALSE(stdfs::exists(dir.path() + "/.hub.hubcache-old"));
  }
  EXPECT_GE(killed_mid_way, 8) << "most kills must land while the move runs";
}

TEST_F(CliMove, BadInputIsRefusedBeforeAnythingIsWritten) {
  const auto before = test::tree_fingerprint(dir.path());
  auto refused = [&](const std::string& to, int code, const std::string& words) {
    SCOPED_TRACE(to);
    const auto r = move(to, {"--yes"});
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  };
  refused(src + "/models--org--a/sub", exit_code::usage, "inside it");
  {  // the cache itself: already there, nothing to do
    const auto r = move(src, {"--yes"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("already moved"), std::string::npos) << r.out;
    EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  }
  refused(src + "/models--org--a/refs/main", exit_code::usage, "inside it");
  {
    test::write_file(dir.path() + "/afile", "x");
    const auto fp = test::tree_fingerprint(dir.path());
    const auto r = move(dir.path() + "/afile", {"--yes"});
    EXPECT_EQ(r.exit_code, exit_code::usage);
    EXPECT_NE(r.err.find("is not a folder"), std::string::npos) << r.err;
    EXPECT_EQ(test::tree_fingerprint(dir.path()), fp);
    stdfs::remove(dir.path() + "/afile");
  }
  {
    stdfs::create_directories(dir.path() + "/full/x");
    const auto r = move(dir.path() + "/full", {"--yes"});
    EXPECT_EQ(r.exit_code, exit_code::usage);
    EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
    stdfs::remove_all(dir.path() + "/full");
  }
  {  // no space on the destination: refused with the numbers, nothing written there
    Tmpfs small(dir.path() + "/small", "size=1m");
    ASSERT_TRUE(small.mounted);
    const auto r = move(small.path + "/hub", {"--yes"});
    EXPECT_EQ(r.exit_code, exit_code::disk_full) << r.out << r.err;
    EXPECT_NE(r.err.find("bytes needed"), std::string::npos) << r.err;
    EXPECT_TRUE(stdfs::is_empty(small.path));
    EXPECT_TRUE(complete(src));
  }
  {  // a typo in the cache path and an existing folder that is no Hub cache: not "already moved"
    stdfs::create_directories(dir.path() + "/notes/x");
    const auto r = test::run_process(
        {test::hubcache_bin(), "cache", "move", dir.path() + "/notes", "--cache-dir", dir.path() + "/typo", "--yes"});
    EXPECT_EQ(r.exit_code, exit_code::not_found) << r.out << r.err;
    stdfs::remove_all(dir.path() + "/notes");
  }
  const auto no_cache = test::run_process(
      {test::hubcache_bin(), "cache", "move", dir.path() + "/new", "--cache-dir", dir.path() + "/absent", "--yes"});
  EXPECT_EQ(no_cache.exit_code, exit_code::not_found) << no_cache.err;
  EXPECT_EQ(move(dir.path() + "/new").exit_code, exit_code::failure);  // no terminal, no --yes
  EXPECT_TRUE(complete(src));
  const auto dry = move(dir.path() + "/new", {"--dry-run"});
  EXPECT_EQ(dry.exit_code, 0);
  EXPECT_FALSE(stdfs::exists(dir.path() + "/new"));
  {  // a download running in the cache
    stdfs::create_directories(src + "/.locks/models--org--a");
    auto lock = FileLock::acquire(src + "/.locks/models--org--a/" + std::string(64, 'f') + ".lock");
    ASSERT_TRUE(lock && lock->held());
    const auto r = move(dir.path() + "/new", {"--yes"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("download(s) are running"), std::string::npos) << r.err;
    EXPECT_TRUE(stdfs::exists(src + "/models--org--a/refs/main"));
    EXPECT_FALSE(stdfs::exists(dir.path() + "/new"));
  }
}

}  // namespace

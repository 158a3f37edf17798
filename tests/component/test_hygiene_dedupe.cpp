// dedupe's plan and execution rules on small stores: which copy is kept, what is proven before a
// link, what is never touched, and what each link kind leaves.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "cache_builder.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/hygiene/dedupe.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/lock.hpp"
#include "temp_dir.hpp"

namespace hubcache::hygiene {
namespace {

namespace sfs = std::filesystem;

void write(const std::string& path, const std::string& content) {
  sfs::create_directories(sfs::path(path).parent_path());
  ASSERT_TRUE(fs::write_file_atomic(path, content)) << path;
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

std::string content_of(const std::string& path) {
  auto c = fs::read_file(path);
  return c ? *c : std::string("<unreadable>");
}

std::vector<stores::StoreListing> list_all(const std::vector<std::unique_ptr<stores::StoreReader>>& readers) {
  std::vector<stores::StoreListing> out;
  for (const auto& r : readers) {
    auto l = r->list();
    EXPECT_TRUE(l) << l.error().message;
    if (l) out.push_back(std::move(*l));
  }
  return out;
}

// A Hub cache and an Ollama store holding the same GGUF as separate files, and an LM Studio copy.
struct Stores : ::testing::Test {
  test::TempDir dir;
  std::string hub = dir / "hub", ollama = dir / "ollama", lms = dir / "lms";
  const std::string weights = std::string(100000, 'w') + "end";
  std::string sha = sha256_hex(weights), hub_blob, ollama_blob, lms_file;

  void SetUp() override {
    test::CacheBuilder cb(hub);
    cb.add_file({RepoType::Model, "org/g"}, test::commit_id(1), "m.gguf", weights, true);
    cb.add_ref({RepoType::Model, "org/g"}, "main", test::commit_id(1));
    hub_blob = hub + "/models--org--g/blobs/" + sha;
    ollama_blob = ollama + "/blobs/sha256-" + sha;
    write(ollama_blob, weights);
    ::chmod(ollama_blob.c_str(), 0640);
    write(ollama + "/manifests/registry.ollama.ai/library/g/latest",
          R"({"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" + sha + R"("}]})");
    lms_file = lms + "/org/g-GGUF/m.gguf";
    write(lms_file, weights);
  }

  std::vector<stores::StoreListing> listings() {
    std::vector<std::unique_ptr<stores::StoreReader>> r;
    r.push_back(stores::open_hub_cache(hub));
    r.push_back(stores::open_ollama(ollama));
    r.push_back(stores::open_lm_studio(lms));
    return list_all(r);
  }
};

TEST_F(Stores, NamesGiveTheGroupAndDeepHashingAddsTheCopyWithoutAName) {
  auto plan = plan_dedupe(listings(), {});
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].keep, hub_blob) << "the Hub cache's blob is kept";
  ASSERT_EQ(plan.groups[0].replace.size(), 1u);
  EXPECT_EQ(plan.groups[0].replace[0].path, ollama_blob);
  EXPECT_FALSE(plan.groups[0].hashed);
  EXPECT_EQ(plan.hashed_files, 0u);

  auto deep = plan_dedupe(listings(), {.deep = true});
  ASSERT_EQ(deep.groups.size(), 1u);
  ASSERT_EQ(deep.groups[0].replace.size(), 2u);
  EXPECT_TRUE(deep.groups[0].hashed);
  EXPECT_EQ(deep.hashed_files, 1u) << "only the file without a name is hashed";
  EXPECT_EQ(deep.freed_bytes, stat_of(ollama_blob).st_blocks * 512u + stat_of(lms_file).st_blocks * 512u);
}

TEST_F(Stores, HardlinksKeepEveryNameAndItsBytes) {
  const auto plan = plan_dedupe(listings(), {.deep = true, .link = LinkKind::Hardlink});
  const auto report = execute_dedupe(plan);
  EXPECT_EQ(report.linked, 2u);
  EXPECT_TRUE(report.skipped.empty()) << report.skipped.front();
  EXPECT_TRUE(report.errors.empty()) << report.errors.front();
  EXPECT_EQ(report.freed_bytes, plan.freed_bytes);
  for (const auto& p : {hub_blob, ollama_blob, lms_file}) {
    EXPECT_EQ(content_of(p), weights) << p;
    EXPECT_EQ(stat_of(p).st_ino, stat_of(hub_blob).st_ino) << p;
  }
  EXPECT_EQ(stat_of(hub_blob).st_nlink, 3u);
  // Nothing left behind, and a second plan finds nothing.
  for (const auto& d : {hub + "/models--org--g/blobs", ollama + "/blobs", lms + "/org/g-GGUF"})
    for (const auto& e : sfs::directory_iterator(d))
      EXPECT_EQ(e.path().filename().string().find(".hubcache-dedupe-"), std::string::npos) << e.path();
  EXPECT_TRUE(plan_dedupe(listings(), {.deep = true}).groups.empty());
}

TEST_F(Stores, SymlinksOnlyWhenAskedAndTheyPointAtTheKeptFile) {
  const auto report = execute_dedupe(plan_dedupe(listings(), {.link = LinkKind::Symlink}));
  EXPECT_EQ(report.linked, 1u);
  char target[4096] = {};
  ASSERT_GT(::readlink(ollama_blob.c_str(), target, sizeof target - 1), 0);
  EXPECT_EQ(std::string(target), hub_blob);
  EXPECT_EQ(content_of(ollama_blob), weights);
}

TEST_F(Stores, AFileChangedSinceThePlanIsSkippedAndKeepsItsBytes) {
  const auto plan = plan_dedupe(listings(), {.deep = true, .link = LinkKind::Hardlink});
  // Same size, other bytes, and the planned mtime restored: only the hash can tell.
  const struct stat before = stat_of(lms_file);
  std::string edited = weights;
  edited[10] = 'X';
  {
    fs::Fd fd(::open(lms_file.c_str(), O_WRONLY));
    ASSERT_EQ(::pwrite(fd.get(), edited.data(), edited.size(), 0), static_cast<ssize_t>(edited.size()));
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::futimens(fd.get(), times), 0);
  }
  // And the Ollama blob grows: its size and mtime give it away.
  write(ollama_blob, weights + "more");
  const auto report = execute_dedupe(plan);
  EXPECT_EQ(report.linked, 0u);
  ASSERT_EQ(report.skipped.size(), 2u);
  // In the plan's order (by inode), so each message is found by its path.
  const bool ollama_first = report.skipped[0].rfind("'" + ollama_blob + "'", 0) == 0;
  const std::string& ollama_msg = report.skipped[ollama_first ? 0 : 1];
  const std::string& lms_msg = report.skipped[ollama_first ? 1 : 0];
  EXPECT_EQ(ollama_msg.rfind("'" + ollama_blob + "'", 0), 0u) << ollama_msg;
  EXPECT_NE(ollama_msg.find("changed since the plan"), std::string::npos) << ollama_msg;
  EXPECT_EQ(lms_msg.rfind("'" + lms_file + "'", 0), 0u) << lms_msg;
  EXPECT_NE(lms_msg.find("bytes differ"), std::string::npos) << lms_msg;
  EXPECT_EQ(content_of(lms_file), edited);
  EXPECT_EQ(content_of(ollama_blob), weights + "more");
}

TEST_F(Stores, AFileOpenForWritingOrLockedByADownloadIsNeverTouched) {
  const auto plan = plan_dedupe(listings(), {.deep = true, .link = LinkKind::Hardlink});
  // Keep the Ollama blob open for writing in another process, as a running `ollama pull` would.
  const pid_t child = ::fork();
  if (child == 0) {
    const int fd = ::open(ollama_blob.c_str(), O_WRONLY);
    ::pause();
    ::_exit(fd >= 0 ? 0 : 1);
  }
  ::usleep(200 * 1000);
  const auto report = execute_dedupe(plan);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].find("open for writing"), std::string::npos) << report.skipped[0];
  EXPECT_NE(stat_of(ollama_blob).st_ino, stat_of(hub_blob).st_ino);
  EXPECT_EQ(report.linked, 1u) << "the LM Studio copy is linked";

  // A Hub blob whose download lock is held (a second cache's copy, kept elsewhere).
  const std::string hub2 = dir / "hub2";
  test::CacheBuilder(hub2).add_file({RepoType::Model, "org/g"}, test::commit_id(1), "m.gguf", weights, true);
  const std::string lock = RepoLayout(hub2, {RepoType::Model, "org/g"}).lock_path(sha);
  sfs::create_directories(sfs::path(lock).parent_path());
  auto held = FileLock::acquire(lock);
  ASSERT_TRUE(held);
  std::vector<std::unique_ptr<stores::StoreReader>> r;
  r.push_back(stores::open_hub_cache(hub));
  r.push_back(stores::open_hub_cache(hub2));
  const auto plan2 = plan_dedupe(list_all(r), {.link = LinkKind::Hardlink});
  ASSERT_EQ(plan2.groups.size(), 1u);
  const auto report2 = execute_dedupe(plan2);
  ASSERT_EQ(report2.skipped.size(), 1u);
  EXPECT_NE(report2.skipped[0].find("locked by a download"), std::string::npos) << report2.skipped[0];
}

TEST_F(Stores, NothingIsLinkedToAKeptFileOpenForWriting) {
  const auto plan = plan_dedupe(listings(), {.link = LinkKind::Hardlink});
  const pid_t child = ::fork();
  if (child == 0) {
    const int fd = ::open(hub_blob.c_str(), O_WRONLY);  // a writer of the kept file: a hardlink would share its edits
    ::pause();
    ::_exit(fd >= 0 ? 0 : 1);
  }
  ::usleep(200 * 1000);
  const auto report = execute_dedupe(plan);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(report.linked, 0u);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].find("is open for writing"), std::string::npos) << report.skipped[0];
}

TEST_F(Stores, AHardlinkThatItsOwnerCouldNotReadIsNotMade) {
  ::chmod(hub_blob.c_str(), 0600);  // only its owner (root) reads the kept blob
  ASSERT_EQ(::chown(ollama_blob.c_str(), 65534, 65534), 0) << "the tests run as root";  // Ollama's service user
  const auto report = execute_dedupe(plan_dedupe(listings(), {.link = LinkKind::Hardlink}));
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].find("could not read"), std::string::npos) << report.skipped[0];
  EXPECT_EQ(stat_of(ollama_blob).st_uid, 65534u);
}

TEST_F(Stores, LeftoversOfAKilledRunAreRemovedAndNothingElse) {
  const std::string leftover = ollama + "/blobs/.hubcache-dedupe-0123abcd.tmp";
  ASSERT_EQ(::link(hub_blob.c_str(), leftover.c_str()), 0);
  const std::string foreign = ollama + "/blobs/.other.tmp";
  write(foreign, "not ours");
  // A file of someone's own that happens to have our temporary's name: it holds bytes no other name does.
  const std::string lookalike = ollama + "/blobs/.hubcache-dedupe-abcdef01.tmp";
  write(lookalike, "secret");
  const auto report = execute_dedupe(plan_dedupe(listings(), {.link = LinkKind::Hardlink}));
  EXPECT_FALSE(sfs::exists(leftover));
  EXPECT_TRUE(sfs::exists(foreign));
  EXPECT_EQ(content_of(lookalike), "secret");
  ASSERT_FALSE(report.skipped.empty());
  EXPECT_NE(report.skipped.front().find("holds bytes of its own"), std::string::npos) << report.skipped.front();
}

// ---- filesystems: reflinks on XFS, and never a link across filesystems (tests run as root) ----

struct LoopXfs {
  std::string image, mount;
  bool ok = false;
  LoopXfs(const std::string& dir) : image(dir + "/xfs.img"), mount(dir + "/xfs") {
    sfs::create_directories(mount);
    const std::string cmd =
        "truncate -s 320M " + image + " && mkfs.xfs -q -m reflink=1 " + image + " && mount -o loop " + image + " " + mount;
    ok = std::system(cmd.c_str()) == 0;
  }
  ~LoopXfs() {
    if (ok) ::umount2(mount.c_str(), MNT_DETACH);
  }
};

TEST(DedupeFilesystems, ReflinksOnXfsKeepTheReplacedFilesOwnerModeAndTimes) {
  test::TempDir dir;
  LoopXfs xfs(dir.path());
  ASSERT_TRUE(xfs.ok) << "mkfs.xfs (xfsprogs) and a loop device are needed";
  const std::string a = xfs.mount + "/a/w.bin", b = xfs.mount + "/b/w.bin";
  const std::string bytes(4 << 20, 'r');
  write(a, bytes);
  write(b, bytes);
  ASSERT_EQ(::chown(b.c_str(), 65534, 65534), 0);
  ::chmod(b.c_str(), 0640);
  const struct stat before = stat_of(b);
  std::vector<std::unique_ptr<stores::StoreReader>> r;
  r.push_back(stores::open_model_folder(xfs.mount + "/a"));
  r.push_back(stores::open_model_folder(xfs.mount + "/b"));
  const auto plan = plan_dedupe(list_all(r), {.deep = true});
  ASSERT_EQ(plan.groups.size(), 1u);
  ::sync();
  struct statvfs v0 {};
  ::statvfs(xfs.mount.c_str(), &v0);
  const auto report = execute_dedupe(plan);
  EXPECT_EQ(report.linked, 1u);
  // XFS frees an unlinked inode's blocks in the background (deferred inactivation): wait for it.
  struct statvfs v1 {};
  for (int i = 0; i < 50; ++i) {
    ::sync();
    ::statvfs(xfs.mount.c_str(), &v1);
    if ((v1.f_bfree - v0.f_bfree) * v1.f_frsize >= (4u << 20)) break;
    ::usleep(100 * 1000);
  }
  const struct stat after = stat_of(b);
  EXPECT_NE(after.st_ino, stat_of(a).st_ino) << "a reflink is a file of its own";
  EXPECT_EQ(after.st_uid, 65534u);
  EXPECT_EQ(after.st_mode & 07777, 0640u);
  EXPECT_EQ(fs::mtime_ns(after), fs::mtime_ns(before));
  EXPECT_EQ(content_of(b), bytes);
  EXPECT_GE((v1.f_bfree - v0.f_bfree) * v1.f_frsize, 4u << 20) << "the copy's blocks are free again";
  // An edit of one name does not show through the other (no shared in-place edits).
  {
    fs::Fd fd(::open(b.c_str(), O_WRONLY));
    ASSERT_EQ(::pwrite(fd.get(), "X", 1, 0), 1);
  }
  EXPECT_EQ(content_of(a), bytes);
}

TEST(DedupeFilesystems, AReadOnlyStoreIsAnErrorAndLosesNothing) {
  test::TempDir dir;
  const std::string mnt = dir / "ro";
  sfs::create_directories(mnt);
  ASSERT_EQ(::mount("none", mnt.c_str(), "tmpfs", 0, "size=16m"), 0) << "the tests run as root";
  write(mnt + "/a/w.gguf", "same bytes in two folders");
  write(mnt + "/b/w.gguf", "same bytes in two folders");
  std::vector<std::unique_ptr<stores::StoreReader>> r;
  r.push_back(stores::open_model_folder(mnt + "/a"));
  r.push_back(stores::open_model_folder(mnt + "/b"));
  const auto plan = plan_dedupe(list_all(r), {.deep = true});
  ASSERT_EQ(plan.groups.size(), 1u);
  ASSERT_EQ(::mount("none", mnt.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr), 0);
  const auto report = execute_dedupe(plan);
  ::umount2(mnt.c_str(), MNT_DETACH);
  EXPECT_EQ(report.linked, 0u);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.errors[0].find("Read-only file system"), std::string::npos) << report.errors[0];
}

TEST(DedupeFilesystems, NeverAcrossFilesystems) {
  test::TempDir dir;
  const std::string mnt = dir / "tmpfs";
  sfs::create_directories(mnt);
  ASSERT_EQ(::mount("none", mnt.c_str(), "tmpfs", 0, "size=16m"), 0) << "the tests run as root";
  write(dir / "disk/w.gguf", "same bytes on two filesystems");
  write(mnt + "/w.gguf", "same bytes on two filesystems");
  std::vector<std::unique_ptr<stores::StoreReader>> r;
  r.push_back(stores::open_model_folder(dir / "disk"));
  r.push_back(stores::open_model_folder(mnt));
  const auto plan = plan_dedupe(list_all(r), {.deep = true});
  ::umount2(mnt.c_str(), MNT_DETACH);
  EXPECT_TRUE(plan.groups.empty());
  ASSERT_EQ(plan.warnings.size(), 2u);
  EXPECT_NE(plan.warnings[0].find("another filesystem"), std::string::npos) << plan.warnings[0];
}

}  // namespace
}  // namespace hubcache::hygiene

namespace hubcache::hygiene {
namespace {

// --deep on files without names: size, then the sample (head; head and tail over 1 MiB; a file of
// at most 8 KiB whole), then one SHA-256 per group with the others compared byte for byte. Files
// whose samples match but whose middles differ must never share a group.
TEST(DedupeDeep, SamplesThatMatchAreProvenWholeAndGroupsSplitWhereTheBytesDiffer) {
  test::TempDir dir;
  const std::string m = dir / "model";
  auto body = [](std::size_t size, char fill, std::size_t mark, char at_mark) {
    std::string s(size, fill);
    s[mark] = at_mark;
    return s;
  };
  // Over 1 MiB: a and c equal; b has the same head and tail, another middle.
  const std::string big = body(2u << 20, 'x', 1u << 20, 'A'), big_other = body(2u << 20, 'x', 1u << 20, 'B');
  write(m + "/a.safetensors", big);
  write(m + "/b.safetensors", big_other);
  write(m + "/c.safetensors", big);
  // 100 KiB, head only: p == r and q == s, told apart only past the head.
  const std::string mid = body(100000, 'y', 60000, 'P'), mid_other = body(100000, 'y', 60000, 'Q');
  write(m + "/p.bin", mid);
  write(m + "/q.bin", mid_other);
  write(m + "/r.bin", mid);
  write(m + "/s.bin", mid_other);
  // At most 8 KiB: read whole once.
  write(m + "/t1.json", std::string(5000, 't'));
  write(m + "/t2.json", std::string(5000, 't'));
  write(m + "/t3.json", std::string(4999, 't') + "u");

  std::vector<std::unique_ptr<stores::StoreReader>> r;
  r.push_back(stores::open_model_folder(m));
  const auto plan = plan_dedupe(list_all(r), {.deep = true});
  std::map<std::string, std::set<std::string>> groups;  // hex -> names
  for (const auto& g : plan.groups) {
    EXPECT_TRUE(g.hashed);
    auto& names = groups[g.hex];
    names.insert(sfs::path(g.keep).filename().string());
    for (const auto& e : g.replace) names.insert(sfs::path(e.path).filename().string());
  }
  const std::map<std::string, std::set<std::string>> expected = {
      {sha256_hex(big), {"a.safetensors", "c.safetensors"}},
      {sha256_hex(mid), {"p.bin", "r.bin"}},
      {sha256_hex(mid_other), {"q.bin", "s.bin"}},
      {sha256_hex(std::string(5000, 't')), {"t1.json", "t2.json"}},
  };
  EXPECT_EQ(groups, expected);
  EXPECT_EQ(plan.hashed_files, 8u) << "b and t3 have no twin";
  EXPECT_TRUE(plan.warnings.empty());
}

TEST(DedupeDeep, CopiesWithNamesOutsideTheStoresAreSummedUpInOneWarning) {
  test::TempDir dir;
  const std::string m = dir / "model", outside = dir / "elsewhere";
  sfs::create_directories(outside);
  for (const std::string c : {"a", "b", "c"})
    for (const std::string k : {"1", "2"}) {
      write(m + "/" + c + k + ".safetensors", std::string(9000 + c[0], c[0]));
      ASSERT_EQ(::link((m + "/" + c + k + ".safetensors").c_str(), (outside + "/" + c + k).c_str()), 0);
    }
  std::vector<std::unique_ptr<stores::StoreReader>> r;
  r.push_back(stores::open_model_folder(m));
  const auto plan = plan_dedupe(list_all(r), {.deep = true});
  ASSERT_EQ(plan.groups.size(), 3u);
  EXPECT_EQ(plan.freed_bytes, 0u) << "every copy keeps its bytes through its other name";
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("3 files (such as '" + m + "/"), std::string::npos) << plan.warnings[0];
}

TEST(DedupeDeep, ASymlinkAliasDoesNotStopTheLinkAndAnInodeIsFreedOnce) {
  test::TempDir dir;
  const std::string w(300000, 'w');
  write(dir / "a/m.gguf", w);
  write(dir / "b/m.gguf", w);
  sfs::create_symlink("m.gguf", dir / "b/alias.gguf");  // a second name of b's file, as a symlink
  write(dir / "c/w.safetensors", w + "2");
  write(dir / "d/w.safetensors", w + "2");
  sfs::create_directories(dir / "e");
  sfs::create_directories(dir / "out");
  ASSERT_EQ(::link((dir / "d/w.safetensors").c_str(), (dir / "e/w.safetensors").c_str()), 0);
  // c's file has a name outside the stores: it is kept, and d's inode (two names) is replaced.
  ASSERT_EQ(::link((dir / "c/w.safetensors").c_str(), (dir / "out/x").c_str()), 0);
  std::vector<std::unique_ptr<stores::StoreReader>> r;
  for (const char* d : {"a", "b", "c", "d", "e"}) r.push_back(stores::open_model_folder(dir / d));
  const auto plan = plan_dedupe(list_all(r), {.deep = true, .link = LinkKind::Hardlink});
  ASSERT_EQ(plan.groups.size(), 2u);
  EXPECT_TRUE(plan.warnings.empty()) << plan.warnings.front();
  const auto report = execute_dedupe(plan);
  EXPECT_EQ(report.linked, 3u) << "b/m.gguf, and d's inode under both its names";
  EXPECT_EQ(report.freed_bytes, plan.freed_bytes) << "the hardlinked pair is one inode, freed once";
  EXPECT_EQ(stat_of(dir / "a/m.gguf").st_ino, stat_of(dir / "b/alias.gguf").st_ino) << "the alias reaches the kept bytes";
  EXPECT_EQ(content_of(dir / "b/alias.gguf"), w);
}

TEST(DedupeDeep, AFileThatVanishesBeforeItIsReadIsAWarningAndLeftOut) {
  test::TempDir dir;
  const std::string m = dir / "model";
  const std::string w(20000, 'w');
  write(m + "/a.safetensors", w);
  write(m + "/b.safetensors", w);
  write(m + "/c.safetensors", w);
  std::vector<std::unique_ptr<stores::StoreReader>> r;
  r.push_back(stores::open_model_folder(m));
  auto listings = list_all(r);
  sfs::remove(m + "/b.safetensors");
  const auto plan = plan_dedupe(std::move(listings), {.deep = true});
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].replace.size(), 1u);
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("b.safetensors"), std::string::npos) << plan.warnings[0];
}

}  // namespace
}  // namespace hubcache::hygiene

// The cache's one reachability rule (cache/walk.hpp): what a snapshot entry may be read as, used
// by the mirror (its security boundary), scan and verify; and the ref lister.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "cache_builder.hpp"
#include "hubcache/cache/folders.hpp"
#include "hubcache/cache/moved_repos.hpp"
#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/cache/walk.hpp"
#include "hubcache/util/fs.hpp"
#include "temp_dir.hpp"

namespace hubcache {
namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};
const RepoRef k_other{RepoType::Model, "org/other"};

struct CacheWalk : ::testing::Test {
  test::TempDir dir;
  std::string root = *fs::real_path(dir.path());
  test::CacheBuilder cache{root};
  RepoLayout layout = cache.layout(k_repo);
  std::string commit = test::commit_id(1);
  SharedBlobStore store{root};

  // resolve_pointer + is_reachable, as the mirror asks them.
  std::optional<Target> reachable(const std::string& path) {
    const SharedBlobStore s(root);  // re-read: a test may mark the store after construction
    Fd blobs(::open(layout.blobs_dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    const RepoDirs dirs{root, layout.folder(), blobs.get(), &s, {}, {}};
    Target t;
    if (!resolve_pointer(dirs, commit, path, t) || !is_reachable(dirs, t)) return std::nullopt;
    return t;
  }
  void link(const std::string& path, const std::string& target) {
    const std::string p = layout.pointer_path(commit, path);
    ASSERT_TRUE(fs::make_dirs(fs::parent(p)));
    ASSERT_EQ(::symlink(target.c_str(), p.c_str()), 0) << p;
  }
};

TEST_F(CacheWalk, APointerIntoItsRepoBlobsIsReachableUnderItsEtag) {
  const std::string etag = cache.add_file(k_repo, commit, "sub/config.json", "{}");
  auto t = reachable("sub/config.json");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, TargetKind::Blob);
  EXPECT_EQ(blob_name(*t), etag);
  EXPECT_EQ(t->blob_path, layout.blob_path(etag));
  EXPECT_EQ(t->st.st_size, 2);
}

TEST_F(CacheWalk, APlainFileOfANoSymlinkCacheIsItsOwnBlob) {
  cache.add_file(k_repo, commit, "a.txt", "x");  // creates the folders
  cache.write_raw(fs::join(layout.folder().substr(root.size() + 1), "snapshots/" + commit + "/plain.txt"), "plain");
  auto t = reachable("plain.txt");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, TargetKind::Self);
  EXPECT_EQ(blob_name(*t), "");
}

TEST_F(CacheWalk, PointersThatHfHubDownloadNeverWritesAreNotReachable) {
  cache.add_file(k_repo, commit, "a.txt", "x");
  const std::string other = cache.add_file(k_other, commit, "b.txt", "other repo's bytes");
  const std::string etag = std::string(40, 'c');
  cache.write_raw(fs::join(layout.folder().substr(root.size() + 1), "blobs/" + etag + ".incomplete"), "partial");
  cache.write_raw("outside/secret", "secret");
  link("other.txt", "../../../models--org--other/blobs/" + other);  // another repo's blob
  link("partial.txt", "../../blobs/" + etag + ".incomplete");       // a download in progress
  link("escape.txt", "../../../../outside/secret");                 // out of the repo folder
  link("abs.txt", root + "/outside/secret");                        // absolute, out of it
  link("dir.txt", "../../blobs");                                   // a directory
  link("gone.txt", "../../blobs/" + std::string(40, 'd'));          // dangling
  for (const char* p : {"other.txt", "partial.txt", "escape.txt", "abs.txt", "dir.txt", "gone.txt", "missing.txt"})
    EXPECT_FALSE(reachable(p)) << p;
}

TEST_F(CacheWalk, ASymlinkedFolderInsideASnapshotIsNeverCrossed) {
  cache.add_file(k_repo, commit, "real/a.txt", "x");
  ASSERT_EQ(::symlink("real", layout.pointer_path(commit, "alias").c_str()), 0);
  EXPECT_TRUE(reachable("real/a.txt"));
  const SharedBlobStore s(root);
  const RepoDirs dirs{root, layout.folder(), -1, &s, {}, {}};
  Target t;
  errno = 0;
  EXPECT_FALSE(resolve_pointer(dirs, commit, "alias/a.txt", t));
  EXPECT_TRUE(errno == ELOOP || errno == ENOTDIR) << errno;
}

TEST_F(CacheWalk, AMovedReposHomeCountsAsInsideTheCacheOnlyWhenItNamesTheCache) {
  const std::string etag = cache.add_file(k_repo, commit, "a.txt", "x");
  cache.write_raw("outside/secret", "secret");
  // The repo folder moved to <dir>/archive/<folder>, a symlink left in the cache.
  const std::string home = root + "/archive/" + layout.folder().substr(root.size() + 1);
  ASSERT_TRUE(fs::make_dirs(root + "/archive"));
  ASSERT_EQ(::rename(layout.folder().c_str(), home.c_str()), 0);
  ASSERT_EQ(::symlink(home.c_str(), layout.folder().c_str()), 0);
  EXPECT_FALSE(moved_repo_home(layout)) << "no record: not a moved repo";
  ASSERT_TRUE(record_moved_from(home, root + "/elsewhere"));
  EXPECT_FALSE(moved_repo_home(layout)) << "a record naming another cache";
  ASSERT_TRUE(record_moved_from(home, root));
  ASSERT_EQ(moved_repo_home(layout), home);
  EXPECT_TRUE(check_repo_folder(layout).value_or(false));

  const SharedBlobStore s(root);
  Fd blobs(::open(layout.blobs_dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  RepoDirs dirs{root, layout.folder(), blobs.get(), &s, {}, {}};
  Target t;
  EXPECT_FALSE(resolve_pointer(dirs, commit, "a.txt", t)) << "without its home the symlinked folder is not crossed";
  dirs.home = home;
  ASSERT_TRUE(resolve_pointer(dirs, commit, "a.txt", t));
  EXPECT_TRUE(is_reachable(dirs, t));
  EXPECT_EQ(blob_name(t), etag);
  // Inside the home, an absolute link to its blob is inside the cache; one out of it is not.
  ASSERT_EQ(::symlink((home + "/blobs/" + etag).c_str(), (home + "/snapshots/" + commit + "/abs.txt").c_str()), 0);
  ASSERT_EQ(::symlink((root + "/archive/x").c_str(), (home + "/snapshots/" + commit + "/near.txt").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../outside/secret", (home + "/snapshots/" + commit + "/up.txt").c_str()), 0);
  ASSERT_TRUE(resolve_pointer(dirs, commit, "abs.txt", t));
  EXPECT_TRUE(is_reachable(dirs, t));
  for (const char* p : {"near.txt", "up.txt"}) {
    ASSERT_TRUE(resolve_pointer(dirs, commit, p, t)) << p;
    EXPECT_FALSE(is_reachable(dirs, t)) << p;
  }
}

TEST_F(CacheWalk, ASharedEntryIsReachableOnlyThroughTheMarkedStore) {
  const std::string hash(64, 'a');
  const std::string etag = cache.add_shared_file(k_repo, commit, "w.safetensors", "payload", hash);
  EXPECT_FALSE(reachable("w.safetensors")) << "an unmarked store is not a store";
  cache.mark_shared_store();
  auto t = reachable("w.safetensors");
  ASSERT_TRUE(t);
  EXPECT_EQ(blob_name(*t), etag);
  EXPECT_EQ(t->shared_hash, hash);
  EXPECT_EQ(t->payload_path, root + "/blobs/aa/" + hash);
  EXPECT_EQ(t->st.st_size, 7);
}

TEST_F(CacheWalk, RefNamesAreListedNestedSortedAndNeverThroughSymlinks) {
  cache.add_file(k_repo, commit, "a.txt", "x");
  cache.add_ref(k_repo, "main", commit);
  cache.add_ref(k_repo, "refs/pr/1", commit);
  cache.add_ref(k_repo, "v1.0", commit);
  ASSERT_EQ(::symlink("main", layout.ref_path("linked").c_str()), 0);
  cache.write_raw("elsewhere/refs/x", commit);
  ASSERT_EQ(::symlink((root + "/elsewhere/refs").c_str(), layout.ref_path("dirlink").c_str()), 0);
  EXPECT_EQ(list_ref_names(layout.folder()), (std::vector<std::string>{"main", "refs/pr/1", "v1.0"}));
  EXPECT_TRUE(list_ref_names(cache.layout(RepoRef{RepoType::Model, "org/absent"}).folder()).empty());
}

TEST(CacheLayout, OfFolderInvertsTheFolderName) {
  const RepoLayout l("/c", RepoRef{RepoType::Dataset, "org/ds"});
  auto back = RepoLayout::of_folder(l.folder());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cache_dir(), "/c");
  EXPECT_EQ(back->repo(), l.repo());
  EXPECT_EQ(back->snapshot_dir("abc"), "/c/datasets--org--ds/snapshots/abc");
  EXPECT_FALSE(RepoLayout::of_folder("/c/not-a-repo"));
  EXPECT_FALSE(RepoLayout::of_folder("/c/models--org--x/"));
  EXPECT_EQ(repo_subpath("/c/models--a--b", k_refs_dir, "refs/pr/1"), "/c/models--a--b/refs/refs/pr/1");
}

}  // namespace
}  // namespace hubcache

// plan_cache_merge / execute_cache_merge / retire_merged_cache on real temp caches: overlapping
// repos, ref conflicts, markers and tree records, same blob name with other bytes, a corrupt source
// blob, a running download, another filesystem (tmpfs), reruns and a retire interrupted halfway.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "hubcache/cache/store.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/manage/merge.hpp"
#include "hubcache/util/lock.hpp"
#include "manage_helpers.hpp"

using namespace hubcache;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_x{RepoType::Model, "org/x"};
const RepoRef k_y{RepoType::Model, "org/y"};
const RepoRef k_d{RepoType::Dataset, "org/d"};

struct Merge : ::testing::Test {
  test::TempDir dir;
  std::string project = dir.path() + "/project";
  std::string source = project + "/model_cache";
  std::string central = dir.path() + "/central";
  test::CacheBuilder src{source}, dst{central};
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2), c3 = test::commit_id(3);

  MergePlan plan() {
    auto p = plan_cache_merge({source, central, 2, false});
    EXPECT_TRUE(p) << p.error().message;
    return p ? std::move(p).value() : MergePlan{};
  }
  MergeReport execute(const MergePlan& p) {
    auto r = execute_cache_merge(p);
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::move(r).value() : MergeReport{};
  }
  static std::size_t count_files(const std::string& d) {
    std::size_t n = 0;
    for (const auto& e : stdfs::directory_iterator(d)) n += e.is_regular_file() ? 1 : 0;
    return n;
  }
  static ino_t inode(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_ino;
  }
};

// Two caches with overlapping repos: every blob ends up once in the central cache, every file of
// the project cache resolves there to the same bytes, the conflicting ref keeps the central commit
// (the project's revision is pinned instead), markers and tree records come along, the source is
// not touched.
TEST_F(Merge, OverlappingCachesEndWithEachBlobOnceAndEveryFileResolving) {
  dst.add_file(k_x, c1, "config.json", "{\"a\":1}");
  dst.add_file(k_x, c1, "model.safetensors", std::string(5000, 'w'), true);
  dst.add_ref(k_x, "main", c1);

  src.add_file(k_x, c1, "config.json", "{\"a\":1}");
  src.add_file(k_x, c1, "model.safetensors", std::string(5000, 'w'), true);
  src.add_file(k_x, c3, "config.json", "{\"a\":1}");
  src.add_file(k_x, c3, "sub/dir/model.safetensors", std::string(6000, 'v'), true);
  src.add_ref(k_x, "main", c3);  // conflicts with the central ref
  src.add_ref(k_x, "refs/pr/1", c3);
  src.add_file(k_y, c2, "w.bin", "weights", true);
  src.add_ref(k_y, "main", c2);
  src.add_file(k_d, c2, "data.csv", "a,b\n1,2\n");
  src.add_ref(k_d, "v1", c2);
  src.write_raw("models--org--y/.no_exist/" + c2 + "/tokenizer.json", "");
  TreeFileEntry tree_entry;
  tree_entry.path = "w.bin";
  tree_entry.size = 7;
  tree_entry.blob_id = std::string(40, '7');
  ASSERT_TRUE(write_tree_file(src.layout(k_y), c2, {tree_entry}));
  src.write_raw("models--org--y/blobs/" + std::string(64, 'e') + ".incomplete", "partial");
  add_pin(src.layout(k_y), "*").value();
  record_use_at(src.layout(k_x), c3, 1'700'000'000.5);  // last uses: the project's come along,
  record_use_at(src.layout(k_x), c1, 1'600'000'000);    // unless the central one is later
  record_use_at(dst.layout(k_x), c1, 1'650'000'000);
  const std::string before = test::tree_fingerprint(source);

  const MergePlan p = plan();
  ASSERT_EQ(p.repos.size(), 3u);
  EXPECT_TRUE(p.same_filesystem);
  EXPECT_EQ(p.file_count(), 6u);
  ASSERT_EQ(p.ref_conflict_count(), 1u);
  const MergeRepoPlan& x = p.repos[1];  // datasets--org--d, models--org--x, models--org--y
  ASSERT_EQ(x.repo.id, "org/x");
  EXPECT_EQ(x.ref_conflicts[0].ref, "main");
  EXPECT_EQ(x.ref_conflicts[0].source_commit, c3);
  EXPECT_EQ(x.ref_conflicts[0].cache_commit, c1);
  ASSERT_EQ(x.refs_to_write.size(), 1u);
  EXPECT_EQ(x.refs_to_write[0].first, "refs/pr/1");
  for (const auto& b : x.blobs)  // config.json is the same text as the central one but another file: compared
    EXPECT_EQ(b.action, b.size == 6000 ? MergeBlobAction::Link : MergeBlobAction::Compare) << b.etag;
  ASSERT_EQ(p.left_out.size(), 1u);
  EXPECT_NE(p.left_out[0].find(".incomplete"), std::string::npos) << p.left_out[0];
  EXPECT_EQ(test::tree_fingerprint(source), before) << "planning wrote to the source";

  const MergeReport r = execute(p);
  EXPECT_TRUE(r.unverified.empty()) << r.unverified.front();
  EXPECT_EQ(r.files_verified, 6u);
  EXPECT_EQ(r.blobs_compared, 2u);
  EXPECT_EQ(r.blobs_linked, 3u);  // x's new safetensors, y's weights, d's csv
  EXPECT_EQ(r.refs_written, 3u);  // x refs/pr/1, y main, d v1
  EXPECT_EQ(test::tree_fingerprint(source), before) << "the merge changed the source";

  const RepoLayout cx = dst.layout(k_x), cy = dst.layout(k_y);
  EXPECT_EQ(count_files(cx.blobs_dir()), 3u);  // each blob once
  EXPECT_EQ(test::read_file(cx.ref_path("main")), c1);
  EXPECT_EQ(test::read_file(cx.ref_path("refs/pr/1")), c3);
  EXPECT_EQ(test::read_file(cx.pointer_path(c3, "sub/dir/model.safetensors")), std::string(6000, 'v'));
  EXPECT_EQ(test::read_file(cx.pointer_path(c3, "config.json")), "{\"a\":1}");
  const auto big = std::find_if(x.blobs.begin(), x.blobs.end(), [](const MergeBlob& b) { return b.size == 6000; });
  ASSERT_NE(big, x.blobs.end());
  EXPECT_EQ(test::read_link(cx.pointer_path(c3, "sub/dir/model.safetensors")),
            pointer_target("sub/dir/model.safetensors", big->etag));
  EXPECT_EQ(inode(cx.pointer_path(c3, "sub/dir/model.safetensors")),
            inode(src.layout(k_x).pointer_path(c3, "sub/dir/model.safetensors")))
      << "same filesystem: a hardlink, not a copy";
  auto pins = read_pins(cx);
  ASSERT_TRUE(pins);
  EXPECT_EQ(*pins, std::vector<std::string>{c3}) << "the revision its ref left behind is pinned";
  EXPECT_EQ(read_pins(cy).value(), std::vector<std::string>{"*"}) << "the source's pins come along";
  const auto used = read_use_records(cx);
  ASSERT_EQ(used.size(), 2u);
  EXPECT_DOUBLE_EQ(used.at(c3), 1'700'000'000.5);
  EXPECT_DOUBLE_EQ(used.at(c1), 1'650'000'000);
  EXPECT_TRUE(test::exists(cy.no_exist_path(c2, "tokenizer.json")));
  EXPECT_EQ(test::read_file(cy.tree_path(c2)), test::read_file(src.layout(k_y).tree_path(c2)));
  EXPECT_FALSE(test::exists(cy.blobs_dir() + "/" + std::string(64, 'e') + ".incomplete"));
  EXPECT_EQ(test::read_file(dst.layout(k_d).pointer_path(c2, "data.csv")), "a,b\n1,2\n");
  EXPECT_TRUE(test::exists(central + "/CACHEDIR.TAG"));

  // A rerun finds everything there and changes nothing.
  const std::string after = test::tree_fingerprint(central);
  const MergePlan again = plan();
  for (const auto& repo : again.repos)
    for (const auto& b : repo.blobs) EXPECT_NE(b.action, MergeBlobAction::Link) << b.etag;
  const MergeReport r2 = execute(again);
  EXPECT_TRUE(r2.unverified.empty());
  EXPECT_EQ(r2.pointers_written + r2.refs_written + r2.blobs_linked + r2.blobs_copied + r2.pins_written, 0u);
  EXPECT_EQ(test::tree_fingerprint(central), after);
}

// The same blob name holding other bytes in the two caches: refused, naming both paths and which
// one is right, before anything is written (same size: found by comparing; another size: at once).
TEST_F(Merge, SameBlobNameWithOtherBytesIsRefusedNamingBoth) {
  const std::string etag = dst.add_file(k_x, c1, "w.bin", "right bytes", true);
  dst.add_ref(k_x, "main", c1);
  src.add_file(k_x, c1, "w.bin", "right bytes", true);
  src.add_file(k_y, c2, "other.bin", "new file", true);
  test::write_file(src.layout(k_x).blob_path(etag), "wrong bytes");  // same size, other bytes
  const std::string before = test::tree_fingerprint(central);

  const MergePlan p = plan();
  auto r = execute_cache_merge(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Conflict);
  EXPECT_NE(r.error().message.find(src.layout(k_x).blob_path(etag)), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(dst.layout(k_x).blob_path(etag)), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("' holds the bytes its name says"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("does not hold the bytes its name says"), std::string::npos) << r.error().message;
  EXPECT_EQ(test::tree_fingerprint(central), before) << "nothing may be written before the comparison";
  EXPECT_FALSE(test::exists(dst.layout(k_y).folder()));

  test::write_file(src.layout(k_x).blob_path(etag), "wrong bytes, longer");
  auto q = plan_cache_merge({source, central, 2, false});
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, ErrorCode::Conflict);
  EXPECT_NE(q.error().message.find(src.layout(k_x).blob_path(etag)), std::string::npos) << q.error().message;
  EXPECT_NE(q.error().message.find(dst.layout(k_x).blob_path(etag)), std::string::npos) << q.error().message;
}

// A source blob whose bytes are not what its name says never reaches the central cache.
TEST_F(Merge, CorruptSourceBlobIsNotMerged) {
  const std::string etag = src.add_file(k_x, c1, "w.bin", "good", true);
  test::write_file(src.layout(k_x).blob_path(etag), "evil");
  const MergePlan p = plan();
  auto r = execute_cache_merge(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity);
  EXPECT_NE(r.error().message.find(src.layout(k_x).blob_path(etag)), std::string::npos) << r.error().message;
  EXPECT_FALSE(test::exists(dst.layout(k_x).blob_path(etag)));
}

// Another filesystem: blobs are copied (verified), not linked; the result verifies.
TEST_F(Merge, AcrossFilesystemsBlobsAreCopiedAndVerified) {
  stdfs::create_directories(central);
  ASSERT_EQ(::mount("none", central.c_str(), "tmpfs", 0, "size=16m"), 0) << "tests run as root";
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{central};
  src.add_file(k_x, c1, "a.bin", std::string(3 << 20, 'a'), true);
  src.add_file(k_x, c1, "b.txt", "small");
  src.add_ref(k_x, "main", c1);
  const MergePlan p = plan();
  EXPECT_FALSE(p.same_filesystem);
  EXPECT_EQ(p.copy_bytes, (3u << 20) + 5u);
  const MergeReport r = execute(p);
  EXPECT_EQ(r.blobs_copied, 2u);
  EXPECT_EQ(r.files_verified, 2u);
  EXPECT_TRUE(r.unverified.empty());
  EXPECT_EQ(test::read_file(dst.layout(k_x).pointer_path(c1, "a.bin")), std::string(3 << 20, 'a'));
}

// A file of the shared blob store (huggingface_hub >= 1.32) is merged from its payload.
TEST_F(Merge, SharedStoreEntriesAreMergedFromTheirPayload) {
  src.mark_shared_store();
  const std::string hash(64, 'a');
  src.add_shared_file(k_x, c1, "model.safetensors", "shared payload bytes", hash);
  src.add_ref(k_x, "main", c1);
  const MergePlan p = plan();
  ASSERT_EQ(p.repos.size(), 1u);
  ASSERT_EQ(p.repos[0].blobs.size(), 1u);
  EXPECT_EQ(p.repos[0].blobs[0].source_path, source + "/blobs/aa/" + hash);
  const MergeReport r = execute(p);
  EXPECT_TRUE(r.unverified.empty());
  EXPECT_EQ(test::read_file(dst.layout(k_x).pointer_path(c1, "model.safetensors")), "shared payload bytes");
}

TEST_F(Merge, RefusesWhatCannotBeMerged) {
  src.add_file(k_x, c1, "a.bin", "a");
  // The same cache, or one inside the other.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {source, source}, {source, source + "/inner"}, {source + "/models--org--x", source}}) {
    auto p = plan_cache_merge({from, to, 1, false});
    ASSERT_FALSE(p) << from << " -> " << to;
    EXPECT_EQ(p.error().code, ErrorCode::InvalidArgument);
  }
  // Not a Hub cache; a file.
  test::write_file(project + "/notes.txt", "x");
  auto not_cache = plan_cache_merge({project + "/notes.txt", central, 1, false});
  ASSERT_FALSE(not_cache);
  EXPECT_EQ(not_cache.error().code, ErrorCode::InvalidArgument);
  stdfs::create_directories(dir.path() + "/empty");
  EXPECT_FALSE(plan_cache_merge({dir.path() + "/empty", central, 1, false}));
  // A download running into the source.
  const RepoLayout l = src.layout(k_x);
  stdfs::create_directories(l.locks_dir());
  auto held = FileLock::acquire(l.locks_dir() + "/" + std::string(64, 'f') + ".lock");
  ASSERT_TRUE(held);
  auto busy = plan_cache_merge({source, central, 1, false});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, ErrorCode::Conflict);
  EXPECT_NE(busy.error().message.find("download is running"), std::string::npos) << busy.error().message;
}

// Retire: the source goes (or becomes a link); a crash after it was moved aside is finished by a
// rerun on the moved-aside folder.
TEST_F(Merge, RetireRemovesOrLinksAndFinishesAfterACrash) {
  src.add_file(k_x, c1, "a.bin", "a", true);
  src.add_ref(k_x, "main", c1);
  {
    const MergePlan p = plan();
    ASSERT_TRUE(execute(p).unverified.empty());
    ASSERT_TRUE(retire_merged_cache(p, /*leave_link=*/true));
    EXPECT_EQ(test::read_link(source), central);
    EXPECT_FALSE(test::exists(retired_cache_path(source)));
    EXPECT_EQ(test::read_file(source + "/models--org--x/snapshots/" + c1 + "/a.bin"), "a") << "through the link";
  }
  ASSERT_EQ(::unlink(source.c_str()), 0);

  // Crash right after the source was moved aside (no link yet, nothing removed).
  src.add_file(k_y, c2, "b.bin", "b", true);
  const std::string aside = retired_cache_path(source);
  EXPECT_EQ(aside, project + "/.model_cache.hubcache-merged");
  ASSERT_EQ(::rename(source.c_str(), aside.c_str()), 0);
  auto p = plan_cache_merge({aside, central, 1, false});
  ASSERT_TRUE(p) << p.error().message;
  const MergeReport r = execute(*p);
  EXPECT_TRUE(r.unverified.empty());
  EXPECT_EQ(test::read_file(dst.layout(k_y).pointer_path(c2, "b.bin")), "b");
  ASSERT_TRUE(retire_merged_cache(*p, /*leave_link=*/true));
  EXPECT_FALSE(test::exists(aside));
  EXPECT_EQ(test::read_link(source), central) << "the link the crash kept from being made";

  // Without a link: the source folder is gone, nothing is left beside it.
  ASSERT_EQ(::unlink(source.c_str()), 0);
  src.add_file(k_y, c3, "c.bin", "c", true);
  const MergePlan q = plan();
  ASSERT_TRUE(execute(q).unverified.empty());
  ASSERT_TRUE(retire_merged_cache(q, false));
  EXPECT_FALSE(test::exists(source));
  EXPECT_FALSE(test::exists(aside));
}

}  // namespace

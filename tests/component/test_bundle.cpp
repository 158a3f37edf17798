// create_bundle / import_bundle on real temp caches: the tar's layout (each blob once, huggingface_hub's
// relative symlinks, refs, trees without Xet hashes, the lock under .locks/), tar and OCI round
// trips, hostile tars built here with libarchive (nothing reaches the cache), corruption,
// truncation, a missing file, ref conflicts and a leftover staging folder.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "cache_builder.hpp"
#include "hubcache/bundle/bundle.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_x{RepoType::Model, "org/x"};
const RepoRef k_d{RepoType::Dataset, "org/d"};

lock::LockedFile locked(const std::string& path, const std::string& content, bool lfs) {
  lock::LockedFile f;
  f.path = path;
  f.size = content.size();
  f.git_oid = git_blob_sha1_hex(lfs ? "version https://git-lfs.github.com/spec/v1\n" + content : content);
  if (lfs) f.lfs_sha256 = sha256_hex(content);
  return f;
}

struct TarEntry {
  TarEntry(std::string p, char t = 'f', std::string d = {}, std::string l = {})
      : path(std::move(p)), type(t), data(std::move(d)), target(std::move(l)) {}
  std::string path;
  char type = 'f';  // f file, d dir, l symlink, h hardlink, c char device
  std::string data;
  std::string target;
};

void write_tar(const std::string& file, const std::vector<TarEntry>& entries) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, file.c_str()), ARCHIVE_OK);
  for (const auto& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_perm(e, 0644);
    switch (t.type) {
      case 'd':
        archive_entry_set_filetype(e, AE_IFDIR);
        break;
      case 'l':
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, t.target.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, t.target.c_str());
        break;
      case 'c':
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_rdev(e, makedev(1, 3));
        break;
      default:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, static_cast<la_int64_t>(t.data.size()));
    }
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << t.path;
    if (t.type == 'f' && !t.data.empty()) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

struct TarSeen {
  std::vector<std::string> order;
  std::map<std::string, std::string> links, files;
};
TarSeen read_tar(const std::string& file) {
  TarSeen seen;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, file.c_str(), 65536), ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    const std::string path = archive_entry_pathname(e);
    seen.order.push_back(path);
    if (archive_entry_filetype(e) == AE_IFLNK) seen.links[path] = archive_entry_symlink(e);
    if (archive_entry_filetype(e) == AE_IFREG) {
      std::string data(static_cast<std::size_t>(archive_entry_size(e)), '\0');
      if (!data.empty()) archive_read_data(a, data.data(), data.size());
      seen.files[path] = data;
    }
  }
  archive_read_free(a);
  return seen;
}

// The repo folders of a cache, as describe_tree sees them (no .locks/, no CACHEDIR.TAG).
std::map<std::string, std::string> repo_trees(const std::string& cache) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : test::describe_tree(cache))
    if (k.starts_with("models--") || k.starts_with("datasets--")) out[k] = v;
  return out;
}

struct Bundle : ::testing::Test {
  test::TempDir dir;
  std::string source = dir.path() + "/source";
  std::string dest = dir.path() + "/dest";
  std::string tar = dir.path() + "/models.tar";
  test::CacheBuilder src{source};
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2), c3 = test::commit_id(3);
  const std::string weights = std::string(3000, 'w'), config = "{\"a\": 1}\n", nested = "deep\n", data = "x,y\n1,2\n";
  lock::Lockfile lock;

  void SetUp() override {
    // org/x at two commits sharing config.json and the weights; a nested file only in c2.
    src.add_file(k_x, c1, "config.json", config);
    src.add_file(k_x, c1, "model.safetensors", weights, true);
    src.add_file(k_x, c2, "config.json", config);
    src.add_file(k_x, c2, "model.safetensors", weights, true);
    src.add_file(k_x, c2, "sub/dir/notes.txt", nested);
    src.add_ref(k_x, "main", c2);
    src.add_ref(k_x, "v1", c1);
    src.add_file(k_d, c3, "train.csv", data);
    lock.endpoint = "https://huggingface.co";
    lock.repos.push_back({k_x,
                          "main",
                          c2,
                          {},
                          {},
                          {locked("config.json", config, false), locked("model.safetensors", weights, true),
                           locked("sub/dir/notes.txt", nested, false)}});
    lock.repos.push_back(
        {k_x, "v1", c1, {}, {}, {locked("config.json", config, false), locked("model.safetensors", weights, true)}});
    lock.repos.push_back({k_d, c3, c3, {}, {}, {locked("train.csv", data, false)}});
  }

  Result<bundle::CreateReport> create(bundle::Format format = bundle::Format::Tar, const std::string& out = {}) {
    return bundle::create_bundle({source, lock, out.empty() ? tar : out, format, 1700000000});
  }
  Result<bundle::ImportReport> import(const std::string& from) { return bundle::import_bundle({from, dest, 2}); }

  // A valid one-file bundle of org/x, to which the hostile cases add or change entries.
  std::vector<TarEntry> small_bundle() {
    lock::Lockfile l;
    l.endpoint = "https://huggingface.co";
    l.repos.push_back({k_x, "main", c1, {}, {}, {locked("config.json", config, false)}});
    const std::string blob = git_blob_sha1_hex(config);
    return {{".locks/hubcache-bundle.lock", 'f', lock::serialize_lockfile(l)},
            {"models--org--x/blobs/" + blob, 'f', config},
            {"models--org--x/refs/main", 'f', c1},
            {"models--org--x/snapshots/" + c1 + "/config.json", 'l', "", "../../blobs/" + blob}};
  }
  // Imports `entries` as a tar; expects `code` and the message to name `entry`; the cache gets nothing.
  void expect_refused(const std::vector<TarEntry>& entries, ErrorCode code, const std::string& entry) {
    write_tar(tar, entries);
    auto r = import(tar);
    ASSERT_FALSE(r) << "imported a bundle that should be refused (" << entry << ")";
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(entry), std::string::npos) << r.error().message;
    EXPECT_TRUE(repo_trees(dest).empty()) << "a refused bundle reached the cache";
    EXPECT_FALSE(test::exists(bundle::staging_path(dest))) << "the staging folder was left behind";
    EXPECT_FALSE(test::exists(dir.path() + "/x")) << "something was written outside the cache";
  }
};

TEST_F(Bundle, TarHoldsTheCacheLayoutEachBlobOnceAndTheLockFirst) {
  auto r = create();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->repos, 2u);
  EXPECT_EQ(r->blobs, 4u);  // config, weights, notes (org/x) + train.csv (org/d)
  const auto seen = read_tar(tar);
  ASSERT_GE(seen.order.size(), 2u);
  EXPECT_EQ(seen.order[0], ".locks/hubcache-bundle.lock");
  EXPECT_EQ(std::count(seen.order.begin(), seen.order.end(), ".locks/"), 0) << "tar -x must not reset an existing .locks/";
  EXPECT_EQ(std::count(seen.order.begin(), seen.order.end(), "datasets--org--d/refs/"), 1) << "refs/ exists without refs";
  const std::string wsha = sha256_hex(weights), cfg = git_blob_sha1_hex(config);
  EXPECT_EQ(std::count(seen.order.begin(), seen.order.end(), "models--org--x/blobs/" + wsha), 1);
  EXPECT_EQ(std::count(seen.order.begin(), seen.order.end(), "models--org--x/blobs/" + cfg), 1);
  EXPECT_EQ(seen.files.at("models--org--x/blobs/" + wsha), weights);
  EXPECT_EQ(seen.links.at("models--org--x/snapshots/" + c1 + "/model.safetensors"), "../../blobs/" + wsha);
  EXPECT_EQ(seen.links.at("models--org--x/snapshots/" + c2 + "/sub/dir/notes.txt"),
            "../../../../blobs/" + git_blob_sha1_hex(nested));
  EXPECT_EQ(seen.files.at("models--org--x/refs/main"), c2);
  EXPECT_EQ(seen.files.at("models--org--x/refs/v1"), c1);
  EXPECT_EQ(seen.files.count("datasets--org--d/refs/" + c3), 0u) << "a commit revision is no ref";
  const auto tree = nlohmann::json::parse(seen.files.at("models--org--x/trees/" + c1 + ".json"));
  EXPECT_EQ(tree["files"].size(), 2u) << "trees list only the bundled files";
  EXPECT_EQ(tree["files"]["model.safetensors"]["lfs_sha256"], wsha);
  EXPECT_FALSE(tree["files"]["model.safetensors"].contains("xet_hash"));
  // Same lock, same cache, same mtime: the same bytes.
  ASSERT_TRUE(bundle::create_bundle({source, lock, dir.path() + "/again.tar", bundle::Format::Tar, 1700000000}));
  EXPECT_EQ(test::read_file(tar), test::read_file(dir.path() + "/again.tar"));
}

TEST_F(Bundle, TarRoundTripRestoresTheRepoFolders) {
  ASSERT_TRUE(create());
  auto r = import(tar);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->files, 6u);
  EXPECT_TRUE(r->conflicts.empty());
  auto want = repo_trees(source);
  auto got = repo_trees(dest);
  for (auto it = got.begin(); it != got.end();)  // trees/ and hubcache's records are extra in the import
    it = it->first.find("/trees") != std::string::npos || it->first.find("/.hubcache") != std::string::npos ? got.erase(it)
                                                                                                            : std::next(it);
  EXPECT_EQ(got, want);
  EXPECT_TRUE(test::exists(dest + "/models--org--x/trees/" + c2 + ".json"));
  EXPECT_FALSE(test::exists(bundle::staging_path(dest)));
  // Importing again changes nothing and still succeeds.
  const auto before = test::tree_fingerprint(dest + "/models--org--x");
  ASSERT_TRUE(import(tar));
  EXPECT_EQ(test::tree_fingerprint(dest + "/models--org--x"), before);
}

TEST_F(Bundle, NonAsciiNamesRoundTripWhateverTheLocale) {
  // The process runs in the C locale (no setlocale): names are UTF-8 bytes all the same.
  const std::string name = "\xc3\xbcn\xc3\xaf/\xe6\x97\xa5\xe6\x9c\xac [x] *.txt";
  const std::string text = "unicode\n";
  src.add_file(k_x, c2, name, text);
  lock.repos[0].files.push_back(locked(name, text, false));
  lock::sort_files(lock.repos[0]);
  auto made = create();
  ASSERT_TRUE(made) << made.error().message;
  auto r = import(tar);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(dest + "/models--org--x/snapshots/" + c2 + "/" + name), text);
  EXPECT_EQ(test::read_link(dest + "/models--org--x/snapshots/" + c2 + "/" + name), "../../../blobs/" + git_blob_sha1_hex(text));
}

TEST_F(Bundle, OciLayoutRoundTripGivesTheSameCache) {
  const std::string oci = dir.path() + "/models.oci";
  auto r = create(bundle::Format::Oci, oci);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(test::exists(oci + "/oci-layout"));
  EXPECT_TRUE(test::exists(oci + "/blobs/sha256/" + sha256_hex(weights))) << "an LFS layer's digest is its blob name";
  EXPECT_TRUE(test::exists(oci + "/blobs/sha256/" + sha256_hex(config))) << "a small file's layer is its SHA-256";
  const auto index = nlohmann::json::parse(test::read_file(oci + "/index.json"));
  EXPECT_EQ(index["manifests"].size(), 3u);  // org/x@c1, org/x@c2, org/d@c3
  const std::string mhex = index["manifests"][0]["digest"].get<std::string>().substr(7);
  const auto manifest = nlohmann::json::parse(test::read_file(oci + "/blobs/sha256/" + mhex));
  EXPECT_EQ(manifest["artifactType"], "application/vnd.cncf.model.manifest.v1+json");
  EXPECT_EQ(manifest["config"]["mediaType"], "application/vnd.cncf.model.config.v1+json");
  ASSERT_TRUE(create());
  auto from_oci = import(oci);
  ASSERT_TRUE(from_oci) << from_oci.error().message;
  EXPECT_EQ(from_oci->format, bundle::Format::Oci);
  const auto oci_cache = repo_trees(dest);
  stdfs::rename(dest, dir.path() + "/dest-oci");
  ASSERT_TRUE(import(tar));
  EXPECT_EQ(repo_trees(dest), oci_cache);
}

TEST_F(Bundle, OciLayerWithOtherBytesIsRefused) {
  const std::string oci = dir.path() + "/models.oci";
  ASSERT_TRUE(create(bundle::Format::Oci, oci));
  const std::string layer = oci + "/blobs/sha256/" + sha256_hex(weights);
  std::string bytes = test::read_file(layer);
  bytes[100] ^= 1;
  stdfs::permissions(layer, stdfs::perms::owner_write, stdfs::perm_options::add);
  test::write_file(layer, bytes);
  auto r = import(oci);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity) << r.error().message;
  EXPECT_TRUE(repo_trees(dest).empty());
}

TEST_F(Bundle, CreateRefusesWhatTheCacheLacksOrHoldsCorrupted) {
  stdfs::remove(source + "/datasets--org--d/blobs/" + git_blob_sha1_hex(data));
  auto r = create();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::LocalEntryNotFound) << r.error().message;
  EXPECT_NE(r.error().message.find("hubcache sync --lock"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("train.csv"), std::string::npos) << r.error().message;
  EXPECT_FALSE(test::exists(tar));

  src.add_file(k_d, c3, "train.csv", data);
  const std::string blob = source + "/models--org--x/blobs/" + sha256_hex(weights);
  std::string bytes = test::read_file(blob);
  bytes[7] ^= 1;
  test::write_file(blob, bytes);
  r = create();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity) << r.error().message;
  EXPECT_FALSE(test::exists(tar));
  for (const auto& e : stdfs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().extension(), "") << "temp file left: " << e.path();
}

TEST_F(Bundle, ValidSmallBundleImports) {
  write_tar(tar, small_bundle());
  auto r = import(tar);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(dest + "/models--org--x/snapshots/" + c1 + "/config.json"), config);
}

TEST_F(Bundle, HostileEntriesAreRefusedNamingThem) {
  auto with = [&](TarEntry extra) {
    auto e = small_bundle();
    e.insert(e.begin() + 1, std::move(extra));
    return e;
  };
  const std::string blob = git_blob_sha1_hex(config);
  expect_refused(with({"../x", 'f', "escape"}), ErrorCode::InvalidArgument, "../x");
  expect_refused(with({"models--org--x/../../x", 'f', "escape"}), ErrorCode::InvalidArgument, "models--org--x/../../x");
  expect_refused(with({"/tmp/x", 'f', "abs"}), ErrorCode::InvalidArgument, "/tmp/x");
  expect_refused(with({"notes/readme.txt", 'f', "hi"}), ErrorCode::InvalidArgument, "notes/readme.txt");
  expect_refused(with({"CACHEDIR.TAG", 'f', "hi"}), ErrorCode::InvalidArgument, "CACHEDIR.TAG");
  expect_refused(with({".locks/other.lock", 'f', "hi"}), ErrorCode::InvalidArgument, ".locks/other.lock");
  expect_refused(with({"models--org--x/.no_exist/" + c1 + "/a", 'f', ""}), ErrorCode::InvalidArgument, ".no_exist");
  expect_refused(with({"models--org--x/snapshots/" + c1 + "/evil", 'l', "", "../../../../../etc/passwd"}),
                 ErrorCode::InvalidArgument, "/evil");
  expect_refused(with({"models--org--x/snapshots/" + c1 + "/a/b.json", 'l', "", "../../blobs/" + blob}),
                 ErrorCode::InvalidArgument, "a/b.json");
  expect_refused(with({"models--org--x/blobs/link", 'l', "", "/etc/passwd"}), ErrorCode::InvalidArgument, "blobs/link");
  expect_refused(with({"models--org--x/snapshots/" + c1 + "/hard", 'h', "", "/etc/passwd"}), ErrorCode::InvalidArgument, "/hard");
  expect_refused(with({"models--org--x/snapshots/" + c1 + "/dev", 'c'}), ErrorCode::InvalidArgument, "/dev");
  expect_refused(with({"models--org--x/snapshots/" + c1 + "/plain.txt", 'f', "text"}), ErrorCode::InvalidArgument, "plain.txt");
  // A blob the lock does not name, and the locked blob's name with more bytes than the lock says:
  // refused before a byte is written (a bundle cannot fill the disk with what it does not lock).
  expect_refused(with({"models--org--x/blobs/" + std::string(40, 'a'), 'f', "not that"}), ErrorCode::InvalidArgument,
                 std::string(40, 'a') + "': a blob the bundle's lockfile does not name");
  auto bigger = small_bundle();
  bigger[1].data = config + std::string(1 << 20, 'z');
  expect_refused(bigger, ErrorCode::Integrity, "its header says " + std::to_string(config.size() + (1 << 20)) + " bytes");
  auto blob_first = small_bundle();
  std::swap(blob_first[0], blob_first[1]);
  expect_refused(blob_first, ErrorCode::InvalidArgument, "comes before the lockfile");
  // The same blob entry twice.
  expect_refused(with({"models--org--x/blobs/" + blob, 'f', config}), ErrorCode::InvalidArgument, "models--org--x/blobs/" + blob);
  // A symlink, then a folder through it.
  auto through = small_bundle();
  through.push_back({"models--org--x/snapshots/" + c1 + "/config.json/inner", 'd'});
  expect_refused(through, ErrorCode::InvalidArgument, "config.json/inner");
}

TEST_F(Bundle, BundleContentMustMatchItsLock) {
  const std::string blob = git_blob_sha1_hex(config);
  auto no_lock = small_bundle();
  no_lock.erase(no_lock.begin());
  expect_refused(no_lock, ErrorCode::InvalidArgument, "hubcache-bundle.lock");
  auto bad_lock = small_bundle();
  bad_lock[0].data = "{\"lockfile_version\": 1, \"repos\": [";
  expect_refused(bad_lock, ErrorCode::InvalidArgument, "hubcache-bundle.lock");
  auto missing_pointer = small_bundle();
  missing_pointer.pop_back();
  expect_refused(missing_pointer, ErrorCode::InvalidArgument, "config.json");
  auto extra_file = small_bundle();
  extra_file.push_back({"models--org--x/snapshots/" + c1 + "/other.json", 'l', "", "../../blobs/" + blob});
  expect_refused(extra_file, ErrorCode::InvalidArgument, "other.json");
  auto other_repo = small_bundle();
  other_repo.push_back({"models--org--y/blobs/" + blob, 'f', config});
  expect_refused(other_repo, ErrorCode::InvalidArgument, "models--org--y");
  auto bad_ref = small_bundle();
  bad_ref[2].data = c2;
  expect_refused(bad_ref, ErrorCode::InvalidArgument, "refs/main");
}

TEST_F(Bundle, CorruptedOrTruncatedTarIsRefused) {
  ASSERT_TRUE(create());
  std::string bytes = test::read_file(tar);
  const auto at = bytes.find(std::string(3000, 'w'));
  ASSERT_NE(at, std::string::npos);
  std::string corrupted = bytes;
  corrupted[at + 1500] = 'v';
  test::write_file(tar, corrupted);
  auto r = import(tar);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity) << r.error().message;
  EXPECT_NE(r.error().message.find(sha256_hex(weights)), std::string::npos) << r.error().message;
  EXPECT_TRUE(repo_trees(dest).empty());

  test::write_file(tar, bytes.substr(0, at + 1000));
  r = import(tar);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Io) << r.error().message;
  EXPECT_NE(r.error().message.find(sha256_hex(weights)), std::string::npos) << r.error().message;
  EXPECT_TRUE(repo_trees(dest).empty());
  EXPECT_FALSE(test::exists(bundle::staging_path(dest)));
}

TEST_F(Bundle, LeftoverStagingIsCleanedAndRefConflictsKeepTheCaches) {
  ASSERT_TRUE(create());
  test::write_file(bundle::staging_path(dest) + "/models--org--x/blobs/half", "half-written");
  test::CacheBuilder dst{dest};
  dst.add_file(k_x, c3, "config.json", config);
  dst.add_ref(k_x, "main", c3);
  auto r = import(tar);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->cleaned_leftover);
  EXPECT_FALSE(test::exists(bundle::staging_path(dest)));
  EXPECT_FALSE(test::exists(dest + "/models--org--x/blobs/half"));
  ASSERT_EQ(r->conflicts.size(), 1u);
  EXPECT_EQ(r->conflicts[0].conflict.ref, "main");
  EXPECT_EQ(r->conflicts[0].conflict.cache_commit, c3);
  EXPECT_EQ(test::read_file(dest + "/models--org--x/refs/main"), c3);
  EXPECT_EQ(test::read_file(dest + "/models--org--x/snapshots/" + c2 + "/sub/dir/notes.txt"), nested);
}

}  // namespace

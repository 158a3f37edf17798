// download_file reusing a payload of huggingface_hub's shared blob store (research note
// shared-blobs.md 3.4) instead of downloading it.
#include <sys/stat.h>

#include <filesystem>

#include "download_fixture.hpp"
#include "hubcache/cache/shared_blobs.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

struct SharedDownload : DownloadFixture {
  std::string k_hash;   // the X-Xet-Hash the test server sends for the weights (their Xet file id)
  std::string payload;  // where the shared store keeps it
  std::string etag = sha256_hex(weights);
  void SetUp() override {
    DownloadFixture::SetUp();
    server.set_xet(true);
    k_hash = server.xet_hash(etag);
    payload = cache + "/blobs/" + k_hash.substr(0, 2) + "/" + k_hash;
    CacheBuilder cb(cache);
    cb.mark_shared_store();
    cb.add_shared_payload(k_hash, weights);
  }
  FileRequest weights_request() const {
    FileRequest r;
    r.repo_id = k_model.id;
    r.filename = "model.safetensors";
    return r;
  }
  bool blob_is_regular_file() const {
    struct stat st {};
    return ::lstat(layout().blob_path(etag).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }
};

TEST_F(SharedDownload, AUsablePayloadIsLinkedInsteadOfDownloaded) {
  Downloader d(options());
  auto r = d.download_file(weights_request());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->transferred);
  EXPECT_EQ(server.body_bytes("/cdn/"), 0u);
  EXPECT_EQ(read_link(layout().blob_path(etag)), "../../blobs/" + k_hash.substr(0, 2) + "/" + k_hash);
  EXPECT_EQ(read_link(r->path), "../../blobs/" + etag);
  EXPECT_EQ(read_file(r->path), weights);
  EXPECT_EQ(read_file(payload + ".refs"), "models--org--model/blobs/" + etag + "\n");
  struct stat st {};
  ASSERT_EQ(::stat((payload + ".refs").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  // No temporary link is left behind.
  for (const auto& e : std::filesystem::directory_iterator(layout().blobs_dir()))
    EXPECT_EQ(e.path().filename().string().find(".shared"), std::string::npos) << e.path();
}

TEST_F(SharedDownload, APayloadWithOtherBytesIsLeftAloneAndTheFileDownloaded) {
  std::string other = weights;
  other[0] = 'X';
  CacheBuilder(cache).add_shared_payload(k_hash, other);  // same size, wrong content
  Downloader d(options());
  auto r = d.download_file(weights_request());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->transferred);
  EXPECT_TRUE(blob_is_regular_file());
  EXPECT_EQ(read_file(r->path), weights);
  EXPECT_EQ(read_file(payload), other);
  EXPECT_FALSE(exists(payload + ".refs"));
}

// An unusable payload (another size) is not linked; the verified download replaces it, as
// huggingface_hub >= 1.32 publishes over an unusable payload (research note shared-blobs.md 1.3).
TEST_F(SharedDownload, APayloadOfTheWrongSizeIsReplacedByTheVerifiedDownload) {
  CacheBuilder(cache).add_shared_payload(k_hash, weights + "x");
  Downloader d(options());
  auto r = d.download_file(weights_request());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->transferred);
  EXPECT_EQ(read_link(layout().blob_path(etag)), "../../blobs/" + k_hash.substr(0, 2) + "/" + k_hash);
  EXPECT_EQ(read_file(payload), weights);
  EXPECT_EQ(read_file(r->path), weights);
}

TEST_F(SharedDownload, NoReuseWhenDisabledUnmarkedOrWithoutSymlinks) {
  {
    DownloadOptions o = options();
    o.disable_shared_blobs = true;  // HF_HUB_DISABLE_SHARED_BLOBS / HF_HUB_DISABLE_XET
    auto r = Downloader(o).download_file(weights_request());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->transferred);
    EXPECT_TRUE(blob_is_regular_file());
  }
  std::filesystem::remove_all(layout().folder());
  std::filesystem::remove(cache + "/blobs/.huggingface-shared-blobs");
  {
    auto r = Downloader(options()).download_file(weights_request());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->transferred);
    EXPECT_TRUE(blob_is_regular_file());
  }
  std::filesystem::remove_all(layout().folder());
  CacheBuilder(cache).mark_shared_store();
  {
    DownloadOptions o = options();
    o.disable_symlinks = true;
    auto r = Downloader(o).download_file(weights_request());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->transferred);
    EXPECT_FALSE(exists(layout().blob_path(etag)));  // no-symlink mode: the bytes are in the snapshot
  }
  EXPECT_FALSE(exists(payload + ".refs"));
}

// A force download is not served from the store: it downloads again, and its verified bytes
// replace the payload (a new inode) that every linked repo then reads.
TEST_F(SharedDownload, ForceDownloadDoesNotReuseAndReplacesThePayload) {
  struct stat before {};
  ASSERT_EQ(::stat(payload.c_str(), &before), 0);
  FileRequest req = weights_request();
  req.force_download = true;
  auto r = Downloader(options()).download_file(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->transferred);
  EXPECT_EQ(read_link(layout().blob_path(etag)), "../../blobs/" + k_hash.substr(0, 2) + "/" + k_hash);
  struct stat after {};
  ASSERT_EQ(::stat(payload.c_str(), &after), 0);
  EXPECT_NE(after.st_ino, before.st_ino);
  EXPECT_EQ(read_file(payload), weights);
}

}  // namespace

TEST_F(SharedDownload, SnapshotsLinkPayloadsNamedByTheTreeListing) {
  // snapshot_download knows each file's xetHash from the tree listing (no HEAD): a usable
  // payload is linked, the other files are downloaded, and the store's manifest records the link.
  Downloader d(options());
  SnapshotRequest req;
  req.repo_id = k_model.id;
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(server.body_bytes("/cdn/"), 0u);
  EXPECT_EQ(server.count("GET", "model.safetensors"), 0);
  EXPECT_EQ(read_link(layout().blob_path(etag)), "../../blobs/" + k_hash.substr(0, 2) + "/" + k_hash);
  EXPECT_EQ(read_file(r->path + "/model.safetensors"), weights);
  EXPECT_EQ(read_file(r->path + "/config.json"), "{\"model\": 1}");  // not in the store: downloaded
  EXPECT_EQ(read_file(payload + ".refs"), "models--org--model/blobs/" + etag + "\n");
}

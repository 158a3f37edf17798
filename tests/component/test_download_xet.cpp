// Downloads over Xet (DownloadOptions::xet) against the test hub's Xet CAS (set_xet): the blob
// comes from xorbs and not the CDN, a Xet record is left, a revision that changed a few percent
// of a file fetches about that much, a Xet error falls back to plain HTTP once (auto) or is the
// error (on), and off / HF_HUB_DISABLE_XET never touch the CAS; the same into a --local-dir
// (XetLocalDir).
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include "download_fixture.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/config/config.hpp"

namespace hubcache::test {
namespace {

const RepoRef k_xet_repo{RepoType::Model, "org/xet"};

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

struct XetDownload : DownloadFixture {
  std::string a = random_bytes(6 << 20, 7);
  std::string a_sha = sha256_hex(a);
  std::vector<DownloadEvent> events;
  std::mutex events_mutex;

  void SetUp() override {
    DownloadFixture::SetUp();
    server.add_file(k_xet_repo, c1, "weights.bin", a, /*lfs=*/true);
    server.add_file(k_xet_repo, c1, "config.json", "{}");
    server.set_ref(k_xet_repo, "main", c1);
    server.set_xet(true);
  }
  DownloadOptions xet_options(XetMode mode = XetMode::Auto) {
    DownloadOptions o = options();
    o.xet = mode;
    o.progress = [this](const DownloadEvent& e) {
      std::lock_guard lock(events_mutex);
      events.push_back(e);
    };
    return o;
  }
  std::size_t fallbacks() {
    std::lock_guard lock(events_mutex);
    return static_cast<std::size_t>(std::count_if(
        events.begin(), events.end(), [](const DownloadEvent& e) { return e.kind == DownloadEvent::Kind::XetFallback; }));
  }
  std::uint64_t xorb_bytes() const { return server.body_bytes("/cas/xorbs/"); }
  std::uint64_t cdn_bytes() const { return server.body_bytes("/cdn/"); }
};

TEST_F(XetDownload, FileComesFromXorbsAndLeavesARecord) {
  Downloader d(xet_options());
  auto r = d.download_file(file_request("weights.bin", "main", k_xet_repo));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), a);
  EXPECT_EQ(r->etag, a_sha);
  EXPECT_EQ(cdn_bytes(), 0u);
  EXPECT_EQ(xorb_bytes(), server.xet_fetch_bytes(a_sha));
  EXPECT_EQ(fallbacks(), 0u);
  // The record says which xorb chunks make the blob: what the server's terms say.
  auto record = read_xet_record(layout(k_xet_repo), a_sha);
  ASSERT_TRUE(record && record->has_value());
  EXPECT_EQ((*record)->size, a.size());
  EXPECT_EQ((*record)->file_hash.hex(), server.xet_hash(a_sha));
  const auto terms = server.xet_terms(a_sha);
  ASSERT_EQ((*record)->segments.size(), terms.size());
  for (std::size_t i = 0; i < terms.size(); ++i) {
    EXPECT_EQ((*record)->segments[i].xorb, terms[i].xorb);
    EXPECT_EQ((*record)->segments[i].first_chunk, terms[i].first_chunk);
    EXPECT_EQ((*record)->segments[i].chunk_sizes, terms[i].chunk_sizes);
  }
  // No split files are left next to the blob.
  for (const auto& e : std::filesystem::directory_iterator(layout(k_xet_repo).blobs_dir()))
    EXPECT_EQ(e.path().filename().string(), a_sha);
}

// huggingface_hub >= 1.32 (research note shared-blobs.md 3.3): a Xet download is published to
// the shared blob store, and a second repo holding the same file links to it without a transfer.
TEST_F(XetDownload, PublishedToTheSharedStoreAndASecondRepoCostsNoTransfer) {
  const RepoRef other{RepoType::Model, "org/copy"};
  server.add_file(other, c2, "renamed.bin", a, /*lfs=*/true);
  server.set_ref(other, "main", c2);
  Downloader d(xet_options());
  ASSERT_TRUE(d.download_file(file_request("weights.bin", "main", k_xet_repo)));
  const std::string hash = server.xet_hash(a_sha);
  const std::string payload = cache + "/blobs/" + hash.substr(0, 2) + "/" + hash;
  EXPECT_EQ(read_link(layout(k_xet_repo).blob_path(a_sha)), "../../blobs/" + hash.substr(0, 2) + "/" + hash);
  EXPECT_EQ(read_file(payload), a);
  EXPECT_EQ(read_file(cache + "/blobs/.huggingface-shared-blobs"), "1\n");
  const std::uint64_t before = xorb_bytes();
  auto r = d.download_file(file_request("renamed.bin", "main", other));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->transferred);
  EXPECT_EQ(xorb_bytes(), before);
  EXPECT_EQ(read_file(r->path), a);
  EXPECT_EQ(read_file(payload + ".refs"), "models--org--xet/blobs/" + a_sha + "\nmodels--org--copy/blobs/" + a_sha + "\n");
}

// Note 2.4: modes follow the cache root's (a group-shared cache, 2770: payload 0440, folders 2770).
TEST_F(XetDownload, SharedStoreModesFollowTheCacheRoot) {
  std::filesystem::create_directories(cache);
  ASSERT_EQ(::chmod(cache.c_str(), 02770), 0);
  Downloader d(xet_options());
  ASSERT_TRUE(d.download_file(file_request("weights.bin", "main", k_xet_repo)));
  const std::string hash = server.xet_hash(a_sha);
  struct stat st {};
  ASSERT_EQ(::lstat((cache + "/blobs/" + hash.substr(0, 2) + "/" + hash).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0440u);
  ASSERT_EQ(::lstat((cache + "/blobs/" + hash.substr(0, 2)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02770u);
  ASSERT_EQ(::lstat((cache + "/blobs").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02770u);
  ASSERT_EQ(::lstat((cache + "/blobs/" + hash.substr(0, 2) + "/" + hash + ".refs").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
}

TEST_F(XetDownload, DisableSharedBlobsKeepsARegularBlob) {
  DownloadOptions o = xet_options();
  o.disable_shared_blobs = true;  // HF_HUB_DISABLE_SHARED_BLOBS
  Downloader d(o);
  ASSERT_TRUE(d.download_file(file_request("weights.bin", "main", k_xet_repo)));
  struct stat st {};
  ASSERT_EQ(::lstat(layout(k_xet_repo).blob_path(a_sha).c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_FALSE(std::filesystem::exists(cache + "/blobs"));
  EXPECT_GT(xorb_bytes(), 0u);
}

TEST_F(XetDownload, AStoreThatIsNotOursIsLeftAlone) {
  write_file(cache + "/blobs/someone-elses.txt", "mine");  // an unmarked, non-empty blobs/: never adopted
  Downloader d(xet_options());
  auto r = d.download_file(file_request("weights.bin", "main", k_xet_repo));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_link(layout(k_xet_repo).blob_path(a_sha)), "");  // a regular blob
  EXPECT_EQ(read_file(r->path), a);
  EXPECT_FALSE(std::filesystem::exists(cache + "/blobs/.huggingface-shared-blobs"));
  EXPECT_EQ(read_file(cache + "/blobs/someone-elses.txt"), "mine");
}

TEST_F(XetDownload, SnapshotTakesXetFromTheListing) {
  Downloader d(xet_options());
  SnapshotRequest req;
  req.repo_id = k_xet_repo.id;
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(layout(k_xet_repo).pointer_path(c1, "weights.bin")), a);
  EXPECT_EQ(read_file(layout(k_xet_repo).pointer_path(c1, "config.json")), "{}");
  EXPECT_EQ(cdn_bytes(), 0u);
  EXPECT_GT(xorb_bytes(), 0u);
}

// Issue 14's incremental case: B = A with 5% changed in the middle and 1% appended. With A in
// the cache, B fetches at most 8% of its bytes.
TEST_F(XetDownload, ANewRevisionFetchesOnlyWhatChanged) {
  std::string b = a;
  const std::size_t changed = a.size() / 20, at = a.size() / 2 - changed / 2;
  const std::string noise = random_bytes(changed, 8);
  b.replace(at, changed, noise);
  b += random_bytes(a.size() / 100, 9);
  server.add_file(k_xet_repo, c2, "weights.bin", b, /*lfs=*/true);
  server.set_ref(k_xet_repo, "next", c2);
  Downloader d(xet_options());
  ASSERT_TRUE(d.download_file(file_request("weights.bin", "main", k_xet_repo)));
  const std::uint64_t after_a = xorb_bytes();
  auto r = d.download_file(file_request("weights.bin", "next", k_xet_repo));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), b);
  const std::uint64_t fetched = xorb_bytes() - after_a;
  EXPECT_LE(fetched, b.size() * 8 / 100) << fetched << " of " << b.size();
  EXPECT_GT(fetched, b.size() * 5 / 100);  // the changed bytes did travel
  EXPECT_EQ(cdn_bytes(), 0u);
  // A second Downloader (another run) finds A's chunks through the records on disk.
  std::filesystem::remove(layout(k_xet_repo).blob_path(sha256_hex(b)));
  std::filesystem::remove(layout(k_xet_repo).pointer_path(c2, "weights.bin"));
  const std::uint64_t before = xorb_bytes();
  Downloader again(xet_options());
  auto r2 = again.download_file(file_request("weights.bin", "next", k_xet_repo));
  ASSERT_TRUE(r2) << r2.error().message;
  EXPECT_EQ(read_file(r2->path), b);
  EXPECT_LE(xorb_bytes() - before, b.size() * 8 / 100);
}

// The local index is bounded (xet_local_max_chunks) and loads the newest records first: with room
// for one record, a new revision still finds the newest (its base) rather than an older one.
TEST_F(XetDownload, TheLocalIndexIsBoundedAndLoadsTheNewestRecordsFirst) {
  const std::string other = random_bytes(6 << 20, 20);
  server.add_file(k_xet_repo, c1, "other.bin", other, /*lfs=*/true);
  std::string b = a;
  b.replace(a.size() / 2, a.size() / 20, random_bytes(a.size() / 20, 8));
  server.add_file(k_xet_repo, c2, "weights.bin", b, /*lfs=*/true);
  server.set_ref(k_xet_repo, "next", c2);
  {
    Downloader d(xet_options());
    ASSERT_TRUE(d.download_file(file_request("other.bin", "main", k_xet_repo)));
    ASSERT_TRUE(d.download_file(file_request("weights.bin", "main", k_xet_repo)));
  }
  const RepoLayout l = layout(k_xet_repo);
  const struct timespec long_ago[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};  // the older record
  ASSERT_EQ(::utimensat(AT_FDCWD, xet_record_path(l, sha256_hex(other)).c_str(), long_ago, 0), 0);
  auto rec = read_xet_record(l, a_sha);
  ASSERT_TRUE(rec && rec->has_value());
  std::size_t a_chunks = 0;
  for (const auto& seg : (*rec)->segments) a_chunks += seg.chunk_sizes.size();
  auto fetch_b = [&](std::size_t max_chunks) {
    std::filesystem::remove(l.blob_path(sha256_hex(b)));
    std::filesystem::remove(l.pointer_path(c2, "weights.bin"));
    DownloadOptions o = xet_options();
    o.xet_local_max_chunks = max_chunks;
    o.disable_shared_blobs = true;  // else the removed B comes back from the shared store
    const std::uint64_t before = xorb_bytes();
    auto r = Downloader(o).download_file(file_request("weights.bin", "next", k_xet_repo));
    EXPECT_TRUE(r) << r.error().message;
    if (r) {
      EXPECT_EQ(read_file(r->path), b);
    }
    return xorb_bytes() - before;
  };
  EXPECT_LE(fetch_b(a_chunks), b.size() * 8 / 100);
  EXPECT_GE(fetch_b(0), b.size() * 90 / 100);
}

// A cached blob damaged after its record was written lends wrong chunks: the assembled file fails
// its SHA-256, and the file is fetched once more without local chunks (no fallback to the plain
// path, no error), never published wrong (the trial saw `--xet on` fail for good).
TEST_F(XetDownload, ADamagedCachedBlobIsNotTrustedTwice) {
  std::string b = a;
  b.replace(a.size() / 2, a.size() / 20, random_bytes(a.size() / 20, 8));
  server.add_file(k_xet_repo, c2, "weights.bin", b, /*lfs=*/true);
  server.set_ref(k_xet_repo, "next", c2);
  auto first = Downloader(xet_options(XetMode::On)).download_file(file_request("weights.bin", "main", k_xet_repo));
  ASSERT_TRUE(first) << first.error().message;
  {
    // Same size, other bytes at the start (a chunk B shares with A).
    const std::string blob = std::filesystem::canonical(layout(k_xet_repo).blob_path(a_sha));
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f);
    f.write("damaged!", 8);
  }
  const std::uint64_t before = xorb_bytes();
  auto r = Downloader(xet_options(XetMode::On)).download_file(file_request("weights.bin", "next", k_xet_repo));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), b);
  EXPECT_GE(xorb_bytes() - before, b.size());  // fetched whole the second time
  EXPECT_EQ(fallbacks(), 0u);
  EXPECT_EQ(cdn_bytes(), 0u);
}

TEST_F(XetDownload, AutoFallsBackToPlainHttpOnceAndTheBlobIsRight) {
  server.add_file(k_xet_repo, c1, "second.bin", random_bytes(2 << 20, 3), /*lfs=*/true);
  server.set_xet_fault(XetFault::OversizedChunkHeader);
  Downloader d(xet_options());
  SnapshotRequest req;
  req.repo_id = k_xet_repo.id;
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(layout(k_xet_repo).pointer_path(c1, "weights.bin")), a);
  EXPECT_EQ(fallbacks(), 1u);  // said once per run, not per file
  EXPECT_GT(cdn_bytes(), 0u);
  std::lock_guard lock(events_mutex);
  for (const auto& e : events)
    if (e.kind == DownloadEvent::Kind::XetFallback) {
      EXPECT_NE(e.message.find("131073"), std::string::npos) << e.message;  // the header's claim, named
    }
}

TEST_F(XetDownload, OnModeMakesAXetErrorTheDownloadsErrorAndPublishesNothing) {
  server.set_xet_fault(XetFault::WrongBytePlain);
  Downloader d(xet_options(XetMode::On));
  auto r = d.download_file(file_request("weights.bin", "main", k_xet_repo));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity) << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(layout(k_xet_repo).blob_path(a_sha)));
  EXPECT_EQ(cdn_bytes(), 0u);
}

TEST_F(XetDownload, OffAndHfHubDisableXetNeverAskTheCas) {
  Downloader d(xet_options(XetMode::Off));
  ASSERT_TRUE(d.download_file(file_request("weights.bin", "main", k_xet_repo)));
  EXPECT_EQ(xorb_bytes(), 0u);
  EXPECT_EQ(server.xet_tokens_issued(), 0);
  EXPECT_EQ(cdn_bytes(), a.size());

  const Config config = Config::from_env(Environment({{"HF_HUB_DISABLE_XET", "1"}, {"HF_HOME", dir / "home"}}));
  EXPECT_EQ(DownloadOptions::from_env(config).xet, XetMode::Off);
  const Config plain = Config::from_env(Environment({{"HF_HOME", dir / "home"}}));
  EXPECT_EQ(DownloadOptions::from_env(plain).xet, XetMode::Auto);
}

TEST_F(XetDownload, AnInterruptedXetDownloadIsResumedWithoutRefetchingFinishedTerms) {
  server.set_xet_options({4, std::chrono::seconds(3600), std::chrono::seconds(3600)});  // many small xorbs
  server.set_xet_fault(XetFault::CutXorbsAfter, 6);
  {
    Downloader d(xet_options(XetMode::On));
    ASSERT_FALSE(d.download_file(file_request("weights.bin", "main", k_xet_repo)));
  }
  const std::uint64_t first = xorb_bytes();
  server.set_xet_fault(XetFault::None);
  Downloader d(xet_options(XetMode::On));
  auto r = d.download_file(file_request("weights.bin", "main", k_xet_repo));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), a);
  const std::uint64_t second = xorb_bytes() - first;
  EXPECT_LT(second, server.xet_fetch_bytes(a_sha));
  EXPECT_GT(first + second, 0u);
}

// A file under the engine's split threshold: the plain path still resumes the split files a cut
// Xet download left (Job::resume_split_any_size), and leaves none behind.
TEST_F(XetDownload, AnAutoFallbackResumesWhatXetWrote) {
  server.set_xet_options({4, std::chrono::seconds(3600), std::chrono::seconds(3600)});  // many small xorbs
  server.set_xet_fault(XetFault::CutXorbsAfter, 6);
  DownloadOptions o = xet_options();
  o.disable_shared_blobs = true;
  Downloader d(o);
  auto r = d.download_file(file_request("weights.bin", "main", k_xet_repo));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path), a);
  EXPECT_EQ(fallbacks(), 1u);
  EXPECT_GT(cdn_bytes(), 0u);
  EXPECT_LT(cdn_bytes(), a.size());  // what Xet wrote was kept
  for (const auto& e : std::filesystem::directory_iterator(layout(k_xet_repo).blobs_dir()))
    EXPECT_EQ(e.path().filename().string(), a_sha);
}

// --local-dir over Xet (as huggingface_hub with hf_xet): the file is assembled in
// <LOCAL>/.cache/huggingface/download/, verified, moved into place, and its metadata written as
// the plain path writes it. No record and no shared store: the main cache is not touched.
struct XetLocalDir : XetDownload {
  std::string local = dir / "local";
  SnapshotRequest local_snapshot() const {
    SnapshotRequest req;
    req.repo_id = k_xet_repo.id;
    req.local_dir = local;
    return req;
  }
  FileRequest local_request(const std::string& name, const std::string& revision = "main") {
    FileRequest r = file_request(name, revision, k_xet_repo);
    r.local_dir = local;
    return r;
  }
  std::string download_dir() const { return local + "/.cache/huggingface/download"; }
  // The metadata file's commit and ETag lines (its third line is a timestamp).
  std::string metadata_head(const std::string& path) const {
    const std::string m = read_file(download_dir() + "/" + path + ".metadata");
    const auto second = m.find('\n', m.find('\n') + 1);
    return second == std::string::npos ? m : m.substr(0, second + 1);
  }
  // Files left in the download folder other than metadata and locks (split files, temp files).
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(download_dir())) {
      if (!e.is_regular_file()) continue;
      const std::string name = e.path().filename().string();
      if (!name.ends_with(".metadata") && !name.ends_with(".lock")) out.push_back(name);
    }
    return out;
  }
  std::size_t split_files() const {
    std::size_t n = 0;
    if (!std::filesystem::exists(download_dir())) return 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(download_dir()))
      n += e.path().filename().string().ends_with(".parts.incomplete");
    return n;
  }
};

TEST_F(XetLocalDir, FileComesFromXorbsWithItsMetadata) {
  Downloader d(xet_options());
  auto r = d.download_file(local_request("weights.bin"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, local + "/weights.bin");
  EXPECT_TRUE(r->transferred);
  EXPECT_EQ(read_file(local + "/weights.bin"), a);
  EXPECT_EQ(read_link(local + "/weights.bin"), "");  // a real file
  EXPECT_EQ(metadata_head("weights.bin"), c1 + "\n" + a_sha + "\n");
  EXPECT_EQ(xorb_bytes(), server.xet_fetch_bytes(a_sha));
  EXPECT_EQ(cdn_bytes(), 0u);
  EXPECT_EQ(server.count("GET", "/resolve/"), 0);  // the plain body was never asked for
  EXPECT_EQ(fallbacks(), 0u);
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
  // No record, no shared store, no repo folder: the main cache is not touched.
  EXPECT_FALSE(std::filesystem::exists(cache + "/models--org--xet"));
  EXPECT_FALSE(std::filesystem::exists(cache + "/blobs"));
  // The metadata makes the next call a no-op.
  const std::uint64_t before = xorb_bytes();
  auto again = d.download_file(local_request("weights.bin"));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->transferred);
  EXPECT_EQ(xorb_bytes(), before);
}

TEST_F(XetLocalDir, SnapshotOverXet) {
  Downloader d(xet_options());
  auto r = d.snapshot_download(local_snapshot());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(local + "/weights.bin"), a);
  EXPECT_EQ(read_file(local + "/config.json"), "{}");
  EXPECT_EQ(metadata_head("weights.bin"), c1 + "\n" + a_sha + "\n");
  EXPECT_EQ(metadata_head("config.json").substr(0, 41), c1 + "\n");
  EXPECT_EQ(xorb_bytes(), server.xet_fetch_bytes(a_sha));
  EXPECT_EQ(cdn_bytes(), 0u);
  EXPECT_EQ(fallbacks(), 0u);
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
  EXPECT_FALSE(std::filesystem::exists(cache + "/models--org--xet"));
}

TEST_F(XetLocalDir, AutoFallsBackToPlainHttpOnceAndTheFileIsRight) {
  server.add_file(k_xet_repo, c1, "second.bin", random_bytes(2 << 20, 3), /*lfs=*/true);
  server.set_xet_fault(XetFault::WrongBytePlain);  // every Xet attempt fails its SHA-256 check
  Downloader d(xet_options());
  auto r = d.snapshot_download(local_snapshot());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(local + "/weights.bin"), a);
  EXPECT_EQ(read_file(local + "/second.bin"), random_bytes(2 << 20, 3));
  EXPECT_EQ(metadata_head("weights.bin"), c1 + "\n" + a_sha + "\n");
  EXPECT_EQ(fallbacks(), 1u);  // said once per run, not per file
  EXPECT_GT(xorb_bytes(), 0u);
  EXPECT_EQ(cdn_bytes(), a.size() + (2u << 20));  // discarded Xet data is fetched whole
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
}

TEST_F(XetLocalDir, OnModeMakesAXetErrorTheDownloadsError) {
  server.set_xet_fault(XetFault::WrongBytePlain);
  Downloader d(xet_options(XetMode::On));
  auto r = d.download_file(local_request("weights.bin"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Integrity) << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(local + "/weights.bin"));
  EXPECT_FALSE(std::filesystem::exists(download_dir() + "/weights.bin.metadata"));
  EXPECT_EQ(cdn_bytes(), 0u);
}

TEST_F(XetLocalDir, OffNeverAsksTheCas) {
  Downloader d(xet_options(XetMode::Off));
  auto r = d.download_file(local_request("weights.bin"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(local + "/weights.bin"), a);
  EXPECT_EQ(metadata_head("weights.bin"), c1 + "\n" + a_sha + "\n");
  EXPECT_EQ(xorb_bytes(), 0u);
  EXPECT_EQ(server.xet_tokens_issued(), 0);
  EXPECT_EQ(server.count("GET", "/cas/"), 0);
  EXPECT_EQ(cdn_bytes(), a.size());
}

// A cut Xet download leaves its split files under .cache/huggingface/download/: a rerun over Xet
// fetches only the terms not yet written, and in auto mode the plain path resumes them.
TEST_F(XetLocalDir, ACutXetDownloadIsResumedOverXet) {
  server.set_xet_options({4, std::chrono::seconds(3600), std::chrono::seconds(3600)});  // many small xorbs
  server.set_xet_fault(XetFault::CutXorbsAfter, 6);
  {
    Downloader d(xet_options(XetMode::On));
    ASSERT_FALSE(d.download_file(local_request("weights.bin")));
  }
  EXPECT_EQ(split_files(), 1u);
  EXPECT_FALSE(std::filesystem::exists(local + "/weights.bin"));
  const std::uint64_t first = xorb_bytes();
  EXPECT_GT(first, 0u);
  server.set_xet_fault(XetFault::None);
  Downloader d(xet_options(XetMode::On));
  auto r = d.download_file(local_request("weights.bin"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(local + "/weights.bin"), a);
  EXPECT_EQ(metadata_head("weights.bin"), c1 + "\n" + a_sha + "\n");
  EXPECT_LT(xorb_bytes() - first, server.xet_fetch_bytes(a_sha));
  EXPECT_EQ(cdn_bytes(), 0u);
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
}

TEST_F(XetLocalDir, ACutXetDownloadIsResumedByThePlainPathInAuto) {
  server.set_xet_options({4, std::chrono::seconds(3600), std::chrono::seconds(3600)});
  server.set_xet_fault(XetFault::CutXorbsAfter, 6);
  Downloader d(xet_options());
  auto r = d.download_file(local_request("weights.bin"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(local + "/weights.bin"), a);
  EXPECT_EQ(metadata_head("weights.bin"), c1 + "\n" + a_sha + "\n");
  EXPECT_EQ(fallbacks(), 1u);
  EXPECT_GT(cdn_bytes(), 0u);
  EXPECT_LT(cdn_bytes(), a.size());  // what Xet wrote was kept
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
}

// The main cache's Xet records lend their chunks: with revision A cached, B into a local dir
// fetches about what changed.
TEST_F(XetLocalDir, ChunksOfTheMainCacheAreReused) {
  std::string b = a;
  const std::size_t changed = a.size() / 20, at = a.size() / 2 - changed / 2;
  b.replace(at, changed, random_bytes(changed, 8));
  server.add_file(k_xet_repo, c2, "weights.bin", b, /*lfs=*/true);
  server.set_ref(k_xet_repo, "next", c2);
  {
    Downloader d(xet_options());
    ASSERT_TRUE(d.download_file(file_request("weights.bin", "main", k_xet_repo)));  // A, into the cache
  }
  const std::uint64_t after_a = xorb_bytes();
  Downloader d(xet_options());
  auto r = d.download_file(local_request("weights.bin", "next"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(local + "/weights.bin"), b);
  EXPECT_EQ(metadata_head("weights.bin"), c2 + "\n" + sha256_hex(b) + "\n");
  EXPECT_LE(xorb_bytes() - after_a, b.size() * 8 / 100);
  EXPECT_EQ(cdn_bytes(), 0u);
  // The file's done event says what came over the network and what from the cache's chunks.
  {
    std::lock_guard lock(events_mutex);
    const auto done = std::find_if(events.rbegin(), events.rend(),  // B's (A's came first)
                                   [](const DownloadEvent& e) { return e.kind == DownloadEvent::Kind::FileDone; });
    ASSERT_NE(done, events.rend());
    EXPECT_EQ(done->file_downloaded, xorb_bytes() - after_a);
    EXPECT_GE(done->file_reused, b.size() * 90 / 100);
    EXPECT_LT(done->file_reused, b.size());
  }
  // Nothing of B was recorded in the cache (a local dir has no repo layout).
  EXPECT_FALSE(std::filesystem::exists(layout(k_xet_repo).blob_path(sha256_hex(b))));
}

}  // namespace
}  // namespace hubcache::test

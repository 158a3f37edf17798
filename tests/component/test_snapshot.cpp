// snapshot_download (docs/hub-protocol.md#snapshot-download, #offline-snapshot) and --local-dir mode
// (docs/cache-format.md#local-dir) against the test server.
#include <sys/stat.h>
#include <utime.h>

#include "download_seams.hpp"
#include "download_fixture.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/cache/store.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {
SnapshotRequest snap(const std::string& revision = "main") {
  SnapshotRequest r;
  r.repo_id = k_model.id;
  r.revision = revision;
  return r;
}
std::vector<std::string> paths(const SnapshotResult& r) {
  std::vector<std::string> out;
  for (const auto& f : r.files) out.push_back(f.path);
  return out;
}
}  // namespace

TEST_F(DownloadFixture, SnapshotDownloadsEverythingAndWritesTreeAndRef) {
  server.set_tree_page_size(2);
  Downloader d(options());
  auto r = d.snapshot_download(snap());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, layout().snapshot_dir(c1));
  EXPECT_EQ(r->commit, c1);
  EXPECT_EQ(paths(*r), (std::vector<std::string>{"config.json", "empty.txt", "model.safetensors", "sub/dir/notes.txt"}));
  EXPECT_EQ(read_file(r->path + "/model.safetensors"), weights);
  EXPECT_EQ(read_file(r->path + "/sub/dir/notes.txt"), "notes");
  EXPECT_EQ(read_file(layout().ref_path("main")), c1);
  auto tree = read_tree_file(layout(), c1);
  ASSERT_TRUE(tree && tree->has_value());
  EXPECT_EQ((*tree)->size(), 4u);
  EXPECT_EQ(server.count("HEAD", ""), 0);               // the tree gives ETags and sizes: no per-file HEAD
  EXPECT_EQ(read_use_records(layout()).count(c1), 1u);  // the download recorded its use (cache gc)
  // A cached commit with a tree file: zero requests (docs/hub-protocol.md#snapshot-download cost).
  server.clear_requests();
  auto again = d.snapshot_download(snap(c1));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(server.requests().size(), 0u);
  // A branch: one request (repo info).
  auto branch = d.snapshot_download(snap());
  ASSERT_TRUE(branch);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(DownloadFixture, SnapshotChecksFreeSpaceForTheWholePlanFirst) {
  auto o = options();
  // Enough for any single file of the repo, not for all of them together.
  const std::uint64_t total = weights.size() + std::string("{\"model\": 1}").size() + std::string("notes").size();
  detail::DownloadSeams seams;
  seams.free_space_fn = [&](const std::string&) -> Result<std::uint64_t> { return std::uint64_t{total - 1}; };
  Downloader d(o);
  detail::set_download_seams(d, seams);
  auto r = d.snapshot_download(snap());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::DiskFull);
  EXPECT_NE(r.error().message.find(std::to_string(total) + " bytes needed"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(std::to_string(total - 1) + " available"), std::string::npos) << r.error().message;
  EXPECT_EQ(server.count("GET", "/resolve/") + server.count("GET", "/cdn/"), 0);  // not one byte fetched
  EXPECT_FALSE(exists(layout().pointer_path(c1, "config.json")));
}

TEST_F(DownloadFixture, SnapshotIncludeExclude) {
  Downloader d(options());
  auto req = snap();
  req.allow_patterns = std::vector<std::string>{"*.json", "sub/"};
  req.ignore_patterns = {"sub/dir/*"};
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(paths(*r), std::vector<std::string>{"config.json"});
  EXPECT_EQ(r->repo_files, 4u);
  EXPECT_FALSE(exists(layout().pointer_path(c1, "model.safetensors")));
  EXPECT_EQ(server.count("GET", "/cdn/"), 0);
}

TEST_F(DownloadFixture, SnapshotPrRevision) {
  Downloader d(options());
  auto r = d.snapshot_download(snap("refs/pr/1"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->commit, c2);
  EXPECT_EQ(read_file(layout().ref_path("refs/pr/1")), c2);
  EXPECT_EQ(read_file(r->path + "/config.json"), "{\"model\": 2}");
}

TEST_F(DownloadFixture, DryRunPlansAndWritesNothing) {
  Downloader d(options());
  {
    auto one = snap();
    one.allow_patterns = std::vector<std::string>{"config.json"};
    ASSERT_TRUE(d.snapshot_download(one));
  }
  const std::string before = tree_fingerprint(dir.path());
  server.clear_requests();
  auto req = snap();
  req.dry_run = true;
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->files.size(), 4u);
  EXPECT_TRUE(r->files[0].cached);   // config.json
  EXPECT_FALSE(r->files[2].cached);  // model.safetensors
  EXPECT_EQ(r->files[2].size, weights.size());
  EXPECT_EQ(tree_fingerprint(dir.path()), before);
  EXPECT_EQ(server.count("GET", "/resolve/") + server.count("GET", "/cdn/"), 0);
}

TEST_F(DownloadFixture, HostileListingIsRefusedBeforeAnyWrite) {
  for (const std::string evil : {"../evil.txt", "/etc/passwd", "a/../../b", "C:\\x"}) {
    HubServer hostile;
    hostile.add_file(k_model, c1, "ok.txt", "ok");
    hostile.add_file(k_model, c1, evil, "evil");
    hostile.set_ref(k_model, "main", c1);
    auto o = options();
    o.endpoint = hostile.endpoint();
    Downloader d(o);
    const std::string before = tree_fingerprint(dir.path());
    auto r = d.snapshot_download(snap());
    ASSERT_FALSE(r) << evil;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidPath) << evil;
    EXPECT_EQ(tree_fingerprint(dir.path()), before) << evil;
    EXPECT_FALSE(exists(dir / "evil.txt"));
  }
}

TEST_F(DownloadFixture, HostileCommitFromRepoInfoIsRefused) {
  server.set_hostile_commit("../../x");
  Downloader d(options());
  auto r = d.snapshot_download(snap());
  ASSERT_FALSE(r);
  EXPECT_FALSE(exists(cache + "/x"));
  EXPECT_FALSE(exists(layout().folder() + "/x"));
}

TEST_F(DownloadFixture, SnapshotOfflineWithAndWithoutFilesVector13_28) {
  auto o = options();
  o.offline = true;
  {
    Downloader off(o);
    auto none = off.snapshot_download(snap());
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, ErrorCode::LocalEntryNotFound);
  }
  {
    Downloader d(options());
    ASSERT_TRUE(d.snapshot_download(snap()));
  }
  server.clear_requests();
  Downloader off(o);
  auto hit = off.snapshot_download(snap());
  ASSERT_TRUE(hit) << hit.error().message;
  EXPECT_EQ(hit->path, layout().snapshot_dir(c1));
  EXPECT_TRUE(hit->from_cache_only);
  ::unlink(layout().pointer_path(c1, "model.safetensors").c_str());
  auto incomplete = off.snapshot_download(snap());
  ASSERT_FALSE(incomplete);
  EXPECT_EQ(incomplete.error().code, ErrorCode::IncompleteSnapshot);
  EXPECT_EQ(incomplete.error().missing, std::vector<std::string>{"model.safetensors"});
  auto dry = snap();
  dry.dry_run = true;
  EXPECT_FALSE(off.snapshot_download(dry));
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST_F(DownloadFixture, SnapshotFallsBackToCacheWhenHubIsDown) {
  {
    Downloader d(options());
    ASSERT_TRUE(d.snapshot_download(snap()));
  }
  server.add_fault(Fault::http_status("GET", "/api/", 500, -1));
  Downloader d(options());
  auto r = d.snapshot_download(snap());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->from_cache_only);
  EXPECT_FALSE(r->warnings.empty());
}

TEST_F(DownloadFixture, SnapshotRetriesTransientErrorsWhenNothingIsCached) {
  server.add_fault(Fault::http_status("GET", "/api/", 503, 2));
  Downloader d(options());
  auto r = d.snapshot_download(snap());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(r->path + "/config.json"), "{\"model\": 1}");
}

TEST_F(DownloadFixture, LocalDirLayoutVector13_29) {
  server.add_file(k_model, c1, "file.txt", "hello");
  Downloader d(options());
  auto req = snap();
  req.local_dir = dir / "local";
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  const std::string local = dir / "local";
  EXPECT_EQ(r->path, local);
  EXPECT_EQ(read_file(local + "/sub/dir/notes.txt"), "notes");
  EXPECT_EQ(read_link(local + "/config.json"), "");  // a real file, never a symlink
  const std::string meta = read_file(local + "/.cache/huggingface/download/sub/dir/notes.txt.metadata");
  EXPECT_EQ(std::count(meta.begin(), meta.end(), '\n'), 3);
  EXPECT_EQ(meta.substr(0, 41), c1 + "\n");
  EXPECT_TRUE(exists(local + "/.cache/huggingface/download/sub/dir/notes.txt.lock"));
  EXPECT_EQ(read_file(local + "/.cache/huggingface/.gitignore"), "*");
  EXPECT_EQ(read_file(local + "/.cache/huggingface/CACHEDIR.TAG").substr(0, 10), "Signature:");
  EXPECT_TRUE(exists(local + "/.cache/huggingface/trees/" + c1 + ".json"));
  EXPECT_FALSE(exists(cache + "/models--org--model"));  // the cache is not touched
}

TEST_F(DownloadFixture, LocalDirTempNameVector13_29) {
  // The temp name for file.txt starts with urlsafe_b64(sha1("file.txt.metadata")).
  server.add_file(k_model, c1, "file.txt", "hello");
  server.set_throttle(0);
  auto o = options();
  std::string seen;
  detail::DownloadSeams seams;
  seams.write_fn = [&](int fd, const void* d, std::size_t n, off_t off) -> ssize_t {
    char link[64];
    char path[4096];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t len = ::readlink(link, path, sizeof path - 1);
    if (len > 0) seen.assign(path, static_cast<std::size_t>(len));
    return ::pwrite(fd, d, n, off);
  };
  Downloader d(o);
  detail::set_download_seams(d, seams);
  FileRequest f;
  f.repo_id = k_model.id;
  f.filename = "file.txt";
  f.local_dir = dir / "local";
  ASSERT_TRUE(d.download_file(f));
  const std::string base = seen.substr(seen.rfind('/') + 1);
  EXPECT_EQ(base.rfind("-cBLXcT-p5K-naX2rfKJhBZ6mEc=.", 0), 0u) << seen;
}

TEST_F(DownloadFixture, LocalDirStalenessVector13_30) {
  Downloader d(options());
  FileRequest f;
  f.repo_id = k_model.id;
  f.local_dir = dir / "local";
  const std::string local = dir / "local";
  f.filename = "config.json";
  ASSERT_TRUE(d.download_file(f));
  f.filename = "model.safetensors";
  ASSERT_TRUE(d.download_file(f));
  // A commit revision equal to the metadata commit: 0 requests.
  server.clear_requests();
  f.revision = c1;
  auto pinned = d.download_file(f);
  ASSERT_TRUE(pinned);
  EXPECT_EQ(server.requests().size(), 0u);
  f.revision = "main";
  // Touch both files into the future: their metadata becomes stale.
  const auto future = ::time(nullptr) + 100;
  for (const char* name : {"config.json", "model.safetensors"}) {
    struct utimbuf t {
      future, future
    };
    ::utime((local + "/" + name).c_str(), &t);
  }
  server.clear_requests();
  f.filename = "config.json";
  auto regular = d.download_file(f);
  ASSERT_TRUE(regular);
  EXPECT_TRUE(regular->transferred);  // non-LFS: downloaded again
  f.filename = "model.safetensors";
  auto lfs = d.download_file(f);
  ASSERT_TRUE(lfs);
  EXPECT_FALSE(lfs->transferred);  // LFS whose SHA-256 matches: only metadata rewritten
  EXPECT_EQ(server.count("GET", "/cdn/"), 0);
}

TEST_F(DownloadFixture, LocalDirTakesCachedFilesWithoutTransfer) {
  Downloader d(options());
  ASSERT_TRUE(d.snapshot_download(snap()));
  server.clear_requests();
  auto req = snap();
  req.local_dir = dir / "local";
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(dir / "local/model.safetensors"), weights);
  EXPECT_EQ(server.count("GET", "/cdn/") + server.count("GET", "/resolve/"), 0);
  EXPECT_EQ(r->bytes_transferred, 0u);
}

TEST_F(DownloadFixture, HostileEtagInListingIsRefused) {
  for (const std::string etag : {"../../x", "a/b", ".."}) {
    server.set_hostile_etag(etag);
    Downloader d(options());
    const std::string before = tree_fingerprint(dir.path());
    auto r = d.snapshot_download(snap(c1));
    ASSERT_FALSE(r) << etag;
    EXPECT_NE(r.error().message.find("unsafe ETag"), std::string::npos) << r.error().message;
    EXPECT_EQ(tree_fingerprint(dir.path()), before) << etag;
  }
}

TEST_F(DownloadFixture, OptionsFromConfig) {
  Environment env({{"HF_ENDPOINT", server.endpoint() + "/"},
                   {"HF_HUB_CACHE", cache},
                   {"HF_TOKEN", "hf_fromenv"},
                   {"HF_HUB_OFFLINE", "1"},
                   {"HF_HUB_DOWNLOAD_TIMEOUT", "7"},
                   {"HOME", dir.path()}});
  const auto o = Downloader::Options::from_env(Config::from_env(env));
  EXPECT_EQ(o.endpoint, server.endpoint());
  EXPECT_EQ(o.cache_dir, cache);
  EXPECT_EQ(o.token, "hf_fromenv");
  EXPECT_TRUE(o.offline);
  EXPECT_EQ(o.download_timeout, std::chrono::seconds(7));
}

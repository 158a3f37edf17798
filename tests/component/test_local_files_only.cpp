// Per-call local_files_only (docs/hub-protocol.md#download-file steps 3-4, #offline-snapshot, vector 11): resolved from the cache
// like offline mode, with no socket opened, and errors that name local_files_only.
#include <unistd.h>

#include "download_fixture.hpp"
#include "hubcache/resolve/offline.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

FileRequest file(const std::string& name, const std::string& revision = "main") {
  FileRequest r;
  r.repo_id = k_model.id;
  r.filename = name;
  r.revision = revision;
  r.local_files_only = true;
  return r;
}

SnapshotRequest snap(const std::string& revision = "main") {
  SnapshotRequest r;
  r.repo_id = k_model.id;
  r.revision = revision;
  r.local_files_only = true;
  return r;
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

struct LocalFilesOnly : DownloadFixture {
  int connections_before = 0;
  // Fills the cache with the whole repo online, then forgets what the server saw.
  void cache_everything() {
    Downloader online(options());
    SnapshotRequest all;
    all.repo_id = k_model.id;
    auto r = online.snapshot_download(all);
    ASSERT_TRUE(r) << r.error().message;
  }
  void start_counting() {
    server.clear_requests();
    connections_before = server.connections();
  }
  void expect_no_network() const {
    EXPECT_EQ(server.requests().size(), 0u);
    EXPECT_EQ(server.connections(), connections_before) << "a socket was opened";
  }
};

}  // namespace

TEST_F(LocalFilesOnly, ForceDownloadIsRefusedBeforeAnyRequestVector13_11) {
  ASSERT_NO_FATAL_FAILURE(cache_everything());
  start_counting();
  Downloader d(options());  // online options: only the request forbids the network
  auto forced = file("config.json");
  forced.force_download = true;
  auto f = d.download_file(forced);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::InvalidArgument);
  EXPECT_TRUE(contains(f.error().message, "can't combine force_download and local_files_only")) << f.error().message;
  auto uncached = file("not-there.bin");
  uncached.force_download = true;
  auto u = d.download_file(uncached);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, ErrorCode::InvalidArgument);

  auto forced_snap = snap();
  forced_snap.force_download = true;
  auto s = d.snapshot_download(forced_snap);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::InvalidArgument);
  EXPECT_TRUE(contains(s.error().message, "can't combine force_download and local_files_only")) << s.error().message;
  expect_no_network();
}

TEST_F(LocalFilesOnly, CachedFileIsReturnedWithoutNetwork) {
  ASSERT_NO_FATAL_FAILURE(cache_everything());
  start_counting();
  Downloader d(options());
  auto by_branch = d.download_file(file("config.json"));
  ASSERT_TRUE(by_branch) << by_branch.error().message;
  EXPECT_EQ(by_branch->path, layout().pointer_path(c1, "config.json"));
  EXPECT_EQ(by_branch->commit, c1);
  EXPECT_FALSE(by_branch->transferred);
  EXPECT_EQ(read_file(by_branch->path), "{\"model\": 1}");
  auto by_tag = d.download_file(file("sub/dir/notes.txt", "v1.0"));
  ASSERT_FALSE(by_tag);  // no refs/v1.0 was written by the snapshot of main
  EXPECT_EQ(by_tag.error().code, ErrorCode::LocalEntryNotFound);
  auto by_commit = d.download_file(file("sub/dir/notes.txt", c1));
  ASSERT_TRUE(by_commit) << by_commit.error().message;
  EXPECT_EQ(read_file(by_commit->path), "notes");
  expect_no_network();

  // The flag is per call: the same Downloader goes to the Hub without it.
  auto online = file("config.json");
  online.local_files_only = false;
  ASSERT_TRUE(d.download_file(online));
  EXPECT_GT(server.requests().size(), 0u);
}

TEST_F(LocalFilesOnly, MissingFileFailsNamingItAndTheFlag) {
  Downloader d(options());
  auto first = file("config.json");
  first.local_files_only = false;
  ASSERT_TRUE(d.download_file(first));  // the repo is cached, these files are not
  start_counting();
  for (const std::string& name : {std::string("model.safetensors"), std::string("sub/dir/notes.txt")}) {
    auto r = d.download_file(file(name));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::LocalEntryNotFound);
    EXPECT_EQ(r.error().missing, std::vector<std::string>{name});
    EXPECT_TRUE(contains(r.error().message, "'" + name + "'")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "set local_files_only=false")) << r.error().message;
    EXPECT_FALSE(contains(r.error().message, "HF_HUB_OFFLINE")) << r.error().message;
  }
  // An uncached repo altogether.
  auto other = file("config.json");
  other.repo_id = "org/unknown";
  auto o = d.download_file(other);
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().code, ErrorCode::LocalEntryNotFound);
  expect_no_network();
  EXPECT_FALSE(exists(RepoLayout(cache, RepoRef{RepoType::Model, "org/unknown"}).folder()));
}

TEST_F(LocalFilesOnly, NamesLocalFilesOnlyEvenWhenAlsoOffline) {
  auto o = options();
  o.offline = true;
  Downloader d(o);
  start_counting();
  auto missing = d.download_file(file("config.json"));
  ASSERT_FALSE(missing);
  EXPECT_TRUE(contains(missing.error().message, "local_files_only")) << missing.error().message;
  auto forced = file("config.json");
  forced.force_download = true;
  auto f = d.download_file(forced);
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.error().message, "local_files_only")) << f.error().message;
  // Offline alone keeps its own wording.
  auto plain = file("config.json");
  plain.local_files_only = false;
  auto p = d.download_file(plain);
  ASSERT_FALSE(p);
  EXPECT_TRUE(contains(p.error().message, "HF_HUB_OFFLINE")) << p.error().message;
  EXPECT_FALSE(contains(p.error().message, "local_files_only")) << p.error().message;
  expect_no_network();
}

TEST_F(LocalFilesOnly, LocalDirModeUsesOnlyTheLocalDir) {
  const std::string local = dir / "local";
  Downloader d(options());
  start_counting();
  auto req = file("config.json");
  req.local_dir = local;
  auto miss = d.download_file(req);
  ASSERT_FALSE(miss);
  EXPECT_EQ(miss.error().code, ErrorCode::LocalEntryNotFound);
  EXPECT_EQ(miss.error().missing, std::vector<std::string>{"config.json"});
  EXPECT_TRUE(contains(miss.error().message, "local_files_only")) << miss.error().message;
  write_file(local + "/config.json", "mine");
  auto hit = d.download_file(req);
  ASSERT_TRUE(hit) << hit.error().message;
  EXPECT_EQ(read_file(hit->path), "mine");
  ASSERT_EQ(hit->warnings.size(), 1u);
  EXPECT_TRUE(contains(hit->warnings[0], "local_files_only")) << hit->warnings[0];
  expect_no_network();
}

TEST_F(LocalFilesOnly, SnapshotWithoutCacheFailsWithoutNetwork) {
  Downloader d(options());
  start_counting();
  auto r = d.snapshot_download(snap());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::LocalEntryNotFound);
  EXPECT_TRUE(contains(r.error().message, "set local_files_only=false")) << r.error().message;
  EXPECT_TRUE(contains(r.error().message, k_model.id)) << r.error().message;
  auto pinned = d.snapshot_download(snap(c1));  // a commit revision still makes no call
  ASSERT_FALSE(pinned);
  EXPECT_EQ(pinned.error().code, ErrorCode::LocalEntryNotFound);
  auto dry = snap();
  dry.dry_run = true;
  auto dr = d.snapshot_download(dry);
  ASSERT_FALSE(dr);
  EXPECT_TRUE(contains(dr.error().message, "local_files_only")) << dr.error().message;
  expect_no_network();
  EXPECT_FALSE(exists(cache));
}

TEST_F(LocalFilesOnly, SnapshotFromCacheWithoutNetwork) {
  ASSERT_NO_FATAL_FAILURE(cache_everything());
  start_counting();
  Downloader d(options());
  auto r = d.snapshot_download(snap());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, layout().snapshot_dir(c1));
  EXPECT_EQ(r->commit, c1);
  EXPECT_TRUE(r->from_cache_only);
  EXPECT_EQ(r->files.size(), 4u);
  auto filtered = snap();
  filtered.allow_patterns = std::vector<std::string>{"*.json"};
  auto f = d.snapshot_download(filtered);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->files.size(), 1u);
  EXPECT_EQ(f->files[0].path, "config.json");
  // trees/<commit>.json lists a file whose pointer is gone: IncompleteSnapshot (docs/hub-protocol.md#offline-snapshot).
  ASSERT_EQ(::unlink(layout().pointer_path(c1, "empty.txt").c_str()), 0);
  auto incomplete = d.snapshot_download(snap());
  ASSERT_FALSE(incomplete);
  EXPECT_EQ(incomplete.error().code, ErrorCode::IncompleteSnapshot);
  EXPECT_EQ(incomplete.error().missing, std::vector<std::string>{"empty.txt"});
  expect_no_network();
}

// Issue 9 section 3: a repo cached by commit only (no refs/main). Every offline miss names the
// cached commit and the --revision to use -- the Downloader's errors (file and snapshot) as well
// as try_to_load_from_cache and resolve_snapshot -- from one builder; a revision that is cached
// gets no such hint.
TEST_F(LocalFilesOnly, WithoutTheRefEveryOfflineMissNamesTheCachedCommits) {
  ASSERT_NO_FATAL_FAILURE(cache_everything());
  ASSERT_EQ(::unlink(layout().ref_path("main").c_str()), 0);
  start_counting();
  const std::string held = "The cache holds a snapshot at commit " + c1 + ": use that commit as the revision.";
  // The library names the commit as the remedy; the CLI turns that into its flag (CliHints).
  auto offers_c1 = [&](const Error& e) { return e.remedy == Remedy::UseRevision && e.remedy_value == c1; };
  Downloader d(options());
  auto f = d.download_file(file("config.json"));
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::LocalEntryNotFound);
  EXPECT_TRUE(contains(f.error().message, held)) << f.error().message;
  EXPECT_TRUE(offers_c1(f.error())) << to_string(f.error().remedy) << " " << f.error().remedy_value;
  auto s = d.snapshot_download(snap());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::LocalEntryNotFound);
  EXPECT_TRUE(contains(s.error().message, held)) << s.error().message;
  EXPECT_TRUE(offers_c1(s.error())) << to_string(s.error().remedy) << " " << s.error().remedy_value;
  auto looked = try_to_load_from_cache(k_model.id, "config.json", {"main", RepoType::Model, cache});
  ASSERT_TRUE(looked) << looked.error().message;
  EXPECT_EQ(looked->kind, CacheLookup::Kind::NotCached);
  EXPECT_EQ(looked->hint, " " + held);
  EXPECT_EQ(looked->cached_commit, c1);
  SnapshotLookupOptions so;
  so.cache_dir = cache;
  auto resolved = resolve_snapshot(k_model.id, so);
  ASSERT_FALSE(resolved);
  EXPECT_TRUE(contains(resolved.error().message, held)) << resolved.error().message;
  EXPECT_TRUE(offers_c1(resolved.error())) << to_string(resolved.error().remedy);
  // The commit itself is cached: it resolves, and a file it lacks gets no other commit offered.
  ASSERT_TRUE(d.download_file(file("config.json", c1)));
  ASSERT_TRUE(d.snapshot_download(snap(c1)));
  auto lacking = d.download_file(file("absent.txt", c1));
  ASSERT_FALSE(lacking);
  EXPECT_FALSE(contains(lacking.error().message, "The cache holds")) << lacking.error().message;
  EXPECT_EQ(cached_commits_hint(k_model, c1, cache).text, "");
  EXPECT_NE(lacking.error().remedy, Remedy::UseRevision);
  // A ref to a commit without a snapshot folder: the cached one is offered.
  write_file(layout().ref_path("main"), c2);
  EXPECT_EQ(cached_commits_hint(k_model, "main", cache).text, " " + held);
  EXPECT_EQ(cached_commits_hint(k_model, "main", cache).commit, c1);
  expect_no_network();
}

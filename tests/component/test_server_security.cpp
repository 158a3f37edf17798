// Hostile input against the mirror: traversal in every spelling, escaping symlinks, private
// repos, malformed and oversized requests, slow and idle clients, too many connections.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "folder_symlinks.hpp"
#include "tiny_repo_fixture.hpp"

namespace hubcache::test {
namespace {

const std::string k_secret = "TOP-SECRET-CONTENT";

class Security : public TinyRepoFixture {
 protected:
  void SetUp() override {
    TinyRepoFixture::SetUp();
    write_file(tmp.path() + "/secret.txt", k_secret);  // outside the cache
    cache.write_raw("loose.txt", k_secret);            // inside the cache, outside any snapshot
  }
  void expect_no_file(const std::string& path, const std::string& why) {
    auto r = http("GET", url(path));
    EXPECT_TRUE(r.status == 404 || r.status == 400) << why << ": " << path << " -> " << r.status;
    EXPECT_EQ(r.body.find(k_secret), std::string::npos) << why << ": " << path;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << why << ": " << path;
  }
};

TEST_F(Security, TraversalInEverySpellingIsA404) {
  start();
  const std::vector<std::string> attempts = {
      "/org/tiny/resolve/main/../../../secret.txt",
      "/org/tiny/resolve/main/..%2F..%2F..%2Fsecret.txt",
      "/org/tiny/resolve/main/%2e%2e/%2e%2e/%2e%2e/secret.txt",
      "/org/tiny/resolve/main/%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
      "/org/tiny/resolve/main/sub/..%5C..%5C..%5C..%5Csecret.txt",
      "/org/tiny/resolve/main/sub\\..\\..\\..\\..\\secret.txt",
      "/org/tiny/resolve/main/%2Fetc%2Fpasswd",
      "/org/tiny/resolve/main//etc/passwd",
      "/org/tiny/resolve/main/C:%5Cwindows",
      "/org/tiny/resolve/main/config.json%00.txt",
      "/org/tiny/resolve/main/./config.json",
      "/org/tiny/resolve/main/sub/./a.txt",
      "/org/tiny/resolve/..%2F..%2F..%2Floose.txt/config.json",
      "/org/tiny/resolve/..%2Fblobs/config.json",
      "/org/tiny/resolve/%2E%2E/config.json",
      "/org/tiny/resolve/main%00/config.json",
      "/../loose.txt",
      "/org/..%2F..%2Floose.txt/resolve/main/x",
      "/api/models/org/tiny/tree/main/..%2F..",
      "/api/models/org/tiny/tree/..%2F..%2F..",
      "/_blobs/models--org--tiny/..%2F..%2Floose.txt",
      "/_blobs/..%2F..%2Fsecret.txt/" + std::string(64, 'a'),
  };
  for (const auto& a : attempts) expect_no_file(a, "traversal");
  // The tree listing of the parent of the snapshot is refused, not listed.
  auto t = http("GET", url("/api/models/org/tiny/tree/main/..?recursive=true"));
  EXPECT_EQ(t.status, 404);
}

TEST_F(Security, SymlinksLeavingTheRepoOrPointingAtPartialBlobsAreNotServed) {
  const std::string snap = cache.layout(k_tiny).snapshot_dir(c1);
  std::filesystem::create_symlink(tmp.path() + "/secret.txt", snap + "/abs-escape.txt");
  std::filesystem::create_symlink("../../../../secret.txt", snap + "/rel-escape.txt");
  std::filesystem::create_symlink("../../../loose.txt", snap + "/loose.txt");
  std::filesystem::create_symlink("/etc/passwd", snap + "/passwd");
  write_file(cache.layout(k_tiny).blobs_dir() + "/" + std::string(64, 'b') + ".incomplete", k_secret);
  std::filesystem::create_symlink("../../blobs/" + std::string(64, 'b') + ".incomplete", snap + "/partial.bin");
  // Another repo's blob is not this repo's content.
  const RepoRef other{RepoType::Model, "org/other"};
  const std::string oid = cache.add_file(other, c1, "x.txt", k_secret);
  std::filesystem::create_symlink("../../../models--org--other/blobs/" + oid, snap + "/foreign.txt");
  // A directory symlink out of the snapshot.
  std::filesystem::create_symlink(tmp.path(), snap + "/outside");
  start();
  for (const char* p :
       {"abs-escape.txt", "rel-escape.txt", "loose.txt", "passwd", "partial.bin", "foreign.txt", "outside/secret.txt"})
    expect_no_file(std::string("/org/tiny/resolve/main/") + p, "symlink");
  auto tree = nlohmann::json::parse(http("GET", url("/api/models/org/tiny/tree/main?recursive=true")).body);
  std::vector<std::string> listed;
  for (const auto& e : tree) listed.push_back(e["path"]);
  EXPECT_EQ(listed, (std::vector<std::string>{"config.json", "sub", "sub/a.txt"}));
}

// huggingface_hub >= 1.32 shared blob store: pointer -> <repo>/blobs/<etag> -> the marked store's
// <cache>/blobs/<h[:2]>/<h> (a regular file) is served; every other second hop is refused.
TEST_F(Security, SharedStoreLinksAreServedOnlyWhenTheyNameAPayloadExactly) {
  namespace stdfs = std::filesystem;
  const std::string root = cache.root();
  const RepoLayout l = cache.layout(k_tiny);
  cache.mark_shared_store();
  const std::string good = "5a" + std::string(62, '5');
  cache.add_shared_file(k_tiny, c1, "shared.bin", "SHARED-OK", good);
  // A repo entry (named like an LFS blob) linking to `target`, and a pointer to it.
  auto hostile = [&](const std::string& name, const std::string& target) {
    const std::string etag = sha256(name);
    stdfs::create_symlink(target, l.blob_path(etag));
    cache.add_pointer(k_tiny, c1, name, etag);
  };
  hostile("loose.bin", "../../loose.txt");                                // in the cache, not the store
  hostile("abs-secret.bin", tmp.path() + "/secret.txt");                  // outside the cache
  hostile("dotdot.bin", "../../blobs/..");                                // the store's parent
  hostile("store-dir.bin", "../../blobs/" + good.substr(0, 2));           // a directory
  hostile("wrong-prefix.bin", "../../blobs/77/" + good);                  // hash under another prefix
  write_file(tmp.path() + "/outside/" + std::string(64, '7'), k_secret);  // a symlinked prefix dir
  stdfs::create_symlink(tmp.path() + "/outside", root + "/blobs/77");
  hostile("prefix-link.bin", "../../blobs/77/" + std::string(64, '7'));
  const std::string link_payload = "8c" + std::string(62, '8');  // the payload is a symlink
  stdfs::create_directories(root + "/blobs/8c");
  stdfs::create_symlink(tmp.path() + "/secret.txt", root + "/blobs/8c/" + link_payload);
  hostile("payload-link.bin", "../../blobs/8c/" + link_payload);
  // A partial download's name linking into the store is still a partial download.
  const std::string partial = sha256("p") + ".incomplete";
  stdfs::create_symlink("../../blobs/" + good.substr(0, 2) + "/" + good, l.blob_path(partial));
  stdfs::create_symlink("../../blobs/" + partial, l.snapshot_dir(c1) + "/partial.bin");
  start();

  auto redirect = http("GET", url("/org/tiny/resolve/main/shared.bin"));
  ASSERT_EQ(redirect.status, 302) << redirect.body;
  EXPECT_EQ(redirect.header("x-linked-size"), "9");
  EXPECT_EQ(redirect.header("x-linked-etag"), "\"" + sha256("SHARED-OK") + "\"");
  auto body = http("GET", redirect.header("location"));
  EXPECT_EQ(body.status, 200);
  EXPECT_EQ(body.body, "SHARED-OK");
  for (const char* p : {"loose.bin", "abs-secret.bin", "dotdot.bin", "store-dir.bin", "wrong-prefix.bin", "prefix-link.bin",
                        "payload-link.bin", "partial.bin"})
    expect_no_file(std::string("/org/tiny/resolve/main/") + p, "shared store link");
  auto tree = nlohmann::json::parse(http("GET", url("/api/models/org/tiny/tree/main?recursive=true")).body);
  std::vector<std::string> listed;
  for (const auto& e : tree) listed.push_back(e["path"]);
  EXPECT_EQ(listed, (std::vector<std::string>{"config.json", "shared.bin", "sub", "sub/a.txt"}));
}

TEST_F(Security, AnUnmarkedStoreIsNotServed) {
  cache.mark_shared_store();
  cache.add_shared_file(k_tiny, c1, "shared.bin", "SHARED", "5a" + std::string(62, '5'));
  std::filesystem::remove(cache.root() + "/blobs/.huggingface-shared-blobs");
  start();
  expect_no_file("/org/tiny/resolve/main/shared.bin", "unmarked store");
}

TEST_F(Security, RepoFolderSymlinkedOutsideTheCacheIsNotFound) {
  std::filesystem::create_directories(tmp.path() + "/elsewhere/models--evil--repo/snapshots/" + c1);
  write_file(tmp.path() + "/elsewhere/models--evil--repo/refs/main", c1);
  write_file(tmp.path() + "/elsewhere/models--evil--repo/snapshots/" + c1 + "/s.txt", k_secret);
  std::filesystem::create_directory_symlink(tmp.path() + "/elsewhere/models--evil--repo", cache.root() + "/models--evil--repo");
  start();
  auto r = http("GET", url("/evil/repo/resolve/main/s.txt"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("x-error-code"), "RepoNotFound");
  EXPECT_EQ(r.body.find(k_secret), std::string::npos);
}

// The cache's one folder rule (cache/folders.hpp): like `cache ls` and `verify`, the mirror never
// follows a repo folder, snapshots/ or snapshot that is a symlink, even to a healthy repo.
TEST_F(Security, SymlinkedRepoSnapshotsAndSnapshotFoldersAreNeverServed) {
  const RepoRef evil{RepoType::Model, "evil/linked"};
  const std::string c = commit_id(9);
  start([](server::ServerOptions& o) { o.router.revalidate_after = std::chrono::milliseconds(0); });
  for (const auto which : k_linked_folders) {
    TempDir outside;
    link_folder_out(cache.root(), outside.path(), evil, c, which);
    for (const auto& rev : {std::string("main"), c}) {
      auto r = http("GET", url("/evil/linked/resolve/" + rev + "/config.json"));
      EXPECT_NE(r.status, 200) << to_string(which) << " " << rev;
      EXPECT_EQ(r.body.find("outside"), std::string::npos) << to_string(which) << ": " << r.body;
      auto tree = http("GET", url("/api/models/evil/linked/tree/" + rev));
      EXPECT_NE(tree.status, 200) << to_string(which) << " " << rev << ": " << tree.body;
      EXPECT_EQ(tree.body.find("config.json"), std::string::npos) << to_string(which) << ": " << tree.body;
    }
    if (which != LinkedFolder::Snapshot) {  // the repo itself is unknown, as for a missing one
      auto info = http("GET", url("/api/models/evil/linked"));
      EXPECT_EQ(info.status, 401) << to_string(which);
      EXPECT_EQ(info.header("x-error-code"), "RepoNotFound") << to_string(which);
    }
    std::filesystem::remove_all(RepoLayout(cache.root(), evil).folder());
  }
}

TEST_F(Security, PrivateReposNeedAValidBearerToken) {
  const RepoRef secret{RepoType::Model, "org/private"};
  cache.add_file(secret, c1, "weights.bin", "private bytes");
  cache.add_ref(secret, "main", c1);
  start([](server::ServerOptions& o) {
    o.router.private_repos = {"org/private"};
    o.router.tokens = {"hf_goodtoken", "hf_second"};
  });
  const std::string u = url("/org/private/resolve/main/weights.bin");
  auto none = http("GET", u);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("x-error-code"), "RepoNotFound");
  EXPECT_EQ(none.body.find("private bytes"), std::string::npos);
  auto bad = http("GET", u, {"Authorization: Bearer hf_goodtokeN"});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.header("x-error-code"), "RepoNotFound");
  EXPECT_EQ(http("GET", u, {"Authorization: Bearer hf_goodtoken0"}).status, 401);  // a longer token
  EXPECT_EQ(http("GET", u, {"Authorization: Basic hf_goodtoken"}).status, 401);
  auto good = http("GET", u, {"Authorization: Bearer hf_goodtoken"});
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.body, "private bytes");
  EXPECT_EQ(http("GET", u, {"Authorization: Bearer hf_second"}).status, 200);
  EXPECT_EQ(http("GET", u, {"Authorization: BEARER  hf_second "}).status, 200);  // scheme case and spaces
  EXPECT_EQ(http("GET", url("/api/models/org/private")).status, 401);
  EXPECT_EQ(http("GET", url("/api/models/org/private"), {"Authorization: Bearer hf_second"}).status, 200);
  EXPECT_EQ(
      nlohmann::json::parse(http("GET", url("/api/models/org/private"), {"Authorization: Bearer hf_second"}).body)["private"],
      true);
  // Public repos need nothing.
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/config.json")).status, 200);
  // The token is never logged.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (const auto& l : logs()) EXPECT_EQ(l.find("hf_goodtoken"), std::string::npos) << l;
}

// Like the Hub: without a token that may read it, a private repo and a missing one get the same
// answer (401 RepoNotFound, the Hub's message), so the mirror never tells whether one exists.
TEST_F(Security, MissingAndPrivateReposLookAlikeWithoutAToken) {
  const RepoRef secret{RepoType::Model, "org/private"};
  cache.add_file(secret, c1, "weights.bin", "private bytes");
  cache.add_ref(secret, "main", c1);
  start([](server::ServerOptions& o) {
    o.router.private_repos = {"org/private"};
    o.router.tokens = {"hf_goodtoken"};
  });
  auto same = [](const HttpResult& a, const HttpResult& b) {
    return a.status == b.status && a.header("x-error-code") == b.header("x-error-code") &&
           a.header("x-error-message") == b.header("x-error-message") && a.body == b.body;
  };
  for (const std::vector<std::string>& auth :
       {std::vector<std::string>{}, std::vector<std::string>{"Authorization: Bearer hf_a_hub_token"},
        std::vector<std::string>{"Authorization: Basic eDp5"}}) {
    for (const auto& [priv, missing] :
         {std::pair{"/org/private/resolve/main/weights.bin", "/org/absent/resolve/main/weights.bin"},
          {"/api/models/org/private", "/api/models/org/absent"},
          {"/api/models/org/private/tree/main", "/api/models/org/absent/tree/main"}}) {
      const auto p = http("GET", url(priv), auth);
      const auto m = http("GET", url(missing), auth);
      EXPECT_EQ(p.status, 401) << priv;
      EXPECT_EQ(p.header("x-error-code"), "RepoNotFound") << priv;
      EXPECT_EQ(p.header("x-error-message"), "Invalid username or password.") << priv;
      EXPECT_TRUE(same(p, m)) << priv << " vs " << missing << ": " << p.body << " / " << m.body;
    }
  }
  // With a mirror token: the private repo is served, a missing one is a plain 404.
  EXPECT_EQ(http("GET", url("/org/private/resolve/main/weights.bin"), {"Authorization: Bearer hf_goodtoken"}).body,
            "private bytes");
  auto m = http("GET", url("/org/absent/resolve/main/weights.bin"), {"Authorization: Bearer hf_goodtoken"});
  EXPECT_EQ(m.status, 404);
  EXPECT_EQ(m.header("x-error-code"), "RepoNotFound");
  // Public repos ignore tokens the mirror does not know (clients send their Hub token).
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/config.json"), {"Authorization: Bearer hf_a_hub_token"}).status, 200);
}

TEST_F(Security, PrivateSpecsNameTheRepoType) {
  // "datasets/models/x" is the dataset models/x (not the model x); "models/org/m" a model.
  const RepoRef ds{RepoType::Dataset, "models/x"};
  const RepoRef model{RepoType::Model, "org/m"};
  for (const RepoRef& r : {ds, model}) {
    cache.add_file(r, c1, "f.txt", "secret");
    cache.add_ref(r, "main", c1);
  }
  cache.add_file(RepoRef{RepoType::Model, "x"}, c1, "f.txt", "public");
  cache.add_ref(RepoRef{RepoType::Model, "x"}, "main", c1);
  start([](server::ServerOptions& o) {
    o.router.private_repos = {"datasets/models/x", "models/org/m"};
    o.router.tokens = {"hf_goodtoken"};
  });
  EXPECT_EQ(http("GET", url("/datasets/models/x/resolve/main/f.txt")).status, 401);
  EXPECT_EQ(http("GET", url("/org/m/resolve/main/f.txt")).status, 401);
  EXPECT_EQ(http("GET", url("/x/resolve/main/f.txt")).status, 200);
}

TEST_F(Security, TokenFileParsing) {
  write_file(tmp.path() + "/tokens", " hf_abc\r\n\n\thf_def  \n");
  auto t = server::load_token_file(tmp.path() + "/tokens");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, (std::vector<std::string>{"hf_abc", "hf_def"}));
  write_file(tmp.path() + "/empty", "\n\n");
  EXPECT_FALSE(server::load_token_file(tmp.path() + "/empty").has_value());
  EXPECT_FALSE(server::load_token_file(tmp.path() + "/absent").has_value());
}

TEST_F(Security, MalformedRequestsGet4xxAndTheServerKeepsServing) {
  start();
  const auto port = srv->port();
  const std::vector<std::string> garbage = {
      "GARBAGE\r\n\r\n",
      "GET\r\n\r\n",
      "GET /x HTTP/9.9\r\nHost: a\r\n\r\n",
      "GET /x HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
      std::string("GET /\0x HTTP/1.1\r\nHost: a\r\n\r\n", 28),
      "\r\n\r\n\r\n",
  };
  for (const auto& g : garbage) {
    const std::string resp = raw_exchange(port, g, 1000);
    if (!resp.empty()) {
      // 4xx, or 505 for an unknown HTTP version.
      EXPECT_TRUE(resp.rfind("HTTP/1.1 4", 0) == 0 || resp.rfind("HTTP/1.1 505", 0) == 0) << resp.substr(0, 80);
    }
    EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/config.json")).status, 200) << "after " << g.substr(0, 20);
  }
  EXPECT_EQ(http("DELETE", url("/org/tiny/resolve/main/config.json")).status, 405);
  EXPECT_EQ(http("GET", url("/api/models/org/tiny/nonsense/x")).status, 404);
}

TEST_F(Security, OversizedRequestLineHeadersAndBodiesAreRefused) {
  start([](server::ServerOptions& o) {
    o.max_header_bytes = 8 * 1024;
    o.max_body_bytes = 1024;
  });
  auto long_url = http("GET", url("/org/tiny/resolve/main/" + std::string(40000, 'a')));
  EXPECT_EQ(long_url.status, 414);
  EXPECT_LT(long_url.status, 500);
  auto big_header = http("GET", url("/org/tiny/resolve/main/config.json"), {"X-Big: " + std::string(40000, 'b')});
  EXPECT_EQ(big_header.status, 431);
  EXPECT_LT(big_header.status, 500);
  auto big_body = http("POST", url("/api/models/org/tiny/paths-info/main"), {}, "paths=" + std::string(5000, 'c'));
  EXPECT_EQ(big_body.status, 413);
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/config.json")).status, 200);
  // Refusals made by the HTTP layer itself are in the access log too.
  bool logged_431 = false;
  for (int i = 0; i < 50 && !logged_431; ++i) {
    for (const auto& l : logs())
      if (l.find("/org/tiny/resolve/main/config.json 431 ") != std::string::npos) logged_431 = true;
    if (!logged_431) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(logged_431);
}

TEST_F(Security, SlowAndIdleClientsAreCutOff) {
  start([](server::ServerOptions& o) {
    o.request_timeout = std::chrono::seconds(1);
    o.idle_timeout = std::chrono::seconds(2);
  });
  // Slow-loris: a byte every 300 ms keeps the connection active but never finishes the headers.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(srv->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  const std::string drip = "GET /org/tiny/resolve/main/config.json HTTP/1.1\r\nX-Slow: ";
  for (std::size_t i = 0; i < 40 && !closed; ++i) {
    if (::send(fd, drip.data() + (i % drip.size()), 1, MSG_NOSIGNAL) <= 0) closed = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    char b;
    if (::recv(fd, &b, 1, MSG_DONTWAIT) == 0) closed = true;
  }
  ::close(fd);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(closed);
  EXPECT_LT(secs, 5.0);
  // Idle: a connection that sends nothing is closed after the idle timeout.
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(raw_exchange(srv->port(), "", 8000), "");
  const double idle = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  EXPECT_LT(idle, 6.0);
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/config.json")).status, 200);
}

TEST_F(Security, ConnectionLimitRefusesExtraConnectionsWithoutCrashing) {
  start([](server::ServerOptions& o) { o.max_connections = 8; });
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(srv->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int fd : fds) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(http("GET", url("/org/tiny/resolve/main/config.json")).status, 200);
}

TEST_F(Security, TheServerNeverWritesToTheCache) {
  cache.add_file(k_tiny, c1, "big.bin", std::string(5000, 'x'), true);
  const std::string before = tree_fingerprint(cache.root());
  start();
  for (const char* p :
       {"/api/models/org/tiny", "/api/models/org/tiny/tree/main?recursive=true&expand=true", "/org/tiny/resolve/main/config.json",
        "/org/tiny/resolve/main/nope", "/org/nope/resolve/main/x", "/org/tiny/resolve/refs%2Fpr%2F9/x"})
    http("GET", url(p));
  const std::string loc = http("HEAD", url("/org/tiny/resolve/main/big.bin")).header("location");
  EXPECT_EQ(http("GET", loc).body.size(), 5000u);
  http("POST", url("/api/models/org/tiny/paths-info/main"), {}, "paths=config.json");
  EXPECT_EQ(tree_fingerprint(cache.root()), before);
}

}  // namespace

// `hubcache auth login` against the mirror: GET /api/whoami-v2 answers its own tokens only.
TEST_F(Security, WhoamiAnswersTheMirrorsTokensOnly) {
  start([](server::ServerOptions& o) { o.router.tokens = {"hf_goodtoken", "hf_second"}; });
  const std::string u = url("/api/whoami-v2");
  EXPECT_EQ(http("GET", u).status, 401);
  EXPECT_EQ(http("GET", u, {"Authorization: Bearer hf_goodtokeN"}).status, 401);
  EXPECT_EQ(http("GET", u, {"Authorization: Basic hf_goodtoken"}).status, 401);
  EXPECT_EQ(http("POST", u, {"Authorization: Bearer hf_goodtoken"}).status, 405);
  auto good = http("GET", u, {"Authorization: Bearer hf_second"});
  ASSERT_EQ(good.status, 200);
  EXPECT_EQ(good.body.find("hf_second"), std::string::npos);
  auto j = nlohmann::json::parse(good.body);
  EXPECT_EQ(j["name"], "hubcache-mirror");
  EXPECT_EQ(j["auth"]["accessToken"]["displayName"], "mirror-token-2");
  EXPECT_EQ(j["auth"]["accessToken"]["role"], "read");
}

}  // namespace hubcache::test

// The mirror's blob URLs for caches in front of it: --redirect-all (git files behind immutable
// URLs too), --blob-auth none (plain content addresses) and /_auth/ (an edge's auth_request).
#include <filesystem>

#include "hubcache/server/router.hpp"
#include "server_client.hpp"

namespace hubcache::test {
namespace {

const RepoRef k_model{RepoType::Model, "org/tiny"};
const RepoRef k_private{RepoType::Model, "org/secret"};
const std::string k_config = "{\"hidden\": 8}\n";
const std::string k_weights(300000, 'w');

class BlobUrls : public ServerFixture {
 protected:
  std::string c1 = commit_id(1);
  void SetUp() override {
    ServerFixture::SetUp();
    for (const auto& repo : {k_model, k_private}) {
      cache.add_file(repo, c1, "config.json", k_config);
      cache.add_file(repo, c1, "model.safetensors", k_weights, true);
      cache.add_ref(repo, "main", c1);
    }
  }
  void start_with(bool redirect_all, server::RouterOptions::BlobAuth auth) {
    start([&](server::ServerOptions& o) {
      o.router.redirect_all = redirect_all;
      o.router.blob_auth = auth;
      o.router.private_repos = {"org/secret"};
      o.router.tokens = {"hf_mirror"};
    });
  }
  // The /_auth/ form of a blob URL, as nginx builds it: "/_auth" + $request_uri.
  std::string auth_url(const std::string& location) { return url("/_auth" + location.substr(srv->url().size())); }
};

TEST_F(BlobUrls, RedirectAllSendsAGitFileToItsBlobWithItsIdentityOnTheRedirect) {
  start_with(true, server::RouterOptions::BlobAuth::Signed);
  auto h = http("HEAD", url("/org/tiny/resolve/main/config.json"));
  ASSERT_EQ(h.status, 302);
  EXPECT_EQ(h.header("etag"), "\"" + git_oid(k_config) + "\"");
  EXPECT_EQ(h.header("x-linked-etag"), "\"" + git_oid(k_config) + "\"");
  EXPECT_EQ(h.header("x-linked-size"), std::to_string(k_config.size()));
  EXPECT_EQ(h.header("x-repo-commit"), c1);
  const std::string location = h.header("location");
  ASSERT_EQ(location.rfind(srv->url() + "/_blobs/models--org--tiny/" + git_oid(k_config) + "?expires=", 0), 0u) << location;
  auto g = http("GET", location);
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(g.body, k_config);
  EXPECT_EQ(g.header("etag"), "\"" + git_oid(k_config) + "\"");
  EXPECT_EQ(g.header("cache-control"), "public, max-age=31536000, immutable");
  // LFS files redirect as always; the raw route still answers a git file in place.
  EXPECT_EQ(http("HEAD", url("/org/tiny/resolve/main/model.safetensors")).status, 302);
  auto raw = http("GET", url("/org/tiny/raw/main/config.json"));
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(raw.body, k_config);
}

TEST_F(BlobUrls, RedirectAllAnswersASnapshotCopyThatIsNoBlobInPlace) {
  // A snapshot file that is a plain copy (not a link to blobs/<oid>) has no blob URL to send to.
  const std::string snap = tmp.path() + "/cache/models--org--tiny/snapshots/" + c1 + "/config.json";
  std::filesystem::remove(snap);
  {
    std::FILE* f = std::fopen(snap.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(k_config.data(), 1, k_config.size(), f);
    std::fclose(f);
  }
  std::filesystem::remove(tmp.path() + "/cache/models--org--tiny/blobs/" + git_oid(k_config));
  start_with(true, server::RouterOptions::BlobAuth::Signed);
  auto g = http("GET", url("/org/tiny/resolve/main/config.json"));
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, k_config);
}

TEST_F(BlobUrls, WithoutRedirectAllAGitFileIsAnsweredInPlace) {
  start_with(false, server::RouterOptions::BlobAuth::Signed);
  auto g = http("GET", url("/org/tiny/resolve/main/config.json"));
  EXPECT_EQ(g.status, 200);
  EXPECT_FALSE(g.has("x-linked-etag"));
}

TEST_F(BlobUrls, BlobAuthNoneGivesPlainContentAddressesAndStillGuardsPrivateRepos) {
  start_with(false, server::RouterOptions::BlobAuth::None);
  const std::string location = http("HEAD", url("/org/tiny/resolve/main/model.safetensors")).header("location");
  EXPECT_EQ(location, srv->url() + "/_blobs/models--org--tiny/" + sha256(k_weights));
  auto g = http("GET", location);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, k_weights);
  // The private repo's blob: its address is no secret, so the token is asked for.
  const std::string secret = srv->url() + "/_blobs/models--org--secret/" + sha256(k_weights);
  EXPECT_EQ(http("GET", secret).status, 401);
  EXPECT_EQ(http("GET", secret, {"Authorization: Bearer hf_wrong"}).status, 401);
  auto ok = http("GET", secret, {"Authorization: Bearer hf_mirror"});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, k_weights);
  // Nothing outside the blob names: a malformed hash or repo folder is no blob.
  EXPECT_EQ(http("GET", srv->url() + "/_blobs/models--org--tiny/" + std::string(63, 'a')).status, 404);
  EXPECT_EQ(http("GET", srv->url() + "/_blobs/models--..--x/" + sha256(k_weights)).status, 404);
}

TEST_F(BlobUrls, AuthRouteSaysWhetherABlobUrlMayBeRead) {
  start_with(true, server::RouterOptions::BlobAuth::Signed);
  const std::string location = http("HEAD", url("/org/tiny/resolve/main/model.safetensors")).header("location");
  auto yes = http("GET", auth_url(location));
  EXPECT_EQ(yes.status, 204);
  EXPECT_TRUE(yes.body.empty());
  EXPECT_EQ(http("HEAD", auth_url(location)).status, 204);
  std::string tampered = location;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(http("GET", auth_url(tampered)).status, 403);
  EXPECT_EQ(http("GET", auth_url(location.substr(0, location.find('?')))).status, 403);
  // Malformed: 403, never 404 (nginx's auth_request turns anything but 2xx/401/403 into a 500).
  EXPECT_EQ(http("GET", url("/_auth/_blobs/nonsense")).status, 403);
  EXPECT_EQ(http("POST", auth_url(location)).status, 405);
  // A private repo's signed URL is issued only to a token holder, and then is enough.
  const std::string secret =
      http("HEAD", url("/org/secret/resolve/main/config.json"), {"Authorization: Bearer hf_mirror"}).header("location");
  ASSERT_NE(secret.find("/_blobs/models--org--secret/"), std::string::npos);
  EXPECT_EQ(http("GET", auth_url(secret)).status, 204);
}

TEST_F(BlobUrls, AuthRouteWithBlobAuthNoneAsksPrivateReposForTheToken) {
  start_with(false, server::RouterOptions::BlobAuth::None);
  const std::string pub = url("/_auth/_blobs/models--org--tiny/" + sha256(k_weights));
  const std::string priv = url("/_auth/_blobs/models--org--secret/" + sha256(k_weights));
  EXPECT_EQ(http("GET", pub).status, 204);
  EXPECT_EQ(http("GET", priv).status, 401);
  EXPECT_EQ(http("GET", priv, {"Authorization: Bearer hf_mirror"}).status, 204);
}

TEST_F(BlobUrls, OriginsSharingASigningKeyAcceptEachOthersUrls) {
  const std::string key(40, 'k');
  start([&](server::ServerOptions& o) { o.router.signing_key = key; });
  const std::string location = http("HEAD", url("/org/tiny/resolve/main/model.safetensors")).header("location");
  const std::string path = location.substr(srv->url().size());
  srv->stop();
  // A restarted origin (or a replica) with the same key: the URL still opens the blob.
  start([&](server::ServerOptions& o) { o.router.signing_key = key; });
  auto same = http("GET", url(path));
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(same.body, k_weights);
  srv->stop();
  start([&](server::ServerOptions& o) { o.router.signing_key = std::string(40, 'x'); });
  EXPECT_EQ(http("GET", url(path)).status, 403);
  srv->stop();
  start();  // a random key: nothing signed before opens anything
  EXPECT_EQ(http("GET", url(path)).status, 403);
}

TEST(SigningKey, ShortKeysAreRefusedWithTheWayToMakeOne) {
  TempDir tmp;
  write_file(tmp.path() + "/short", "abc\n");
  auto r = server::load_signing_key(tmp.path() + "/short");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("holds 3 bytes; it needs at least 32"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("openssl rand -hex 32"), std::string::npos);
  write_file(tmp.path() + "/good", std::string(64, 'a') + "\n");
  auto good = server::load_signing_key(tmp.path() + "/good");
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, std::string(64, 'a'));
  EXPECT_FALSE(server::load_signing_key(tmp.path() + "/missing").has_value());
  auto folder = server::load_signing_key(tmp.path());  // a folder: an error, never an exception
  ASSERT_FALSE(folder.has_value());
  EXPECT_NE(folder.error().message.find("cannot read the signing key file"), std::string::npos);
  server::RouterOptions o;
  o.cache_dir = tmp.path();
  o.signing_key = "short";
  EXPECT_FALSE(server::Router::create(o).has_value());
}

}  // namespace
}  // namespace hubcache::test

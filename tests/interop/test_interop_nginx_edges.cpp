// The cluster tier as shipped: three nginx edges (Debian's nginx, each running
// deploy/nginx/hubcache-edge.conf with only its addresses changed) in front of one
// `hubcache serve --redirect-all` origin, and 24 clients (hubcache and the JS client) downloading
// the same snapshot through them at once. Every client must end with the origin's exact cache
// entry, and the origin must send each blob at most once per edge. Skipped without nginx or node.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "cache_builder.hpp"
#include "hubcache/util/hash.hpp"
#include "serve_process.hpp"
#include "server_client.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

namespace stdfs = std::filesystem;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool answers(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Replaces the one occurrence of `from` in `text`; a shipped file that no longer holds it fails
// the test instead of being run unchanged.
void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << "deploy/nginx/hubcache-edge.conf no longer holds '" << from << "'";
  ASSERT_EQ(text.find(from, at + 1), std::string::npos) << "'" << from << "' twice in hubcache-edge.conf";
  text.replace(at, from.size(), to);
}

// One nginx edge: the shipped server config with its addresses and cache folder changed, inside
// a minimal main config (one process, foreground, logs in its folder).
struct Edge {
  std::string dir;
  int port = 0;
  std::unique_ptr<ServeProcess> process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string access_log() const { return read_file(dir + "/access.log"); }
};

// One attempt on a free port; false when nginx could not take it (another process took the port
// between free_port() and nginx's bind).
bool try_start_edge(Edge& e, const std::string& dir, int origin_port);

void start_edge(Edge& e, const std::string& dir, int origin_port) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (try_start_edge(e, dir, origin_port)) return;
    if (::testing::Test::HasFatalFailure() || !e.process) return;
    e.process->stop(SIGKILL);
  }
  FAIL() << "nginx did not start on three free ports:\n"
         << (e.process ? e.process->err_output() : std::string()) << read_file(dir + "/error.log");
}

bool try_start_edge(Edge& e, const std::string& dir, int origin_port) {
  e.dir = dir;
  e.port = free_port();
  for (const char* sub : {"cache", "tmp"}) stdfs::create_directories(dir + "/" + sub);
  std::string conf = read_file(source_dir() + "/deploy/nginx/hubcache-edge.conf");
  const std::string origin = "127.0.0.1:" + std::to_string(origin_port);
  replace_once(conf, "/var/cache/nginx/hubcache ", dir + "/cache ");
  replace_once(conf, "server 127.0.0.1:8080;", "server " + origin + ";");
  replace_once(conf, "listen 8081;", "listen 127.0.0.1:" + std::to_string(e.port) + ";");
  replace_once(conf, "proxy_redirect http://127.0.0.1:8080/ ", "proxy_redirect http://" + origin + "/ ");
  if (::testing::Test::HasFatalFailure()) return false;
  write_file(dir + "/edge.conf", conf);
  const std::string t = dir + "/tmp";
  write_file(dir + "/nginx.conf",
             "daemon off;\nmaster_process off;\nuser root;\npid " + dir + "/nginx.pid;\nerror_log " + dir +
                 "/error.log warn;\nevents { worker_connections 1024; }\nhttp {\n"
                 "  log_format edge '$request_method $uri $status $upstream_cache_status $body_bytes_sent';\n"
                 "  access_log " +
                 dir + "/access.log edge;\n  client_body_temp_path " + t + "/body;\n  proxy_temp_path " + t +
                 "/proxy;\n  fastcgi_temp_path " + t + "/fastcgi;\n  uwsgi_temp_path " + t + "/uwsgi;\n  scgi_temp_path " + t +
                 "/scgi;\n  include " + dir + "/edge.conf;\n}\n");
  const std::string conf_path = dir + "/nginx.conf";
  e.process = std::make_unique<ServeProcess>(
      ServeProcess::Command{{"/bin/sh", "-c",
                             "nginx -t -q -p '" + dir + "' -c '" + conf_path + "' && echo " + e.url() + " && exec nginx -p '" +
                                 dir + "' -c '" + conf_path + "'"}});
  if (e.process->url() != e.url()) return false;  // nginx -t refused the config, or nginx did not start
  for (int i = 0; i < 100 && !answers(e.port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return answers(e.port);
}

// Bytes the origin sent per /_blobs/ path (its access log: "GET /_blobs/... 206 1048576 1.2ms").
std::map<std::string, std::uint64_t> origin_blob_bytes(const std::string& log) {
  std::map<std::string, std::uint64_t> out;
  static const std::regex line(R"((GET|HEAD) (/_blobs/[^ ]+) (\d+) (\d+) )");
  std::istringstream in(log);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_search(l, m, line)) out[m[2]] += std::stoull(m[4]);
  }
  return out;
}

struct Client {
  std::string kind, cache;
  ProcessResult result;
};

class NginxEdges : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string source = tmp.path() + "/origin-cache";
  std::string commit = "4c6b9f2e0d1a3b5c7e9f8a6b4c2d0e1f3a5b7c9d";
  std::string interop_dir = source_dir() + "/tests/interop";
  std::string big;  // 5.5 MiB: six slices, the last one partial

  void SetUp() override {
    if (run_process({"/bin/sh", "-c", "command -v nginx"}).exit_code != 0)
      GTEST_SKIP() << "nginx missing (run scripts/install-deps.sh)";
    if (!stdfs::exists(interop_dir + "/node_modules/@huggingface/hub") ||
        run_process({"/usr/bin/env", "node", "--version"}).exit_code != 0)
      GTEST_SKIP() << "node or tests/interop/node_modules missing (run scripts/install-deps.sh)";
    auto imported = run_process({hubcache_bin(), "import", source_dir() + "/sample/tiny-model", "--repo", "org/tiny-model",
                                 "--commit", commit, "--copy", "--cache-dir", source});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    std::mt19937_64 rng(7);
    big.resize(5 * 1024 * 1024 + 512 * 1024);
    for (auto& c : big) c = static_cast<char>(rng());
    CacheBuilder b(source);
    const RepoRef model{RepoType::Model, "org/tiny-model"};
    b.add_file(model, commit, "big.bin", big, true);
    b.add_file(model, commit, "empty.txt", "");
    const RepoRef secret{RepoType::Model, "org/secret"};
    b.add_file(secret, commit, "config.json", "{\"secret\": true}\n");
    b.add_file(secret, commit, "weights.bin", big.substr(0, 3 * 1024 * 1024), true);
    b.add_ref(secret, "main", commit);
    write_file(tmp.path() + "/tokens", "hf_edge_token\n");
  }

  ProcessResult js(const std::string& endpoint, const std::string& cache, const std::string& repo, const std::string& token) {
    return run_process({"/usr/bin/env", "node", interop_dir + "/serve_client.mjs", "snapshot", endpoint, cache, repo, token});
  }
  ProcessResult hubcache_download(const std::string& endpoint, const std::string& cache, const std::string& repo) {
    return run_process({hubcache_bin(), "download", repo, "--cache-dir", cache, "--quiet"},
                       {"HF_ENDPOINT=" + endpoint, "HF_HUB_DISABLE_TELEMETRY=1", "-HF_TOKEN"});
  }
};

TEST_F(NginxEdges, TwentyFourClientsThroughThreeEdgesGetTheSnapshotAndTheOriginSendsEachBlobOncePerEdge) {
  ServeProcess origin(
      {"--cache-dir", source, "--redirect-all", "--private", "org/secret", "--token-file", tmp.path() + "/tokens"});
  ASSERT_FALSE(origin.url().empty()) << origin.err_output();
  const int origin_port = std::stoi(origin.url().substr(origin.url().rfind(':') + 1));
  Edge edges[3];
  for (int i = 0; i < 3; ++i) {
    start_edge(edges[i], tmp.path() + "/edge" + std::to_string(i), origin_port);
    if (HasFatalFailure()) return;
  }

  // 24 clients at once, 8 per edge: 5 `hubcache download`, 3 JS snapshotDownload.
  std::vector<Client> clients(24);
  std::vector<std::future<void>> running;
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const Edge& e = edges[i % 3];
    clients[i].kind = (i / 3) % 8 < 5 ? "hubcache" : "js";
    clients[i].cache = tmp.path() + "/client" + std::to_string(i);
    running.push_back(std::async(std::launch::async, [this, &c = clients[i], url = e.url()] {
      c.result = c.kind == "js" ? js(url, c.cache, "org/tiny-model", "-") : hubcache_download(url, c.cache, "org/tiny-model");
    }));
  }
  for (auto& r : running) r.get();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const auto want = describe_tree(source + "/models--org--tiny-model");
  ASSERT_TRUE(want.count("blobs/" + sha256_hex(big)));
  for (const auto& c : clients) {
    ASSERT_EQ(c.result.exit_code, 0) << c.kind << " client failed: " << c.result.out << c.result.err;
    auto got = describe_tree(c.cache + "/models--org--tiny-model");
    if (c.kind == "hubcache") {
      // hubcache's own records beside the standard layout: the last use, and the tree listing.
      EXPECT_EQ(got.erase(".hubcache/used/" + commit), 1u);
      EXPECT_EQ(got.erase("trees/" + commit + ".json"), 1u);
      got.erase(".hubcache/used");
      got.erase(".hubcache");
      got.erase("trees");
    }
    EXPECT_EQ(got, want) << c.kind << " client " << c.cache;
  }

  // Each blob left the origin at most once per edge (and each edge needed every blob once).
  const auto sent = origin_blob_bytes(origin.err_output());
  std::uint64_t blob_bytes = 0, origin_bytes = 0;
  std::size_t blobs = 0;
  for (const auto& [rel, kind] : want) {
    if (rel.rfind("blobs/", 0) != 0) continue;
    const std::string name = rel.substr(6);
    const auto size = stdfs::file_size(source + "/models--org--tiny-model/" + rel);
    const auto it = sent.find("/_blobs/models--org--tiny-model/" + name);
    const std::uint64_t got = it == sent.end() ? 0 : it->second;
    EXPECT_EQ(got, 3 * size) << "origin bytes for blob " << name << " of " << size << " bytes";
    blob_bytes += size;
    origin_bytes += got;
    ++blobs;
  }
  EXPECT_GE(blobs, 9u);
  // What the edges delivered: every client got every blob from its edge.
  std::uint64_t edge_bytes = 0;
  std::size_t hits = 0, edge_blob_requests = 0;
  for (const auto& e : edges) {
    std::istringstream in(e.access_log());
    for (std::string l; std::getline(in, l);) {
      std::istringstream f(l);
      std::string method, uri, status, cache_status;
      std::uint64_t bytes = 0;
      f >> method >> uri >> status >> cache_status >> bytes;
      if (uri.rfind("/_blobs/", 0) != 0) continue;
      ++edge_blob_requests;
      if (method != "GET") continue;
      edge_bytes += bytes;
      hits += cache_status == "HIT";
    }
  }
  EXPECT_GE(edge_bytes, 24 * blob_bytes);
  EXPECT_GT(hits, 0u);
  // Every client request for a blob was checked by the origin once (not once per slice).
  const std::string origin_log = origin.err_output();
  std::size_t auth_checks = 0;
  for (std::size_t at = 0; (at = origin_log.find(" /_auth/_blobs/", at)) != std::string::npos; ++at) ++auth_checks;
  EXPECT_EQ(auth_checks, edge_blob_requests);
  std::printf(
      "[ figures ] 24 clients x %llu bytes in %.2f s (%.1f MB/s aggregate); origin sent %llu blob bytes (%.2fx the "
      "snapshot), edges delivered %llu\n",
      static_cast<unsigned long long>(blob_bytes), seconds, 24.0 * static_cast<double>(blob_bytes) / seconds / 1e6,
      static_cast<unsigned long long>(origin_bytes), static_cast<double>(origin_bytes) / static_cast<double>(blob_bytes),
      static_cast<unsigned long long>(edge_bytes));
  for (auto& e : edges) EXPECT_EQ(e.process->stop(SIGQUIT), 0) << read_file(e.dir + "/error.log");
  EXPECT_EQ(origin.stop(), 0);
}

TEST_F(NginxEdges, ACachedPrivateBlobIsHandedOnlyToWhomTheOriginAllows) {
  ServeProcess origin(
      {"--cache-dir", source, "--redirect-all", "--private", "org/secret", "--token-file", tmp.path() + "/tokens"});
  ASSERT_FALSE(origin.url().empty()) << origin.err_output();
  Edge edge;
  start_edge(edge, tmp.path() + "/edge", std::stoi(origin.url().substr(origin.url().rfind(':') + 1)));
  if (HasFatalFailure()) return;
  // The token holder downloads through the edge: the private blobs are now in the edge's cache.
  auto ok = js(edge.url(), tmp.path() + "/holder", "org/secret", "hf_edge_token");
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(describe_tree(tmp.path() + "/holder/models--org--secret"), describe_tree(source + "/models--org--secret"));
  auto again = js(edge.url(), tmp.path() + "/holder2", "org/secret", "hf_edge_token");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(edge.access_log().find("HIT"), std::string::npos) << edge.access_log();
  // Without the token: no snapshot, and the cached blob's address alone opens nothing.
  auto denied = js(edge.url(), tmp.path() + "/anon", "org/secret", "-");
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_FALSE(stdfs::exists(tmp.path() + "/anon/models--org--secret/blobs/" + sha256_hex(big.substr(0, 3 * 1024 * 1024))));
  const std::string blob = edge.url() + "/_blobs/models--org--secret/" + sha256_hex(big.substr(0, 3 * 1024 * 1024));
  EXPECT_EQ(http("GET", blob).status, 403);
  EXPECT_EQ(http("GET", blob + "?expires=99999999999&sig=" + std::string(64, '0')).status, 403);
  EXPECT_EQ(http("GET", blob, {"Range: bytes=0-99"}).status, 403);
  // A signed URL the origin issues to the token holder works at the edge, ranges included.
  auto head = http("HEAD", edge.url() + "/org/secret/resolve/main/weights.bin", {"Authorization: Bearer hf_edge_token"});
  ASSERT_EQ(head.status, 302);
  const std::string location = head.header("location");
  ASSERT_EQ(location.rfind(edge.url() + "/_blobs/models--org--secret/", 0), 0u) << "not rewritten to the edge: " << location;
  auto part = http("GET", location, {"Range: bytes=1048570-1048585"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, big.substr(1048570, 16));
  EXPECT_EQ(edge.process->stop(SIGQUIT), 0) << read_file(edge.dir + "/error.log");
  EXPECT_EQ(origin.stop(), 0);
}

}  // namespace
}  // namespace hubcache::test

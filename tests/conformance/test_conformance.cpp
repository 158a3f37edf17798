// One list of Hub-protocol cases (docs/hub-protocol.md), run against both implementations of the
// protocol in this repository: the test hub the client is tested against (tests/support/
// hub_server) and the mirror's router (`hubcache serve`, src/server). Both hold the same repos;
// every case states what a client of huggingface.co relies on, so a client passing against one
// behaves the same against the other, and a drift of either from the Hub shows up here.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/server/server.hpp"
#include "hubcache/util/hash.hpp"
#include "server_client.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

const RepoRef k_model{RepoType::Model, "org/conf"};
const RepoRef k_dataset{RepoType::Dataset, "org/conf-data"};
const std::string k_commit = "0123456789abcdef0123456789abcdef01234567";
const std::string k_config = "{\"model_type\": \"conformance\"}\n";
const std::string k_weights(70000, 'w');  // LFS
const std::string k_notes = "nested notes\n";
const std::string k_rows = "a,b\n1,2\n";

// One implementation under test, filled with the repos above.
class Hub {
 public:
  virtual ~Hub() = default;
  virtual std::string endpoint() const = 0;
};

void fill(const std::function<void(const RepoRef&, const std::string&, const std::string&, bool)>& add,
          const std::function<void(const RepoRef&, const std::string&)>& ref) {
  add(k_model, "config.json", k_config, false);
  add(k_model, "model.safetensors", k_weights, true);
  add(k_model, "docs/notes.txt", k_notes, false);
  ref(k_model, "main");
  add(k_dataset, "data/train.csv", k_rows, false);
  ref(k_dataset, "main");
}

class TestHub : public Hub {
 public:
  TestHub() {
    fill([&](const RepoRef& r, const std::string& p, const std::string& c,
             bool lfs) { m_server.add_file(r, k_commit, p, c, lfs); },
         [&](const RepoRef& r, const std::string& name) { m_server.set_ref(r, name, k_commit); });
  }
  std::string endpoint() const override { return m_server.endpoint(); }

 private:
  HubServer m_server;
};

class Mirror : public Hub {
 public:
  Mirror() {
    CacheBuilder cache(m_dir.path() + "/cache");
    fill([&](const RepoRef& r, const std::string& p, const std::string& c, bool lfs) { cache.add_file(r, k_commit, p, c, lfs); },
         [&](const RepoRef& r, const std::string& name) { cache.add_ref(r, name, k_commit); });
    server::ServerOptions o;
    o.router.cache_dir = m_dir.path() + "/cache";
    o.port = 0;
    auto s = server::Server::start(std::move(o));
    if (!s) throw std::runtime_error("mirror did not start: " + s.error().message);
    m_server = std::move(*s);
  }
  ~Mirror() override { m_server->stop(); }
  std::string endpoint() const override { return m_server->url(); }

 private:
  TempDir m_dir;
  std::unique_ptr<server::Server> m_server;
};

// A request and what the Hub's answer must hold.
struct Case {
  std::string name;
  std::string method;
  std::string path;  // below the endpoint
  std::vector<std::string> headers = {};
  std::string body = {};
  std::function<void(const HttpResult&, const std::string& endpoint)> expect;
};

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// What every answer about a known file carries (docs/hub-protocol.md#metadata).
void expect_file_headers(const HttpResult& r, const std::string& content, bool lfs) {
  EXPECT_EQ(r.header("x-repo-commit"), k_commit);
  if (lfs) {
    EXPECT_EQ(r.header("x-linked-etag"), quoted(sha256_hex(content)));
    EXPECT_EQ(r.header("x-linked-size"), std::to_string(content.size()));
  } else {
    EXPECT_EQ(r.header("etag"), quoted(git_blob_sha1_hex(content)));
  }
}

std::string resolve(const std::string& path, const std::string& rev = "main") { return "/org/conf/resolve/" + rev + "/" + path; }

// GETs `location` (absolute, or relative to the endpoint) and returns the answer.
HttpResult follow(const std::string& endpoint, const std::string& location, const std::vector<std::string>& headers = {}) {
  return http("GET", location.rfind("http", 0) == 0 ? location : endpoint + location, headers);
}

// The Hub serves a small file's bytes itself, perhaps after a relative redirect on the same host
// (today's /api/resolve-cache/); a client must accept both.
HttpResult small_file_answer(const HttpResult& r, const std::string& endpoint, const std::vector<std::string>& headers = {}) {
  if (r.status == 307 || r.status == 302) return follow(endpoint, r.header("location"), headers);
  return r;
}

std::vector<Case> cases() {
  return {
      {"RepoInfoGivesTheCommitAndEverySibling",
       "GET",
       "/api/models/org/conf/revision/main",
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         ASSERT_EQ(r.status, 200) << r.body;
         const auto j = nlohmann::json::parse(r.body);
         EXPECT_EQ(j.at("sha"), k_commit);
         std::vector<std::string> names;
         for (const auto& s : j.at("siblings")) names.push_back(s.at("rfilename"));
         std::sort(names.begin(), names.end());
         EXPECT_EQ(names, (std::vector<std::string>{"config.json", "docs/notes.txt", "model.safetensors"}));
       }},
      {"RepoInfoAtTheCommitItself",
       "GET",
       "/api/models/org/conf/revision/" + k_commit,
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         ASSERT_EQ(r.status, 200) << r.body;
         EXPECT_EQ(nlohmann::json::parse(r.body).at("sha"), k_commit);
       }},
      {"AnUnknownRepoIsRepoNotFound",
       "GET",
       "/api/models/org/absent/revision/main",
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         EXPECT_TRUE(r.status == 401 || r.status == 404) << r.status;
         EXPECT_EQ(r.header("x-error-code"), "RepoNotFound");
       }},
      {"AnUnknownRevisionIsRevisionNotFound",
       "GET",
       "/api/models/org/conf/revision/no-such-branch",
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         EXPECT_EQ(r.status, 404);
         EXPECT_EQ(r.header("x-error-code"), "RevisionNotFound");
       }},
      {"HeadOfASmallFileGivesItsGitEtagCommitAndSize",
       "HEAD",
       resolve("config.json"),
       {"Accept-Encoding: identity"},
       {},
       [](const HttpResult& r, const std::string& endpoint) {
         const HttpResult a = r.status == 307 ? http("HEAD", endpoint + r.header("location"), {"Accept-Encoding: identity"}) : r;
         ASSERT_EQ(a.status, 200);
         expect_file_headers(a, k_config, false);
         EXPECT_EQ(a.header("content-length"), std::to_string(k_config.size()));
         EXPECT_TRUE(a.body.empty());
       }},
      {"GetOfASmallFileGivesItsBytes",
       "GET",
       resolve("config.json"),
       {},
       {},
       [](const HttpResult& r, const std::string& endpoint) {
         const HttpResult a = small_file_answer(r, endpoint);
         ASSERT_EQ(a.status, 200);
         EXPECT_EQ(a.body, k_config);
         expect_file_headers(a, k_config, false);
       }},
      {"ANestedPathAtTheCommit",
       "GET",
       resolve("docs/notes.txt", k_commit),
       {},
       {},
       [](const HttpResult& r, const std::string& endpoint) {
         const HttpResult a = small_file_answer(r, endpoint);
         ASSERT_EQ(a.status, 200);
         EXPECT_EQ(a.body, k_notes);
       }},
      {"HeadOfAnLfsFileRedirectsWithTheLinkedEtagAndSize",
       "HEAD",
       resolve("model.safetensors"),
       {"Accept-Encoding: identity"},
       {},
       [](const HttpResult& r, const std::string& endpoint) {
         ASSERT_EQ(r.status, 302);
         expect_file_headers(r, k_weights, true);
         ASSERT_FALSE(r.header("location").empty());
         // The redirect's target serves the bytes.
         const HttpResult got = follow(endpoint, r.header("location"));
         ASSERT_EQ(got.status, 200);
         EXPECT_EQ(sha256_hex(got.body), sha256_hex(k_weights));
       }},
      {"ARangeOfASmallFileIs206WithItsContentRange",
       "GET",
       resolve("config.json"),
       {"Range: bytes=2-5"},
       {},
       [](const HttpResult& r, const std::string& endpoint) {
         const HttpResult a = small_file_answer(r, endpoint, {"Range: bytes=2-5"});
         ASSERT_EQ(a.status, 206);
         EXPECT_EQ(a.body, k_config.substr(2, 4));
         EXPECT_EQ(a.header("content-range"), "bytes 2-5/" + std::to_string(k_config.size()));
       }},
      {"ARangePastTheEndIs416",
       "GET",
       resolve("config.json"),
       {"Range: bytes=100000-"},
       {},
       [](const HttpResult& r, const std::string& endpoint) {
         const HttpResult a = small_file_answer(r, endpoint, {"Range: bytes=100000-"});
         EXPECT_EQ(a.status, 416);
       }},
      {"AMissingFileIsEntryNotFoundAtTheCommit",
       "HEAD",
       resolve("absent.bin"),
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         EXPECT_EQ(r.status, 404);
         EXPECT_EQ(r.header("x-error-code"), "EntryNotFound");
       }},
      {"AFileAtAnUnknownRevisionIsRevisionNotFound",
       "HEAD",
       resolve("config.json", "no-such-branch"),
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         EXPECT_EQ(r.status, 404);
         EXPECT_EQ(r.header("x-error-code"), "RevisionNotFound");
       }},
      {"TheRecursiveTreeListsEveryFileWithOidSizeAndLfs",
       "GET",
       "/api/models/org/conf/tree/" + k_commit + "?recursive=true",
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         ASSERT_EQ(r.status, 200) << r.body;
         std::map<std::string, nlohmann::json> files;
         for (const auto& e : nlohmann::json::parse(r.body))
           if (e.at("type") == "file") files[e.at("path")] = e;
         ASSERT_EQ(files.size(), 3u) << r.body;
         EXPECT_EQ(files["config.json"].at("oid"), git_blob_sha1_hex(k_config));
         EXPECT_EQ(files["config.json"].at("size"), k_config.size());
         EXPECT_FALSE(files["config.json"].contains("lfs"));
         EXPECT_EQ(files["model.safetensors"].at("size"), k_weights.size());
         EXPECT_EQ(files["model.safetensors"].at("lfs").at("oid"), sha256_hex(k_weights));
         EXPECT_EQ(files["docs/notes.txt"].at("oid"), git_blob_sha1_hex(k_notes));
       }},
      {"PathsInfoAnswersThePresentPathsOnly",
       "POST",
       "/api/models/org/conf/paths-info/" + k_commit,
       {"Content-Type: application/x-www-form-urlencoded"},
       "paths=config.json&paths=absent.bin&expand=false",
       [](const HttpResult& r, const std::string&) {
         ASSERT_EQ(r.status, 200) << r.body;
         const auto j = nlohmann::json::parse(r.body);
         ASSERT_EQ(j.size(), 1u) << r.body;
         EXPECT_EQ(j[0].at("path"), "config.json");
         EXPECT_EQ(j[0].at("oid"), git_blob_sha1_hex(k_config));
       }},
      {"ADatasetUsesItsPrefixes",
       "GET",
       "/datasets/org/conf-data/resolve/main/data/train.csv",
       {},
       {},
       [](const HttpResult& r, const std::string& endpoint) {
         const HttpResult a = small_file_answer(r, endpoint);
         ASSERT_EQ(a.status, 200);
         EXPECT_EQ(a.body, k_rows);
         EXPECT_EQ(a.header("x-repo-commit"), k_commit);
         const HttpResult info = http("GET", endpoint + "/api/datasets/org/conf-data/revision/main");
         ASSERT_EQ(info.status, 200);
         EXPECT_EQ(nlohmann::json::parse(info.body).at("sha"), k_commit);
       }},
      {"ASubfolderTreeListsItsEntriesOnly",
       "GET",
       "/api/models/org/conf/tree/" + k_commit + "/docs",
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         ASSERT_EQ(r.status, 200) << r.body;
         const auto j = nlohmann::json::parse(r.body);
         ASSERT_EQ(j.size(), 1u) << r.body;
         EXPECT_EQ(j[0].at("path"), "docs/notes.txt");
         EXPECT_EQ(j[0].at("type"), "file");
       }},
      {"AMissingTreeFolderIsEntryNotFound",
       "GET",
       "/api/models/org/conf/tree/" + k_commit + "/nope",
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         EXPECT_EQ(r.status, 404);
         EXPECT_EQ(r.header("x-error-code"), "EntryNotFound");
       }},
      {"RefsListMainAtTheCommit",
       "GET",
       "/api/models/org/conf/refs",
       {},
       {},
       [](const HttpResult& r, const std::string&) {
         ASSERT_EQ(r.status, 200) << r.body;
         const auto j = nlohmann::json::parse(r.body);
         bool found = false;
         for (const auto& b : j.at("branches"))
           found = found || (b.at("name") == "main" && b.at("ref") == "refs/heads/main" && b.at("targetCommit") == k_commit);
         EXPECT_TRUE(found) << r.body;
         EXPECT_TRUE(j.at("pullRequests").is_array());
       }},
      {"TheModelPrefixDoesNotReachADataset",
       "GET",
       "/api/models/org/conf-data/revision/main",
       {},
       {},
       [](const HttpResult& r, const std::string&) { EXPECT_EQ(r.header("x-error-code"), "RepoNotFound"); }},
  };
}

struct Param {
  std::string hub;
  Case c;
};

std::vector<Param> params() {
  std::vector<Param> out;
  for (const char* hub : {"TestHub", "Mirror"})
    for (auto& c : cases()) out.push_back(Param{hub, c});
  return out;
}

void PrintTo(const Param& p, std::ostream* os) { *os << p.hub << " " << p.c.method << " " << p.c.path; }

class Conformance : public ::testing::TestWithParam<Param> {};

TEST_P(Conformance, Case) {
  const Param& p = GetParam();
  std::unique_ptr<Hub> hub;
  if (p.hub == "TestHub")
    hub = std::make_unique<TestHub>();
  else
    hub = std::make_unique<Mirror>();
  const HttpResult r = http(p.c.method, hub->endpoint() + p.c.path, p.c.headers, p.c.body);
  ASSERT_NE(r.status, 0) << "no answer from " << p.hub;
  p.c.expect(r, hub->endpoint());
}

INSTANTIATE_TEST_SUITE_P(BothHubs, Conformance, ::testing::ValuesIn(params()),
                         [](const ::testing::TestParamInfo<Param>& p) { return p.param.hub + "_" + p.param.c.name; });

}  // namespace
}  // namespace hubcache::test

// The mirror's HTML pages for people (`/` and a repo's page), driven through the Router directly:
// what they list, to whom, how names from the cache are escaped, and that every link answers.
#include <gtest/gtest.h>

#include <unistd.h>

#include <regex>

#include "cache_builder.hpp"
#include "server_client.hpp"
#include "hubcache/server/route.hpp"
#include "hubcache/server/router.hpp"
#include "hubcache/util/text.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

using server::Request;
using server::Response;

const RepoRef k_model{RepoType::Model, "org/tiny"};
const RepoRef k_data{RepoType::Dataset, "org/data"};
const RepoRef k_secret{RepoType::Model, "org/secret"};
const std::string k_hostile_script = "<script>alert(1)</script>.txt";
const std::string k_hostile_quote = "a&b \"q\".json";
const std::string k_weights(200000, 'w');

class Pages : public ::testing::Test {
 protected:
  TempDir tmp;
  CacheBuilder cache{tmp.path() + "/cache"};
  std::string c1 = commit_id(1), c2 = commit_id(2), c3 = commit_id(3);
  std::unique_ptr<server::Router> router;

  void SetUp() override {
    cache.add_file(k_model, c1, "config.json", "{\"hidden\": 8}\n");
    cache.add_file(k_model, c1, "model.safetensors", k_weights, true);
    cache.add_file(k_model, c1, k_hostile_script, "s");
    cache.add_file(k_model, c1, k_hostile_quote, "q");
    cache.add_ref(k_model, "main", c1);
    cache.add_file(k_model, c2, "config.json", "pr version\n");
    cache.add_ref(k_model, "refs/pr/1", c2);
    cache.add_file(k_data, c3, "train.csv", "a,b\n1,2\n");  // a snapshot without a ref
    cache.add_file(k_secret, c1, "secret-plan.txt", "hush");
    cache.add_ref(k_secret, "main", c1);
  }
  void make(const std::function<void(server::RouterOptions&)>& tweak = {}) {
    server::RouterOptions o;
    o.cache_dir = cache.root();
    o.private_repos = {"org/secret"};
    o.tokens = {"mirror-token"};
    if (tweak) tweak(o);
    auto r = server::Router::create(std::move(o));
    ASSERT_TRUE(r) << r.error().message;
    router = std::move(*r);
  }
  // `target` is a path with an optional query, as a link gives it.
  Response get(const std::string& target, const std::string& token = "", const std::string& method = "GET") {
    Request req;
    req.method = method;
    req.base_url = "http://mirror.test:8080";
    req.headers = {{"Host", "mirror.test:8080"}};
    if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      const std::string query = target.substr(q + 1);
      const auto eq = query.find('=');
      req.query.emplace_back(query.substr(0, eq), eq == std::string::npos ? "" : query.substr(eq + 1));
    }
    return router->handle(req);
  }
};

// Every href of a page, with its character references undone.
std::vector<std::string> hrefs(const std::string& html) {
  std::vector<std::string> out;
  static const std::regex k_href("href=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), k_href); it != std::sregex_iterator(); ++it) {
    std::string h = (*it)[1];
    for (const auto& [ref, ch] : std::vector<std::pair<std::string, std::string>>{
             {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}})
      for (std::size_t at = h.find(ref); at != std::string::npos; at = h.find(ref, at + 1)) h.replace(at, ref.size(), ch);
    out.push_back(h);
  }
  return out;
}

// The bytes a response sends: its body, or its file's range.
std::string content(const Response& r) {
  if (!r.file) return r.body;
  std::string out(r.file_length, '\0');
  const auto n = ::pread(r.file.get(), out.data(), out.size(), static_cast<off_t>(r.file_offset));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

bool has(const std::string& body, const std::string& part) { return body.find(part) != std::string::npos; }

TEST_F(Pages, TheIndexListsReposWithSizesRevisionsAndHowToUseTheMirror) {
  make();
  const Response r = get("/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type").value_or(""), "text/html; charset=utf-8");
  EXPECT_EQ(r.header("Cache-Control").value_or(""), "no-store");
  EXPECT_TRUE(has(r.body, "<a href=\"/org/tiny\">org/tiny</a>")) << r.body;
  EXPECT_TRUE(has(r.body, "<a href=\"/datasets/org/data\">org/data</a>"));
  // Blobs counted once: both configs, the weights and the two hostile files.
  const std::uint64_t tiny = 14 + 11 + k_weights.size() + 1 + 1;
  EXPECT_TRUE(has(r.body, "title=\"" + std::to_string(tiny) + " bytes\">200.0KB<")) << r.body;
  EXPECT_TRUE(has(r.body, ">main</a> &rarr; <code>" + c1.substr(0, 12) + "</code>"));
  EXPECT_TRUE(has(r.body, ">refs/pr/1</a> &rarr; <code>" + c2.substr(0, 12) + "</code>"));
  EXPECT_TRUE(has(r.body, "href=\"/org/tiny?revision=refs%2Fpr%2F1\""));
  EXPECT_TRUE(has(r.body, c3.substr(0, 12) + "</a> <span class=\"t\">(no ref)</span>"));
  EXPECT_TRUE(has(r.body, "export HF_ENDPOINT=http://mirror.test:8080</pre>"));
  EXPECT_TRUE(has(r.body, "snapshot_download(&quot;org/tiny&quot;, endpoint=&quot;http://mirror.test:8080&quot;)"));
  EXPECT_TRUE(has(r.body, "hubUrl: &quot;http://mirror.test:8080&quot;"));
  EXPECT_TRUE(has(r.body, "HF_ENDPOINT=http://mirror.test:8080 hubcache download org/tiny</pre>"));
  EXPECT_FALSE(has(r.body, "<script")) << "no script at all, and no name from the cache as markup";
}

TEST_F(Pages, TheRepoPageListsARevisionsFilesLinkedToTheirResolveUrls) {
  make();
  Response r = get("/org/tiny");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(
      has(r.body, "<a href=\"/org/tiny/resolve/" + c1 + "/config.json\">config.json</a></td><td class=\"n\" title=\"14 bytes\">"))
      << r.body;
  EXPECT_TRUE(
      has(r.body, "/model.safetensors\">model.safetensors</a></td><td class=\"n\" title=\"200000 bytes\">200.0KB</td><td>LFS"));
  EXPECT_TRUE(has(r.body, ">main</a> <b>(shown)</b>"));
  r = get("/org/tiny?revision=refs%2Fpr%2F1");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(has(r.body, "Files at refs/pr/1 <code>" + c2 + "</code>"));
  EXPECT_TRUE(has(r.body, "/resolve/" + c2 + "/config.json\">config.json</a></td><td class=\"n\" title=\"11 bytes\">"));
  EXPECT_FALSE(has(r.body, "model.safetensors"));
  EXPECT_TRUE(has(r.body, "revision=&quot;refs/pr/1&quot;")) << "the snippets name the revision shown";
  // A dataset without a ref shows its one snapshot; the snippets carry its type.
  r = get("/datasets/org/data");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(has(r.body, "<a href=\"/datasets/org/data/resolve/" + c3 + "/train.csv\">train.csv</a>"));
  EXPECT_TRUE(has(r.body, "repo_type=&quot;dataset&quot;"));
  EXPECT_TRUE(has(r.body, "repo: { type: &quot;dataset&quot;, name: &quot;org/data&quot; }"));
  EXPECT_TRUE(has(r.body, "hubcache download org/data --repo-type dataset"));
}

TEST_F(Pages, HostileNamesAreTextAndTheirLinksServeThem) {
  make();
  const Response r = get("/org/tiny");
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(has(r.body, "<script")) << r.body;
  EXPECT_TRUE(has(r.body, ">&lt;script&gt;alert(1)&lt;/script&gt;.txt</a>"));
  EXPECT_TRUE(has(r.body, ">a&amp;b &quot;q&quot;.json</a>"));
  EXPECT_TRUE(has(r.body, "href=\"/org/tiny/resolve/" + c1 + "/%3Cscript%3Ealert%281%29%3C/script%3E.txt\""));
  EXPECT_TRUE(has(r.body, "href=\"/org/tiny/resolve/" + c1 + "/a%26b%20%22q%22.json\""));
  EXPECT_EQ(content(get("/org/tiny/resolve/" + c1 + "/%3Cscript%3Ealert%281%29%3C/script%3E.txt")), "s");
  EXPECT_EQ(content(get("/org/tiny/resolve/" + c1 + "/a%26b%20%22q%22.json")), "q");
}

TEST_F(Pages, EveryLinkOfEveryPageAnswers) {
  make();
  std::vector<std::string> pages = {"/"}, seen;
  std::size_t links = 0;
  while (!pages.empty()) {
    const std::string page = pages.back();
    pages.pop_back();
    if (std::find(seen.begin(), seen.end(), page) != seen.end()) continue;
    seen.push_back(page);
    const Response r = get(page);
    ASSERT_EQ(r.status, 200) << page;
    for (const auto& h : hrefs(r.body)) {
      ++links;
      ASSERT_EQ(h.rfind("/", 0), 0u) << h;
      const Response answer = get(h);
      // LFS files are a 302 to the signed /_blobs URL, the rest is served at once.
      EXPECT_TRUE(answer.status == 200 || answer.status == 302) << h << " -> " << answer.status;
      if (answer.header("Content-Type").value_or("").rfind("text/html", 0) == 0) pages.push_back(h);
    }
  }
  EXPECT_GE(seen.size(), 5u) << "the index, three repo pages and the revision pages";
  EXPECT_GT(links, 20u);
}

TEST_F(Pages, PrivateReposAreListedOnlyWithAToken) {
  make();
  Response r = get("/");
  EXPECT_FALSE(has(r.body, "org/secret"));
  EXPECT_FALSE(has(get("/", "hf_not_a_mirror_token").body, "org/secret"));
  r = get("/org/secret");
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(has(r.body, "secret-plan"));
  const Response missing = get("/org/missing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(r.body.size() - std::string("secret").size(), missing.body.size() - std::string("missing").size())
      << "a private repo's page looks like a missing one's";
  EXPECT_TRUE(has(get("/", "mirror-token").body, "<a href=\"/org/secret\">org/secret</a>"));
  r = get("/org/secret", "mirror-token");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(has(r.body, ">secret-plan.txt</a>"));
}

TEST_F(Pages, UnknownReposAndRevisionsAre404Pages) {
  make();
  for (const char* target : {"/org/missing", "/datasets/org/tiny", "/spaces/org/tiny", "/gpt2", "/org/tiny?revision=nope"}) {
    const Response r = get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.header("Content-Type").value_or(""), "text/html; charset=utf-8") << target;
  }
  // The Hub's own routes are untouched: JSON errors and answers as before.
  EXPECT_EQ(get("/api").header("Content-Type").value_or(""), "application/json; charset=utf-8");
  EXPECT_EQ(get("/api/models/org/tiny").status, 200);
  EXPECT_EQ(content(get("/org/tiny/resolve/main/config.json")), "{\"hidden\": 8}\n");
  EXPECT_EQ(get("/org/tiny/resolve/main").header("Content-Type").value_or(""), "application/json; charset=utf-8");
}

TEST_F(Pages, HeadHasTheLengthWithoutTheBodyAndOtherMethodsAre405) {
  make();
  const Response g = get("/"), h = get("/", "", "HEAD");
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.body.empty());
  EXPECT_EQ(h.body_size(), g.body.size());
  EXPECT_EQ(h.header("Content-Type").value_or(""), "text/html; charset=utf-8");
  EXPECT_EQ(get("/org/tiny", "", "HEAD").body_size(), get("/org/tiny").body.size());
  for (const char* target : {"/", "/org/tiny"}) {
    const Response p = get(target, "", "POST");
    EXPECT_EQ(p.status, 405) << target;
    EXPECT_EQ(p.header("Allow").value_or(""), "GET, HEAD");
  }
}

TEST_F(Pages, APublicUrlWithAPathPrefixesLinksAndSnippets) {
  make([](server::RouterOptions& o) { o.public_url = "https://mirror.example/hub/"; });
  const Response r = get("/");
  EXPECT_TRUE(has(r.body, "export HF_ENDPOINT=https://mirror.example/hub</pre>"));
  EXPECT_TRUE(has(r.body, "<a href=\"/hub/org/tiny\">"));
  EXPECT_TRUE(has(r.body, "<a href=\"/hub/\">hubcache mirror</a>"));
  EXPECT_FALSE(has(r.body, "mirror.test")) << "never the request's Host when a public URL is set";
}

TEST_F(Pages, FactsAreShownEscapedAndHiddenReposStayHidden) {
  make([](server::RouterOptions& o) {
    o.page_facts = [] { return std::vector<std::pair<std::string, std::string>>{{"Upstream", "https://up.example/<x>"}}; };
    o.page_hides = [](const Request&, const RepoRef& repo) { return repo == k_data; };
  });
  Response r = get("/");
  EXPECT_TRUE(has(r.body, "<tr><th>Upstream</th><td>https://up.example/&lt;x&gt;</td></tr>")) << r.body;
  EXPECT_FALSE(has(r.body, "org/data"));
  EXPECT_EQ(get("/datasets/org/data").status, 404);
  EXPECT_EQ(get("/datasets/org/data/resolve/" + c3 + "/train.csv").status, 200) << "the pages hide it, the API decides itself";
}

class PagesOverHttp : public ServerFixture {};

TEST_F(PagesOverHttp, HeadSendsTheLengthOfTheGetAndNoBody) {
  cache.add_file(k_model, commit_id(1), "config.json", "{}");
  cache.add_ref(k_model, "main", commit_id(1));
  start();
  const HttpResult g = http("GET", url("/")), h = http("HEAD", url("/"));
  ASSERT_EQ(g.status, 200);
  EXPECT_NE(g.body.find("export HF_ENDPOINT=" + srv->url() + "</pre>"), std::string::npos) << g.body;
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.body.empty());
  EXPECT_EQ(h.header("content-length"), std::to_string(g.body.size()));
  EXPECT_EQ(h.header("content-type"), "text/html; charset=utf-8");
}

TEST(PageRoutes, ParseRouteNamesThePagesAndLeavesTheHubsRoutesAlone) {
  const auto parse = [](const std::string& path, const std::string& method = "GET") {
    Request req;
    req.method = method;
    req.path = path;
    req.headers = {{"Host", "m"}};
    return server::parse_route(req, {});
  };
  using K = server::Route::Kind;
  EXPECT_EQ(parse("/").route->kind, K::Index);
  auto p = parse("/org/name");
  ASSERT_TRUE(p.route);
  EXPECT_EQ(p.route->kind, K::RepoPage);
  EXPECT_EQ(p.route->repo, (RepoRef{RepoType::Model, "org/name"}));
  EXPECT_EQ(p.route->revision, "");
  EXPECT_EQ(parse("/gpt2").route->repo, (RepoRef{RepoType::Model, "gpt2"}));
  EXPECT_EQ(parse("/datasets/org/name/").route->repo, (RepoRef{RepoType::Dataset, "org/name"}));
  EXPECT_EQ(parse("/spaces/org/name").route->repo, (RepoRef{RepoType::Space, "org/name"}));
  EXPECT_FALSE(parse("/api").route);
  EXPECT_FALSE(parse("/datasets").route);
  EXPECT_FALSE(parse("/org/name/tree").route);
  EXPECT_EQ(parse("/org/name/resolve/main/a.txt").route->kind, K::Resolve);
  EXPECT_EQ(parse("/", "DELETE").error.status, 405);
}

}  // namespace
}  // namespace hubcache::test

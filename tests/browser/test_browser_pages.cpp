// The mirror's page for people as a browser renders it: `hubcache serve` (and a pull-through proxy
// in front of it) over a cache with an LFS file and hostile file names, loaded in headless
// Chromium (Debian's `chromium`). The rendered text must name the repos, sizes and the real
// HF_ENDPOINT line, no name may become markup, and every link on the pages must answer.
// Skipped when chromium is not installed (scripts/install-deps.sh installs it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "cache_builder.hpp"
#include "http_get.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

const RepoRef k_model{RepoType::Model, "org/tiny"};
const RepoRef k_data{RepoType::Dataset, "org/data"};
const std::string k_hostile_script = "<script>alert(1)</script>.txt";
const std::string k_hostile_quote = "a&b \"q\".json";

std::string find_chromium() {
  const char* path = std::getenv("PATH");
  for (const auto& dir : {std::string(path ? path : ""), std::string("/usr/bin:/bin")}) {
    std::size_t i = 0;
    while (i <= dir.size()) {
      const std::size_t j = std::min(dir.find(':', i), dir.size());
      const std::string candidate = dir.substr(i, j - i) + "/chromium";
      if (j > i && ::access(candidate.c_str(), X_OK) == 0) return candidate;
      i = j + 1;
    }
  }
  return "";
}

// Character references of serialized HTML undone (the ones a DOM serializer writes).
std::string unescape(std::string s) {
  for (const auto& [ref, ch] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&nbsp;", " "}, {"&amp;", "&"}})
    for (std::size_t at = s.find(ref); at != std::string::npos; at = s.find(ref, at + 1)) s.replace(at, ref.size(), ch);
  return s;
}

// The text a reader sees: the body's tags dropped (the style sheet is in the head), references undone.
std::string text_of(const std::string& dom) {
  const std::size_t body = dom.find("<body");
  static const std::regex k_tag("<[^>]*>");
  return unescape(std::regex_replace(dom.substr(body == std::string::npos ? 0 : body), k_tag, ""));
}

std::vector<std::string> hrefs_of(const std::string& dom) {
  std::vector<std::string> out;
  static const std::regex k_href("href=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), k_href); it != std::sregex_iterator(); ++it)
    out.push_back(unescape((*it)[1]));
  return out;
}

class BrowserPages : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string chromium = find_chromium();
  std::string c1 = commit_id(1), c2 = commit_id(2);
  std::string weights = std::string(250000, 'w');

  void SetUp() override {
    if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
    CacheBuilder b(tmp.path() + "/cache");
    b.add_file(k_model, c1, "config.json", "{\"hidden\": 8}\n");
    b.add_file(k_model, c1, "model.safetensors", weights, /*lfs=*/true);
    b.add_file(k_model, c1, k_hostile_script, "script as text\n");
    b.add_file(k_model, c1, k_hostile_quote, "quotes\n");
    b.add_ref(k_model, "main", c1);
    b.add_file(k_model, c2, "config.json", "pr\n");
    b.add_ref(k_model, "refs/pr/1", c2);
    b.add_file(k_data, c1, "train.csv", "a,b\n");
    b.add_ref(k_data, "main", c1);
  }

  // The DOM Chromium renders for `url` (no script runs on the page anyway), within 30 s.
  std::string dump_dom(const std::string& url) {
    const std::string profile = tmp.path() + "/chromium-profile";
    auto r = run_process({"/usr/bin/timeout", "30", chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-extensions", "--user-data-dir=" + profile, "--dump-dom", url},
                         {"HOME=" + tmp.path()});
    EXPECT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
    return r.out;
  }

  // Requests every link of `dom` (found on `base`'s origin), redirects followed; each must be 2xx.
  // Returns how many were checked.
  std::size_t expect_links_answer(const std::string& base, const std::string& dom) {
    const auto links = hrefs_of(dom);
    for (const auto& h : links) {
      EXPECT_EQ(h.rfind("/", 0), 0u) << "a link on the mirror itself: " << h;
      const auto [status, body] = http_get(base + h);
      EXPECT_TRUE(status >= 200 && status < 300) << base + h << " answered " << status;
    }
    return links.size();
  }
};

TEST_F(BrowserPages, TheRenderedPagesShowTheReposAndHowToUseTheMirrorAndEveryLinkAnswers) {
  ServeProcess mirror({"--cache-dir", tmp.path() + "/cache", "--quiet"});
  ASSERT_FALSE(mirror.url().empty()) << mirror.err_output();

  const std::string index = dump_dom(mirror.url() + "/");
  const std::string text = text_of(index);
  EXPECT_NE(text.find("export HF_ENDPOINT=" + mirror.url() + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("snapshot_download(\"org/tiny\", endpoint=\"" + mirror.url() + "\")"), std::string::npos);
  EXPECT_NE(text.find("hubUrl: \"" + mirror.url() + "\""), std::string::npos);
  EXPECT_NE(text.find("model org/tiny"), std::string::npos);
  EXPECT_NE(text.find("dataset org/data"), std::string::npos);
  EXPECT_NE(text.find("250.0KB"), std::string::npos) << "the model's size on disk";
  EXPECT_NE(text.find("refs/pr/1 \u2192 " + c2.substr(0, 12)), std::string::npos);
  EXPECT_EQ(index.find("<script"), std::string::npos);
  EXPECT_GE(expect_links_answer(mirror.url(), index), 6u);

  const std::string repo = dump_dom(mirror.url() + "/org/tiny");
  const std::string repo_text = text_of(repo);
  // Chromium parsed the hostile names as text: no element came of them, and they read as named.
  EXPECT_EQ(repo.find("<script"), std::string::npos) << repo;
  EXPECT_NE(repo_text.find(k_hostile_script), std::string::npos) << repo_text;
  EXPECT_NE(repo_text.find(k_hostile_quote), std::string::npos);
  EXPECT_NE(repo_text.find("model.safetensors250.0KBLFS"), std::string::npos);
  const auto links = hrefs_of(repo);
  EXPECT_NE(std::find(links.begin(), links.end(), "/org/tiny/resolve/" + c1 + "/%3Cscript%3Ealert%281%29%3C/script%3E.txt"),
            links.end());
  EXPECT_GE(expect_links_answer(mirror.url(), repo), 8u);
  EXPECT_EQ(http_get(mirror.url() + "/org/tiny/resolve/" + c1 + "/a%26b%20%22q%22.json").second, "quotes\n");
  EXPECT_EQ(http_get(mirror.url() + "/org/tiny/resolve/" + c1 + "/model.safetensors").second, weights)
      << "the LFS link, through its redirect to /_blobs";
}

TEST_F(BrowserPages, ThroughTheProxyThePageNamesTheUpstreamAndTheHitRate) {
  ServeProcess upstream({"--cache-dir", tmp.path() + "/cache", "--quiet"});
  ASSERT_FALSE(upstream.url().empty()) << upstream.err_output();
  std::filesystem::create_directories(tmp.path() + "/proxy-cache");
  ServeProcess proxy({"--upstream", upstream.url(), "--cache-dir", tmp.path() + "/proxy-cache", "--quiet"});
  ASSERT_FALSE(proxy.url().empty()) << proxy.err_output();
  ASSERT_EQ(http_get(proxy.url() + "/org/tiny/resolve/main/config.json").first, 200);  // fetched: a miss
  ASSERT_EQ(http_get(proxy.url() + "/org/tiny/resolve/main/config.json").first, 200);  // cached: a hit

  const std::string index = dump_dom(proxy.url() + "/");
  const std::string text = text_of(index);
  EXPECT_NE(text.find("Upstream" + upstream.url()), std::string::npos) << text;
  EXPECT_NE(text.find("Hit rate50% (1 of 2 repo requests answered from the cache, 1 fetched upstream)"), std::string::npos);
  EXPECT_NE(text.find("export HF_ENDPOINT=" + proxy.url() + "\n"), std::string::npos);
  EXPECT_NE(text.find("model org/tiny"), std::string::npos);
  EXPECT_EQ(text.find("org/data"), std::string::npos) << "the proxy lists what its own cache holds";
  EXPECT_GE(expect_links_answer(proxy.url(), index), 3u);
  // Once a listing brought the commit's tree, its repo page lists every file of the commit, the
  // ones not fetched yet without a link; each file it links is served.
  ASSERT_EQ(http_get(proxy.url() + "/api/models/org/tiny").first, 200);
  const std::string repo = dump_dom(proxy.url() + "/org/tiny");
  const std::string repo_text = text_of(repo);
  EXPECT_NE(repo_text.find(k_hostile_script + "15.0B" + "git (not in this mirror's cache)"), std::string::npos) << repo_text;
  EXPECT_EQ(repo.find("<script"), std::string::npos);
  EXPECT_EQ(expect_links_answer(proxy.url(), repo), 4u) << "home twice, the main revision and the one file fetched";
}

}  // namespace
}  // namespace hubcache::test

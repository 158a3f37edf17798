// Dragonfly in front of hubcache (deploy/dragonfly/README.md), without Dragonfly: the requests its
// native hf:// backend makes for `dfget hf://org/tiny-model -r --hf-base-url <hubcache>` (repo info
// with ?revision=main, its `siblings`, then per file a HEAD and ranged GETs of
// /{repo}/resolve/{rev}/{path}, redirects followed), made against `hubcache serve` and against
// `hubcache serve --upstream` over an empty cache; and the README's dfdaemon proxy rule checked
// against the blob URLs hubcache really issues.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

#include "hubcache/util/hash.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

namespace stdfs = std::filesystem;

struct Reply {
  long status = 0;
  std::string body;
  long redirects = 0;
  std::map<std::string, std::string> headers;  // of the last response, names lower-cased
  std::string error;
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

size_t on_body(char* d, size_t s, size_t n, void* u) {
  static_cast<Reply*>(u)->body.append(d, s * n);
  return s * n;
}

size_t on_header(char* d, size_t s, size_t n, void* u) {
  auto* r = static_cast<Reply*>(u);
  std::string line(d, s * n);
  if (line.rfind("HTTP/", 0) == 0) r->headers.clear();  // a new response (after a redirect)
  if (const auto colon = line.find(':'); colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r\n") + 1);
    r->headers[name] = value;
  }
  return s * n;
}

// One request as reqwest makes it for Dragonfly's backend: redirects followed, Range kept on them.
Reply request(const std::string& method, const std::string& url, const std::string& range = {}, bool follow = true) {
  Reply r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!range.empty()) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &r.redirects);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  curl_easy_cleanup(c);
  return r;
}

// Smaller than Dragonfly's pieces (MiB), so that the sample's larger files span several ranges.
constexpr std::size_t k_piece = 4096;

class DragonflyShaped : public ::testing::Test {
 protected:
  TempDir dir;
  std::string sample = source_dir() + "/sample/tiny-model";
  std::string origin_cache = dir / "origin";
  std::string commit = "4c6b9f2e0d1a3b5c7e9f8a6b4c2d0e1f3a5b7c9d";
  std::map<std::string, std::string> files;  // path in the repo -> bytes

  void SetUp() override {
    auto imported = run_process({hubcache_bin(), "import", sample, "--repo", "org/tiny-model", "--commit", commit, "--copy",
                                 "--cache-dir", origin_cache});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    for (auto it = stdfs::recursive_directory_iterator(sample); it != stdfs::recursive_directory_iterator(); ++it)
      if (it->is_regular_file()) files[it->path().string().substr(sample.size() + 1)] = read_file(it->path().string());
    ASSERT_GE(files.size(), 7u);
    ASSERT_TRUE(files.count("model.safetensors"));  // an LFS file: its resolve redirects to /_blobs/
  }

  // `dfget hf://org/tiny-model -r --hf-base-url <base>` (revision main), request for request;
  // each file's bytes as the ranged GETs returned them.
  void fetch_recursively(const std::string& base) {
    const auto info = request("GET", base + "/api/models/org/tiny-model?revision=main");
    ASSERT_EQ(info.status, 200) << info.error << info.body;
    const auto j = nlohmann::json::parse(info.body);
    EXPECT_EQ(j.at("sha"), commit);
    std::set<std::string> listed;
    for (const auto& s : j.at("siblings")) listed.insert(s.at("rfilename").get<std::string>());
    std::set<std::string> want;
    for (const auto& [path, _] : files) want.insert(path);
    EXPECT_EQ(listed, want);
    for (const auto& path : listed) {
      SCOPED_TRACE(base + " " + path);
      const std::string url = base + "/org/tiny-model/resolve/main/" + path;
      const auto head = request("HEAD", url);  // the backend's stat: size from Content-Length
      ASSERT_EQ(head.status, 200) << head.error;
      const std::string& bytes = files.at(path);
      EXPECT_EQ(head.header("content-length"), std::to_string(bytes.size()));
      std::string got;
      for (std::size_t at = 0; at < bytes.size(); at += k_piece) {
        const std::size_t last = std::min(bytes.size(), at + k_piece) - 1;
        const auto piece = request("GET", url, std::to_string(at) + "-" + std::to_string(last));
        ASSERT_EQ(piece.status, 206) << piece.error << piece.body;
        EXPECT_EQ(piece.header("content-range"),
                  "bytes " + std::to_string(at) + "-" + std::to_string(last) + "/" + std::to_string(bytes.size()));
        // LFS files are served through /_blobs/, the others at /resolve itself.
        EXPECT_EQ(piece.redirects, path == "model.safetensors" ? 1 : 0);
        got += piece.body;
      }
      EXPECT_TRUE(got == bytes) << got.size() << " bytes, want " << bytes.size();
      const auto whole = request("GET", url);
      EXPECT_EQ(whole.status, 200);
      EXPECT_TRUE(whole.body == bytes);
    }
  }
};

}  // namespace

TEST_F(DragonflyShaped, TheHfBackendsRequestsGetEveryFileFromTheMirror) {
  ServeProcess origin({"--cache-dir", origin_cache, "--quiet"});
  ASSERT_FALSE(origin.url().empty()) << origin.err_output();
  fetch_recursively(origin.url());
}

TEST_F(DragonflyShaped, TheHfBackendsRequestsGetEveryFileThroughAProxyOverAnEmptyCache) {
  ServeProcess origin({"--cache-dir", origin_cache, "--quiet"});
  ASSERT_FALSE(origin.url().empty()) << origin.err_output();
  const std::string proxy_cache = dir / "proxy";
  stdfs::create_directories(proxy_cache);
  ServeProcess proxy({"--upstream", origin.url(), "--cache-dir", proxy_cache, "--quiet"});
  ASSERT_FALSE(proxy.url().empty()) << proxy.err_output();
  fetch_recursively(proxy.url());
  // The proxy filled its own cache from the origin (the bytes did not come from anywhere else).
  const std::string& weights = files.at("model.safetensors");
  EXPECT_TRUE(read_file(proxy_cache + "/models--org--tiny-model/blobs/" + sha256_hex(weights)) == weights);
}

// The dfdaemon proxy rule in deploy/dragonfly/README.md: its regex takes hubcache's blob URLs (and
// not /resolve, whose answer changes with the branch), and its filteredQueryParams name every
// query parameter of those URLs, so that one blob is one Dragonfly task whatever its signature.
TEST_F(DragonflyShaped, TheReadmesProxyRuleKeysBlobUrlsWithoutTheirSignature) {
  const std::string readme = read_file(source_dir() + "/deploy/dragonfly/README.md");
  const std::regex rule_regex(R"(- regex: '([^']*)')");
  const std::regex params_regex(R"(filteredQueryParams: \[([^\]]*)\])");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(readme, m, rule_regex)) << "no `- regex: '...'` line in the README";
  const std::string rule = m[1];
  ASSERT_TRUE(std::regex_search(readme, m, params_regex)) << "no `filteredQueryParams: [...]` line in the README";
  std::set<std::string> filtered;
  const std::string list = m[1];
  const std::regex quoted(R"re("([^"]*)")re");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), quoted); it != std::sregex_iterator(); ++it)
    filtered.insert((*it)[1]);
  ASSERT_FALSE(filtered.empty()) << list;

  ServeProcess origin({"--cache-dir", origin_cache, "--quiet"});
  ASSERT_FALSE(origin.url().empty()) << origin.err_output();
  const auto resolved = request("GET", origin.url() + "/org/tiny-model/resolve/main/model.safetensors", {}, false);
  ASSERT_EQ(resolved.status, 302);
  const std::string location = resolved.header("location");
  ASSERT_EQ(location.rfind(origin.url() + "/_blobs/", 0), 0u) << location;
  // As a pod sees it: the README's rule is written for the Service of deploy/kubernetes/.
  const std::string in_cluster = "http://hubcache.ml.svc:8080";
  const std::regex re(rule);
  EXPECT_TRUE(std::regex_search(in_cluster + location.substr(origin.url().size()), re)) << rule << " vs " << location;
  EXPECT_FALSE(std::regex_search(in_cluster + "/org/tiny-model/resolve/main/model.safetensors", re)) << rule;
  const auto q = location.find('?');
  ASSERT_NE(q, std::string::npos) << "the blob URL is signed in its query";
  std::set<std::string> keys;
  for (std::size_t at = q + 1; at < location.size();) {
    const std::size_t amp = std::min(location.find('&', at), location.size());
    const std::string pair = location.substr(at, amp - at);
    keys.insert(pair.substr(0, pair.find('=')));
    at = amp + 1;
  }
  ASSERT_FALSE(keys.empty());
  for (const auto& k : keys) EXPECT_TRUE(filtered.count(k)) << "the README's filteredQueryParams lack '" << k << "'";
  // The URL stays usable as Dragonfly's back-to-source fetch makes it.
  const auto blob = request("GET", location);
  EXPECT_EQ(blob.status, 200);
  EXPECT_TRUE(blob.body == files.at("model.safetensors"));
}

}  // namespace hubcache::test

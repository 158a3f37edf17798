// libFuzzer target: request parsing helpers and the Router over a small fixed cache.
// Input: "METHOD TARGET [VERSION]\nHeader: value\n...\n\nbody" (TARGET may carry a query string).
// Invariants checked beyond "no crash / no sanitizer report": a 2xx body never comes from a file
// outside the cache, and error responses always carry a JSON body.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/server/http.hpp"
#include "hubcache/server/router.hpp"
#include "hubcache/util/hash.hpp"

using namespace hubcache;
using namespace hubcache::server;

namespace {

const std::string k_secret = "FUZZ-SECRET-OUTSIDE-THE-CACHE";

void put(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
}

void add(const std::string& root, const RepoRef& repo, const std::string& commit, const std::string& path,
         const std::string& content, bool lfs) {
  RepoLayout l(root, repo);
  const std::string etag = lfs ? sha256_hex(content) : git_blob_sha1_hex(content);
  put(l.blob_path(etag), content);
  const std::string pointer = l.pointer_path(commit, path);
  std::filesystem::create_directories(std::filesystem::path(pointer).parent_path());
  (void)::symlink(pointer_target(path, etag).c_str(), pointer.c_str());
}

const Router& router() {
  static std::unique_ptr<Router> r = [] {
    char tmpl[] = "/tmp/hubcache-fuzz-XXXXXX";
    const std::string base = ::mkdtemp(tmpl);
    const std::string root = base + "/cache";
    put(base + "/secret.txt", k_secret);
    const RepoRef m{RepoType::Model, "org/m"}, d{RepoType::Dataset, "d"}, p{RepoType::Model, "org/p"};
    const std::string c1(40, '1'), c2(40, '2');
    add(root, m, c1, "config.json", "{}", false);
    add(root, m, c1, "a/b/c.txt", "abc", false);
    add(root, m, c1, "w.bin", std::string(3000, 'w'), true);
    add(root, m, c2, "x", "", false);
    add(root, d, c1, "t.csv", "1,2\n", false);
    add(root, p, c1, "s", "private", false);
    put(RepoLayout(root, m).ref_path("main"), c1);
    put(RepoLayout(root, m).ref_path("refs/pr/1"), c2);
    put(RepoLayout(root, d).ref_path("main"), c1);
    put(RepoLayout(root, p).ref_path("main"), c1);
    (void)::symlink((base + "/secret.txt").c_str(), RepoLayout(root, m).pointer_path(c1, "escape").c_str());
    // A tree record listing a file the cache lacks (a mirror holding part of a commit).
    TreeFileEntry held{"config.json", 2, git_blob_sha1_hex("{}"), {}, {}, {}};
    TreeFileEntry lacking{"deep/missing.bin", 7, git_blob_sha1_hex("missing"), {}, {}, {}};
    if (!write_tree_file(RepoLayout(root, m), c1, {held, lacking})) std::abort();
    RouterOptions o;
    o.cache_dir = root;
    o.private_repos = {"org/p"};
    o.tokens = {"hf_fuzz"};
    o.tree_page_size = 3;
    o.tree_expand_page_size = 2;
    auto created = Router::create(o);
    if (!created) std::abort();
    return std::move(created.value());
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  // Helpers on the raw input.
  (void)percent_decode(in, true);
  (void)parse_form(in);
  (void)decide_range(in, 1000);
  (void)decide_range(in, 0);
  (void)if_none_match(in, "\"abc\"");
  (void)if_range_matches(in, "\"abc\"", http_date(1700000000));

  Request req;
  std::size_t pos = in.find('\n');
  const std::string line = in.substr(0, pos);
  const std::size_t sp = line.find(' ');
  req.method = line.substr(0, sp);
  std::string target = sp == std::string::npos ? std::string("/") : line.substr(sp + 1);
  // "METHOD TARGET HTTP/1.1" names the version; without one, HTTP/1.0 (no Host needed).
  req.version = "HTTP/1.0";
  if (const std::size_t v = target.rfind(" HTTP/"); v != std::string::npos) {
    req.version = target.substr(v + 1);
    target.resize(v);
  }
  const std::size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string qs = target.substr(q + 1);
    std::size_t i = 0;
    while (i <= qs.size()) {
      std::size_t j = qs.find('&', i);
      if (j == std::string::npos) j = qs.size();
      const std::string kv = qs.substr(i, j - i);
      const std::size_t eq = kv.find('=');
      req.query.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
      i = j + 1;
    }
  }
  while (pos != std::string::npos) {
    const std::size_t next = in.find('\n', pos + 1);
    const std::string h = in.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    pos = next;
    if (h.empty()) {
      if (next != std::string::npos) req.body = in.substr(next + 1);
      break;
    }
    const std::size_t colon = h.find(':');
    req.headers.emplace_back(h.substr(0, colon), colon == std::string::npos ? "" : h.substr(colon + 1));
  }
  req.base_url = "http://127.0.0.1:1";
  const Response r = router().handle(req);
  if (r.status < 100 || r.status > 599) std::abort();
  // Error messages echo the request, so only a secret the input did not carry is a leak.
  if (r.body.find(k_secret) != std::string::npos && in.find(k_secret) == std::string::npos) std::abort();
  if (r.file) {
    // The served descriptor must be a regular file whose bytes are not the outside secret.
    struct stat st {};
    if (::fstat(r.file.get(), &st) != 0 || !S_ISREG(st.st_mode)) std::abort();
    if (static_cast<std::uint64_t>(st.st_size) == k_secret.size()) {
      std::string buf(k_secret.size(), '\0');
      if (::pread(r.file.get(), buf.data(), buf.size(), 0) == static_cast<ssize_t>(buf.size()) && buf == k_secret) std::abort();
    }
    if (r.file_offset + r.file_length > static_cast<std::uint64_t>(st.st_size)) std::abort();
  }
  if (r.status >= 400 && r.body.empty()) std::abort();
  return 0;
}

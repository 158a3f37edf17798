// Throughput of verify_repo (OpenSSL SHA-256 / git SHA-1 across cores) on a temp cache whose
// blobs are real random content named by their hash. The blobs were just written, so they are
// in the page cache: this measures hashing, not the disk.
//
//   verify_bench [--files 8] [--mb 64] [--dir /tmp]
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <algorithm>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/manage/verify.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"

using namespace hubcache;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void fill_cache(const std::string& root, const RepoRef& repo, int files, std::size_t bytes, bool lfs) {
  const RepoLayout l(root, repo);
  (void)init_repo_folder(l);
  const std::string commit(40, lfs ? 'a' : 'b');
  std::mt19937_64 rng(lfs ? 1 : 2);
  std::string data(bytes, '\0');
  for (int f = 0; f < files; ++f) {
    for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
      const auto x = rng();
      std::memcpy(&data[i], &x, 8);
    }
    const std::string etag = lfs ? sha256_hex(data) : git_blob_sha1_hex(data);
    const std::string tmp = l.blobs_dir() + "/tmp" + std::to_string(f);
    if (!fs::write_file_atomic(tmp, data) || !publish_blob(l, tmp, etag) ||
        !create_pointer(l, commit, "file-" + std::to_string(f) + ".bin", etag, LinkMode::Symlink)) {
      std::fprintf(stderr, "cannot build the bench cache in %s\n", root.c_str());
      std::exit(1);
    }
  }
  (void)write_ref(l, "main", commit);
}

void measure(const std::string& root, const RepoRef& repo, const char* algo, unsigned threads, double total_mb) {
  VerifyOptions o;
  o.threads = threads;
  const auto start = std::chrono::steady_clock::now();
  auto r = verify_repo(root, repo, std::nullopt, o);
  const double s = seconds_since(start);
  if (!r || !r->ok()) {
    std::fprintf(stderr, "verify failed\n");
    std::exit(1);
  }
  std::printf("%-8s threads=%u  %zu files  %.0f MB  %.3f s  %.0f MB/s\n", algo, threads == 0 ? 2u : threads, r->checked, total_mb,
              s, total_mb / s);
}

}  // namespace

int main(int argc, char** argv) {
  int files = 8;
  std::size_t mb = 64;
  std::string base = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--files"))
      files = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--mb"))
      mb = std::strtoul(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--dir"))
      base = argv[i + 1];
  }
  std::string tmpl = base + "/hubcache-verify-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string root = tmpl;
  const RepoRef lfs{RepoType::Model, "bench/lfs"}, git{RepoType::Model, "bench/git"};
  fill_cache(root, lfs, files, mb << 20, true);
  fill_cache(root, git, files, mb << 20, false);
  const double total_mb = static_cast<double>(files) * static_cast<double>(mb << 20) / 1e6;
  std::printf("%d files x %zu MiB per repo (page cache warm), hardware threads: %u\n", files, mb,
              std::max(1u, std::thread::hardware_concurrency()));
  for (unsigned threads : {1u, 0u}) {
    measure(root, lfs, "sha256", threads, total_mb);
    measure(root, git, "git-sha1", threads, total_mb);
  }
  std::filesystem::remove_all(root);
  return 0;
}

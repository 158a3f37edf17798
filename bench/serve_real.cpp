// `bench_download serve-real`: the test Hub in real-Hub mode (signed CDN URLs on a second port,
// relative 307s for small files, latency and a per-connection rate cap) serving generated repos
// until SIGTERM/SIGINT, so separate commands can be timed against it by an outside timer
// (bench/realhub_bench.sh).
//   bench_download serve-real [--latency-ms N] [--rate-mb N] [--big-mb N] [--small N]
//                             [--expiry-s N] [--port-file F]
// Repos: bench/big (one LFS file big.bin of --big-mb MiB: a sparse file under $TMPDIR, a few
// random blocks, so memory and disk stay small) and bench/small (--small files of 0.5-4.5 KB).
// --rate-mb is megabytes (10^6 bytes) per second per connection on both ports (0 = unlimited).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

// A sparse file of `size` bytes with a random MiB every 64 MiB; returns its SHA-256.
std::string make_sparse_source(const std::string& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) std::perror("serve-real: source");
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> buf(1 << 17);  // 1 MiB
  for (std::uint64_t off = 0; off < size; off += 64ull << 20) {
    for (auto& x : buf) x = rng();
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size() * 8, size - off));
    if (::pwrite(fd, buf.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) std::perror("pwrite");
  }
  ::close(fd);
  return hash_file(path, HashWhat::Sha256)->sha256;
}

}  // namespace

int serve_real(int argc, char** argv) {
  long latency_ms = 30, rate_mb = 50, big_mb = 1024, small = 2001, expiry_s = 3600;
  std::string port_file;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (!has_value) {
      std::fprintf(stderr, "serve-real: %s needs a value\n", a.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--latency-ms")
      latency_ms = std::atol(v.c_str());
    else if (a == "--rate-mb")
      rate_mb = std::atol(v.c_str());
    else if (a == "--big-mb")
      big_mb = std::atol(v.c_str());
    else if (a == "--small")
      small = std::atol(v.c_str());
    else if (a == "--expiry-s")
      expiry_s = std::atol(v.c_str());
    else if (a == "--port-file")
      port_file = v;
    else {
      std::fprintf(stderr, "serve-real: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  // Blocked before the server starts its threads, so only sigwait() below takes them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  TempDir dir;
  HubServer server;
  const RepoRef big_repo{RepoType::Model, "bench/big"}, small_repo{RepoType::Model, "bench/small"};
  const std::string commit_big = commit_id(21), commit_small = commit_id(22);
  const std::uint64_t size = static_cast<std::uint64_t>(big_mb) << 20;
  const std::string src = dir / "big.bin";
  const std::string sha = make_sparse_source(src, size);
  server.add_disk_file(big_repo, commit_big, "big.bin", src, size, sha);
  server.set_ref(big_repo, "main", commit_big);
  std::mt19937 rng(5);
  for (long i = 0; i < small; ++i) {
    std::string content(512 + rng() % 4096, '\0');
    for (auto& ch : content) ch = static_cast<char>(rng());
    server.add_file(small_repo, commit_small, "shard" + std::to_string(i / 100) + "/file" + std::to_string(i) + ".json", content);
  }
  server.set_ref(small_repo, "main", commit_small);
  server.set_real_hub({.url_expiry = std::chrono::seconds(expiry_s),
                       .latency = std::chrono::milliseconds(latency_ms),
                       .rate_bytes_per_second = static_cast<std::uint64_t>(rate_mb) * 1000000});
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << server.endpoint() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::printf(
      "serve-real: %s (CDN port %u) bench/big: %ld MiB big.bin sha256 %s; bench/small: %ld files; latency %ld ms, "
      "%ld MB/s per connection, URLs expire after %ld s\n",
      server.endpoint().c_str(), server.cdn_port(), big_mb, sha.c_str(), small, latency_ms, rate_mb, expiry_s);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  std::printf("serve-real: %s, %zu requests served, %llu body bytes from the CDN port\n", strsignal(sig),
              server.requests().size(), static_cast<unsigned long long>(server.body_bytes("/cdn/")));
  return 0;
}

// Generates a synthetic Hub cache for benchmarks: REPOS repos x REVISIONS revisions x FILES files.
// Blobs are sparse files (ftruncate), so a cache of terabytes of "weights" costs a few MB of
// disk. Consecutive revisions share FILES - CHANGED files, like real repos where a commit
// touches a few files. Files are top-level in the snapshot (the JS scanner ignores sub-folders).
//
//   hubcache_gen_cache OUT_DIR [--repos 1000] [--revisions 2] [--files 50] [--changed 10]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void die(const std::string& what) {
  std::perror(what.c_str());
  std::exit(1);
}

void mkdir_p(const std::string& path) {
  for (std::size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/')
      if (::mkdir(path.substr(0, i).c_str(), 0755) != 0 && errno != EEXIST) die("mkdir " + path.substr(0, i));
}

void write_file(const std::string& path, const std::string& data, off_t sparse_size = -1) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open " + path);
  if (!data.empty() && ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) die("write " + path);
  if (sparse_size >= 0 && ::ftruncate(fd, sparse_size) != 0) die("ftruncate " + path);
  ::close(fd);
}

// A deterministic 64-hex blob name (not a content hash: the blob bytes are sparse zeros).
std::string fake_sha256(unsigned long long a, unsigned long long b) {
  char buf[65];
  unsigned long long x = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL);
  for (int i = 0; i < 64; ++i) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 29;
    buf[i] = "0123456789abcdef"[x & 0xf];
  }
  buf[64] = '\0';
  return buf;
}

std::string commit_hex(unsigned long long repo, unsigned long long rev) { return fake_sha256(repo + 7777, rev).substr(0, 40); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [--repos N] [--revisions N] [--files N] [--changed N]\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  unsigned long repos = 1000, revisions = 2, files = 50, changed = 10;
  for (int i = 2; i + 1 < argc; i += 2) {
    const unsigned long v = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--repos"))
      repos = v;
    else if (!std::strcmp(argv[i], "--revisions"))
      revisions = v;
    else if (!std::strcmp(argv[i], "--files"))
      files = v;
    else if (!std::strcmp(argv[i], "--changed"))
      changed = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  mkdir_p(out);
  write_file(out + "/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
  unsigned long long pointers = 0, blobs = 0;
  for (unsigned long r = 0; r < repos; ++r) {
    const std::string repo = out + "/models--bench-org--model-" + std::to_string(r);
    mkdir_p(repo + "/blobs");
    mkdir_p(repo + "/refs");
    for (unsigned long v = 0; v < revisions; ++v) {
      const std::string commit = commit_hex(r, v);
      const std::string snap = repo + "/snapshots/" + commit;
      mkdir_p(snap);
      for (unsigned long f = 0; f < files; ++f) {
        // File f changes at revision v only if it is among the `changed` ones; otherwise it
        // keeps the blob of revision 0.
        const unsigned long version = (f < changed) ? v : 0;
        const std::string etag = fake_sha256(r * 100003ULL + f, version);
        const std::string blob = repo + "/blobs/" + etag;
        struct stat st {};
        if (::stat(blob.c_str(), &st) != 0) {
          write_file(blob, "", static_cast<off_t>((f * 7919 + r * 104729 + version * 13) % 50'000'000));
          ++blobs;
        }
        const std::string name = f == 0 ? "config.json" : "model-" + std::to_string(f) + ".safetensors";
        if (::symlink(("../../blobs/" + etag).c_str(), (snap + "/" + name).c_str()) != 0 && errno != EEXIST)
          die("symlink " + snap + "/" + name);
        ++pointers;
      }
    }
    write_file(repo + "/refs/main", commit_hex(r, revisions - 1));
  }
  std::printf("%lu repos, %llu pointers, %llu blobs in %s\n", repos, pointers, blobs, out.c_str());
  return 0;
}

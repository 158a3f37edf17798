// Generates a home folder for the doctor benchmark: 200,000 files, 50.5 GB apparent in sparse
// model files (no disk space used). The shape of a busy workstation:
//   .cache/huggingface/hub   20 repos, each one 1 GiB sparse weights file + 20 small files, a ref
//   projects/pNNN            200 source trees: 300 source files, 400 files in node_modules, 100 in
//                            .git; every 20th keeps a ./model_cache (a Hub cache with one 1 GiB
//                            repo also in the central cache: a planted duplicate) and a .env line
//   work/local-N             10 `--local-dir` copies (1 GiB sparse, with current records) of central repos 10-19
//   .ollama/models           7 blobs of 1 GiB sparse, with manifests
//   docs/                    40,000 small files in 400 folders
// usage: hubcache_gen_home OUT   (OUT must not exist)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/local_dir.hpp"
#include "hubcache/util/hash.hpp"

namespace sfs = std::filesystem;
using namespace hubcache;

namespace {

std::size_t g_files = 0;
std::uint64_t g_apparent = 0;

void put(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    std::perror(path.c_str());
    std::exit(1);
  }
  ::close(fd);
  ++g_files;
  g_apparent += content.size();
}

void sparse(const std::string& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
  ::close(fd);
  ++g_files;
  g_apparent += size;
}

std::string commit_of(int i) { return git_blob_sha1_hex("commit " + std::to_string(i)); }
std::string weights_etag(int i) { return sha256_hex("weights " + std::to_string(i)); }

// A Hub cache repo at `cache`: one sparse weights file named by a (claimed) SHA-256 and `small` small files.
void hub_repo(const std::string& cache, int i, std::uint64_t weights, int small) {
  const RepoRef repo{RepoType::Model, "org/model-" + std::to_string(i)};
  const RepoLayout l(cache, repo);
  const std::string commit = commit_of(i), snap = l.snapshot_dir(commit);
  sfs::create_directories(l.blobs_dir());
  sfs::create_directories(snap);
  sfs::create_directories(l.refs_dir());
  put(l.refs_dir() + "/main", commit);
  sparse(l.blobs_dir() + "/" + weights_etag(i), weights);
  sfs::create_symlink(pointer_target("model.safetensors", weights_etag(i)), snap + "/model.safetensors");
  for (int k = 0; k < small; ++k) {
    const std::string content = "{\"file\": " + std::to_string(k) + ", \"repo\": " + std::to_string(i) + "}\n";
    const std::string etag = git_blob_sha1_hex(content), path = "f" + std::to_string(k) + ".json";
    put(l.blobs_dir() + "/" + etag, content);
    sfs::create_symlink(pointer_target(path, etag), snap + "/" + path);
  }
}

void small_tree(const std::string& dir, int files, int per_folder, const char* ext) {
  for (int k = 0; k < files; ++k) {
    const std::string sub = dir + "/d" + std::to_string(k / per_folder);
    if (k % per_folder == 0) sfs::create_directories(sub);
    put(sub + "/file" + std::to_string(k) + ext, "x = " + std::to_string(k) + "\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT\n", argv[0]);
    return 2;
  }
  const std::string home = argv[1];
  if (sfs::exists(home)) {
    std::fprintf(stderr, "%s exists\n", home.c_str());
    return 2;
  }
  constexpr std::uint64_t GiB = 1ull << 30;
  const std::string hub = home + "/.cache/huggingface/hub";
  for (int i = 0; i < 20; ++i) hub_repo(hub, i, GiB, 20);
  for (int p = 0; p < 200; ++p) {
    const std::string proj = home + "/projects/p" + std::to_string(p);
    small_tree(proj + "/src", 300, 50, ".py");
    small_tree(proj + "/node_modules", 400, 40, ".js");
    small_tree(proj + "/.git/objects", 100, 25, "");
    if (p % 20 == 0) {
      hub_repo(proj + "/model_cache", p / 20, GiB, 2);  // the same repo as the central cache's, copied
      put(proj + "/.env", "HF_CACHE_DIR=./model_cache\n");
    }
  }
  for (int n = 0; n < 10; ++n) {
    const std::string dir = home + "/work/local-" + std::to_string(n);
    sfs::create_directories(dir);
    sparse(dir + "/model.safetensors", GiB);
    const LocalDirLayout l(dir);
    sfs::create_directories(l.download_dir());
    put(l.metadata_path("model.safetensors"),
        format_local_metadata({commit_of(10 + n), weights_etag(10 + n), static_cast<double>(std::time(nullptr)) + 60}));
  }
  const std::string ollama = home + "/.ollama/models";
  sfs::create_directories(ollama + "/blobs");
  for (int b = 0; b < 7; ++b) {
    const std::string digest = sha256_hex("ollama " + std::to_string(b));
    sparse(ollama + "/blobs/sha256-" + digest, GiB);
    const std::string m = ollama + "/manifests/registry.ollama.ai/library/m" + std::to_string(b);
    sfs::create_directories(m);
    put(m + "/latest", R"({"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" +
                           digest + R"(","size":1}]})");
  }
  const std::size_t so_far = g_files;
  small_tree(home + "/docs", static_cast<int>(200000 - std::min<std::size_t>(so_far, 200000)), 100, ".md");
  std::printf("%zu files, %.1f GB apparent\n", g_files, static_cast<double>(g_apparent) / 1e9);
  return 0;
}

// The package consumer (tests/package/run.sh builds it against an installed hubcache with
// find_package and with pkg-config, and with add_subdirectory): it compiles with the public
// headers alone, links every module it reaches (manage, resolve down to libcurl, server with
// libmicrohttpd) and prints what the driver checks. Argument: an empty directory to use as cache.
#include <hubcache/cache/hf_uri.hpp>
#include <hubcache/manage/scan.hpp>
#include <hubcache/resolve/download.hpp>
#include <hubcache/server/server.hpp>
#include <hubcache/version.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer EMPTY_CACHE_DIR\n");
    return 2;
  }
  const std::string cache = argv[1];
  std::printf("version %s\n", hubcache::k_version);

  auto uri = hubcache::parse_hf_uri("hf://datasets/org/name@v1/data/train.csv");
  if (!uri) {
    std::fprintf(stderr, "parse_hf_uri: %s\n", uri.error().message.c_str());
    return 1;
  }
  std::printf("uri %s %s %s %s\n", hubcache::to_string(uri->type), uri->repo_id.c_str(), uri->revision.value_or("-").c_str(),
              uri->path.c_str());

  auto scan = hubcache::scan_cache(cache);
  if (!scan) {
    std::fprintf(stderr, "scan_cache: %s\n", scan.error().message.c_str());
    return 1;
  }
  std::printf("scan repos=%zu size=%llu\n", scan->repos.size(), static_cast<unsigned long long>(scan->size_on_disk));

  hubcache::DownloadOptions options;
  options.cache_dir = cache;
  options.offline = true;  // no socket: the answer comes from the (empty) cache
  hubcache::Downloader hub(options);
  hubcache::FileRequest request;
  request.repo_id = "org/name";
  request.filename = "config.json";
  auto file = hub.download_file(request);
  std::printf("offline download %s\n", file ? "found" : hubcache::to_string(file.error().code));

  hubcache::server::ServerOptions serve;
  serve.router.cache_dir = cache;
  serve.port = 0;
  serve.threads = 1;
  auto server = hubcache::server::Server::start(serve);
  if (!server) {
    std::fprintf(stderr, "Server::start: %s\n", server.error().message.c_str());
    return 1;
  }
  std::printf("serve %s\n", (*server)->port() != 0 ? "listening" : "no port");
  (*server)->stop();
  return 0;
}

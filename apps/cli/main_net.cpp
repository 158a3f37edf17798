// hubcache-net: the network commands of hubcache (download, serve, lock, sync, inspect, auth login / whoami). Users run them as
// `hubcache download ...` / `hubcache serve ...`; `hubcache` execs this program (see main.cpp).
#include <fmt/core.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

#include "cli.hpp"
#include "hubcache/version.hpp"

int main(int argc, char** argv) {
  using namespace hubcache::cli;
#ifdef __GLIBC__
  // A download's threads mostly wait on the network: two malloc arenas instead of glibc's eight
  // per core keep peak RSS about 1 MiB lower for the 2,001-file snapshot of bench/README.md at no
  // measured cost in time. MALLOC_ARENA_MAX in the environment still wins.
  if (argc >= 2 && std::strcmp(argv[1], "download") == 0 && std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
#endif
  CLI::App app{"hubcache: Hugging Face Hub cache, downloads and mirror, native", "hubcache"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hubcache ") + hubcache::k_version);
  Context ctx;
  add_download_command(app, ctx);
  add_serve_command(app, ctx);
  add_lock_command(app, ctx);
  add_inspect_command(app, ctx);
  add_auth_net_command(app, ctx);
  return parse_and_run(app, ctx, argc, argv);
}

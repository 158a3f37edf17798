// hubcache-net: the network commands of hubcache (download, serve, auth login / whoami). Users run them as
// `hubcache download ...` / `hubcache serve ...`; `hubcache` execs this program (see main.cpp).
#include <fmt/core.h>

#include "cli.hpp"
#include "hubcache/version.hpp"

int main(int argc, char** argv) {
  using namespace hubcache::cli;
  CLI::App app{"hubcache: Hugging Face Hub cache, downloads and mirror, native", "hubcache"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hubcache ") + hubcache::k_version);
  Context ctx;
  add_download_command(app, ctx);
  add_serve_command(app, ctx);
  add_auth_net_command(app, ctx);
  return parse_and_run(app, ctx, argc, argv);
}

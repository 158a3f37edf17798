// hubcache command-line entry point: registers the subcommands and maps errors to exit codes.
//
// The network commands (download, serve, lock, sync, inspect, auth login, auth whoami) live in the sibling executable
// `hubcache-net`, which this one execs with the same arguments. That keeps libcurl, libmicrohttpd and their ~35 shared libraries
// out of the offline commands: `hubcache resolve` starts in ~1-2 ms instead of ~5 ms, which matters when inference code shells
// out to it per file.
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "cli.hpp"
#include "hubcache/version.hpp"

namespace {

int exec_network_tool(char** argv) {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string path = "hubcache-net";
  if (n > 0) {
    std::string exe(self, static_cast<std::size_t>(n));
    path = exe.substr(0, exe.rfind('/') + 1) + "hubcache-net";
  }
  ::execv(path.c_str(), argv);
  fmt::print(stderr, "Error: cannot run '{}': {}. It must be installed next to 'hubcache'; reinstall hubcache.\n", path,
             std::strerror(errno));
  return hubcache::cli::k_exit_failure;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hubcache::cli;
  if (argc >= 2 &&
      (std::strcmp(argv[1], "download") == 0 || std::strcmp(argv[1], "serve") == 0 || std::strcmp(argv[1], "lock") == 0 ||
       std::strcmp(argv[1], "sync") == 0 || std::strcmp(argv[1], "inspect") == 0))
    return exec_network_tool(argv);
  if (argc >= 3 && std::strcmp(argv[1], "auth") == 0 &&
      (std::strcmp(argv[2], "login") == 0 || std::strcmp(argv[2], "whoami") == 0))
    return exec_network_tool(argv);
  CLI::App app{"hubcache: Hugging Face Hub cache, downloads and mirror, native"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hubcache ") + hubcache::k_version);
  Context ctx;
  add_env_command(app, ctx);
  add_resolve_command(app, ctx);
  add_import_command(app, ctx);
  add_cache_command(app, ctx);
  add_du_command(app, ctx);
  add_doctor_command(app, ctx);
  add_dedupe_command(app, ctx);
  add_migrate_command(app, ctx);
  add_bundle_command(app, ctx);
  add_link_command(app, ctx);
  add_ollama_command(app, ctx);
  add_auth_command(app, ctx);
  // Listed for --help only: main() hands these to hubcache-net before parsing.
  app.add_subcommand("download", "Download a repo or files into the cache or a local dir (see download --help)");
  app.add_subcommand("serve", "Serve a cache as a Hub-compatible mirror (see serve --help)");
  app.add_subcommand("lock", "Pin repos to commits and files in hubcache.lock (see lock --help)");
  app.add_subcommand("sync", "Make the cache hold exactly what hubcache.lock names (see sync --help)");
  app.add_subcommand("inspect", "What a model needs before loading it, from its headers only (see inspect --help)");
  return parse_and_run(app, ctx, argc, argv);
}

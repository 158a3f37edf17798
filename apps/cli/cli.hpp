#pragma once
// Shared pieces of the hubcache CLI. The CLI is a thin layer: parse flags, call the library,
// render the result. Exit codes: 0 success, 1 a known failure, 2 usage error.
#include <CLI/CLI.hpp>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "hubcache/config/config.hpp"
#include "hubcache/util/error.hpp"

namespace hubcache::cli {

inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failure = 1;
inline constexpr int k_exit_usage = 2;

/// State shared by all subcommands; each callback stores its exit code here.
struct Context {
  Environment env = Environment::from_process();
  int exit_code = k_exit_ok;
};

/// Options most commands take.
struct CommonOptions {
  std::optional<std::string> cache_dir;
  bool json = false;
};
void add_cache_dir_option(CLI::App& cmd, CommonOptions& opts);
void add_json_option(CLI::App& cmd, CommonOptions& opts);

/// Config with --cache-dir applied; prints config warnings to stderr unless `quiet`.
Config load_config(const Context& ctx, const CommonOptions& opts, bool quiet = false);

/// Prints "Error: <message>" (or a JSON error object on stdout with --json) and returns 1.
int report_error(const Error& error, bool json);
void print_warning(const std::string& message);
/// Writes a JSON value to stdout, pretty when `pretty`.
void print_json(const nlohmann::json& value, bool pretty = true);

void add_env_command(CLI::App& app, Context& ctx);
void add_resolve_command(CLI::App& app, Context& ctx);
void add_import_command(CLI::App& app, Context& ctx);
void add_cache_command(CLI::App& app, Context& ctx);
void add_download_command(CLI::App& app, Context& ctx);
void add_serve_command(CLI::App& app, Context& ctx);

}  // namespace hubcache::cli

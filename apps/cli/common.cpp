#include <fmt/core.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace hubcache::cli {

void add_cache_dir_option(CLI::App& cmd, CommonOptions& opts) {
  cmd.add_option("--cache-dir", opts.cache_dir,
                 "Hub cache folder (beats HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE and HF_HOME)");
}

void add_json_option(CLI::App& cmd, CommonOptions& opts) {
  cmd.add_flag("--json", opts.json, "Machine-readable JSON on stdout");
}

Config load_config(const Context& ctx, const CommonOptions& opts, bool quiet) {
  Overrides ov;
  ov.cache_dir = opts.cache_dir;
  Config c = Config::from_env(ctx.env, ov);
  if (!quiet)
    for (const auto& w : c.warnings) print_warning(w);
  return c;
}

void print_warning(const std::string& message) { fmt::print(stderr, "Warning: {}\n", message); }

int report_error(const Error& error, bool json) {
  if (json) {
    nlohmann::json j = {{"error", {{"code", to_string(error.code)}, {"message", error.message}}}};
    if (!error.path.empty()) j["error"]["path"] = error.path;
    if (!error.missing.empty()) j["error"]["missing"] = error.missing;
    print_json(j);
  }
  fmt::print(stderr, "Error: {}\n", error.message);
  return k_exit_failure;
}

void print_json(const nlohmann::json& value, bool pretty) {
  const std::string s = pretty ? value.dump(2) : value.dump();
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace hubcache::cli

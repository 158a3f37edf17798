// `hubcache env`: the resolved configuration and where each value came from.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace hubcache::cli {
namespace {

// A proxy URL with its password masked: "http://user:***@host:3128".
std::string mask_proxy_password(const std::string& url) {
  const auto start = url.find("://") == std::string::npos ? 0 : url.find("://") + 3;
  const auto at = url.find('@', start);
  if (at == std::string::npos) return url;
  const auto colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace

void add_env_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("env", "Show the resolved configuration and where each value came from");
  auto opts = std::make_shared<CommonOptions>();
  add_cache_dir_option(*cmd, *opts);
  add_json_option(*cmd, *opts);
  cmd->callback([&ctx, opts] {
    Config c = load_config(ctx, *opts, /*quiet=*/true);
    auto warnings = c.warnings;
    for (auto& w : diagnose_cache_dir(c.hub_cache.value)) warnings.push_back(std::move(w));
    // Whether a token is set, like `hf env`, but without opening the token file (a stat: env
    // never reads a secret it does not use).
    const std::string token_source = c.token_source_unread();
    const std::string token_state = token_source.empty() ? "not found" : "found (" + token_source + ")";
    nlohmann::json proxies = nlohmann::json::object();
    for (const auto& [name, value] : c.proxy_vars) proxies[name] = mask_proxy_password(value);
    if (opts->json) {
      auto src = [](const auto& s) { return nlohmann::json{{"value", s.value}, {"source", s.source}}; };
      nlohmann::json j = {
          {"hf_home", src(c.hf_home)},
          {"hub_cache", src(c.hub_cache)},
          {"token_path", src(c.token_path)},
          {"token", {{"found", !token_source.empty()}, {"source", token_source}}},
          {"endpoint", src(c.endpoint)},
          {"offline", src(c.offline)},
          {"etag_timeout", src(c.etag_timeout)},
          {"download_timeout", src(c.download_timeout)},
          {"disable_symlinks", c.disable_symlinks},
          {"disable_implicit_token", c.disable_implicit_token},
          {"ca_bundle", src(c.ca_bundle)},
          {"proxies", proxies},
          {"debug", c.debug},
          {"warnings", warnings},
      };
      print_json(j);
    } else {
      auto row = [](const char* k, const std::string& v, const std::string& s) {
        fmt::print("{:<18} {}{}\n", k, v, s.empty() ? "" : "  (" + s + ")");
      };
      row("HF_HOME", c.hf_home.value, c.hf_home.source);
      row("hub cache", c.hub_cache.value, c.hub_cache.source);
      row("token file", c.token_path.value, c.token_path.source);
      row("token", token_state, "");
      row("endpoint", c.endpoint.value, c.endpoint.source);
      row("offline", c.offline.value ? "yes" : "no", c.offline.source);
      row("etag timeout", std::to_string(c.etag_timeout.value) + " s", c.etag_timeout.source);
      row("download timeout", std::to_string(c.download_timeout.value) + " s", c.download_timeout.source);
      row("symlinks", c.disable_symlinks ? "disabled" : "enabled", c.disable_symlinks ? "HF_HUB_DISABLE_SYMLINKS" : "");
      row("CA bundle", c.ca_bundle.value.empty() ? "system store" : c.ca_bundle.value,
          c.ca_bundle.source == "system" ? "" : c.ca_bundle.source);
      if (c.proxy_vars.empty()) row("proxy", "none", "");
      for (const auto& [name, value] : c.proxy_vars) row("proxy", mask_proxy_password(value), name);
      if (c.debug) row("request log", "on", "HF_DEBUG");
      for (const auto& w : warnings) print_warning(w);
    }
    ctx.exit_code = k_exit_ok;
  });
}

}  // namespace hubcache::cli

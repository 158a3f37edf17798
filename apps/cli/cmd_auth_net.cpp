// `hubcache auth login / whoami`: the commands of `hf auth` that ask the Hub (GET /api/whoami-v2).
// The rest of `auth` is offline (cmd_auth.cpp). A token is never printed.
#include <fmt/core.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <memory>

#include "cli.hpp"
#include "hubcache/config/token_store.hpp"
#include "net_transport.hpp"
#include "hubcache/hub/hub.hpp"

namespace hubcache::cli {
namespace {

struct LoginOptions {
  std::optional<std::string> token;
};

// The token typed on a terminal (echo off) or the first line of stdin when it is not one.
std::string read_token_from_stdin() {
  std::string line;
  if (::isatty(STDIN_FILENO)) {
    // Echo goes off before the prompt shows, so nothing typed after it is ever echoed.
    termios old{};
    const bool have = ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (have) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    fmt::print(stderr, "Enter your token (input is not shown): ");
    std::fflush(stderr);
    std::getline(std::cin, line);
    if (have) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fmt::print(stderr, "\n");
  } else {
    std::getline(std::cin, line);
  }
  std::erase_if(line, [](char c) { return c == '\r' || c == '\n'; });
  const auto b = line.find_first_not_of(" \t");
  const auto e = line.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : line.substr(b, e - b + 1);
}

hub::HubApi make_api(const Config& c, std::optional<std::string> token) {
  hub::HubOptions h;
  h.endpoint = c.endpoint.value;
  h.token = std::move(token);
  h.etag_timeout = std::chrono::seconds(c.etag_timeout.value);
  h.download_timeout = std::chrono::seconds(c.download_timeout.value);
  return hub::HubApi(h, std::make_shared<http::Client>(net_transport(c)));
}

bool env_token_set(const Context& ctx) {
  return ctx.env.get_nonempty("HF_TOKEN").has_value() || ctx.env.get_nonempty("HUGGING_FACE_HUB_TOKEN").has_value();
}

int run_login(const Context& ctx, const LoginOptions& o) {
  const Config c = load_config(ctx, {});
  if (c.offline.value)
    return report_error(Error{ErrorCode::Offline,
                              "cannot log in while offline (" + c.offline.source +
                                  "): the token must be checked with the Hub. Go online and retry.",
                              {}},
                        false);
  std::string token = o.token ? *o.token : read_token_from_stdin();
  if (token.empty()) return usage_error("no token given: pass --token, type it when asked, or pipe it on stdin");
  if (token.rfind("api_org", 0) == 0)
    return usage_error("this is an organization token; log in with a personal access token (" + c.endpoint.value +
                       "/settings/tokens)");
  auto api = make_api(c, token);
  auto who = api.whoami();
  if (!who) return report_error(who.error(), false);
  const std::string name = who->token_name.empty() ? who->name : who->token_name;
  if (auto s = save_named_token(c.stored_tokens_path, name, token); !s) return report_error(s.error(), false);
  if (auto a = write_active_token(c.token_path.value, token); !a) return report_error(a.error(), false);
  fmt::print(stderr, "Token is valid (account '{}'{}).\n", who->name,
             who->token_role.empty() ? std::string() : ", permission: " + who->token_role);
  fmt::print(stderr, "Saved as '{}' in {}; it is the active token ({}).\n", name, c.stored_tokens_path, c.token_path.value);
  if (env_token_set(ctx))
    print_warning(
        "HF_TOKEN is set in the environment and is used instead of the token you just stored; unset it to use this one.");
  fmt::print(stderr, "Login successful.\n");
  return k_exit_ok;
}

int run_whoami(const Context& ctx, bool json) {
  const Config c = load_config(ctx, {});
  if (!c.token())
    return report_error(
        Error{ErrorCode::Unauthorized,
              "not logged in: no HF_TOKEN and no token file at " + c.token_path.value + ". Run: hubcache auth login",
              {}},
        json);
  auto api = make_api(c, c.token());
  auto who = api.whoami();
  if (!who) return report_error(who.error(), json);
  if (json) {
    print_json({{"name", who->name},
                {"type", who->type},
                {"orgs", who->orgs},
                {"token_name", who->token_name},
                {"token_role", who->token_role},
                {"token_source", c.token_source()},
                {"endpoint", c.endpoint.value}});
    return k_exit_ok;
  }
  fmt::print("{}\n", who->name);
  if (!who->orgs.empty()) fmt::print("orgs: {}\n", join(who->orgs, ","));
  fmt::print(stderr, "token '{}' ({}) from {} at {}\n", who->token_name, who->token_role.empty() ? "?" : who->token_role,
             c.token_source(), c.endpoint.value);
  return k_exit_ok;
}

}  // namespace

void add_auth_net_command(CLI::App& app, Context& ctx) {
  auto* auth = app.add_subcommand("auth", "Log in to the Hub and manage stored tokens (the files of `hf auth`)");
  auth->require_subcommand(1);
  auto o = std::make_shared<LoginOptions>();
  auto* login =
      auth->add_subcommand("login",
                           "Validate a token with GET /api/whoami-v2 on HF_ENDPOINT, store it by its name and make it active. "
                           "Without --token it is read without echo on a terminal, else from stdin");
  login->add_option("--token", o->token, "The access token (prefer typing it or piping it: a flag lands in shell history)");
  login->callback([&ctx, o] { ctx.exit_code = run_login(ctx, *o); });
  auto json = std::make_shared<bool>(false);
  auto* who = auth->add_subcommand("whoami", "Show the account of the active token (HF_TOKEN or the token file)");
  who->add_flag("--json", *json, "Print JSON");
  who->callback([&ctx, json] { ctx.exit_code = run_whoami(ctx, *json); });
}

}  // namespace hubcache::cli

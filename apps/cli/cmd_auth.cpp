// `hubcache auth list / switch / logout`: the token files of `hf auth`, offline. `auth login` and
// `auth whoami` ask the Hub and live in hubcache-net (cmd_auth_net.cpp). A token is never printed.
#include <fmt/core.h>

#include <algorithm>

#include "cli.hpp"
#include "hubcache/config/token_store.hpp"

namespace hubcache::cli {
namespace {

struct AuthOptions {
  std::string token_name;
};

bool env_token_set(const Context& ctx) {
  return ctx.env.get_nonempty("HF_TOKEN").has_value() || ctx.env.get_nonempty("HUGGING_FACE_HUB_TOKEN").has_value();
}

int run_list(const Context& ctx) {
  const Config c = load_config(ctx, {});
  auto tokens = read_stored_tokens(c.stored_tokens_path);
  if (!tokens) return report_error(tokens.error(), false);
  auto active = read_active_token(c.token_path.value);
  if (!active) return report_error(active.error(), false);
  if (tokens->empty()) {
    fmt::print(stderr, "No access tokens found in {}. Add one with: hubcache auth login\n", c.stored_tokens_path);
    return k_exit_ok;
  }
  std::size_t width = 4;
  for (const auto& t : *tokens) width = std::max(width, t.name.size());
  fmt::print("  {:<{}}  {}\n", "name", width, "token");
  bool any_active = false;
  for (const auto& t : *tokens) {
    const bool is_active = !active->empty() && t.token == *active;
    any_active = any_active || is_active;
    fmt::print("{} {:<{}}  {}\n", is_active ? "*" : " ", t.name, width, mask_token(t.token));
  }
  if (env_token_set(ctx))
    print_note("HF_TOKEN is set: it is used instead of the stored tokens listed above.");
  else if (!any_active)
    print_note("no stored token is active. Choose one with: hubcache auth switch NAME");
  return k_exit_ok;
}

int run_switch(const Context& ctx, const std::string& name) {
  const Config c = load_config(ctx, {});
  auto tokens = read_stored_tokens(c.stored_tokens_path);
  if (!tokens) return report_error(tokens.error(), false);
  std::vector<std::string> names;
  for (const auto& t : *tokens) names.push_back(t.name);
  if (name.empty())
    return usage_error(names.empty() ? "no stored tokens to switch to; add one with: hubcache auth login"
                                     : "name the token to switch to, one of: " + join(names, ", "));
  auto it = std::find_if(tokens->begin(), tokens->end(), [&](const auto& t) { return t.name == name; });
  if (it == tokens->end())
    return report_error(Error{ErrorCode::NotFound,
                              "no token named '" + name + "' in " + c.stored_tokens_path +
                                  (names.empty() ? ". Add one with: hubcache auth login" : ". Stored: " + join(names, ", ")),
                              c.stored_tokens_path},
                        false);
  if (auto w = write_active_token(c.token_path.value, it->token); !w) return report_error(w.error(), false);
  fmt::print(stderr, "The active token is now '{}' ({}).\n", name, c.token_path.value);
  if (env_token_set(ctx)) print_warning("HF_TOKEN is set and overrides the token you switched to; unset it to use this one.");
  return k_exit_ok;
}

int run_logout(const Context& ctx, const std::string& name) {
  const Config c = load_config(ctx, {});
  auto tokens = read_stored_tokens(c.stored_tokens_path);
  if (!tokens) return report_error(tokens.error(), false);
  auto active = read_active_token(c.token_path.value);
  if (!active) return report_error(active.error(), false);
  if (name.empty()) {
    auto a = remove_token_file(c.token_path.value);
    if (!a) return report_error(a.error(), false);
    auto s = remove_token_file(c.stored_tokens_path);
    if (!s) return report_error(s.error(), false);
    if (!*a && !*s)
      fmt::print(stderr, "Not logged in: no {} and no {}.\n", c.token_path.value, c.stored_tokens_path);
    else
      fmt::print(stderr, "Logged out: removed every stored token and the active one.\n");
  } else {
    auto it = std::find_if(tokens->begin(), tokens->end(), [&](const auto& t) { return t.name == name; });
    if (it == tokens->end())
      return report_error(
          Error{ErrorCode::NotFound,
                "no token named '" + name + "' in " + c.stored_tokens_path + ". See them with: hubcache auth list",
                c.stored_tokens_path},
          false);
    const bool was_active = !active->empty() && it->token == *active;
    if (auto r = remove_named_token(c.stored_tokens_path, name); !r) return report_error(r.error(), false);
    if (was_active)
      if (auto r = remove_token_file(c.token_path.value); !r) return report_error(r.error(), false);
    fmt::print(stderr, "Logged out from token '{}'{}.\n", name, was_active ? " (it was the active one)" : "");
  }
  if (env_token_set(ctx))
    print_warning(
        "the token is removed from this machine, but HF_TOKEN is still set in the environment and is still used; unset it.");
  return k_exit_ok;
}

}  // namespace

void add_auth_command(CLI::App& app, Context& ctx) {
  auto* auth = app.add_subcommand("auth", "Log in to the Hub and manage stored tokens (the files of `hf auth`)");
  auth->require_subcommand(1);
  // Listed for --help only: main() hands these to hubcache-net before parsing.
  auth->add_subcommand("login", "Validate a token with the Hub and store it (see auth login --help)");
  auth->add_subcommand("whoami", "Show the account of the active token (see auth whoami --help)");
  auth->add_subcommand("list", "List the stored tokens (masked); '*' marks the active one")->callback([&ctx] {
    ctx.exit_code = run_list(ctx);
  });
  auto o = std::make_shared<AuthOptions>();
  auto* sw = auth->add_subcommand("switch", "Make a stored token the active one");
  sw->add_option("token_name,--token-name", o->token_name, "Name of the stored token (see auth list)");
  sw->callback([&ctx, o] { ctx.exit_code = run_switch(ctx, o->token_name); });
  auto* out = auth->add_subcommand("logout", "Remove the stored tokens (or one of them with --token-name)");
  out->add_option("--token-name", o->token_name, "Remove only this stored token (and the active one if it is that one)");
  out->callback([&ctx, o] { ctx.exit_code = run_logout(ctx, o->token_name); });
}

}  // namespace hubcache::cli

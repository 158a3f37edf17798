#include <fmt/core.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "hubcache/core/repo_id.hpp"

namespace hubcache::cli {
namespace {

CLI::Option* describe_repo_type(CLI::Option* opt) {
  return opt->check(CLI::Validator(
      [](std::string& value) -> std::string {
        return parse_repo_type(value) ? "" : "unknown repo type '" + value + "': use model, dataset, space or kernel";
      },
      ""));
}

constexpr const char* k_repo_type_help = "model, dataset, space or kernel (default model)";

}  // namespace

void add_cache_dir_option(CLI::App& cmd, CommonOptions& opts) {
  cmd.add_option("--cache-dir", opts.cache_dir, "Hub cache folder (beats HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE and HF_HOME)");
}

void add_json_option(CLI::App& cmd, CommonOptions& opts) { cmd.add_flag("--json", opts.json, "Machine-readable JSON on stdout"); }

CLI::Option* add_repo_type_option(CLI::App& cmd, std::string& type) {
  return describe_repo_type(cmd.add_option("--repo-type,--type", type, k_repo_type_help));
}

CLI::Option* add_repo_type_option(CLI::App& cmd, std::optional<std::string>& type) {
  return describe_repo_type(cmd.add_option("--repo-type,--type", type, k_repo_type_help));
}

int parse_and_run(CLI::App& app, const Context& ctx, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? k_exit_ok : k_exit_usage;
  }
  return ctx.exit_code;
}

Overrides cli_overrides() {
  Overrides ov;
  ov.cache_dir_source = "--cache-dir";
  ov.token_source = "--token";
  ov.offline_source = "--offline";
  return ov;
}

Config load_config(const Context& ctx, const CommonOptions& opts, bool quiet) {
  Overrides ov = cli_overrides();
  ov.cache_dir = opts.cache_dir;
  Config c = Config::from_env(ctx.env, ov);
  if (!quiet)
    for (const auto& w : c.warnings) print_warning(w);
  return c;
}

std::string printable(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char c) { out += fmt::format("\\x{:02x}", c); };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f)
        escape(c);
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlong form, no surrogate, at most U+10FFFF) that is not
    // a C1 control passes; any other byte is escaped on its own.
    const std::size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    bool ok = n > 0 && i + n <= text.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (ok) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f) ||
          (c == 0xc2 && c1 < 0xa0))
        ok = false;
    }
    if (!ok) {
      escape(c);
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

void print_warning(const std::string& message) { fmt::print(stderr, "Warning: {}\n", printable(message, true)); }
void print_note(const std::string& message) { fmt::print(stderr, "Note: {}\n", printable(message, true)); }

int exit_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument:
    case ErrorCode::InvalidRepoId:
    case ErrorCode::InvalidRevision:
      return k_exit_usage;
    case ErrorCode::LocalEntryNotFound:
    case ErrorCode::Offline:
    case ErrorCode::IncompleteSnapshot:
      return k_exit_not_cached;
    case ErrorCode::Unauthorized:
    case ErrorCode::Gated:
      return k_exit_auth;
    case ErrorCode::RepoNotFound:
    case ErrorCode::RevisionNotFound:
    case ErrorCode::EntryNotFound:
    case ErrorCode::NotFound:
      return k_exit_not_found;
    case ErrorCode::Integrity:
    case ErrorCode::CacheCorrupted:
      return k_exit_integrity;
    case ErrorCode::DiskFull:
      return k_exit_disk_full;
    case ErrorCode::Cancelled:
      return k_exit_interrupted;
    default:
      return k_exit_failure;
  }
}

int report_error(const Error& error, bool json, bool pretty) {
  const std::string hint = hint_for(error);
  if (json) {
    nlohmann::json j = {{"error", {{"code", to_string(error.code)}, {"message", error.message}}}};
    if (!error.path.empty()) j["error"]["path"] = error.path;
    if (!error.missing.empty()) j["error"]["missing"] = error.missing;
    if (error.remedy != Remedy::None) j["error"]["remedy"] = to_string(error.remedy);
    if (!hint.empty()) j["error"]["hint"] = hint;
    print_json(j, pretty);
  }
  fmt::print(stderr, "Error: {}\n", error.message);
  if (!hint.empty()) fmt::print(stderr, "Hint: {}\n", hint);
  return exit_code_for(error.code);
}

int check_filename_args(const std::vector<std::string>& names, bool json, bool pretty) {
  for (const auto& name : names) {
    const std::string_view path =
        name.size() > 1 && name.back() == '/' ? std::string_view(name).substr(0, name.size() - 1) : name;
    if (auto v = validate_repo_path(path); !v) {
      (void)report_error(v.error(), json, pretty);
      return k_exit_usage;
    }
  }
  return k_exit_ok;
}

int usage_error(const std::string& message) {
  fmt::print(stderr, "Error: {}\n", message);
  return k_exit_usage;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

void print_json(const nlohmann::json& value, bool pretty) {
  // A file name need not be UTF-8: its bad bytes become U+FFFD rather than an abort.
  const std::string s = value.dump(pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace hubcache::cli

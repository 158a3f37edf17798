#pragma once
// Shared pieces of the hubcache CLI. The CLI is a thin layer: parse flags, call the library,
// render the result. Exit codes: see exit_code_for (documented in README.md#exit-codes).
#include <CLI/CLI.hpp>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/config/config.hpp"
#include "hubcache/core/error.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/core/repo_id.hpp"

namespace hubcache::cli {

// Exit codes, one per class of failure a script may want to tell apart (README.md#exit-codes).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failure = 1;        // any other failure (network, I/O, HTTP, ...)
inline constexpr int k_exit_usage = 2;          // bad arguments: flags, repo id, revision
inline constexpr int k_exit_not_cached = 3;     // not in the cache and the network may not be used
inline constexpr int k_exit_auth = 4;           // the token is missing or refused, or the repo is gated
inline constexpr int k_exit_not_found = 5;      // no such repo, revision, file or local path
inline constexpr int k_exit_integrity = 6;      // content does not match its hash, or the cache is corrupt
inline constexpr int k_exit_disk_full = 7;      // not enough space
inline constexpr int k_exit_findings = 8;       // `inspect --strict`: the report has findings
inline constexpr int k_exit_interrupted = 130;  // Ctrl-C (128 + SIGINT); SIGTERM gives 143

/// The exit code for a failure of class `code` (the table above; Cancelled is k_exit_interrupted).
int exit_code_for(ErrorCode code);

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

/// `--repo-type` (alias `--type`): model, dataset, space or kernel; any value parse_repo_type
/// accepts passes, anything else is a usage error (exit 2). Same help on every command.
CLI::Option* add_repo_type_option(CLI::App& cmd, std::string& type);
CLI::Option* add_repo_type_option(CLI::App& cmd, std::optional<std::string>& type);

/// Parses the command line and runs the chosen subcommand's callback. Returns its exit code from
/// `ctx`, 0 after --help/--version, k_exit_usage on a parse error (CLI11 prints it).
int parse_and_run(CLI::App& app, const Context& ctx, int argc, char** argv);

/// Overrides named by the CLI's flags ("--cache-dir", "--token", "--offline"), values unset.
Overrides cli_overrides();
/// Config with --cache-dir applied; prints config warnings to stderr unless `quiet`.
Config load_config(const Context& ctx, const CommonOptions& opts, bool quiet = false);

/// Prints "Error: <message>" and, when the error names a remedy, "Hint: <hint_for(error)>" (and,
/// with --json, a JSON error object on stdout with "remedy" and "hint", pretty when `pretty`);
/// returns exit_code_for(error.code).
int report_error(const Error& error, bool json, bool pretty = true);
/// The repo a command is about, for hints that name a download command (hints.cpp).
void set_hint_repo(const std::string& repo_id, RepoType type, const std::string& revision, const std::string& cache_dir = {});
/// The CLI's words for error.remedy: the flags and commands that apply it ("" for none).
std::string hint_for(const Error& error);
/// "Download it again with: hubcache download <hint repo> FILES... [--revision R] [--cache-dir D]
/// --force-download" (the whole repo at R when more than five files; D the hint repo's cache when
/// the command named one): the repair of damaged cached files.
std::string force_download_hint(const std::vector<std::string>& files, const std::string& revision);
/// Ollama's models folder: `given` when set, else the first of OLLAMA_MODELS, ~/.ollama/models and
/// the Linux service's folder that exists (stores::ollama_models_candidates); NotFound otherwise.
Result<std::string> find_ollama_models(const Context& ctx, const std::string& given);

/// Prints "Error: <message>" and returns k_exit_usage: a bad combination of arguments.
int usage_error(const std::string& message);
/// FILENAMES arguments checked as repo file paths (validate_repo_path; a trailing '/' names a
/// folder): the first bad one is reported as report_error(error, json, pretty) does (JSON code
/// invalid_path) and is a usage error, k_exit_usage; k_exit_ok when all are valid. The library's
/// own InvalidPath (a hostile listing, a pointer escaping its folder) keeps exit 1: it is not the
/// user's argument.
int check_filename_args(const std::vector<std::string>& names, bool json, bool pretty = true);
/// `text` safe for a terminal: control characters (C0, DEL, C1), and bytes that are not well-formed
/// UTF-8, become `\xNN`, so a file name cannot move the cursor, retitle or recolour the terminal,
/// or rewrite a line of a plan being confirmed. Newlines stay when `keep_newlines`. (--json output
/// carries the names as they are, with invalid UTF-8 replaced by U+FFFD.)
std::string printable(std::string_view text, bool keep_newlines = false);
void print_warning(const std::string& message);
/// Prints "Note: <message>" on stderr: information that needs no action.
void print_note(const std::string& message);
/// The strings joined with `sep` between them.
std::string join(const std::vector<std::string>& parts, std::string_view sep);
/// Writes a JSON value to stdout, pretty when `pretty`.
void print_json(const nlohmann::json& value, bool pretty = true);

void add_env_command(CLI::App& app, Context& ctx);
void add_resolve_command(CLI::App& app, Context& ctx);
void add_import_command(CLI::App& app, Context& ctx);
void add_cache_command(CLI::App& app, Context& ctx);
void add_du_command(CLI::App& app, Context& ctx);
void add_doctor_command(CLI::App& app, Context& ctx);
void add_dedupe_command(CLI::App& app, Context& ctx);
void add_migrate_command(CLI::App& app, Context& ctx);
void add_bundle_command(CLI::App& app, Context& ctx);
void add_link_command(CLI::App& app, Context& ctx);
void add_ollama_command(CLI::App& app, Context& ctx);
void add_download_command(CLI::App& app, Context& ctx);
void add_serve_command(CLI::App& app, Context& ctx);
void add_lock_command(CLI::App& app, Context& ctx);  // lock and sync
void add_inspect_command(CLI::App& app, Context& ctx);
/// `auth list / switch / logout` (hubcache) and `auth login / whoami` (hubcache-net).
void add_auth_command(CLI::App& app, Context& ctx);
void add_auth_net_command(CLI::App& app, Context& ctx);

}  // namespace hubcache::cli

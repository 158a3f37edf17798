#pragma once
// Pieces shared by the `hubcache cache ...` subcommands (cmd_cache*.cpp).
#include <string>

#include "cli.hpp"

namespace hubcache::cli {

void add_cache_ls_command(CLI::App& cache, Context& ctx);
void add_cache_rm_command(CLI::App& cache, Context& ctx);
void add_cache_prune_command(CLI::App& cache, Context& ctx);
void add_cache_verify_command(CLI::App& cache, Context& ctx);
void add_cache_gc_command(CLI::App& cache, Context& ctx);  // gc, pin, unpin
void add_cache_move_command(CLI::App& cache, Context& ctx);

/// Asks "<question> [y/N] " on the terminal. Returns false unless the answer is y/yes. Refuses
/// (prints an error with a hint, returns nullopt) when stdin is not a terminal.
std::optional<bool> ask_confirmation(const std::string& question, const std::string& action = "delete");

/// Prints "Hint: <message>" to stderr.
void print_hint(const std::string& message);

}  // namespace hubcache::cli

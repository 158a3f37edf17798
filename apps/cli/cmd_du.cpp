// `hubcache du [PATH...]`: disk usage per store and per model, every file counted once per inode,
// the bytes held twice, and the free space of each filesystem (hygiene/usage.hpp).
#include <fmt/core.h>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"
#include "hubcache/hygiene/locations.hpp"
#include "hubcache/hygiene/usage.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct DuOptions {
  CommonOptions common;
  std::vector<std::string> paths;
  std::size_t top = 10;
};

struct StoreToRead {
  stores::StoreKind kind;
  std::string root;
  bool given;  // named on the command line (else found: a failure is then a warning)
};

// The stores to read: the given paths, each detected (a folder can be two stores); else every store
// found where its tool keeps it: the configured Hub cache, Ollama's folders, LM Studio's models
// folder, llama.cpp's cache and the datasets library's downloads. Each store once, by kind and real path.
Result<std::vector<StoreToRead>> stores_to_read(const Context& ctx, const DuOptions& o) {
  std::vector<StoreToRead> out;
  std::set<std::pair<stores::StoreKind, std::string>> seen;
  auto add = [&](stores::StoreKind kind, const std::string& path, bool given) {
    const std::string root = hygiene::real_folder(path);
    if (seen.emplace(kind, root).second) out.push_back({kind, root, given});
  };
  if (!o.paths.empty()) {
    for (const auto& p : o.paths) {
      HUBCACHE_TRY_ASSIGN(auto kinds, stores::detect_stores(p));
      for (auto kind : kinds) add(kind, p, true);
    }
    return out;
  }
  const Config c = load_config(ctx, o.common, /*quiet=*/true);
  for (const auto& l : hygiene::tool_store_locations(ctx.env, c)) add(l.kind, l.root, false);
  return out;
}

std::string bar(std::uint64_t part, std::uint64_t whole) {
  const std::size_t width =
      whole ? static_cast<std::size_t>(20.0 * static_cast<double>(part) / static_cast<double>(whole) + 0.5) : 0;
  std::string s;
  for (std::size_t i = 0; i < width; ++i) s += "\u2588";
  return s;
}

nlohmann::json to_json(const hygiene::DiskUsage& u) {
  nlohmann::json stores_json = nlohmann::json::array();
  for (const auto& s : u.stores) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& m : s.models)
      models.push_back(
          {{"model", m.model}, {"files", m.files}, {"apparent_bytes", m.apparent_bytes}, {"disk_bytes", m.disk_bytes}});
    stores_json.push_back({{"kind", stores::to_string(s.kind)},
                           {"root", s.root},
                           {"files", s.files},
                           {"apparent_bytes", s.apparent_bytes},
                           {"disk_bytes", s.disk_bytes},
                           {"partial_files", s.partial_files},
                           {"partial_bytes", s.partial_bytes},
                           {"models", models},
                           {"warnings", s.warnings}});
  }
  nlohmann::json filesystems = nlohmann::json::array();
  for (const auto& f : u.filesystems)
    filesystems.push_back({{"path", f.path}, {"free_bytes", f.free_bytes}, {"total_bytes", f.total_bytes}});
  return {{"stores", stores_json},
          {"disk_bytes", u.disk_bytes},
          {"duplicate_bytes", u.duplicate_bytes},
          {"duplicate_groups", u.duplicate_groups},
          {"filesystems", filesystems}};
}

void print_text(const hygiene::DiskUsage& u, std::size_t top) {
  for (const auto& s : u.stores) {
    fmt::print("{} {}  {} file{}, {} on disk", stores::to_string(s.kind), printable(s.root), s.files, s.files == 1 ? "" : "s",
               format_size(static_cast<double>(s.disk_bytes)));
    if (s.partial_files)
      fmt::print(" (of which {} in {} unfinished download{})", format_size(static_cast<double>(s.partial_bytes)), s.partial_files,
                 s.partial_files == 1 ? "" : "s");
    if (!s.warnings.empty())
      fmt::print(" [incomplete: {} thing{} could not be read, see the warnings]", s.warnings.size(),
                 s.warnings.size() == 1 ? "" : "s");
    fmt::print("\n");
    for (std::size_t i = 0; i < s.models.size() && i < top; ++i) {
      const auto& m = s.models[i];
      fmt::print("  {:>8}  {:<20} {} ({} file{})\n", format_size(static_cast<double>(m.disk_bytes)),
                 bar(m.disk_bytes, s.disk_bytes), m.model.empty() ? "(no model refers to these)" : printable(m.model), m.files,
                 m.files == 1 ? "" : "s");
    }
    if (s.models.size() > top) fmt::print("  ... and {} more (--top N)\n", s.models.size() - top);
    for (const auto& w : s.warnings) print_warning(w);
  }
  fmt::print("Total on disk: {} (each file counted once, however many stores or names hold it)\n",
             format_size(static_cast<double>(u.disk_bytes)));
  if (u.duplicate_groups)
    fmt::print("Held twice: {} in {} file{} stored more than once without a link\n",
               format_size(static_cast<double>(u.duplicate_bytes)), u.duplicate_groups, u.duplicate_groups == 1 ? "" : "s");
  for (const auto& f : u.filesystems)
    fmt::print("Free: {} of {} on the filesystem of {}\n", format_size(static_cast<double>(f.free_bytes)),
               format_size(static_cast<double>(f.total_bytes)), printable(f.path));
}

}  // namespace

void add_du_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "du",
      "Disk usage of the model stores (Hub caches, Ollama, LM Studio, llama.cpp, datasets downloads, model folders), each "
      "file counted once, and the bytes held twice");
  auto o = std::make_shared<DuOptions>();
  cmd->add_option("PATH", o->paths,
                  "Stores to measure: Hub caches (a project's ./model_cache too), Ollama or LM Studio models folders, "
                  "llama.cpp's cache, a datasets downloads/ folder, model folders (default: every store found where its "
                  "tool keeps it)");
  cmd->add_option("--top", o->top, "Models listed per store in the text output (default 10; --json lists every model)")
      ->check(CLI::Range(0, 1000000));
  add_cache_dir_option(*cmd, o->common);
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] {
    auto which = stores_to_read(ctx, *o);
    if (!which) {
      ctx.exit_code = report_error(which.error(), o->common.json);
      return;
    }
    std::vector<stores::StoreListing> listings;
    std::vector<hygiene::StoreLocation> locations;
    for (const auto& s : *which) locations.push_back({s.kind, s.root, false});
    auto listed = hygiene::list_stores(locations);
    for (std::size_t i = 0; i < which->size(); ++i) {
      const auto& s = (*which)[i];
      auto& listing = listed[i];
      if (!listing && s.given) {
        ctx.exit_code = report_error(listing.error(), o->common.json);
        return;
      }
      if (!listing) {
        print_warning("not measured: " + listing.error().message);
        continue;
      }
      listings.push_back(std::move(*listing));
    }
    const auto usage = hygiene::disk_usage(listings);
    if (o->common.json)
      print_json(to_json(usage));
    else if (listings.empty())
      print_note(
          "no model store found: no Hub cache at the configured path, and no Ollama, LM Studio, llama.cpp or datasets store "
          "where those tools keep them");
    else
      print_text(usage, o->top);
  });
}

}  // namespace hubcache::cli

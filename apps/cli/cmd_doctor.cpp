// `hubcache doctor [ROOT...]`: every place models are stored, and what wastes space or breaks a
// tool, each with the bytes at stake and the fix (hygiene/doctor.hpp). Read-only.
#include <fmt/core.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"
#include "hubcache/hygiene/doctor.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct DoctorCliOptions {
  CommonOptions common;
  hygiene::DoctorOptions doctor;
};

nlohmann::json to_json(const hygiene::DoctorReport& r) {
  nlohmann::json stores_json = nlohmann::json::array(), findings = nlohmann::json::array();
  for (const auto& s : r.stores)
    stores_json.push_back(
        {{"kind", stores::to_string(s.kind)}, {"root", s.root}, {"configured", s.configured}, {"walked", s.walked}});
  for (const auto& f : r.findings)
    findings.push_back(
        {{"kind", hygiene::to_string(f.kind)}, {"summary", f.summary}, {"paths", f.paths}, {"bytes", f.bytes}, {"fix", f.fix}});
  return {{"stores", stores_json},          {"findings", findings},
          {"warnings", r.warnings},         {"reclaimable_bytes", r.reclaimable_bytes},
          {"hashed_files", r.hashed_files}, {"hashed_bytes", r.hashed_bytes}};
}

void print_text(const hygiene::DoctorReport& r) {
  constexpr std::size_t k_paths_shown = 5;
  for (const auto& f : r.findings) {
    fmt::print("[{}] {}{}\n", hygiene::to_string(f.kind), f.bytes ? format_size(static_cast<double>(f.bytes)) + "  " : "",
               printable(f.summary));
    for (std::size_t i = 0; i < f.paths.size() && i < k_paths_shown; ++i) fmt::print("    {}\n", printable(f.paths[i]));
    if (f.paths.size() > k_paths_shown) fmt::print("    ... and {} more (--json lists all)\n", f.paths.size() - k_paths_shown);
    fmt::print("    fix: {}\n", printable(f.fix));
  }
  for (const auto& w : r.warnings) print_warning(w);
  fmt::print("{} store{} read, {} finding{}; {} can be freed\n", r.stores.size(), r.stores.size() == 1 ? "" : "s",
             r.findings.size(), r.findings.size() == 1 ? "" : "s", format_size(static_cast<double>(r.reclaimable_bytes)));
}

}  // namespace

void add_doctor_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "doctor",
      "Find every model store (Hub caches, --local-dir copies, Ollama, LM Studio, llama.cpp, datasets) and report "
      "what wastes space or breaks a tool, with the fix. Read-only");
  auto o = std::make_shared<DoctorCliOptions>();
  cmd->add_option("ROOT", o->doctor.roots, "Folders to search for stores (default: the home folder)");
  cmd->add_option("--max-depth", o->doctor.max_depth, "How deep below each ROOT to look (default 6)")->check(CLI::Range(0, 64));
  cmd->add_flag("--cross-filesystems", o->doctor.cross_filesystems,
                "Also search filesystems mounted below a ROOT (default: stay on each ROOT's own, like du -x)");
  cmd->add_flag("--deep", o->doctor.deep,
                "Also hash files whose names do not say their content when their sizes collide (finds LM Studio's and "
                "plain folders' copies)");
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] {
    if (o->doctor.roots.empty())
      if (const auto home = ctx.env.get_nonempty("HOME")) o->doctor.roots.push_back(expand_path(*home, ctx.env));
    auto report = hygiene::run_doctor(ctx.env, o->doctor);
    if (!report) {
      ctx.exit_code = report_error(report.error(), o->common.json);
      return;
    }
    if (o->common.json)
      print_json(to_json(*report));
    else
      print_text(*report);
  });
}

}  // namespace hubcache::cli

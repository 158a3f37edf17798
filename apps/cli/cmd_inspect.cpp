// `hubcache inspect ORG/NAME[@REV] | PATH`: what a model needs before it is loaded, without
// downloading weights (include/hubcache/inspect/inspect.hpp). A path is the local folder; a repo id
// is asked of the Hub, or of the cache with --offline / HF_HUB_OFFLINE (from_pretrained's order).
#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "hubcache/inspect/inspect.hpp"
#include "hubcache/resolve/download.hpp"
#include "hubcache/resolve/local_folder.hpp"
#include "hubcache/util/human.hpp"
#include "net_transport.hpp"

namespace hubcache::cli {
namespace {

struct InspectArgs {
  std::string target;
  std::optional<std::string> revision;
  std::string repo_type = "model";
  std::optional<std::string> cache_dir;
  std::optional<std::string> token;
  bool offline = false;
  bool json = false;
  bool strict = false;
};

nlohmann::json tensor_json(const model::TensorInfo& t) {
  return {{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}, {"offset", t.offset}, {"length", t.length}};
}

nlohmann::json report_json(const inspect::ModelReport& r) {
  using nlohmann::json;
  json j;
  j["source"] = r.source;
  j["remote"] = r.remote;
  j["revision"] = r.revision;
  j["commit"] = r.commit;
  j["files"] = json::array();
  for (const auto& f : r.files) j["files"].push_back({{"path", f.path}, {"size", f.size}});
  j["file_bytes"] = r.file_bytes;
  if (r.config) {
    const auto& c = *r.config;
    j["model_type"] = c.model_type;
    j["architectures"] = c.architectures;
    j["torch_dtype"] = c.torch_dtype;
    if (c.context_length) j["context_length_key"] = c.context_length_key;
    if (c.quantization)
      j["quantization"] = {{"method", c.quantization->method},
                           {"bits", c.quantization->bits ? json(*c.quantization->bits) : json()},
                           {"detail", c.quantization->detail}};
    json am = json::object();
    for (const auto& [k, v] : c.auto_map) am[k] = v;
    j["auto_map"] = am;
  } else {
    j["model_type"] = nullptr;
  }
  j["context_length"] = r.context_length ? json(*r.context_length) : json();
  j["parameters"] = r.parameters;
  j["parameters_by_dtype"] = r.parameters_by_dtype;
  j["tensor_count"] = r.tensor_count;
  j["basis"] = r.basis;
  j["memory"] = {{"as_stored", r.memory.as_stored}, {"bf16", r.memory.bf16}, {"fp16", r.memory.bf16},
                 {"fp32", r.memory.fp32},           {"int8", r.memory.int8}, {"int4", r.memory.int4}};
  j["shard_sets"] = json::array();
  for (const auto& s : r.shard_sets)
    j["shard_sets"].push_back({{"index", s.index}, {"shards", s.shards}, {"bytes", s.bytes}, {"missing", s.missing}});
  j["weights"] = json::array();
  for (const auto& w : r.weights) {
    json wj{{"path", w.path},
            {"format", w.format},
            {"size", w.size},
            {"header_bytes", w.header_bytes},
            {"tensor_count", w.tensors.size()},
            {"parameters", w.parameters},
            {"parameters_by_dtype", w.parameters_by_dtype},
            {"tensor_bytes", w.tensor_bytes}};
    if (w.format == "gguf") {
      wj["gguf_version"] = w.gguf_version;
      wj["architecture"] = w.gguf_architecture;
      wj["file_type"] = w.gguf_file_type;
      wj["context_length"] = w.gguf_context_length ? json(*w.gguf_context_length) : json();
    }
    wj["tensors"] = json::array();
    for (const auto& t : w.tensors) wj["tensors"].push_back(tensor_json(t));
    j["weights"].push_back(std::move(wj));
  }
  j["tokenizer_files"] = r.tokenizer_files;
  j["chat_template"] = r.chat_template;
  j["chat_template_sources"] = r.chat_template_sources;
  json gen = json::object();
  for (const auto& [k, v] : r.generation_defaults) gen[k] = json::parse(v, nullptr, false);
  j["generation_defaults"] = gen;
  j["code_files"] = r.code_files;
  j["needs_trust_remote_code"] = r.needs_trust_remote_code;
  j["license"] = r.license.empty() ? json() : json(r.license);
  j["gated"] = r.gated.empty() ? json(false) : json(r.gated);
  if (r.adapter) {
    const auto& a = *r.adapter;
    j["adapter"] = {{"peft_type", a.peft_type},
                    {"base_model", a.base_model_name_or_path},
                    {"task_type", a.task_type},
                    {"r", a.r ? json(*a.r) : json()},
                    {"lora_alpha", a.lora_alpha ? json(*a.lora_alpha) : json()},
                    {"target_modules", a.target_modules}};
  } else {
    j["adapter"] = nullptr;
  }
  j["pipeline"] = r.pipeline ? json{{"class_name", r.pipeline->class_name}, {"components", r.pipeline->components}} : json();
  j["weight_formats"] = json::array();
  for (const auto& g : r.weight_formats)
    j["weight_formats"].push_back({{"format", model::to_string(g.format)}, {"files", g.files}, {"bytes", g.bytes}});
  j["transformers_loads"] = r.transformers_loads.empty() ? json() : json(r.transformers_loads);
  j["needless_bytes"] = r.needless_bytes ? json(*r.needless_bytes) : json();
  j["needless_for"] = r.needless_for.empty() ? json() : json(r.needless_for);
  j["left_out"] = json::array();
  for (const auto& l : r.left_out) j["left_out"].push_back({{"path", l.path}, {"size", l.size}, {"reason", l.reason}});
  j["findings"] = json::array();
  for (const auto& f : r.findings) j["findings"].push_back({{"file", f.file}, {"reason", f.reason}});
  if (r.remote) {
    j["bytes_transferred"] = r.bytes_transferred;
    j["requests"] = r.requests;
  }
  return j;
}

std::string count_text(std::uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f}B", static_cast<double>(n) / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f}K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

void print_human(const inspect::ModelReport& r) {
  auto size = [](std::uint64_t b) { return format_size(static_cast<double>(b)) + "B"; };
  fmt::print("{}{}\n", printable(r.source), r.commit.empty() ? "" : " @ " + r.commit);
  if (r.config) {
    const auto& c = *r.config;
    fmt::print("  architecture   {}{}\n", printable(c.model_type.empty() ? "?" : c.model_type),
               c.architectures.empty() ? "" : " (" + printable(join(c.architectures, ", ")) + ")");
    if (!c.torch_dtype.empty()) fmt::print("  torch_dtype    {}\n", printable(c.torch_dtype));
  } else if (r.pipeline) {
    fmt::print("  pipeline       {} ({})\n", printable(r.pipeline->class_name.empty() ? "?" : r.pipeline->class_name),
               printable(join(r.pipeline->components, ", ")));
  } else {
    // A GGUF repo has no config.json: the weights' header names the architecture.
    for (const auto& w : r.weights)
      if (!w.gguf_architecture.empty() && std::find(r.basis.begin(), r.basis.end(), w.path) != r.basis.end()) {
        fmt::print("  architecture   {} (GGUF general.architecture)\n", printable(w.gguf_architecture));
        break;
      }
  }
  if (r.context_length) fmt::print("  context        {}\n", *r.context_length);
  if (r.parameters > 0) {
    std::vector<std::string> per;
    for (const auto& [d, n] : r.parameters_by_dtype) per.push_back(printable(d) + " " + count_text(n));
    fmt::print("  parameters     {} ({}), {} tensors\n", count_text(r.parameters), join(per, ", "), r.tensor_count);
    fmt::print("  memory         as stored {}, bf16/fp16 {}, fp32 {}, int8 {}, int4 {}\n", size(r.memory.as_stored),
               size(r.memory.bf16), size(r.memory.fp32), size(r.memory.int8), size(r.memory.int4));
  }
  fmt::print("  files          {} files, {}\n", r.files.size(), size(r.file_bytes));
  for (const auto& s : r.shard_sets)
    fmt::print("  shards         {}: {} shards, {}{}\n", printable(s.index), s.shards.size(), size(s.bytes),
               s.missing.empty() ? "" : fmt::format(" ({} missing)", s.missing.size()));
  for (const auto& w : r.weights)
    if (w.format == "gguf")
      fmt::print("  gguf           {}: {}, {} params, v{}\n", printable(w.path),
                 w.gguf_file_type.empty() ? "file type unknown" : printable(w.gguf_file_type), count_text(w.parameters),
                 w.gguf_version);
  if (r.config && r.config->quantization) {
    const auto& q = *r.config->quantization;
    fmt::print("  quantization   {}{}{}\n", printable(q.method.empty() ? "?" : q.method),
               q.bits ? fmt::format(", {} bits", *q.bits) : "", q.detail.empty() ? "" : ", " + printable(q.detail));
  }
  std::vector<std::string> formats;
  for (const auto& g : r.weight_formats) formats.push_back(std::string(model::to_string(g.format)) + " " + size(g.bytes));
  if (!formats.empty())
    fmt::print("  formats        {}{}\n", join(formats, ", "),
               r.transformers_loads.empty() ? "" : "; transformers loads " + r.transformers_loads);
  if (r.needless_bytes && *r.needless_bytes > 0)
    fmt::print("  needless       a plain `hf download` also fetches {} {} does not load\n", size(*r.needless_bytes),
               r.needless_for);
  fmt::print("  tokenizer      {}; chat template {}\n",
             r.tokenizer_files.empty() ? "none" : printable(join(r.tokenizer_files, ", ")),
             r.chat_template ? "yes (" + join(r.chat_template_sources, ", ") + ")" : "no");
  if (!r.generation_defaults.empty()) {
    std::vector<std::string> g;
    for (const auto& [k, v] : r.generation_defaults) g.push_back(printable(k) + "=" + printable(v));
    fmt::print("  generation     {}\n", join(g, " "));
  }
  if (r.needs_trust_remote_code)
    fmt::print("  custom code    needs trust_remote_code{}\n",
               r.code_files.empty() ? " (auto_map)" : " (" + printable(join(r.code_files, ", ")) + ")");
  if (!r.license.empty() || !r.gated.empty())
    fmt::print("  license        {}{}\n", printable(r.license.empty() ? "?" : r.license),
               r.gated.empty() ? "" : "; gated (" + printable(r.gated) + ")");
  if (r.adapter) {
    const auto& a = *r.adapter;
    fmt::print("  adapter        {} on {}{}{}\n", printable(a.peft_type), printable(a.base_model_name_or_path),
               a.r ? fmt::format(", r={}", *a.r) : "",
               a.target_modules.empty() ? "" : ", targets " + printable(join(a.target_modules, ",")));
  }
  for (const auto& f : r.findings) {
    // A reader's error already starts with the file's name: say it once.
    const std::string prefix = f.file + ": ";
    const std::string reason = f.reason.rfind(prefix, 0) == 0 ? f.reason.substr(prefix.size()) : f.reason;
    if (f.file.empty())  // about the whole repo or folder
      fmt::print("  finding        {}\n", printable(reason));
    else
      fmt::print("  finding        {}: {}\n", printable(f.file), printable(reason));
  }
  if (r.remote) fmt::print("  transferred    {} in {} requests (weights: headers only)\n", size(r.bytes_transferred), r.requests);
}

int run_inspect(const Context& ctx, const InspectArgs& a) {
  const auto type = parse_repo_type(a.repo_type);
  if (!type) return usage_error("unknown repo type '" + a.repo_type + "'");
  Overrides ov = cli_overrides();
  ov.cache_dir = a.cache_dir;
  ov.token = a.token;
  if (a.offline) ov.offline = true;
  Config config = Config::from_env(ctx.env, ov);
  for (const auto& w : config.warnings) print_warning(w);

  Result<inspect::ModelReport> report = fail(ErrorCode::InvalidArgument, "unreachable");
  std::string revision = a.revision.value_or("main");
  if (local_model_folder(a.target)) {
    inspect::LocalOptions lo{revision, *type, config.hub_cache.value};
    report = inspect::inspect_local(a.target, lo);
  } else {
    std::string id = a.target;
    if (const auto at = id.find('@'); at != std::string::npos) {
      if (a.revision) return usage_error("give the revision once: as ORG/NAME@REV or with --revision");
      revision = id.substr(at + 1);
      id.resize(at);
    }
    if (auto v = validate_model_name(id); !v) return report_error(v.error(), a.json);
    if (auto v = validate_revision(revision); !v) return usage_error(v.error().message);
    set_hint_repo(id, *type, revision, config.hub_cache.value);
    if (config.offline.value) {
      inspect::LocalOptions lo{revision, *type, config.hub_cache.value};
      report = inspect::inspect_local(id, lo);
    } else {
      DownloadOptions opts = DownloadOptions::from_env(config);
      opts.transport = net_transport(config);
      hub::HubApi api(opts.hub_options(), std::make_shared<http::Client>(opts.transport));
      report = inspect::inspect_remote(api, RepoRef{*type, id}, revision);
    }
  }
  if (!report) return report_error(report.error(), a.json);
  if (a.json)
    print_json(report_json(*report));
  else
    print_human(*report);
  return a.strict && !report->findings.empty() ? k_exit_findings : k_exit_ok;
}

}  // namespace

void add_inspect_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<InspectArgs>();
  auto* cmd =
      app.add_subcommand("inspect",
                         "What a model needs before loading it: architecture, parameters, memory per dtype, quantization, "
                         "tokenizer, custom code, license, formats (weights' headers only, over HTTP Range requests)");
  cmd->add_option("target", a->target, "ORG/NAME[@REV] (the Hub, or the cache with --offline) or a local folder")->required();
  cmd->add_option("--revision", a->revision, "Branch, tag or commit (default: main)");
  add_repo_type_option(*cmd, a->repo_type);
  cmd->add_option("--cache-dir", a->cache_dir, "Hub cache folder (default: HF_HUB_CACHE)");
  cmd->add_option("--token", a->token, "Hub token (default: HF_TOKEN or the stored token)");
  cmd->add_flag("--offline", a->offline, "Inspect the cached snapshot; no network (like HF_HUB_OFFLINE=1)");
  cmd->add_flag("--json", a->json, "Every field as JSON, tensors included");
  cmd->add_flag("--strict", a->strict,
                "Exit with 8 when the report has findings (a file that cannot be read or parsed, files of the commit not "
                "cached, nothing to load), after printing it; without it findings leave the exit code 0");
  cmd->callback([a, &ctx] { ctx.exit_code = run_inspect(ctx, *a); });
}

}  // namespace hubcache::cli

// `hubcache bundle create|import`: a lockfile's files as one tar (the cache layout; `tar -x` into
// a cache works too) or an OCI layout, and its verified import on an offline site (bundle/bundle.hpp,
// docs/bundles.md).
#include <fmt/core.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "hubcache/bundle/bundle.hpp"
#include "hubcache/lock/cache_check.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct CreateCliOptions {
  CommonOptions common;
  std::optional<std::string> lock;
  std::vector<std::string> repos;  // ORG/NAME[@REV]
  std::string repo_type = "model";
  std::vector<std::string> include, exclude;
  std::string output, format = "tar";
};

struct ImportCliOptions {
  CommonOptions common;
  std::string bundle;
};

std::string size_text(std::uint64_t bytes) { return format_size(static_cast<double>(bytes)); }

// ORG/NAME[@REVISION]; a `datasets/` or `spaces/` prefix names the type, as on the Hub.
Result<std::pair<RepoRef, std::string>> parse_repo_spec(const std::string& text, RepoType type) {
  std::string id = text, revision = "main";
  if (const auto at = id.find('@'); at != std::string::npos) {
    revision = id.substr(at + 1);
    id.resize(at);
    if (revision.empty()) return fail(ErrorCode::InvalidArgument, text + ": the revision after '@' is empty");
  }
  for (const auto& [prefix, t] : {std::pair{"datasets/", RepoType::Dataset}, std::pair{"spaces/", RepoType::Space}})
    if (id.starts_with(prefix) && std::count(id.begin(), id.end(), '/') == 2) {
      type = t;
      id = id.substr(std::string_view(prefix).size());
    }
  if (auto ok = validate_repo_id(id); !ok) return fail(ErrorCode::InvalidArgument, text + ": " + ok.error().message);
  if (auto ok = validate_revision(revision); !ok) return fail(ErrorCode::InvalidArgument, text + ": " + ok.error().message);
  return std::pair{RepoRef{type, id}, revision};
}

std::time_t bundle_mtime(const Context& ctx) {
  if (const auto epoch = ctx.env.get_nonempty("SOURCE_DATE_EPOCH")) {
    char* end = nullptr;
    const long long v = std::strtoll(epoch->c_str(), &end, 10);
    if (end && *end == '\0' && v >= 0) return static_cast<std::time_t>(v);
  }
  return std::time(nullptr);
}

nlohmann::json repos_json(const lock::Lockfile& lock) {
  nlohmann::json repos = nlohmann::json::array();
  for (const auto& r : lock.repos)
    repos.push_back({{"repo_id", r.repo.id},
                     {"repo_type", to_string(r.repo.type)},
                     {"revision", r.revision},
                     {"commit", r.commit},
                     {"files", r.files.size()}});
  return repos;
}

int run_create(const Context& ctx, const CreateCliOptions& o) {
  if (o.lock.has_value() == !o.repos.empty())
    return usage_error("bundle create takes --lock FILE or ORG/NAME[@REV]..., not both");
  if (o.lock && (!o.include.empty() || !o.exclude.empty()))
    return usage_error("--include/--exclude choose files for ORG/NAME; with --lock the lock's own patterns decide");
  if (o.output == "-" && o.format == "oci") return usage_error("--format oci writes a folder: name it with -o DIR");
  const Config c = load_config(ctx, o.common, o.common.json);
  bundle::CreateOptions co;
  co.cache_dir = c.hub_cache.value;
  co.output = o.output;
  co.format = o.format == "oci" ? bundle::Format::Oci : bundle::Format::Tar;
  co.mtime = bundle_mtime(ctx);
  if (o.lock) {
    auto lock = lock::read_lockfile(*o.lock);
    if (!lock) return report_error(lock.error(), o.common.json);
    co.lock = std::move(*lock);
  } else {
    co.lock.endpoint = c.endpoint.value;
    for (const auto& spec : o.repos) {
      auto parsed = parse_repo_spec(spec, *parse_repo_type(o.repo_type));
      if (!parsed) return usage_error(parsed.error().message);
      set_hint_repo(parsed->first.id, parsed->first.type, parsed->second, co.cache_dir);
      auto repo = lock::locked_repo_from_cache(co.cache_dir, parsed->first, parsed->second, o.include, o.exclude);
      if (!repo) return report_error(repo.error(), o.common.json);
      co.lock.repos.push_back(std::move(*repo));
    }
  }
  auto done = bundle::create_bundle(co);
  if (!done) return report_error(done.error(), o.common.json);
  if (o.common.json) {
    print_json({{"output", co.output},
                {"format", to_string(co.format)},
                {"repos", repos_json(co.lock)},
                {"files", done->files},
                {"blobs", done->blobs},
                {"bytes", done->bytes}});
  } else if (co.output != "-") {
    fmt::print("Bundled {} file(s) of {} repo(s), {} blob(s), {} into {} ({})\n", done->files, done->repos, done->blobs,
               size_text(done->bytes), co.output, to_string(co.format));
    for (const auto& r : co.lock.repos)
      fmt::print("  {}@{} -> {} ({} file(s))\n", r.repo.label(), r.revision, r.commit, r.files.size());
  }
  return k_exit_ok;
}

int run_import(const Context& ctx, const ImportCliOptions& o) {
  const Config c = load_config(ctx, o.common, o.common.json);
  bundle::ImportOptions io;
  io.bundle = o.bundle;
  io.cache_dir = c.hub_cache.value;
  auto done = bundle::import_bundle(io);
  if (!done) return report_error(done.error(), o.common.json);
  const auto& r = *done;
  if (o.common.json) {
    nlohmann::json conflicts = nlohmann::json::array();
    for (const auto& rc : r.conflicts)
      conflicts.push_back({{"repo_id", rc.repo.id},
                           {"repo_type", to_string(rc.repo.type)},
                           {"ref", rc.conflict.ref},
                           {"bundle_commit", rc.conflict.source_commit},
                           {"cache_commit", rc.conflict.cache_commit}});
    print_json({{"cache_dir", io.cache_dir},
                {"format", to_string(r.format)},
                {"repos", repos_json(r.lock)},
                {"files", r.files},
                {"blobs", r.blobs},
                {"bytes", r.bytes},
                {"blobs_linked", r.merge.blobs_linked},
                {"blobs_copied", r.merge.blobs_copied},
                {"blobs_compared", r.merge.blobs_compared},
                {"refs_written", r.merge.refs_written},
                {"ref_conflicts", conflicts},
                {"cleaned_leftover", r.cleaned_leftover}});
    return k_exit_ok;
  }
  if (r.cleaned_leftover) print_note("removed the staging folder an interrupted import had left");
  fmt::print("Imported {} file(s) of {} repo(s) ({} blob(s), {}, every one verified) into {}\n", r.files, r.lock.repos.size(),
             r.blobs, size_text(r.bytes), io.cache_dir);
  for (const auto& repo : r.lock.repos)
    fmt::print("  {}@{} -> {} ({} file(s))\n", repo.repo.label(), repo.revision, repo.commit, repo.files.size());
  for (const auto& rc : r.conflicts)
    print_warning(fmt::format("ref '{}' of {} stays at {} in the cache; the bundle's {} is reachable by its commit (pinned)",
                              rc.conflict.ref, rc.repo.label(), rc.conflict.cache_commit, rc.conflict.source_commit));
  return k_exit_ok;
}

}  // namespace

void add_bundle_command(CLI::App& app, Context& ctx) {
  auto* bundle = app.add_subcommand("bundle", "Carry locked models to an offline site: a tar (or OCI layout) and its import");
  bundle->require_subcommand(1);

  auto co = std::make_shared<CreateCliOptions>();
  auto* create = bundle->add_subcommand("create", "Write the files of a lock (or of cached repos) from the cache as one bundle");
  create->footer(R"(The tar holds the Hub cache layout (blobs once, snapshot symlinks, refs, trees/ of the bundled files
without Xet hashes) and the lock at .locks/hubcache-bundle.lock: `hubcache bundle import` verifies and
merges it; where hubcache is absent, `tar -x -C $HF_HUB_CACHE -f models.tar` installs it as is.
Content comes from the cache only: run `hubcache sync --lock F` first. SOURCE_DATE_EPOCH sets the
entries' time (same lock and cache, same bytes). See docs/bundles.md.)");
  auto* lock = create->add_option("--lock", co->lock, "The lockfile whose files to bundle");
  auto* repos = create->add_option("repos", co->repos, "Cached repos to bundle: ORG/NAME[@REVISION] (default revision main)");
  lock->excludes(repos);
  add_repo_type_option(*create, co->repo_type);
  create->add_option("--include", co->include, "With ORG/NAME: only paths matching these patterns (fnmatch)");
  create->add_option("--exclude", co->exclude, "With ORG/NAME: leave out paths matching these patterns");
  create->add_option("-o,--output", co->output, "The bundle: a tar file ('-' for stdout), or with --format oci a new folder")
      ->required();
  create->add_option("--format", co->format, "tar (default) or oci (an OCI image layout, ModelPack media types)")
      ->check(CLI::IsMember({"tar", "oci"}));
  add_cache_dir_option(*create, co->common);
  add_json_option(*create, co->common);
  create->callback([&ctx, co] { ctx.exit_code = run_create(ctx, *co); });

  auto io = std::make_shared<ImportCliOptions>();
  auto* import = bundle->add_subcommand("import", "Verify a bundle and merge it into the cache");
  import->footer(R"(Every entry is checked before anything reaches the cache: names (no path leaving the cache, only
repo folders and the lock), symlinks (only ../..(/..)*/blobs/<name> of their depth), every blob's
SHA-256 or git SHA-1 against its name, everything against the bundle's lock. The bundle is staged in
<cache>/.locks/hubcache-bundle-import/ (a leftover of an interrupted import is removed first), then
merged as `hubcache migrate` merges: each blob once, a ref the cache has at another commit stays.)");
  import->add_option("bundle", io->bundle, "The bundle: a tar file (compressed or not, '-' for stdin) or an OCI layout folder")
      ->required();
  add_cache_dir_option(*import, io->common);
  add_json_option(*import, io->common);
  import->callback([&ctx, io] { ctx.exit_code = run_import(ctx, *io);
});
}  // namespace hubcache::cli

}  // namespace hubcache::cli

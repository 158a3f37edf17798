// `hubcache cache ls`: the cache listing (docs/cache-management.md#ls), plus the `cache` command group.
#include "cmd_cache.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "hubcache/manage/list.hpp"
#include "hubcache/manage/scan.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

struct LsOptions {
  CommonOptions common;
  bool revisions = false;
  bool quiet = false;
  bool show_warnings = false;
  std::vector<std::string> filters;
  std::optional<std::string> sort;
  std::optional<long long> limit;
};

/// PY's tabulate: columns joined by one space, a dashes line under the headers.
void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows,
                 const std::vector<bool>& right_aligned) {
  std::vector<std::size_t> width(headers.size());
  for (std::size_t c = 0; c < headers.size(); ++c) {
    width[c] = headers[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c) l += ' ';
      const std::string pad(width[c] - cells[c].size(), ' ');
      l += right_aligned[c] ? pad + cells[c] : cells[c] + pad;
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + '\n';
  };
  line(headers);
  std::vector<std::string> dashes;
  for (auto w : width) dashes.emplace_back(w, '-');
  line(dashes);
  for (const auto& r : rows) line(r);
  std::fwrite(out.data(), 1, out.size(), stdout);
}

nlohmann::json row_json(const ListEntry& e, double now) {
  const CachedRepoInfo& r = *e.repo;
  nlohmann::json j = {{"id", r.label()}, {"repo_id", r.repo.id}, {"repo_type", to_string(r.repo.type)}};
  if (e.revision) {
    const CachedRevisionInfo& v = *e.revision;
    j["revision"] = v.commit;
    j["snapshot_path"] = v.snapshot_path;
    j["size"] = format_size(static_cast<double>(v.size_on_disk));
    j["size_bytes"] = v.size_on_disk;
    j["nb_files"] = v.nb_files;
    j["last_modified"] = format_age(now - v.last_modified);
    j["last_modified_ts"] = v.last_modified;
    j["last_accessed_ts"] = v.last_accessed;
    j["last_used"] = format_age(now - v.last_used);
    j["last_used_ts"] = v.last_used;
    j["last_used_source"] = to_string(v.last_used_source);
    j["refs"] = v.refs;
    j["path"] = v.snapshot_path;
    j["repo_path"] = r.path;
  } else {
    j["size"] = format_size(static_cast<double>(r.size_on_disk));
    j["size_bytes"] = r.size_on_disk;
    j["nb_files"] = r.nb_files;
    j["revisions"] = r.revisions.size();
    j["last_accessed"] = format_age(now - r.last_accessed);
    j["last_accessed_ts"] = r.last_accessed;
    j["last_modified"] = format_age(now - r.last_modified);
    j["last_modified_ts"] = r.last_modified;
    j["last_used"] = format_age(now - r.last_used);
    j["last_used_ts"] = r.last_used;
    j["last_used_source"] = to_string(r.last_used_source);
    j["refs"] = r.refs;
    j["path"] = r.path;
  }
  if (!r.moved_to.empty()) j["moved_to"] = r.moved_to;  // `cache move ORG/NAME --to DIR`: where the bytes are
  return j;
}

int run_ls(const Context& ctx, const LsOptions& o) {
  ListQuery q;
  q.revisions = o.revisions;
  for (const auto& f : o.filters) {
    auto parsed = parse_list_filter(f);
    if (!parsed) return usage_error(parsed.error().message);
    q.filters.push_back(*parsed);
  }
  if (o.sort) {
    auto parsed = parse_list_sort(*o.sort);
    if (!parsed) return usage_error(parsed.error().message);
    q.sort = *parsed;
  }
  if (o.limit) {
    if (*o.limit < 0) return usage_error(fmt::format("Limit must be a positive integer, got {}.", *o.limit));
    q.limit = static_cast<std::size_t>(*o.limit);
  }
  const Config c = load_config(ctx, o.common, o.quiet);
  ScanOptions so;
  so.collect_files = false;
  so.collect_blobs = false;
  auto cache = scan_cache(c.hub_cache.value, so);
  if (!cache) return report_error(cache.error(), o.common.json);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto rows = list_entries(*cache, q, now);

  if (o.quiet) {
    std::string out;
    for (const auto& e : rows) out += (e.revision ? e.revision->commit : e.repo->label()) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return k_exit_ok;
  }
  if (o.common.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : rows) arr.push_back(row_json(e, now));
    print_json(arr, /*pretty=*/false);
  } else if (rows.empty()) {
    fmt::print("No results found.\n");
  } else {
    // LAST_USED names its source: hubcache's use record, else blob atime or mtime.
    auto used = [now](double t, UseSource source) { return format_age(now - t) + " (" + std::string(to_string(source)) + ")"; };
    std::vector<std::vector<std::string>> table;
    for (const auto& e : rows) {
      const CachedRepoInfo& r = *e.repo;
      if (e.revision)
        table.push_back({r.label(), e.revision->commit, format_size(static_cast<double>(e.revision->size_on_disk)),
                         std::to_string(e.revision->nb_files), format_age(now - e.revision->last_modified),
                         used(e.revision->last_used, e.revision->last_used_source), join(e.revision->refs, ", "),
                         e.revision->snapshot_path});
      else
        table.push_back({r.label(), format_size(static_cast<double>(r.size_on_disk)), std::to_string(r.nb_files),
                         format_age(now - r.last_accessed), format_age(now - r.last_modified),
                         used(r.last_used, r.last_used_source), join(r.refs, ", "),
                         r.moved_to.empty() ? r.path : r.path + " -> " + r.moved_to});
    }
    if (o.revisions)
      print_table({"ID", "REVISION", "SIZE", "FILES", "LAST_MODIFIED", "LAST_USED", "REFS", "PATH"}, table,
                  {false, false, true, true, false, false, false, false});
    else
      print_table({"ID", "SIZE", "FILES", "LAST_ACCESSED", "LAST_MODIFIED", "LAST_USED", "REFS", "PATH"}, table,
                  {false, true, true, false, false, false, false, false});
  }
  if (!o.common.json && !rows.empty()) {
    // Sizes on disk count each blob once: a repo shown whole (all its revisions) counts its own
    // size, not the sum of revisions sharing blobs; every repo shown = the cache's physical size
    // (a shared blob store payload once, unreferenced ones too).
    std::map<const CachedRepoInfo*, std::pair<std::size_t, std::uint64_t>> shown;  // revisions, their sum
    std::size_t revisions = 0;
    for (const auto& e : rows) {
      auto& [n, sum] = shown[e.repo];
      n += e.revision ? 1 : e.repo->revisions.size();
      sum += e.revision ? e.revision->size_on_disk : e.repo->size_on_disk;
    }
    // Unfiltered, --revisions counts the same repos as the repo listing: those without any
    // revision (blobs only) have no row but are still in the cache.
    if (o.revisions && o.filters.empty() && !o.limit)
      for (const auto& r : cache->repos)
        if (r.revisions.empty()) shown.try_emplace(&r, std::pair<std::size_t, std::uint64_t>{0, 0});
    std::uint64_t size = 0;
    bool whole = true;
    for (const auto& [repo, seen] : shown) {
      revisions += seen.first;
      const bool all = seen.first == repo->revisions.size();
      whole = whole && all;
      size += all ? repo->size_on_disk : seen.second;
    }
    if (whole && shown.size() == cache->repos.size()) size = cache->size_on_disk;
    std::set<const CachedRepoInfo*> repos;
    for (const auto& [repo, seen] : shown) repos.insert(repo);
    fmt::print("\nFound {} repo(s) for a total of {} revision(s) and {} on disk.\n", repos.size(), revisions,
               format_size(static_cast<double>(size)));
    std::size_t moved = 0;
    for (const auto* repo : repos) moved += repo->moved_to.empty() ? 0 : 1;
    if (moved > 0)
      fmt::print(
          "{} of them moved out of the cache to other folders (`cache move ORG/NAME --to DIR`): their bytes are "
          "there; `cache move ORG/NAME --back` brings one back.\n",
          moved);
  }
  std::fflush(stdout);
  if (!cache->warnings.empty()) {
    if (o.show_warnings) {
      for (const auto& w : cache->warnings) print_warning(w.message + (w.repo_skipped ? ". Repo ignored." : "."));
    } else {
      print_warning(
          fmt::format("Found {} cache inconsistencies. Re-run with `--show-warnings` to display them.", cache->warnings.size()));
    }
  }
  for (const auto& copy : cache->local_dir_copies) {
    print_hint(fmt::format(
        "'{}' is an `hf download --local-dir` copy{} at {}: {} file(s), {}, of which {} already in the cache as blobs. "
        "No cache lookup (from_pretrained, hubcache resolve) reads it, so the model gets downloaded again. Adopt it "
        "in place with: hubcache import '{}' --repo {}{}",
        copy.path, copy.repo ? " of " + std::string(to_string(copy.repo->type)) + " '" + copy.repo->id + "'" : "",
        copy.commits.size() == 1 ? "commit " + copy.commits.front() : std::to_string(copy.commits.size()) + " commits",
        copy.files, format_size(static_cast<double>(copy.bytes)), copy.already_cached, copy.path,
        copy.repo ? copy.repo->id : "ORG/NAME", copy.repo ? "" : " (its repo id is not recorded: name the repo it came from)"));
  }
  if (!cache->incomplete_files.empty())
    print_hint(
        fmt::format("Found {} incomplete download(s) totalling {}. Rerun their download to resume, or remove them with 'hubcache "
                    "cache prune'.",
                    cache->incomplete_files.size(), format_size(static_cast<double>(cache->incomplete_size()))));
  return k_exit_ok;
}

}  // namespace

void print_hint(const std::string& message) { fmt::print(stderr, "Hint: {}\n", message); }

std::optional<bool> ask_confirmation(const std::string& question, const std::string& action) {
  if (!::isatty(STDIN_FILENO)) {
    fmt::print(stderr, "Error: refusing to {} without confirmation: stdin is not a terminal.\n", action);
    print_hint("re-run with --yes to confirm, or with --dry-run to only show the plan.");
    return std::nullopt;
  }
  fmt::print("{} [y/N] ", question);
  std::fflush(stdout);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  for (auto& ch : answer) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) answer.pop_back();
  return answer == "y" || answer == "yes";
}

void add_cache_ls_command(CLI::App& cache, Context& ctx) {
  auto o = std::make_shared<LsOptions>();
  auto* cmd = cache.add_subcommand("ls", "List cached repos (or revisions) with sizes, ages and refs");
  cmd->alias("list");
  cmd->alias("scan");  // huggingface_hub's older name (`huggingface-cli scan-cache`, `hf cache scan`)
  cmd->add_flag("--revisions", o->revisions, "One row per revision instead of per repo");
  cmd->add_flag("-q,--quiet", o->quiet, "Only print ids (type/id, or commit hashes with --revisions)");
  cmd->add_option("-f,--filter", o->filters,
                  "Keep entries matching 'key op value' (size>1GB, accessed>7d, modified<30d, type=dataset, "
                  "refs=main); repeatable, all must match")
      ->allow_extra_args(false);
  cmd->add_option("--sort", o->sort, "accessed|modified|name|size, optionally :asc or :desc");
  cmd->add_option("--limit", o->limit, "Show at most N entries (after sorting)");
  cmd->add_flag("--show-warnings", o->show_warnings, "Print each cache inconsistency found");
  add_cache_dir_option(*cmd, o->common);
  add_json_option(*cmd, o->common);
  cmd->callback([&ctx, o] { ctx.exit_code = run_ls(ctx, *o); });
}

void add_cache_command(CLI::App& app, Context& ctx) {
  auto* cache = app.add_subcommand("cache", "Inspect and clean the Hub cache: ls, rm, prune, verify, gc, pin, unpin, move");
  cache->require_subcommand(1);
  add_cache_ls_command(*cache, ctx);
  add_cache_rm_command(*cache, ctx);
  add_cache_prune_command(*cache, ctx);
  add_cache_verify_command(*cache, ctx);
  add_cache_gc_command(*cache, ctx);
  add_cache_move_command(*cache, ctx);
}

}  // namespace hubcache::cli

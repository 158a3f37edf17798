#include "cmd_cache_rm_select.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>

#include "cli.hpp"
#include "hubcache/util/human.hpp"
#include "selection.hpp"

namespace hubcache::cli {
namespace {

// One numbered line of the list: a repo (all its revisions) or one revision of it.
struct Entry {
  const CachedRepoInfo* repo = nullptr;
  const CachedRevisionInfo* revision = nullptr;  // null: the repo line
};

std::string sized(std::uint64_t bytes) { return format_size(static_cast<double>(bytes)) + "B"; }

std::string refs_of(const CachedRevisionInfo& v) { return v.refs.empty() ? "(detached)" : join(v.refs, ", "); }

std::vector<Entry> number_entries(const HFCacheInfo& cache) {
  std::vector<Entry> entries;
  for (const auto& repo : cache.repos) {
    entries.push_back({&repo, nullptr});
    for (const auto& v : repo.revisions) entries.push_back({&repo, &v});
  }
  return entries;
}

void print_list(const HFCacheInfo& cache, const std::vector<Entry>& entries) {
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const int num_w = static_cast<int>(std::to_string(entries.size()).size());
  std::size_t refs_w = 0, size_w = 0;
  for (const auto& e : entries)
    if (e.revision) {
      refs_w = std::max(refs_w, refs_of(*e.revision).size());
      size_w = std::max(size_w, sized(e.revision->size_on_disk).size());
    }
  fmt::print(stderr, "Cached revisions in {}:\n", cache.cache_dir);
  for (const auto& e : entries) {
    const auto n = static_cast<std::size_t>(&e - entries.data()) + 1;
    if (!e.revision) {
      const auto count = e.repo->revisions.size();
      fmt::print(stderr, "\n  {:>{}}  {} ({} revision{}, {})\n", n, num_w, e.repo->label(), count, count == 1 ? "" : "s",
                 sized(e.repo->size_on_disk));
      continue;
    }
    const auto& v = *e.revision;
    fmt::print(stderr, "    {:>{}}  {}  {:<{}}  {:>{}}  modified {}\n", n, num_w, v.commit.substr(0, 8), refs_of(v), refs_w,
               sized(v.size_on_disk), size_w, format_age(now - v.last_modified));
  }
  fmt::print(stderr,
             "\nType the numbers to delete, e.g. `2 4-6` (a repo's number takes all its revisions).\n"
             "An empty line cancels.\n");
}

std::vector<DeleteTarget> targets_of(const std::vector<Entry>& entries, const std::vector<std::size_t>& picked) {
  std::vector<const CachedRepoInfo*> whole;
  for (auto n : picked)
    if (!entries[n - 1].revision) whole.push_back(entries[n - 1].repo);
  std::vector<DeleteTarget> targets;
  for (const auto* repo : whole) {
    DeleteTarget t;
    t.kind = DeleteTarget::Kind::Repo;
    t.type = repo->repo.type;
    t.id = repo->repo.id;
    t.text = repo->label();
    targets.push_back(std::move(t));
  }
  for (auto n : picked) {
    const Entry& e = entries[n - 1];
    if (e.revision && std::find(whole.begin(), whole.end(), e.repo) == whole.end())
      targets.push_back(DeleteTarget::revision_of(e.repo->repo, e.revision->commit));
  }
  return targets;
}

}  // namespace

RmSelection select_delete_targets(const HFCacheInfo& cache) {
  const auto entries = number_entries(cache);
  print_list(cache, entries);
  for (int attempt = 1; attempt <= k_selection_attempts; ++attempt) {
    fmt::print(stderr, "Delete: ");
    std::fflush(stderr);
    std::string line;
    if (!std::getline(std::cin, line)) {
      fmt::print(stderr, "\n");  // end of input (Ctrl-D) leaves the cursor after the prompt
      return {};
    }
    auto picked = parse_selection(line, entries.size());
    if (!picked) {
      const int left = k_selection_attempts - attempt;
      fmt::print(stderr, "Invalid selection: {}.{}\n", picked.error().message,
                 left > 0 ? fmt::format(" Try again ({} attempt{} left).", left, left == 1 ? "" : "s") : "");
      continue;
    }
    if (picked->empty()) return {};
    return {RmSelection::Outcome::Picked, targets_of(entries, *picked)};
  }
  return {RmSelection::Outcome::Invalid, {}};
}

}  // namespace hubcache::cli

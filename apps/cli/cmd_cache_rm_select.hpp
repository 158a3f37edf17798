#pragma once
// `hubcache cache rm` without targets on a terminal: a numbered list of the cache's repos and
// revisions to pick from (like `hf cache delete`). What is picked becomes ordinary delete
// targets: planning, confirmation and deletion are `cache rm`'s own.
#include <vector>

#include "hubcache/manage/delete_plan.hpp"
#include "hubcache/manage/scan.hpp"

namespace hubcache::cli {

/// How many invalid answers the list takes before it gives up.
inline constexpr int k_selection_attempts = 3;

struct RmSelection {
  enum class Outcome { Picked, Cancelled, Invalid };
  Outcome outcome = Outcome::Cancelled;
  std::vector<DeleteTarget> targets;  // Picked: a Repo target per repo number, else RepoRevision ones
};

/// Prints the list on stderr and reads the answer from stdin (the caller checked both are
/// terminals). An empty line or end of input cancels; an invalid answer is explained and asked
/// again, k_selection_attempts times in all.
RmSelection select_delete_targets(const HFCacheInfo& cache);

}  // namespace hubcache::cli

#pragma once
// Listing rows of `cache ls`: filters, sort and limit exactly as `hf cache ls` (docs/cache-management.md#ls).
//
// Filters: "key op value", keys size|accessed|modified|type|refs (case-insensitive), operators
// = != > < >= <= ("==" is rejected). size takes bytes or an integer with a unit k|kb|m|mb|g|gb|
// t|tb|p|pb (powers of 1000); accessed/modified take seconds or an integer with s|m|h|d|w|mo|y
// and compare the entry's age ("accessed>7d": last accessed more than 7 days ago); type and refs
// allow only "=" and compare case-insensitively. On revision rows, size/modified/refs are the
// revision's and accessed is the repo's.
// Sort: accessed|modified|name|size with an optional ":asc"/":desc"; descending by default
// except name. Stable: ties keep the default order (by "type/id", then commit).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/manage/scan.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

struct ListFilter {
  enum class Key { Size, Accessed, Modified, Type, Refs };
  enum class Op { Eq, Ne, Gt, Lt, Ge, Le };
  Key key = Key::Size;
  Op op = Op::Eq;
  std::uint64_t number = 0;  // bytes or seconds
  std::string text;          // type / ref name, lower-cased
};

/// Parses "size>1GB" etc. Fails with InvalidArgument and a message naming the problem.
Result<ListFilter> parse_list_filter(std::string_view expr);

struct ListSort {
  enum class Key { Accessed, Modified, Name, Size };
  Key key = Key::Name;
  bool descending = false;
};

/// Parses "size", "name:desc", ... Fails with InvalidArgument.
Result<ListSort> parse_list_sort(std::string_view expr);

struct ListQuery {
  bool revisions = false;  // one row per revision instead of per repo
  std::vector<ListFilter> filters;
  std::optional<ListSort> sort;
  std::optional<std::size_t> limit;
};

struct ListEntry {
  const CachedRepoInfo* repo = nullptr;
  const CachedRevisionInfo* revision = nullptr;  // null on repo rows
};

/// The rows to print, filtered (all filters must match), sorted and limited. `now` is epoch
/// seconds. The pointers stay valid as long as `cache` does.
std::vector<ListEntry> list_entries(const HFCacheInfo& cache, const ListQuery& query, double now);

}  // namespace hubcache

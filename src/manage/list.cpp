#include "hubcache/manage/list.hpp"

#include <algorithm>
#include <cctype>

#include "hubcache/util/human.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache {
namespace {

const char* k_filter_keys = "['size', 'accessed', 'modified', 'type', 'refs']";
const char* k_operators = "['=', '!=', '>', '<', '>=', '<=']";

template <typename T>
bool compare(T left, ListFilter::Op op, T right) {
  switch (op) {
    case ListFilter::Op::Eq:
      return left == right;
    case ListFilter::Op::Ne:
      return left != right;
    case ListFilter::Op::Gt:
      return left > right;
    case ListFilter::Op::Lt:
      return left < right;
    case ListFilter::Op::Ge:
      return left >= right;
    case ListFilter::Op::Le:
      return left <= right;
  }
  return false;
}

bool matches(const ListFilter& f, const ListEntry& e, double now) {
  const CachedRepoInfo& repo = *e.repo;
  switch (f.key) {
    case ListFilter::Key::Size:
      return compare<std::uint64_t>(e.revision ? e.revision->size_on_disk : repo.size_on_disk, f.op, f.number);
    case ListFilter::Key::Accessed:
      return compare<double>(now - repo.last_accessed, f.op, static_cast<double>(f.number));
    case ListFilter::Key::Modified:
      return compare<double>(now - (e.revision ? e.revision->last_modified : repo.last_modified), f.op,
                             static_cast<double>(f.number));
    case ListFilter::Key::Type:
      return to_lower(to_string(repo.repo.type)) == f.text;
    case ListFilter::Key::Refs: {
      const auto& refs = e.revision ? e.revision->refs : repo.refs;
      return std::any_of(refs.begin(), refs.end(), [&](const std::string& r) { return to_lower(r) == f.text; });
    }
  }
  return false;
}

}  // namespace

Result<ListFilter> parse_list_filter(std::string_view raw) {
  const std::string_view expr = trim(raw);
  const std::string shown(raw);
  std::size_t i = 0;
  while (i < expr.size() && (std::isalpha(static_cast<unsigned char>(expr[i])) || expr[i] == '_')) ++i;
  const std::string key = to_lower(expr.substr(0, i));
  std::string_view rest = expr.substr(i);
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  static const std::pair<std::string_view, ListFilter::Op> ops[] = {
      {"==", ListFilter::Op::Eq}, {"!=", ListFilter::Op::Ne}, {">=", ListFilter::Op::Ge}, {"<=", ListFilter::Op::Le},
      {">", ListFilter::Op::Gt},  {"<", ListFilter::Op::Lt},  {"=", ListFilter::Op::Eq}};
  std::string_view op_text;
  ListFilter f;
  for (const auto& [text, op] : ops)
    if (rest.substr(0, text.size()) == text) {
      op_text = text;
      f.op = op;
      break;
    }
  const std::string_view value = trim(rest.substr(op_text.size()));
  if (key.empty() || op_text.empty() || value.empty())
    return fail(ErrorCode::InvalidArgument,
                "Invalid filter expression: '" + shown + "'. Expected 'key op value', e.g. 'size>1GB' or 'accessed>7d'.");
  if (op_text == "==")
    return fail(ErrorCode::InvalidArgument,
                "Unsupported operator '==' in filter '" + shown + "'. Must be one of " + k_operators + ".");
  const std::string v(value);
  if (key == "size") {
    f.key = ListFilter::Key::Size;
    auto n = parse_size(v);
    if (!n)
      return fail(ErrorCode::InvalidArgument, "Invalid size '" + v + "' in filter '" + shown +
                                                  "': use an integer with an optional unit k|kb|m|mb|g|gb|t|tb|p|pb "
                                                  "(powers of 1000), e.g. 10GB.");
    f.number = *n;
  } else if (key == "accessed" || key == "modified") {
    f.key = key == "accessed" ? ListFilter::Key::Accessed : ListFilter::Key::Modified;
    auto n = parse_duration(v);
    if (!n)
      return fail(ErrorCode::InvalidArgument, "Invalid duration '" + v + "' in filter '" + shown +
                                                  "': use seconds or an integer with a unit s|m|h|d|w|mo|y, e.g. 7d.");
    f.number = *n;
  } else if (key == "type" || key == "refs") {
    f.key = key == "type" ? ListFilter::Key::Type : ListFilter::Key::Refs;
    if (f.op != ListFilter::Op::Eq)
      return fail(ErrorCode::InvalidArgument,
                  "Only '=' is supported for '" + key + "' filters. Got '" + std::string(op_text) + "'.");
    f.text = to_lower(v);
  } else {
    return fail(ErrorCode::InvalidArgument,
                "Unsupported filter key '" + key + "' in '" + shown + "'. Must be one of " + k_filter_keys + ".");
  }
  return f;
}

Result<ListSort> parse_list_sort(std::string_view raw) {
  const std::string expr = to_lower(trim(raw));
  const auto colon = expr.find(':');
  const std::string key = expr.substr(0, colon);
  const std::string order = colon == std::string::npos ? "" : expr.substr(colon + 1);
  const bool key_ok = !key.empty() && std::all_of(key.begin(), key.end(),
                                                  [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; });
  if (!key_ok || (colon != std::string::npos && order != "asc" && order != "desc"))
    return fail(ErrorCode::InvalidArgument,
                "Invalid sort expression: '" + std::string(raw) + "'. Expected format: 'key' or 'key:asc' or 'key:desc'.");
  ListSort s;
  if (key == "accessed")
    s.key = ListSort::Key::Accessed;
  else if (key == "modified")
    s.key = ListSort::Key::Modified;
  else if (key == "name")
    s.key = ListSort::Key::Name;
  else if (key == "size")
    s.key = ListSort::Key::Size;
  else
    return fail(ErrorCode::InvalidArgument, "Unsupported sort key '" + key + "' in '" + std::string(raw) +
                                                "'. Must be one of ['accessed', 'modified', 'name', 'size'].");
  s.descending = order.empty() ? s.key != ListSort::Key::Name : order == "desc";
  return s;
}

std::vector<ListEntry> list_entries(const HFCacheInfo& cache, const ListQuery& query, double now) {
  std::vector<ListEntry> rows;
  for (const auto& repo : cache.repos) {
    if (!query.revisions) {
      rows.push_back({&repo, nullptr});
      continue;
    }
    for (const auto& rev : repo.revisions) rows.push_back({&repo, &rev});
  }
  std::erase_if(rows, [&](const ListEntry& e) {
    return !std::all_of(query.filters.begin(), query.filters.end(), [&](const ListFilter& f) { return matches(f, e, now); });
  });
  if (query.sort) {
    const ListSort s = *query.sort;
    auto key_less = [s](const ListEntry& a, const ListEntry& b) {
      switch (s.key) {
        case ListSort::Key::Name:
          return to_lower(a.repo->label()) < to_lower(b.repo->label());
        case ListSort::Key::Size: {
          const auto sa = a.revision ? a.revision->size_on_disk : a.repo->size_on_disk;
          const auto sb = b.revision ? b.revision->size_on_disk : b.repo->size_on_disk;
          return sa < sb;
        }
        case ListSort::Key::Accessed:
          return a.repo->last_accessed < b.repo->last_accessed;
        case ListSort::Key::Modified: {
          const double ma = a.revision ? a.revision->last_modified : a.repo->last_modified;
          const double mb = b.revision ? b.revision->last_modified : b.repo->last_modified;
          return ma < mb;
        }
      }
      return false;
    };
    std::stable_sort(rows.begin(), rows.end(),
                     [&](const ListEntry& a, const ListEntry& b) { return s.descending ? key_less(b, a) : key_less(a, b); });
  }
  if (query.limit && rows.size() > *query.limit) rows.resize(*query.limit);
  return rows;
}

}  // namespace hubcache

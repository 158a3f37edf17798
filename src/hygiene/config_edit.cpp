#include "config_edit.hpp"

#include <algorithm>

#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache::hygiene::detail {
namespace {

struct Value {
  std::size_t begin = 0, end = 0;  // the span of the value's text in the line (quotes excluded)
  char quote = 0;                  // '"', '\'' or 0 for a bare value
};

// Quoted strings of the line; when there are none, the bare value after the first '=' or ': '.
std::vector<Value> values_in(std::string_view raw) {
  std::vector<Value> out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char q = raw[i];
    if (q != '"' && q != '\'') continue;
    std::size_t j = i + 1;
    while (j < raw.size() && raw[j] != q) j += raw[j] == '\\' ? 2 : 1;
    if (j >= raw.size()) break;
    out.push_back({i + 1, j, q});
    i = j;
  }
  if (!out.empty()) return out;
  std::size_t at = raw.find('=');
  std::size_t skip = 1;
  if (const auto colon = raw.find(": "); colon != std::string_view::npos && (at == std::string_view::npos || colon < at)) {
    at = colon;
    skip = 2;
  }
  if (at == std::string_view::npos) return out;
  std::size_t b = at + skip;
  while (b < raw.size() && (raw[b] == ' ' || raw[b] == '\t')) ++b;
  std::size_t e = b;
  while (e < raw.size() && raw[e] != ' ' && raw[e] != '\t' && raw[e] != ';' && raw[e] != '#') ++e;
  if (e > b) out.push_back({b, e, 0});
  return out;
}

// The absolute folder a value names, taken from the project folder when relative; "" when it
// cannot be known here (home-relative, a variable other than $PWD).
std::string resolve_value(std::string_view v, const std::string& project) {
  for (std::string_view prefix : {"${PWD}/", "$PWD/"})
    if (v.starts_with(prefix)) v.remove_prefix(prefix.size());
  if (v.empty() || v.front() == '~' || v.find('$') != std::string_view::npos) return {};
  std::string p = v.front() == '/' ? fs::normalize(v) : fs::normalize(project + "/" + std::string(v));
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string base_name(const std::string& p) { return p.substr(p.rfind('/') + 1); }

// Pieces of code that build a path rather than state it: not a simple default.
bool builds_a_path(std::string_view raw) {
  for (std::string_view s : {"join(", "Path(", "__file__", "/ \"", "/ '", "+ \"", "\" +", "+ '", "' +", "f\"", "f'", "{", "$("})
    if (raw.find(s) != std::string_view::npos) return true;
  return false;
}

bool is_hub_cache_variable(std::string_view v) { return v != "HF_DATASETS_CACHE" && v != "LLAMA_CACHE"; }

}  // namespace

std::optional<LineEdit> edit_for(const SettingLine& setting, std::string_view raw, const CacheMove& move,
                                 std::optional<ManualSetting>& manual) {
  manual.reset();
  const bool home = setting.variable == "HF_HOME";
  const std::string cache_parent = fs::parent(move.cache);
  std::vector<Value> hits;
  for (const auto& v : values_in(raw)) {
    const std::string folder = resolve_value(raw.substr(v.begin, v.end - v.begin), move.project);
    if (folder == move.cache || (home && base_name(move.cache) == "hub" && folder == cache_parent)) hits.push_back(v);
  }
  auto by_hand = [&](std::string why) -> std::optional<LineEdit> {
    manual = ManualSetting{setting.file, setting.line, setting.text, std::move(why)};
    return std::nullopt;
  };
  if (hits.empty()) {
    if (setting.variable.empty() || setting.variable == "cache_dir")
      return by_hand("it names the folder " + base_name(move.cache) + " in a way migrate does not rewrite");
    return std::nullopt;  // a cache variable set to something else
  }
  if (hits.size() > 1) return by_hand("it names the project cache more than once");
  if (builds_a_path(raw)) return by_hand("it builds the path in code rather than stating it");
  if (!setting.variable.empty() && !is_hub_cache_variable(setting.variable))
    return by_hand(setting.variable + " is not where Hub downloads are kept; point it at a folder of its own");
  std::string target = move.central;
  if (home) {
    if (base_name(move.central) != "hub")
      return by_hand("HF_HOME names the folder above a Hub cache, and the central cache " + move.central +
                     " is not a `hub` folder: set HF_HUB_CACHE=" + move.central + " instead");
    target = fs::parent(move.central);
  }
  const Value& v = hits.front();
  if (v.quote != 0) {
    if (target.find(v.quote) != std::string::npos || target.find('\\') != std::string::npos)
      return by_hand("the central cache's path holds a quote or a backslash");
  } else if (target.find_first_of(" \t'\"\\$`;#&|<>()") != std::string::npos) {
    if (target.find_first_of("\"\\$`") != std::string::npos) return by_hand("the central cache's path needs shell quoting");
    target = "\"" + target + "\"";
  }
  LineEdit e{setting.file, setting.line, std::string(raw), std::string(raw)};
  e.after.replace(v.begin, v.end - v.begin, target);
  return e;
}

std::vector<std::string> split_lines(std::string_view text, bool& final_newline) {
  std::vector<std::string> out;
  final_newline = text.empty() || text.back() == '\n';
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string unified_diff(const std::string& label, const std::vector<std::string>& lines, bool final_newline,
                         const std::vector<LineEdit>& edits) {
  constexpr std::size_t k_context = 3;
  std::vector<const LineEdit*> at(lines.size(), nullptr);
  for (const auto& e : edits)
    if (e.line >= 1 && static_cast<std::size_t>(e.line) <= lines.size()) at[static_cast<std::size_t>(e.line) - 1] = &e;
  std::vector<std::pair<std::size_t, std::size_t>> hunks;  // [first, last] line indexes
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!at[i]) continue;
    const std::size_t first = i >= k_context ? i - k_context : 0;
    const std::size_t last = std::min(lines.size() - 1, i + k_context);
    if (!hunks.empty() && first <= hunks.back().second + 1)
      hunks.back().second = last;
    else
      hunks.emplace_back(first, last);
  }
  if (hunks.empty()) return {};
  const std::size_t final_index = lines.size() - 1;
  auto no_newline = [&](std::size_t i) { return !final_newline && i == final_index ? "\n\\ No newline at end of file\n" : "\n"; };
  std::string out = "--- a/" + label + "\n+++ b/" + label + "\n";
  for (const auto& [first, last] : hunks) {
    const std::size_t count = last - first + 1;
    const std::string range = std::to_string(first + 1) + (count == 1 ? "" : "," + std::to_string(count));
    out += "@@ -" + range + " +" + range + " @@\n";
    for (std::size_t i = first; i <= last;) {
      if (!at[i]) {
        out += " " + lines[i] + no_newline(i);
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j <= last && at[j]) ++j;
      for (std::size_t k = i; k < j; ++k) out += "-" + at[k]->before + no_newline(k);
      for (std::size_t k = i; k < j; ++k) out += "+" + at[k]->after + no_newline(k);
      i = j;
    }
  }
  return out;
}

}  // namespace hubcache::hygiene::detail

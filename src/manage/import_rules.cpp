// LFS decisions (Hub default .gitattributes + the repo's own) and the derived commit id.
#include <algorithm>
#include <map>

#include "hubcache/manage/import.hpp"
#include "hubcache/cache/lfs_pointer.hpp"
#include "hubcache/util/hash.hpp"

namespace hubcache {
namespace {

// The patterns of the .gitattributes the Hub creates for a new repo.
constexpr std::string_view k_hub_default_patterns[] = {
    "*.7z",    "*.arrow",   "*.bin",      "*.bz2",         "*.ckpt",
    "*.ftz",   "*.gz",      "*.h5",       "*.joblib",      "*.mlmodel",
    "*.model", "*.msgpack", "*.npy",      "*.npz",         "*.onnx",
    "*.ot",    "*.parquet", "*.pb",       "*.pickle",      "*.pkl",
    "*.pt",    "*.pth",     "*.rar",      "*.safetensors", "saved_model/**/*",
    "*.tar.*", "*.tflite",  "*.tgz",      "*.wasm",        "*.xz",
    "*.zip",   "*.zst",     "*tfevents*", "*.gguf",
};

// Matches a bracket expression at p[pi] == '['. Sets `end` past the closing ']'. A '[' with no
// closing bracket is taken literally by the caller (returns false with end = 0).
bool match_class(std::string_view p, std::size_t pi, char c, std::size_t& end) {
  std::size_t i = pi + 1;
  bool negate = false;
  if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  for (; i < p.size(); ++i) {
    if (p[i] == ']' && !first) {
      end = i + 1;
      return c != '/' && matched != negate;
    }
    first = false;
    char lo = p[i];
    if (lo == '\\' && i + 1 < p.size()) lo = p[++i];
    char hi = lo;
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      hi = p[i + 2];
      if (hi == '\\' && i + 3 < p.size()) hi = p[++i + 2];
      i += 2;
    }
    if (lo <= c && c <= hi) matched = true;
  }
  end = 0;
  return false;
}

// Git wildmatch subset. Every '*' branch is memoised on (pattern index, path index), so hostile
// patterns such as "*a*a*a*a*b" stay polynomial.
class Wild {
 public:
  Wild(std::string_view p, std::string_view s) : m_p(p), m_s(s), m_memo((p.size() + 1) * (s.size() + 1), 0) {}
  bool run() { return match(0, 0); }

 private:
  bool match(std::size_t pi, std::size_t si) {
    const std::string_view p = m_p, s = m_s;
    while (pi < p.size()) {
      const char pc = p[pi];
      if (pc == '*') return star(pi, si);
      if (si >= s.size()) return false;
      if (pc == '?') {
        if (s[si] == '/') return false;
        ++pi, ++si;
        continue;
      }
      if (pc == '[') {
        std::size_t end = 0;
        const bool m = match_class(p, pi, s[si], end);
        if (end != 0) {
          if (!m) return false;
          pi = end, ++si;
          continue;
        }
      }
      char lit = pc;
      if (pc == '\\' && pi + 1 < p.size()) lit = p[++pi];
      if (lit != s[si]) return false;
      ++pi, ++si;
    }
    return si == s.size();
  }

  bool star(std::size_t pi, std::size_t si) {
    auto& slot = m_memo[pi * (m_s.size() + 1) + si];
    if (slot == 0) slot = star_uncached(pi, si) ? 1 : 2;
    return slot == 1;
  }

  bool star_uncached(std::size_t pi, std::size_t si) {
    const std::string_view p = m_p, s = m_s;
    const bool dbl = pi + 1 < p.size() && p[pi + 1] == '*';
    const bool at_segment_start = pi == 0 || p[pi - 1] == '/';
    if (dbl && at_segment_start && (pi + 2 == p.size() || p[pi + 2] == '/')) {
      if (pi + 2 == p.size()) return true;  // trailing "**": everything below
      // "**/": zero or more whole directories.
      for (std::size_t k = si;; ++k) {
        if ((k == si || s[k - 1] == '/') && match(pi + 3, k)) return true;
        if (k >= s.size()) return false;
      }
    }
    while (pi < p.size() && p[pi] == '*') ++pi;  // other "**" act like '*'
    for (std::size_t k = si; k <= s.size(); ++k) {
      if (match(pi, k)) return true;
      if (k < s.size() && s[k] == '/') return false;
    }
    return false;
  }

  std::string_view m_p, m_s;
  std::vector<unsigned char> m_memo;  // 0 unknown, 1 match, 2 no match
};

bool wild(std::string_view p, std::string_view s) { return Wild(p, s).run(); }

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

struct TreeNode {
  std::map<std::string, TreeNode> dirs;
  std::map<std::string, std::string> files;  // name -> git blob id (hex)
};

std::string tree_id(const TreeNode& node) {
  std::vector<GitTreeEntry> entries;
  for (const auto& [name, oid] : node.files) entries.push_back({name, false, oid});
  for (const auto& [name, child] : node.dirs) entries.push_back({name, true, tree_id(child)});
  return git_tree_sha1_hex(std::move(entries));
}

}  // namespace

bool gitattributes_match(std::string_view pattern, std::string_view path) { return wild(pattern, path); }

LfsRules LfsRules::hub_defaults() {
  LfsRules r;
  for (auto p : k_hub_default_patterns) r.m_rules.push_back(Rule{std::string(p), p.find('/') != std::string_view::npos, true});
  return r;
}

void LfsRules::add_gitattributes(std::string_view text) {
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto tokens = split_ws(line);
    if (tokens.empty() || tokens[0].front() == '#' || tokens[0].front() == '!') continue;
    std::string pattern(tokens[0]);
    if (pattern.back() == '/') continue;  // matches directories only, never a file
    std::optional<bool> lfs;
    for (std::size_t i = 1; i < tokens.size(); ++i) {
      const auto t = tokens[i];
      if (t == "-filter" || t == "!filter" || t == "filter")
        lfs = false;
      else if (t.substr(0, 7) == "filter=")
        lfs = t.substr(7) == "lfs";
    }
    if (!lfs) continue;
    bool anchored = pattern.find('/') != std::string::npos;
    if (pattern.front() == '/') pattern.erase(0, 1);
    m_rules.push_back(Rule{std::move(pattern), anchored, *lfs});
  }
}

bool LfsRules::is_lfs(std::string_view path, std::uint64_t size) const {
  if (size > k_size_threshold) return true;
  const auto slash = path.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  bool lfs = false;
  for (const auto& r : m_rules)
    if (wild(r.pattern, r.anchored ? path : base)) lfs = r.lfs;
  return lfs;
}

std::string derive_commit_id(const std::vector<TreeItem>& items) {
  TreeNode root;
  for (const auto& it : items) {
    TreeNode* node = &root;
    std::string_view rest = it.path;
    for (auto slash = rest.find('/'); slash != std::string_view::npos; slash = rest.find('/')) {
      node = &node->dirs[std::string(rest.substr(0, slash))];
      rest.remove_prefix(slash + 1);
    }
    node->files[std::string(rest)] = it.lfs ? git_blob_sha1_hex(lfs_pointer_text(it.blob, it.size)) : it.blob;
  }
  return tree_id(root);
}

}  // namespace hubcache

// Planning `hubcache dedupe`: groups of identical contents, the file each keeps, what the others become.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "deep_hash.hpp"
#include "hubcache/hygiene/dedupe.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::hygiene {

const char* to_string(LinkKind kind) {
  switch (kind) {
    case LinkKind::Auto:
      return "auto";
    case LinkKind::Reflink:
      return "reflink";
    case LinkKind::Hardlink:
      return "hardlink";
    case LinkKind::Symlink:
      return "symlink";
  }
  return "unknown";
}

std::optional<LinkKind> parse_link_kind(std::string_view text) {
  for (auto k : {LinkKind::Auto, LinkKind::Reflink, LinkKind::Hardlink, LinkKind::Symlink})
    if (text == to_string(k)) return k;
  return std::nullopt;
}

namespace {

using InodeKey = std::pair<dev_t, ino_t>;

// One name of a content, as planning sees it.
struct Candidate {
  std::string path;  // the name (for a linked entry: its target's real path)
  stores::StoreKind store;
  const std::string* root;  // the store's folder (Planner::m_roots)
  std::uint64_t size, disk_bytes;
  InodeKey inode;
  nlink_t links;
  bool replaceable;  // a regular file entry (not a link, not the shared store's payload)
  DigestKind digest;
  std::string hex;
  bool hashed = false;
};

// Keeper preference: the Hub cache's blob first (the layout everything else can be linked from),
// then Ollama's, then the rest.
int store_rank(stores::StoreKind k) {
  switch (k) {
    case stores::StoreKind::HubCache:
      return 0;
    case stores::StoreKind::Ollama:
      return 1;
    default:
      return 2;
  }
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

class Planner {
 public:
  Planner(std::vector<stores::StoreListing> listings, const DedupeOptions& options) : m_options(options) {
    m_plan.link = options.link;
    detail::DeepHashOutcome deep;
    if (options.deep) {
      deep = detail::hash_colliding_sizes(listings, options.threads);
      m_plan.hashed_files = deep.files;
      m_plan.hashed_bytes = deep.bytes;
      m_plan.warnings = deep.warnings;
    }
    // Each file's strings move into its candidate; the listings go when the constructor returns.
    m_roots.reserve(listings.size());
    for (auto& l : listings) {
      m_roots.push_back(std::move(l.root));
      for (auto& f : l.files) {
        if (f.partial || f.size == 0) continue;
        const bool hashed = deep.hashed.count(&f) > 0;
        m_all.push_back({f.linked ? real_path(f.path) : std::move(f.path),
                         l.kind,
                         &m_roots.back(),
                         f.size,
                         f.disk_bytes,
                         {f.device, f.inode},
                         f.links,
                         !f.linked,
                         f.digest,
                         std::move(f.digest_hex),
                         hashed});
      }
      l.files = {};
    }
  }

  DedupePlan run() {
    group();
    std::sort(m_plan.groups.begin(), m_plan.groups.end(), [](const DedupeGroup& a, const DedupeGroup& b) {
      return a.freed_bytes != b.freed_bytes ? a.freed_bytes > b.freed_bytes : a.hex < b.hex;
    });
    for (const auto& g : m_plan.groups) m_plan.freed_bytes += g.freed_bytes;
    if (m_options.link == LinkKind::Symlink && !m_plan.groups.empty())
      m_plan.warnings.push_back(
          "symlinks make every other store depend on the kept files: deleting one of them (cache rm, prune, ollama rm) "
          "breaks the stores that link to it; reflinks and hardlinks have no such dependency");
    return std::move(m_plan);
  }

 private:
  void group() {
    std::map<std::pair<DigestKind, std::string>, std::vector<std::size_t>> by_content;
    for (std::size_t i = 0; i < m_all.size(); ++i)
      if (m_all[i].digest != DigestKind::None) by_content[{m_all[i].digest, m_all[i].hex}].push_back(i);
    for (const auto& [content, idx] : by_content) {
      std::map<dev_t, std::vector<std::size_t>> by_device;
      std::set<InodeKey> inodes;
      for (auto i : idx) {
        by_device[m_all[i].inode.first].push_back(i);
        inodes.insert(m_all[i].inode);
      }
      if (inodes.size() < 2) continue;
      for (const auto& [device, names] : by_device) plan_device(content, device, names, by_device.size() > 1);
    }
  }

  // One group on one filesystem.
  void plan_device(const std::pair<DigestKind, std::string>& content, dev_t device, const std::vector<std::size_t>& names,
                   bool other_devices) {
    std::map<InodeKey, std::vector<std::size_t>> by_inode;
    for (auto i : names) by_inode[m_all[i].inode].push_back(i);
    if (by_inode.size() < 2) {
      if (other_devices)
        m_plan.warnings.push_back("'" + m_all[names.front()].path +
                                  "' holds the same bytes as files on another filesystem: not linked (a link cannot cross "
                                  "filesystems)");
      return;
    }
    // The kept inode: one with names outside the stores read (it stays anyway, so keeping it frees
    // the most), then the best-ranked store, then the most names, then the first path.
    auto better = [&](const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
      const auto& x = m_all[a.front()];
      const auto& y = m_all[b.front()];
      const bool x_stays = x.links > a.size(), y_stays = y.links > b.size();
      if (x_stays != y_stays) return x_stays;
      if (store_rank(x.store) != store_rank(y.store)) return store_rank(x.store) < store_rank(y.store);
      if (x.links != y.links) return x.links > y.links;
      return x.path < y.path;
    };
    const std::vector<std::size_t>* keep = nullptr;
    for (const auto& [key, list] : by_inode)
      if (!keep || better(list, *keep)) keep = &list;
    DedupeGroup g;
    g.kind = content.first;
    g.hex = content.second;
    g.device = device;
    g.keep = m_all[keep->front()].path;
    for (const auto& [key, list] : by_inode) {
      if (&list == keep) continue;
      std::vector<std::size_t> regular;
      for (auto i : list) {
        g.hashed |= m_all[i].hashed;
        if (m_all[i].replaceable) regular.push_back(i);
      }
      if (regular.size() != list.size()) {
        m_plan.warnings.push_back("'" + m_all[list.front()].path +
                                  "' is reached through a symlink (the shared blob store's payload): left as it is");
        continue;
      }
      const bool frees = m_all[list.front()].links == list.size();
      if (!frees)
        m_plan.warnings.push_back("'" + m_all[list.front()].path + "' has " + std::to_string(m_all[list.front()].links) +
                                  " names, not all in the stores read: linking it frees nothing until the others go");
      for (auto i : regular) {
        const auto& c = m_all[i];
        struct stat st {};
        if (::lstat(c.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        g.replace.push_back(
            {c.path, c.store, *c.root, c.size, c.disk_bytes, c.inode.first, c.inode.second, fs::mtime_ns(st), frees});
      }
      if (frees) g.freed_bytes += m_all[list.front()].disk_bytes;
    }
    g.hashed |= m_all[keep->front()].hashed;
    if (!g.replace.empty()) m_plan.groups.push_back(std::move(g));
  }

  const DedupeOptions& m_options;
  std::vector<std::string> m_roots;  // reserved first: candidates point into it
  std::vector<Candidate> m_all;
  DedupePlan m_plan;
};

}  // namespace

DedupePlan plan_dedupe(std::vector<stores::StoreListing> listings, const DedupeOptions& options) {
  return Planner(std::move(listings), options).run();
}

}  // namespace hubcache::hygiene

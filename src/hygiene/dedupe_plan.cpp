// Planning `hubcache dedupe`: groups of identical contents, the file each keeps, what the others become.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>
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

// One name of a content, as planning sees it: the listed file (for a linked entry, its path is
// made its target's real path), and its store. 24 bytes: a 200,000-file plan stays small.
struct Candidate {
  stores::StoredFile* file;
  const stores::StoreListing* store;
  bool hashed;  // the identity was computed by --deep
  const std::string& path() const { return file->path; }
  InodeKey inode() const { return {file->device, file->inode}; }
  bool replaceable() const { return !file->linked; }  // a regular file entry (not a link, not the shared store's payload)
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
    m_listings = std::move(listings);
    std::size_t files = 0;
    for (const auto& l : m_listings) files += l.files.size();
    m_all.reserve(files);
    std::size_t foreign = 0;
    std::string foreign_example;
    for (auto& l : m_listings)
      for (auto& f : l.files) {
        if (f.partial || f.size == 0) continue;
        const bool hashed = deep.hashed.count(&f) > 0;
        // In Ollama's blobs/ only digest-named files are Ollama's: another file is not a model
        // file of that store (Ollama deletes such names when it starts), so it is left alone.
        if (l.kind == stores::StoreKind::Ollama && (hashed || f.digest == DigestKind::None)) {
          if (foreign++ == 0) foreign_example = f.path;
          continue;
        }
        if (f.linked) f.path = real_path(f.path);
        m_all.push_back({&f, &l, hashed});
      }
    if (foreign)
      m_plan.warnings.push_back(
          "left alone: " +
          (foreign == 1 ? "'" + foreign_example + "'" : std::to_string(foreign) + " files such as '" + foreign_example + "'") +
          " in Ollama's blobs folder, not named by a digest: not Ollama's (it deletes such names when it starts)");
  }

  DedupePlan run() {
    group();
    std::sort(m_plan.groups.begin(), m_plan.groups.end(), [](const DedupeGroup& a, const DedupeGroup& b) {
      return a.freed_bytes != b.freed_bytes ? a.freed_bytes > b.freed_bytes : a.hex < b.hex;
    });
    for (const auto& g : m_plan.groups) m_plan.freed_bytes += g.freed_bytes;
    // One line, not one per file: a tree of hardlinked copies would print thousands.
    if (m_outside_names == 1)
      m_plan.warnings.push_back("'" + m_outside_example +
                                "' has names outside the stores read: linking it frees nothing until the others go");
    else if (m_outside_names > 1)
      m_plan.warnings.push_back(std::to_string(m_outside_names) + " files (such as '" + m_outside_example +
                                "') have names outside the stores read: linking them frees nothing until the others go");
    if (m_options.link == LinkKind::Symlink && !m_plan.groups.empty())
      m_plan.warnings.push_back(
          "symlinks make every other store depend on the kept files: deleting one of them (cache rm, prune, ollama rm) "
          "breaks the stores that link to it; reflinks and hardlinks have no such dependency");
    return std::move(m_plan);
  }

 private:
  void group() {
    // Candidates with an identity, sorted by it: each run of one identity is a content.
    std::vector<std::uint32_t> named;
    for (std::size_t i = 0; i < m_all.size(); ++i)
      if (m_all[i].file->digest != DigestKind::None) named.push_back(static_cast<std::uint32_t>(i));
    auto key = [&](std::uint32_t i) { return std::tie(m_all[i].file->digest, m_all[i].file->digest_hex); };
    std::sort(named.begin(), named.end(), [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });
    // The runs first: planning a run moves its strings into the plan, which would break comparing keys.
    std::vector<std::pair<std::size_t, std::size_t>> runs;
    for (std::size_t begin = 0, end = 0; begin < named.size(); begin = end) {
      end = begin + 1;
      while (end < named.size() && key(named[end]) == key(named[begin])) ++end;
      if (end - begin >= 2) runs.emplace_back(begin, end);
    }
    for (const auto& [begin, end] : runs) {
      std::map<dev_t, std::vector<std::size_t>> by_device;
      std::set<InodeKey> inodes;
      for (std::size_t k = begin; k < end; ++k) {
        const std::size_t i = named[k];
        by_device[m_all[i].inode().first].push_back(i);
        inodes.insert(m_all[i].inode());
      }
      if (inodes.size() < 2) continue;
      auto& first = *m_all[named[begin]].file;
      const std::pair<DigestKind, std::string> content{first.digest, std::move(first.digest_hex)};
      for (const auto& [device, names] : by_device) plan_device(content, device, names, by_device.size() > 1);
    }
  }

  // One group on one filesystem.
  void plan_device(const std::pair<DigestKind, std::string>& content, dev_t device, const std::vector<std::size_t>& names,
                   bool other_devices) {
    std::map<InodeKey, std::vector<std::size_t>> by_inode;
    for (auto i : names) by_inode[m_all[i].inode()].push_back(i);
    if (by_inode.size() < 2) {
      if (other_devices)
        m_plan.warnings.push_back("'" + m_all[names.front()].path() +
                                  "' holds the same bytes as files on another filesystem: not linked (a link cannot cross "
                                  "filesystems)");
      return;
    }
    // The kept inode: one with names outside the stores read (it stays anyway, so keeping it frees
    // the most), then the best-ranked store, then the most names, then the first path.
    auto better = [&](const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
      const auto& x = *m_all[a.front()].file;
      const auto& y = *m_all[b.front()].file;
      const auto x_store = m_all[a.front()].store->kind, y_store = m_all[b.front()].store->kind;
      const bool x_stays = x.links > a.size(), y_stays = y.links > b.size();
      if (x_stays != y_stays) return x_stays;
      if (store_rank(x_store) != store_rank(y_store)) return store_rank(x_store) < store_rank(y_store);
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
    g.keep = std::move(m_all[keep->front()].file->path);  // planning this group is the last use
    for (const auto& [key, list] : by_inode) {
      if (&list == keep) continue;
      std::vector<std::size_t> regular;
      for (auto i : list) {
        g.hashed |= m_all[i].hashed;
        if (m_all[i].replaceable()) regular.push_back(i);
      }
      // Names that are symlinks stay: they reach whatever the replaced name becomes. An inode reached
      // only through symlinks (the shared blob store's payloads) is left as it is.
      if (regular.empty()) {
        m_plan.warnings.push_back("'" + m_all[list.front()].path() +
                                  "' is reached only through symlinks (such as the shared blob store's): left as it is");
        continue;
      }
      const bool frees = m_all[regular.front()].file->links == regular.size();
      if (!frees && m_outside_names++ == 0) m_outside_example = m_all[regular.front()].path();
      for (auto i : regular) {
        auto& c = *m_all[i].file;
        struct stat st {};
        if (::lstat(c.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        g.replace.push_back({std::move(c.path), m_all[i].store->kind, m_all[i].store->root, c.size, c.disk_bytes, c.device,
                             c.inode, fs::mtime_ns(st), frees});
      }
      if (frees) g.freed_bytes += m_all[regular.front()].file->disk_bytes;
    }
    g.hashed |= m_all[keep->front()].hashed;
    if (!g.replace.empty()) m_plan.groups.push_back(std::move(g));
  }

  const DedupeOptions& m_options;
  std::vector<stores::StoreListing> m_listings;  // candidates point into it: never resized
  std::vector<Candidate> m_all;
  DedupePlan m_plan;
  std::size_t m_outside_names = 0;  // files to replace that have names outside the stores read
  std::string m_outside_example;
};

}  // namespace

DedupePlan plan_dedupe(std::vector<stores::StoreListing> listings, const DedupeOptions& options) {
  return Planner(std::move(listings), options).run();
}

}  // namespace hubcache::hygiene

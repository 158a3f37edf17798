#include "content_groups.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace hubcache::hygiene::detail {

std::vector<ContentGroup> content_groups(const std::vector<stores::StoreListing>& listings) {
  using InodeKey = std::pair<dev_t, ino_t>;
  struct Entry {
    std::vector<InodeKey> order;
    std::map<InodeKey, std::vector<Holder>> by_inode;
  };
  std::map<std::pair<DigestKind, std::string>, Entry> by_content;
  for (const auto& listing : listings)
    for (const auto& f : listing.files) {
      if (f.partial || f.digest == DigestKind::None) continue;
      auto& e = by_content[{f.digest, f.digest_hex}];
      const InodeKey key{f.device, f.inode};
      auto [it, inserted] = e.by_inode.try_emplace(key);
      if (inserted) e.order.push_back(key);
      it->second.push_back({&listing, &f});
    }
  std::vector<ContentGroup> out;
  for (auto& [content, e] : by_content) {
    if (e.order.size() < 2) continue;
    ContentGroup g;
    g.kind = content.first;
    g.hex = content.second;
    // Linking frees an inode only when every name of it is in the listings (else a name elsewhere
    // keeps its blocks); the one kept is the largest. Once over all inodes (what is held twice),
    // and once per filesystem (what a link can free).
    struct Tally {
      std::uint64_t freeable = 0, largest_freeable = 0;
      bool keeps_one_of_its_own = false;
      std::size_t inodes = 0;
      void add(const std::vector<Holder>& names) {
        const std::uint64_t bytes = names.front().file->disk_bytes;
        ++inodes;
        if (names.size() >= names.front().file->links) {
          freeable += bytes;
          largest_freeable = std::max(largest_freeable, bytes);
        } else {
          keeps_one_of_its_own = true;  // this inode stays anyway: it can be the kept one
        }
      }
      std::uint64_t extra() const { return inodes < 2 ? 0 : keeps_one_of_its_own ? freeable : freeable - largest_freeable; }
    };
    Tally all;
    std::map<dev_t, Tally> per_device;
    for (const auto& key : e.order) {
      all.add(e.by_inode[key]);
      per_device[key.first].add(e.by_inode[key]);
      g.inodes.push_back(std::move(e.by_inode[key]));
    }
    g.extra_bytes = all.extra();
    for (const auto& [device, t] : per_device) g.linkable_bytes += t.extra();
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace hubcache::hygiene::detail

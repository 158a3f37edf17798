#pragma once
// Disk usage across stores (`hubcache du`): bytes per store and per model with every file counted
// once per inode, the bytes held twice (the same content on two inodes, not linked), and the free
// space of each filesystem involved.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hubcache/stores/store.hpp"

namespace hubcache::hygiene {

struct ModelUsage {
  std::string model;  // StoredFile::model ("" = files no model refers to)
  std::size_t files = 0;
  std::uint64_t apparent_bytes = 0;  // sum of sizes
  std::uint64_t disk_bytes = 0;      // allocated bytes, each inode once within the model
};

struct StoreUsage {
  stores::StoreKind kind = stores::StoreKind::HubCache;
  std::string root;
  std::size_t files = 0;             // complete files (partials are counted apart)
  std::uint64_t apparent_bytes = 0;  // of the complete files
  std::uint64_t disk_bytes = 0;      // all files, partials included, each inode once within the store
  std::size_t partial_files = 0;
  std::uint64_t partial_bytes = 0;  // allocated bytes of unfinished downloads
  std::vector<ModelUsage> models;   // largest disk_bytes first, then by name
  std::vector<std::string> warnings;
};

struct FilesystemUsage {
  dev_t device = 0;
  std::string path;              // the first store root on it
  std::uint64_t free_bytes = 0;  // available to an unprivileged user (statvfs f_bavail)
  std::uint64_t total_bytes = 0;
};

struct DiskUsage {
  std::vector<StoreUsage> stores;            // in the order given
  std::uint64_t disk_bytes = 0;              // every inode once across all stores
  std::uint64_t duplicate_bytes = 0;         // allocated bytes of every extra copy (what linking would free)
  std::size_t duplicate_groups = 0;          // contents held on more than one inode
  std::vector<FilesystemUsage> filesystems;  // one per device, in the order first met
};

/// Sums `listings`. Contents are compared by the identity their names give (StoredFile::digest):
/// files without one are never counted as duplicates (that needs hashing: `doctor --deep`).
/// A duplicate group is one digest on two or more inodes; its duplicate bytes are what linking
/// would free: the allocated bytes of its inodes whose every name is listed (st_nlink), but the
/// largest (or all of them when an inode with names elsewhere stays anyway). Partial files are in
/// no group. The only I/O is a
/// statvfs per filesystem (a failure leaves that filesystem's figures 0).
DiskUsage disk_usage(const std::vector<stores::StoreListing>& listings);

}  // namespace hubcache::hygiene

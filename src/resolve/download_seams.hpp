#pragma once
// Fault injection for tests of the downloader: not part of the public API (never installed).
#include "hubcache/resolve/download.hpp"
#include "hubcache/transfer/engine.hpp"

#include <utility>

namespace hubcache::detail {

struct DownloadSeams {
  transfer::WriteFn write_fn;           // replaces pwrite for every transferred byte
  transfer::FreeSpaceFn free_space_fn;  // replaces fs::free_space (engine and snapshot plan)
};

struct DownloaderSeams {
  /// Must be called before the downloader's first download (the engine is built on first use).
  static void set(Downloader& downloader, DownloadSeams seams);
};

/// Fault injection for `downloader` (see DownloaderSeams::set).
inline void set_download_seams(Downloader& downloader, DownloadSeams seams) {
  DownloaderSeams::set(downloader, std::move(seams));
}

}  // namespace hubcache::detail

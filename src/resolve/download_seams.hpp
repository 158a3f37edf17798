#pragma once
// Fault injection for tests of the downloader: not part of the public API (never installed).
#include "hubcache/resolve/download.hpp"
#include "hubcache/transfer/engine.hpp"

namespace hubcache::detail {

struct DownloadSeams {
  transfer::WriteFn write_fn;           // replaces pwrite for every transferred byte
  transfer::FreeSpaceFn free_space_fn;  // replaces fs::free_space (engine and snapshot plan)
};

/// Installs `seams` in `downloader`. Must be called before its first download (the engine is built on
/// first use).
void set_download_seams(Downloader& downloader, DownloadSeams seams);

}  // namespace hubcache::detail

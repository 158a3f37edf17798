#pragma once
// Rendering of download progress for `hubcache download`: a one-line bar on a terminal, or one
// JSON object per line. The library only calls back; all drawing lives here.
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include "hubcache/resolve/download.hpp"

namespace hubcache::cli {

class ProgressRenderer {
 public:
  enum class Mode { None, Bar, JsonLines };
  explicit ProgressRenderer(Mode mode) : m_mode(mode), m_start(std::chrono::steady_clock::now()) {}
  void on_event(const DownloadEvent& e);
  /// Clears the bar line (before printing results or errors).
  void finish();

 private:
  void draw(const DownloadEvent& e);
  Mode m_mode;
  std::mutex m_mutex;
  std::chrono::steady_clock::time_point m_start;
  bool m_drawn = false;
  std::string m_last_file;
};

}  // namespace hubcache::cli

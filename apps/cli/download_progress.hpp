#pragma once
// Rendering of download progress for `hubcache download`: a one-line bar on a terminal, or one
// JSON object per line. The library only calls back; all drawing lives here.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hubcache/resolve/download.hpp"

namespace hubcache::cli {

/// What `download --for` leaves out, for people: one line per file when there are few, else one
/// per reason with the count and bytes, largest first. Each line is indented by two spaces.
std::vector<std::string> left_out_lines(const std::vector<model::LeftOut>& left_out);
/// The same as JSON: [{"file", "size", "reason"}].
nlohmann::json left_out_json(const std::vector<model::LeftOut>& left_out);

class ProgressRenderer {
 public:
  enum class Mode { None, Bar, JsonLines };
  /// `quiet`: no message at all, not even "waiting for another process" (JSON lines still get it).
  explicit ProgressRenderer(Mode mode, bool quiet = false)
      : m_mode(mode), m_quiet(quiet), m_start(std::chrono::steady_clock::now()) {}
  void on_event(const DownloadEvent& e);
  /// Clears the bar line (before printing results or errors).
  void finish();

 private:
  void draw(const DownloadEvent& e);
  Mode m_mode;
  bool m_quiet = false;
  std::mutex m_mutex;
  std::chrono::steady_clock::time_point m_start;
  bool m_drawn = false;
  std::string m_last_file;
  std::map<std::string, std::uint64_t> m_waiting;  // file -> seconds waited for another process's lock
};

}  // namespace hubcache::cli

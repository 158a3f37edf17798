#include "download_progress.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "hubcache/util/human.hpp"

namespace hubcache::cli {
namespace {

const char* kind_name(DownloadEvent::Kind k) {
  switch (k) {
    case DownloadEvent::Kind::Plan:
      return "plan";
    case DownloadEvent::Kind::FileStart:
      return "file_start";
    case DownloadEvent::Kind::Progress:
      return "progress";
    case DownloadEvent::Kind::FileDone:
      return "file_done";
    case DownloadEvent::Kind::FileCached:
      return "file_cached";
    case DownloadEvent::Kind::LockWait:
      return "lock_wait";
    case DownloadEvent::Kind::XetFallback:
      return "xet_fallback";
  }
  return "progress";
}

std::string duration(double s) {
  const long t = static_cast<long>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60) : fmt::format("{}:{:02}", t / 60, t % 60);
}

}  // namespace

std::vector<std::string> left_out_lines(const std::vector<model::LeftOut>& left_out) {
  constexpr std::size_t k_one_per_file = 10;
  std::vector<std::string> out;
  if (left_out.size() <= k_one_per_file) {
    for (const auto& l : left_out)
      out.push_back(fmt::format("  {} ({}B): {}", l.path, format_size(static_cast<double>(l.size)), l.reason));
    return out;
  }
  struct Group {
    std::size_t files = 0;
    std::uint64_t bytes = 0;
  };
  std::map<std::string, Group> groups;
  for (const auto& l : left_out) {
    auto& g = groups[l.reason];
    ++g.files;
    g.bytes += l.size;
  }
  std::vector<std::pair<std::string, Group>> sorted(groups.begin(), groups.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.bytes > b.second.bytes; });
  for (const auto& [reason, g] : sorted)
    out.push_back(fmt::format("  {} file{} ({}B): {}", g.files, g.files == 1 ? "" : "s",
                              format_size(static_cast<double>(g.bytes)), reason));
  return out;
}

nlohmann::json left_out_json(const std::vector<model::LeftOut>& left_out) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : left_out) out.push_back({{"file", l.path}, {"size", l.size}, {"reason", l.reason}});
  return out;
}

void ProgressRenderer::on_event(const DownloadEvent& e) {
  // The plan says what a target (--for) leaves out and why, before the first byte.
  if (e.kind == DownloadEvent::Kind::Plan && !e.left_out.empty() && m_mode != Mode::JsonLines && !m_quiet) {
    std::lock_guard lock(m_mutex);
    if (m_drawn) std::fputs("\r\033[K", stderr);
    std::uint64_t bytes = 0;
    for (const auto& l : e.left_out) bytes += l.size;
    fmt::print(stderr, "Left out {} file{} ({}B){} the framework does not load:\n", e.left_out.size(),
               e.left_out.size() == 1 ? "" : "s", format_size(static_cast<double>(bytes)),
               e.repo_id.empty() ? std::string() : " of " + e.repo_id);
    for (const auto& line : left_out_lines(e.left_out)) fmt::print(stderr, "{}\n", line);
    std::fflush(stderr);
  }
  if (e.kind == DownloadEvent::Kind::XetFallback && m_mode != Mode::JsonLines) {
    if (m_quiet) return;
    std::lock_guard lock(m_mutex);
    if (m_drawn) std::fputs("\r\033[K", stderr);
    fmt::print(stderr,
               "Xet transfer of '{}' failed ({}); continuing over plain HTTP for this run (--xet off skips Xet, --xet on "
               "makes this an error).\n",
               e.file, e.message);
    std::fflush(stderr);
    return;
  }
  if (e.kind == DownloadEvent::Kind::LockWait && m_mode != Mode::JsonLines) {
    if (m_quiet) return;
    std::lock_guard lock(m_mutex);
    const bool first = m_waiting.insert_or_assign(e.file, e.waited_seconds).second;
    if (first || m_mode == Mode::None) {
      if (m_drawn) std::fputs("\r\033[K", stderr);
      if (first)
        fmt::print(stderr,
                   "Waiting for another process that is downloading '{}' (it holds the lock {}); this download "
                   "goes on once that one is done.\n",
                   e.file, e.lock_path);
      else
        fmt::print(stderr, "Still waiting for another process downloading '{}' ({} s so far, lock {})\n", e.file,
                   e.waited_seconds, e.lock_path);
      std::fflush(stderr);
    }
    if (m_mode == Mode::Bar) draw(e);
    return;
  }
  if (e.kind == DownloadEvent::Kind::FileStart || e.kind == DownloadEvent::Kind::FileDone ||
      e.kind == DownloadEvent::Kind::FileCached) {
    std::lock_guard lock(m_mutex);
    m_waiting.erase(e.file);  // the wait (if any) is over
  }
  if (m_mode == Mode::None) return;
  std::lock_guard lock(m_mutex);
  if (m_mode == Mode::JsonLines) {
    nlohmann::json j = {{"event", kind_name(e.kind)}, {"bytes_done", e.bytes_done},   {"bytes_total", e.bytes_total},
                        {"files_done", e.files_done}, {"files_total", e.files_total}, {"active", e.active}};
    if (!e.file.empty()) {
      j["file"] = e.file;
      j["file_bytes"] = e.file_bytes;
      j["file_total"] = e.file_total;
    }
    if (e.kind == DownloadEvent::Kind::XetFallback) j["message"] = e.message;
    if (e.kind == DownloadEvent::Kind::Plan && !e.left_out.empty()) j["left_out"] = left_out_json(e.left_out);
    if (e.kind == DownloadEvent::Kind::Plan && !e.repo_id.empty()) j["repo_id"] = e.repo_id;
    if (e.kind == DownloadEvent::Kind::FileDone) {
      j["downloaded"] = e.file_downloaded;
      j["reused"] = e.file_reused;
    }
    if (e.kind == DownloadEvent::Kind::LockWait) {
      j["lock_path"] = e.lock_path;
      j["waited_seconds"] = e.waited_seconds;
    }
    const std::string s = j.dump();
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    return;
  }
  draw(e);
}

void ProgressRenderer::draw(const DownloadEvent& e) {
  if (e.kind == DownloadEvent::Kind::FileStart) m_last_file = e.file;
  if (e.bytes_total == 0 && e.kind != DownloadEvent::Kind::FileCached) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  const double rate = elapsed > 0 ? static_cast<double>(e.bytes_done) / elapsed : 0;
  const double pct = e.bytes_total ? 100.0 * static_cast<double>(e.bytes_done) / static_cast<double>(e.bytes_total) : 100.0;
  const int width = 24;
  const int fill = static_cast<int>(pct / 100.0 * width);
  std::string bar(static_cast<std::size_t>(std::clamp(fill, 0, width)), '#');
  bar.resize(width, '.');
  std::string eta = "--:--";
  if (rate > 0 && e.bytes_total >= e.bytes_done) eta = duration(static_cast<double>(e.bytes_total - e.bytes_done) / rate);
  std::string line =
      fmt::format("\r[{}] {:5.1f}% {}B/{}B {}B/s ETA {} files {}/{}", bar, pct, format_size(static_cast<double>(e.bytes_done)),
                  format_size(static_cast<double>(e.bytes_total)), format_size(rate), eta, e.files_done, e.files_total);
  if (e.active > 0 || m_waiting.empty()) line += fmt::format(" active {}", e.active);
  if (e.active > 0 && !m_last_file.empty()) line += " " + m_last_file.substr(0, 40);
  if (!m_waiting.empty()) {
    // Nothing moves while another process holds a file's lock: say so instead of "active 0".
    const auto& [file, waited] = *m_waiting.begin();
    line += fmt::format(" waiting for {} (locked by another process{})", file.substr(0, 40),
                        waited > 0 ? fmt::format(", {} s", waited) : std::string());
    if (m_waiting.size() > 1) line += fmt::format(" and {} more", m_waiting.size() - 1);
  }
  line += "\033[K";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  m_drawn = true;
}

void ProgressRenderer::finish() {
  std::lock_guard lock(m_mutex);
  if (m_mode == Mode::Bar && m_drawn) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    m_drawn = false;
  }
}

}  // namespace hubcache::cli

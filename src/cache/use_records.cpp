// Use records and pins in <repo folder>/.hubcache (include/hubcache/cache/use_records.hpp).
#include "hubcache/cache/use_records.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/lock.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache {
namespace {

constexpr std::string_view k_used_dir = "used";
constexpr std::string_view k_links_dir = "links";
constexpr std::size_t k_max_link_record = 4096;

std::string link_record_name(const std::string& folder) { return sha256_hex(folder).substr(0, 16); }

/// Up to `size` bytes of an open file (fewer when it shrank).
std::string read_up_to(int fd, std::size_t size) {
  std::string text(size, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

/// A regular file's text (O_NOFOLLOW below `dir`), nullopt when absent, not regular or larger than `max`.
std::optional<std::string> read_small_at(int dir, const char* name, std::size_t max) {
  fs::Fd fd{::openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  struct ::stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) > max)
    return std::nullopt;
  return read_up_to(fd.get(), static_cast<std::size_t>(st.st_size));
}
constexpr std::size_t k_max_pins_size = 64 * 1024;

/// `name` below `parent` as a real directory (O_NOFOLLOW), created first when `create`.
fs::Fd open_dir_at(int parent, const char* name, bool create) {
  if (create && ::mkdirat(parent, name, 0777) != 0 && errno != EEXIST) return {};
  return fs::Fd{::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
}

fs::Fd open_records_dir(const RepoLayout& layout, bool create) {
  fs::Fd repo{::open(layout.folder().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (!repo) return {};
  return open_dir_at(repo.get(), std::string(k_records_dir).c_str(), create);
}

/// .hubcache/used/ of the repo, as open_records_dir.
fs::Fd open_used_dir(const RepoLayout& layout, bool create) {
  fs::Fd records = open_records_dir(layout, create);
  if (!records) return {};
  return open_dir_at(records.get(), std::string(k_used_dir).c_str(), create);
}

double seconds_of(const struct ::stat& st) { return static_cast<double>(fs::mtime_ns(st)) / 1e9; }

bool is_lower_commit(std::string_view s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string serialize(const std::vector<std::string>& pins) {
  std::string out;
  for (const auto& p : pins) out += p + "\n";
  return out;
}

Result<void> validate_pin(std::string_view pin) {
  if (pin == k_pin_all) return {};
  return validate_revision(pin);
}

/// Runs `change` on the current pins under the pins lock and writes the result if it changed.
template <class Change>
Result<bool> update_pins(const RepoLayout& layout, std::string_view pin, Change change) {
  HUBCACHE_TRY(validate_pin(pin));
  if (!fs::is_dir(layout.folder()))
    return fail(ErrorCode::NotFound, "the repo is not in the cache: " + layout.folder() + " does not exist", layout.folder());
  fs::Fd records = open_records_dir(layout, /*create=*/true);
  if (!records)
    return fail(ErrorCode::Io, "cannot create " + layout.records_dir() + ": " + std::strerror(errno), layout.records_dir());
  HUBCACHE_TRY_ASSIGN(auto lock, FileLock::acquire(layout.records_dir() + "/pins.lock", std::chrono::seconds{30}));
  HUBCACHE_TRY_ASSIGN(auto pins, read_pins(layout));
  if (!change(pins)) return false;
  HUBCACHE_TRY(fs::write_file_atomic(layout.pins_path(), serialize(pins), 0664));
  return true;
}

}  // namespace

void record_use(const RepoLayout& layout, std::string_view commit) noexcept {
  if (!is_lower_commit(commit)) return;
  const std::string name(commit);
  fs::Fd used = open_used_dir(layout, /*create=*/true);
  if (!used) return;
  if (::utimensat(used.get(), name.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) return;
  fs::Fd created{::openat(used.get(), name.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0666)};
}

void record_use_at(const RepoLayout& layout, std::string_view commit, double when) noexcept {
  if (!is_lower_commit(commit) || !(when > 0)) return;
  const std::string name(commit);
  fs::Fd used = open_used_dir(layout, /*create=*/true);
  if (!used) return;
  constexpr int k_flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  fs::Fd fd{::openat(used.get(), name.c_str(), k_flags)};
  if (fd) {
    struct ::stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || seconds_of(st) >= when) return;  // a later use stays
  } else if (errno != ENOENT || !(fd = fs::Fd{::openat(used.get(), name.c_str(), k_flags | O_CREAT | O_EXCL, 0666)})) {
    return;
  }
  const auto secs = static_cast<std::time_t>(when);
  const long nanos = static_cast<long>((when - static_cast<double>(secs)) * 1e9);
  const struct timespec times[2] = {{secs, nanos}, {secs, nanos}};
  ::futimens(fd.get(), times);
}

void forget_use(const RepoLayout& layout, std::string_view commit) noexcept {
  if (!is_lower_commit(commit)) return;
  fs::Fd used = open_used_dir(layout, /*create=*/false);
  if (used) ::unlinkat(used.get(), std::string(commit).c_str(), 0);
}

std::map<std::string, double> read_use_records(const RepoLayout& layout) {
  std::map<std::string, double> out;
  fs::Fd used = open_used_dir(layout, /*create=*/false);
  if (!used) return out;
  DIR* d = ::fdopendir(used.release());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (!is_lower_commit(e->d_name)) continue;
    struct ::stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      out.emplace(e->d_name, seconds_of(st));
  }
  ::closedir(d);
  return out;
}

void record_linked_folder(const RepoLayout& layout, const std::string& folder) noexcept {
  if (folder.empty() || folder.front() != '/' || folder.find('\n') != std::string::npos) return;
  fs::Fd records = open_records_dir(layout, /*create=*/true);
  if (!records) return;
  fs::Fd links = open_dir_at(records.get(), std::string(k_links_dir).c_str(), /*create=*/true);
  if (!links) return;
  const std::string name = link_record_name(folder);
  if (auto text = read_small_at(links.get(), name.c_str(), k_max_link_record); text && *text == folder + "\n") return;
  const std::string temp = "." + name + "." + fs::random_hex(8) + ".tmp";
  fs::Fd out{::openat(links.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666)};
  if (!out) return;
  const std::string text = folder + "\n";
  const bool written = ::write(out.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  out = fs::Fd{};
  if (!written || ::renameat(links.get(), temp.c_str(), links.get(), name.c_str()) != 0) ::unlinkat(links.get(), temp.c_str(), 0);
}

void record_upstream_access(const RepoLayout& layout, std::string_view access) noexcept {
  if (!access.empty() && access != "gated" && access != "private") return;
  fs::Fd records = open_records_dir(layout, /*create=*/!access.empty());
  if (!records) return;
  const std::string name(k_access_record);
  if (access.empty()) {
    ::unlinkat(records.get(), name.c_str(), 0);
    return;
  }
  const std::string text = std::string(access) + "\n";
  if (auto now = read_small_at(records.get(), name.c_str(), 64); now && *now == text) return;
  const std::string temp = "." + name + "." + fs::random_hex(8) + ".tmp";
  fs::Fd out{::openat(records.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666)};
  if (!out) return;
  const bool written = ::write(out.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  out = fs::Fd{};
  if (!written || ::renameat(records.get(), temp.c_str(), records.get(), name.c_str()) != 0)
    ::unlinkat(records.get(), temp.c_str(), 0);
}

std::string read_upstream_access(const RepoLayout& layout) {
  fs::Fd records = open_records_dir(layout, /*create=*/false);
  if (!records) return "";
  auto text = read_small_at(records.get(), std::string(k_access_record).c_str(), 64);
  if (!text) return "";
  const std::string_view v = trim(*text);
  return v == "gated" || v == "private" ? std::string(v) : std::string("private");  // unreadable: the safe side
}

std::vector<std::string> read_linked_folders(const RepoLayout& layout) {
  std::vector<std::string> out;
  fs::Fd records = open_records_dir(layout, /*create=*/false);
  if (!records) return out;
  fs::Fd links = open_dir_at(records.get(), std::string(k_links_dir).c_str(), /*create=*/false);
  if (!links) return out;
  DIR* d = ::fdopendir(links.release());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto text = read_small_at(::dirfd(d), e->d_name, k_max_link_record);
    if (!text || text->size() < 2 || text->front() != '/' || text->back() != '\n') continue;
    text->pop_back();
    if (text->find('\n') == std::string::npos && fs::normalize(*text) == *text && link_record_name(*text) == e->d_name)
      out.push_back(*text);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void forget_linked_folder(const RepoLayout& layout, const std::string& folder) noexcept {
  fs::Fd records = open_records_dir(layout, /*create=*/false);
  if (!records) return;
  fs::Fd links = open_dir_at(records.get(), std::string(k_links_dir).c_str(), /*create=*/false);
  if (links) ::unlinkat(links.get(), link_record_name(folder).c_str(), 0);
}

Result<std::vector<std::string>> read_pins(const RepoLayout& layout) {
  std::vector<std::string> pins;
  const std::string path = layout.pins_path();
  fs::Fd records = open_records_dir(layout, /*create=*/false);
  if (!records) return pins;
  fs::Fd fd{::openat(records.get(), "pins", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  if (!fd) {
    if (errno == ENOENT) return pins;
    return fail(ErrorCode::CacheCorrupted,
                "cannot read the pins file " + path + " (" + std::strerror(errno) + "); replace it with a regular file", path);
  }
  struct ::stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) > k_max_pins_size)
    return fail(ErrorCode::CacheCorrupted,
                "the pins file " + path + " is not a regular file of at most 64 KiB; remove it and pin again", path);
  const std::string text = read_up_to(fd.get(), static_cast<std::size_t>(st.st_size));
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    if (line.find_first_of(" \t\r\v\f") != std::string::npos || !validate_pin(line))
      return fail(
          ErrorCode::CacheCorrupted,
          "the pins file " + path + " holds a line that is neither '*' nor a revision: '" + line + "'; fix or remove the line",
          path);
    pins.push_back(line);
  }
  return pins;
}

Result<bool> add_pin(const RepoLayout& layout, std::string_view pin) {
  return update_pins(layout, pin, [&](std::vector<std::string>& pins) {
    for (const auto& p : pins)
      if (p == pin) return false;
    pins.emplace_back(pin);
    return true;
  });
}

Result<bool> remove_pin(const RepoLayout& layout, std::string_view pin) {
  return update_pins(layout, pin, [&](std::vector<std::string>& pins) {
    const auto before = pins.size();
    std::erase(pins, std::string(pin));
    return pins.size() != before;
  });
}

}  // namespace hubcache

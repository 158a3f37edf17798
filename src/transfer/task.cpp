#include "task.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "hubcache/util/fs.hpp"
#include "hubcache/util/human.hpp"

namespace hubcache::transfer::detail {
namespace {

std::uint64_t file_size(const std::string& path, ino_t* ino = nullptr) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  if (ino) *ino = st.st_ino;
  return static_cast<std::uint64_t>(st.st_size);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<Range> fresh_ranges(std::uint64_t size, const EngineOptions& o) {
  // Enough ranges to keep every connection busy, none smaller than part_size, except near the end:
  // there each range is a share of what is left, down to a quarter of part_size, so the last
  // ranges in flight end close together and the prefix hash has little left to read after the
  // last byte lands (guided self-scheduling).
  const std::uint64_t parts = std::max<std::uint64_t>(o.max_parts_per_file, 1);
  const std::uint64_t step = std::max<std::uint64_t>(o.part_size, (size + parts * 4 - 1) / (parts * 4));
  const std::uint64_t tail_min = std::max<std::uint64_t>(o.part_size / 4, 1);
  std::vector<Range> out;
  for (std::uint64_t s = 0; s < size;) {
    const std::uint64_t left = size - s;
    Range r;
    r.start = r.pos = s;
    r.end = s + std::min(left, std::min(step, std::max(tail_min, left / parts)));
    out.push_back(r);
    s = r.end;
  }
  return out;
}

Result<void> open_data(Task& t, const std::string& path, bool truncate) {
  t.path = path;
  // 0666 less the umask: the mode huggingface_hub's blobs get (docs/cache-format.md#blobs).
  t.fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0666));
  if (!t.fd) return fail(errno_error(errno, "cannot open temp file", path));
  return {};
}

}  // namespace

// The state record: {"version":1,"size":N,"digest":"..","inode":I,"ranges":[[start,end,pos],...]}.
std::optional<std::vector<Range>> load_state(const Job& job, ino_t data_inode) {
  auto text = fs::read_file(job.parts_state_path, 1u << 20);
  if (!text) return std::nullopt;
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  try {
    if (j.is_discarded() || j.value("version", 0) != 1 || j.value("size", std::uint64_t{0}) != job.size ||
        j.value("digest", std::string()) != job.digest || j.value("inode", std::uint64_t{0}) != data_inode)
      return std::nullopt;
    std::vector<Range> out;
    std::uint64_t expect_start = 0;
    for (const auto& r : j.at("ranges")) {
      Range x;
      x.start = r.at(0).get<std::uint64_t>();
      x.end = r.at(1).get<std::uint64_t>();
      x.pos = r.at(2).get<std::uint64_t>();
      if (x.start != expect_start || x.end <= x.start || x.pos < x.start || x.pos > x.end) return std::nullopt;
      expect_start = x.end;
      out.push_back(x);
    }
    if (expect_start != job.size) return std::nullopt;
    return out;
  } catch (...) {
    return std::nullopt;
  }
}

std::uint64_t Task::prefix() const {
  std::uint64_t p = 0;
  for (const auto& r : ranges) {
    if (r.start != p) break;
    p = r.pos;
    if (!r.done()) break;
  }
  return p;
}

std::uint64_t Task::present() const {
  std::uint64_t n = 0;
  for (const auto& r : ranges) n += r.pos - r.start;
  return n;
}

void Task::fail(Error e) {
  if (!failed) error = std::move(e);
  failed = true;
}

void Task::reset_to_single_range() {
  Range r;
  r.start = r.pos = 0;
  r.end = job.size;
  ranges.assign(1, r);
  ++generation;
  reused = 0;
}

Result<void> prepare_task(Task& t, const EngineOptions& o) {
  const Job& job = t.job;
  const bool can_split = !job.parts_path.empty() && !job.parts_state_path.empty() && job.hash != DigestKind::None && job.size > 0;
  // Split files exist only for sizes at the threshold: smaller jobs skip those lookups.
  const bool split = can_split && job.size >= o.split_threshold;
  if (job.restart) discard_files(job);
  HUBCACHE_TRY(fs::make_dirs(fs::parent(job.temp_path)));

  // 1. A valid split record wins: it is the most progress we can trust (below the threshold only
  // when another transport may have left one: Job::resume_split_any_size).
  if ((split || (can_split && job.resume_split_any_size)) && exists(job.parts_path)) {
    ino_t ino = 0;
    file_size(job.parts_path, &ino);
    if (auto ranges = load_state(job, ino)) {
      HUBCACHE_TRY(open_data(t, job.parts_path, false));
      t.split = true;
      t.ranges = std::move(*ranges);
    } else if (!exists(job.parts_state_path) && file_size(job.parts_path) == job.size) {
      // Complete but without a record: verified and killed before it was published (the record
      // goes at verification), or preallocated and killed before the first record. The hash
      // tells which: it is checked before anything is published, and a mismatch starts over.
      HUBCACHE_TRY(open_data(t, job.parts_path, false));
      t.split = true;
      t.ranges = fresh_ranges(job.size, o);
      for (auto& r : t.ranges) r.pos = r.end;
    } else {
      ::unlink(job.parts_state_path.c_str());
      ::unlink(job.parts_path.c_str());
    }
  }
  // 2. Otherwise the sequential temp file's size is the resumable prefix (docs/cache-format.md#temp-files, step 2).
  if (!t.fd) {
    std::uint64_t have = file_size(job.temp_path);
    if (have > job.size) have = 0;
    if (split && have > 0) {
      if (::rename(job.temp_path.c_str(), job.parts_path.c_str()) != 0)
        return fail(errno_error(errno, "cannot rename", job.temp_path));
    }
    HUBCACHE_TRY(open_data(t, split ? job.parts_path : job.temp_path, have == 0));
    t.split = split;
    if (split) {
      t.ranges = fresh_ranges(job.size, o);
      for (auto& r : t.ranges) r.pos = std::clamp(have, r.start, r.end);
      t.ranges_confirmed = false;
    } else {
      Range r;
      r.start = 0;
      r.end = job.size;
      r.pos = have;
      t.ranges.assign(1, r);
    }
  }
  t.reused = t.present();

  // 3. Free space for what is still missing, before the first byte (docs/cache-format.md#temp-files).
  const std::uint64_t missing = job.size - t.reused;
  if (missing > 0) {
    const std::string dir = fs::parent(t.path);
    // A temp file that holds nothing yet is not left behind by a full disk (there is nothing to
    // resume); one with bytes stays for the retry.
    auto drop_if_empty = [&] {
      if (t.reused > 0) return;
      ::unlink(t.path.c_str());
      if (t.split) ::unlink(job.parts_state_path.c_str());
    };
    auto free = o.free_space_fn ? o.free_space_fn(dir) : fs::free_space(dir);
    if (free && *free < missing) {
      drop_if_empty();
      return fail(ErrorCode::DiskFull,
                  "not enough free space in '" + dir + "' for '" + job.label + "': " + std::to_string(missing) +
                      " more bytes needed (" + format_size(static_cast<double>(missing)) + "B), " + std::to_string(*free) +
                      " available (" + format_size(static_cast<double>(*free)) +
                      "B). Free some space and retry; the download resumes.",
                  dir);
    }
    // Reserve the blocks so a full disk shows up now rather than mid-transfer (not worth a
    // syscall below 1 MiB). A sequential temp file keeps its size: it must stay a prefix of the
    // content for other clients.
    const int mode = t.split ? 0 : FALLOC_FL_KEEP_SIZE;
    if (job.size >= (1u << 20) && ::fallocate(t.fd.get(), mode, 0, static_cast<off_t>(job.size)) != 0 && errno == ENOSPC) {
      drop_if_empty();
      return fail(ErrorCode::DiskFull,
                  "no space left in '" + dir + "' to store '" + job.label + "' (" + std::to_string(job.size) +
                      " bytes). Free some space and retry.",
                  dir);
    }
  }
  if (t.split) save_state(t, t.ranges);
  return {};
}

void save_state(const Task& t, const std::vector<Range>& ranges) {
  if (!t.split) return;
  struct stat st {};
  if (::fstat(t.fd.get(), &st) != 0) return;
  nlohmann::json r = nlohmann::json::array();
  for (const auto& x : ranges) r.push_back({x.start, x.end, x.pos});
  const nlohmann::json j = {{"version", 1},
                            {"size", t.job.size},
                            {"digest", t.job.digest},
                            {"inode", static_cast<std::uint64_t>(st.st_ino)},
                            {"ranges", r}};
  // Not fsynced: after a power cut an older record (or data older than it claims) costs a
  // re-download at worst, since the blob's hash is checked before it is published.
  (void)fs::write_file_atomic(t.job.parts_state_path, j.dump(), 0644, fs::Durability::AtomicOnly);
}

void discard_files(const Job& job) {
  ::unlink(job.temp_path.c_str());
  if (!job.parts_path.empty()) ::unlink(job.parts_path.c_str());
  if (!job.parts_state_path.empty()) ::unlink(job.parts_state_path.c_str());
}

}  // namespace hubcache::transfer::detail

namespace hubcache::transfer {

std::uint64_t SplitProgress::present_from(std::uint64_t offset) const {
  std::uint64_t have = 0;
  for (const auto& p : parts) {
    if (p.end <= offset) continue;
    if (p.start > offset + have) break;  // a gap before this part
    const std::uint64_t from = std::max(offset + have, p.start);
    if (p.pos <= from) break;
    have = p.pos - offset;
    if (p.pos < p.end) break;  // this part is still being written: a hole follows
  }
  return have;
}

void write_split_progress(const std::string& parts_state_path, std::uint64_t size, std::string_view digest,
                          std::uint64_t data_inode, const std::vector<SplitProgress::Part>& parts) {
  nlohmann::json r = nlohmann::json::array();
  for (const auto& x : parts) r.push_back({x.start, x.end, x.pos});
  const nlohmann::json j = {
      {"version", 1}, {"size", size}, {"digest", std::string(digest)}, {"inode", data_inode}, {"ranges", r}};
  (void)fs::write_file_atomic(parts_state_path, j.dump(), 0644, fs::Durability::AtomicOnly);
}

std::optional<SplitProgress> read_split_progress(const std::string& parts_state_path, std::uint64_t size, std::string_view digest,
                                                 std::uint64_t data_inode) {
  Job job;
  job.parts_state_path = parts_state_path;
  job.size = size;
  job.digest = std::string(digest);
  auto ranges = detail::load_state(job, static_cast<ino_t>(data_inode));
  if (!ranges) return std::nullopt;
  SplitProgress out;
  for (const auto& r : *ranges) out.parts.push_back({r.start, r.end, r.pos});
  return out;
}

}  // namespace hubcache::transfer

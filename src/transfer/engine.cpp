#include "hubcache/transfer/engine.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <list>
#include <optional>
#include <map>
#include <thread>

#include "hubcache/http/multi.hpp"
#include "hubcache/util/hash.hpp"
#include "task.hpp"

namespace hubcache::transfer {

using detail::Range;
using detail::Task;
using Clock = std::chrono::steady_clock;

HashKind hash_kind_for_etag(std::string_view etag) {
  if (is_lower_hex(etag, 64)) return HashKind::Sha256;
  if (is_lower_hex(etag, 40)) return HashKind::GitSha1;
  return HashKind::None;
}

Result<std::string> adjust_range_header(std::string_view header, std::uint64_t n) {
  auto bad = [&](const char* why) {
    return fail(ErrorCode::InvalidArgument, "cannot resume with Range '" + std::string(header) + "': " + why);
  };
  auto number = [](std::string_view s) -> std::optional<std::uint64_t> {
    if (s.empty() || s.size() > 19) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
  };
  if (header.substr(0, 6) != "bytes=") return bad("not a byte range");
  const std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return bad("multiple ranges");
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return bad("no '-'");
  const auto start = spec.substr(0, dash), end = spec.substr(dash + 1);
  if (start.empty()) {
    const auto len = number(end);
    if (!len) return bad("malformed suffix length");
    if (*len <= n) return bad("the range is already complete");
    return "bytes=-" + std::to_string(*len - n);
  }
  const auto s = number(start);
  if (!s) return bad("malformed start");
  if (end.empty()) return "bytes=" + std::to_string(*s + n) + "-";
  const auto e = number(end);
  if (!e || *e < *s) return bad("malformed end");
  if (*s + n > *e) return bad("the range is already complete");
  return "bytes=" + std::to_string(*s + n) + "-" + std::to_string(*e);
}

namespace {
Error make_error(ErrorCode code, std::string message, std::string path = {}) {
  return Error{code, std::move(message), std::move(path), std::nullopt, {}};
}
}  // namespace

// The loop thread owns `multi`, `active`, `timers` and `connections`; callers only submit().
struct Engine::Impl {
  EngineOptions options;
  http::Multi multi;
  std::thread loop_thread;
  std::mutex mutex;  // guards incoming and stop
  std::deque<std::shared_ptr<Task>> incoming;
  bool stop = false;
  std::atomic<std::uint64_t> started{0};
  std::list<std::shared_ptr<Task>> active;
  std::multimap<Clock::time_point, std::pair<std::shared_ptr<Task>, std::size_t>> timers;  // range retries
  unsigned connections = 0;

  explicit Impl(EngineOptions o) : options(std::move(o)) {
    if (!options.write_fn)
      options.write_fn = [](int fd, const void* d, std::size_t n, off_t off) { return ::pwrite(fd, d, n, off); };
    options.max_connections = std::max(1u, options.max_connections);
    options.max_parts_per_file = std::max(1u, options.max_parts_per_file);
    loop_thread = std::thread([this] { loop(); });
  }
  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    multi.wakeup();
    loop_thread.join();
  }

  void submit(std::shared_ptr<Task> t) {
    {
      std::lock_guard lock(mutex);
      incoming.push_back(std::move(t));
    }
    multi.wakeup();
  }

  void loop() {
    for (;;) {
      {
        std::lock_guard lock(mutex);
        if (stop && incoming.empty() && active.empty()) break;
        while (!incoming.empty()) {
          active.push_back(std::move(incoming.front()));
          incoming.pop_front();
        }
      }
      if (options.cancel && options.cancel->cancelled())
        for (auto& t : active) {
          std::lock_guard lock(t->mutex);
          if (!t->failed && !t->complete) fail_locked(*t, make_error(ErrorCode::Cancelled, "download of '" + t->job.label + "' cancelled"));
        }
      fire_timers();
      schedule();
      reap();
      auto wait = std::chrono::milliseconds(200);
      if (!timers.empty())
        wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(timers.begin()->first - Clock::now()),
                          std::chrono::milliseconds(0), wait);
      multi.poll(wait);
      reap();
    }
  }

  void fire_timers() {
    const auto now = Clock::now();
    while (!timers.empty() && timers.begin()->first <= now) {
      auto [task, index] = timers.begin()->second;
      timers.erase(timers.begin());
      std::lock_guard lock(task->mutex);
      --task->timers;
      if (index < task->ranges.size()) task->ranges[index].in_flight = false;  // eligible again
    }
  }

  void purge_timers(Task& t) {
    for (auto it = timers.begin(); it != timers.end();) {
      if (it->second.first.get() == &t) {
        --t.timers;
        it = timers.erase(it);
      } else {
        ++it;
      }
    }
  }

  void reap() {
    for (auto it = active.begin(); it != active.end();) {
      bool done;
      {
        std::lock_guard lock((*it)->mutex);
        done = (*it)->finished();
        if (done) (*it)->cv.notify_all();
      }
      it = done ? active.erase(it) : std::next(it);
    }
  }

  // Marks the task failed and stops everything it has running. Loop thread, task mutex held.
  void fail_locked(Task& t, Error e) {
    t.fail(std::move(e));
    for (auto& r : t.ranges)
      if (r.in_flight && r.request) multi.cancel(r.request);
    purge_timers(t);
    t.cv.notify_all();
  }

  // Discards all progress and restarts with one range from byte 0. Task mutex held.
  void reset_locked(Task& t, std::uint64_t keep_key) {
    for (auto& [key, idx] : t.owners)
      if (key != keep_key && idx < t.ranges.size() && t.ranges[idx].request) multi.cancel(t.ranges[idx].request);
    purge_timers(t);
    http::Multi::Id kept_request = 0;
    if (auto it = t.owners.find(keep_key); it != t.owners.end() && it->second < t.ranges.size())
      kept_request = t.ranges[it->second].request;
    t.owners.clear();
    t.reset_to_single_range();
    if (kept_request) {
      t.owners[keep_key] = 0;
      t.ranges[0].in_flight = true;
      t.ranges[0].request = kept_request;
    }
    t.cv.notify_all();
  }

  // Starts requests while connections are free, round-robin over tasks.
  void schedule() {
    bool progress = true;
    while (progress && connections < options.max_connections) {
      progress = false;
      for (auto& tp : active) {
        if (connections >= options.max_connections) break;
        Task& t = *tp;
        std::unique_lock lock(t.mutex);
        if (t.failed || t.complete) continue;
        if (std::all_of(t.ranges.begin(), t.ranges.end(), [](const Range& r) { return r.done(); })) {
          if (t.in_flight == 0 && t.timers == 0) {
            t.complete = true;
            t.cv.notify_all();
          }
          continue;
        }
        // Until a 206 shows that the server honours Range, a split file uses one request.
        const unsigned limit = !t.split ? 1u : (t.ranges_confirmed ? options.max_parts_per_file : 1u);
        if (static_cast<unsigned>(t.in_flight + t.timers) >= limit) continue;
        for (std::size_t i = 0; i < t.ranges.size(); ++i) {
          if (t.ranges[i].done() || t.ranges[i].in_flight) continue;
          start_range(tp, i, lock);
          progress = true;
          break;
        }
      }
    }
  }

  void start_range(const std::shared_ptr<Task>& tp, std::size_t index, std::unique_lock<std::mutex>& held) {
    Task& t = *tp;
    Range& r = t.ranges[index];
    http::Request req;
    req.url = t.job.url;
    req.headers = t.job.headers;
    req.headers.set("Accept-Encoding", "identity");
    req.redirects = http::Redirects::Follow;
    req.connect_timeout = options.connect_timeout;
    req.idle_timeout = options.idle_timeout;
    const bool ranged = r.pos > 0 || r.end < t.job.size;
    if (ranged) {
      req.headers.set("Range", "bytes=" + std::to_string(r.pos) + "-" + (r.end < t.job.size ? std::to_string(r.end - 1) : ""));
      if (!t.job.if_range.empty()) req.headers.set("If-Range", t.job.if_range);
    }
    const std::uint64_t key = ++t.next_key;
    t.owners[key] = index;
    r.in_flight = true;
    r.pos_at_request = r.pos;
    ++t.in_flight;
    ++connections;
    ++started;
    const std::uint64_t want_start = r.pos;
    std::weak_ptr<Task> weak = tp;
    http::Sink sink{[this, weak, key, want_start, ranged](const http::Response& h) { return on_head(weak, key, want_start, ranged, h); },
                    [this, weak, key](const char* d, std::size_t n) { return on_data(weak, key, d, n); }};
    // Multi::add runs no callbacks, so the task mutex may stay held.
    r.request = multi.add(req, std::move(sink), [this, tp, key](Result<http::Response> res) { on_done(tp, key, res); });
    (void)held;
  }

  bool on_head(const std::weak_ptr<Task>& weak, std::uint64_t key, std::uint64_t want_start, bool ranged, const http::Response& h) {
    auto tp = weak.lock();
    if (!tp) return false;
    Task& t = *tp;
    std::lock_guard lock(t.mutex);
    auto owner = t.owners.find(key);
    if (t.failed || owner == t.owners.end()) return false;
    Range& r = t.ranges[owner->second];
    const std::string where = "'" + t.job.label + "' from " + http::redact(h.url);
    if (h.status == 200) {
      if (auto cl = h.headers.get("Content-Length"); cl && *cl != std::to_string(t.job.size)) {
        fail_locked(t, make_error(ErrorCode::Integrity, "size mismatch for " + where + ": the server sends " + *cl +
                                                            " bytes, expected " + std::to_string(t.job.size) +
                                                            ". Nothing was stored; retry later or with --force-download."));
        return false;
      }
      if (ranged) reset_locked(t, key);  // Range ignored (spec 5 step 3): this is the whole file from 0
      t.ranges_confirmed = !t.split || t.ranges.size() == 1;
      return true;
    }
    if (h.status == 206) {
      std::uint64_t a = 0, b = 0, total = 0;
      const std::string cr = h.headers.get("Content-Range").value_or("");
      const int n = std::sscanf(cr.c_str(), "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64, &a, &b, &total);
      const bool total_ok = n == 3 ? total == t.job.size : cr.find("/*") != std::string::npos;
      if (n >= 2 && a == want_start && b < r.end && total_ok) {
        t.ranges_confirmed = true;
        return true;
      }
      if (!t.split) {
        t.restart_key = key;  // a 206 that starts elsewhere restarts the download (spec 13.20)
        return false;
      }
      fail_locked(t, make_error(ErrorCode::Http, "unexpected Content-Range '" + cr + "' for " + where + " (asked from byte " +
                                                     std::to_string(want_start) + ")"));
      return false;
    }
    if (h.status == 416 && !t.split && t.restarts_416 == 0) {
      ++t.restarts_416;
      t.restart_key = key;  // truncate and restart once
      return false;
    }
    if (http::is_retryable_status(h.status) && r.status_retries < options.retry.max_retries) {
      r.retry_at = Clock::now() + options.retry.effective(http::backoff_delay(options.retry, r.status_retries, &h));
      ++r.status_retries;
      return false;
    }
    Error e = make_error(h.status == 429 ? ErrorCode::RateLimited : ErrorCode::Http,
                         "GET " + where + " failed with HTTP " + std::to_string(h.status));
    e.http = HttpErrorContext{};
    e.http->status = h.status;
    e.http->url = http::redact(h.url);
    e.http->request_id = h.headers.get("X-Request-Id").value_or("");
    e.http->error_code = h.headers.get("X-Error-Code").value_or("");
    fail_locked(t, std::move(e));
    return false;
  }

  bool on_data(const std::weak_ptr<Task>& weak, std::uint64_t key, const char* data, std::size_t n) {
    auto tp = weak.lock();
    if (!tp) return false;
    Task& t = *tp;
    std::unique_lock lock(t.mutex);
    auto owner = t.owners.find(key);
    if (t.failed || owner == t.owners.end()) return false;
    const std::size_t index = owner->second;
    if (t.ranges[index].pos + n > t.ranges[index].end) {
      fail_locked(t, make_error(ErrorCode::Integrity, "size mismatch for '" + t.job.label + "': the server sent more than the expected " +
                                                          std::to_string(t.job.size) + " bytes. Nothing was stored."));
      return false;
    }
    const int fd = t.fd;
    const std::uint64_t off = t.ranges[index].pos;
    lock.unlock();  // the bytes land before pos moves, so readers of the prefix see them
    std::size_t written = 0;
    while (written < n) {
      const ssize_t w = options.write_fn(fd, data + written, n - written, static_cast<off_t>(off + written));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        const int err = w < 0 ? errno : EIO;
        lock.lock();
        if (err == ENOSPC || err == EDQUOT)
          fail_locked(t, make_error(ErrorCode::DiskFull, "no space left on device while writing '" + t.job.label + "' to '" + t.path +
                                                             "' (" + std::to_string(off + written) + " of " + std::to_string(t.job.size) +
                                                             " bytes). Free some space and retry; the download resumes.", t.path));
        else
          fail_locked(t, errno_error(err, "cannot write", t.path));
        return false;
      }
      written += static_cast<std::size_t>(w);
    }
    lock.lock();
    if (t.owners.find(key) == t.owners.end() || t.owners[key] != index) return false;  // reset meanwhile
    Range& r = t.ranges[index];
    r.pos += n;
    r.failures = 0;
    t.received += n;
    const std::uint64_t present = t.present();
    // Wake the hashing thread in steps of a few MiB: a wake-up per network read costs more in
    // context switches than the hashing itself.
    if (present - t.notified_present >= (4u << 20) || r.done()) {
      t.notified_present = present;
      t.cv.notify_all();
    }
    auto cb = t.job.on_progress;
    lock.unlock();
    if (cb) cb(present, t.job.size);
    return true;
  }

  void on_done(const std::shared_ptr<Task>& tp, std::uint64_t key, const Result<http::Response>& res) {
    Task& t = *tp;
    --connections;
    std::lock_guard lock(t.mutex);
    --t.in_flight;
    auto owner = t.owners.find(key);
    if (owner == t.owners.end()) return t.cv.notify_all();  // superseded by a reset
    const std::size_t index = owner->second;
    t.owners.erase(owner);
    Range& r = t.ranges[index];
    r.in_flight = false;
    r.request = 0;
    if (t.failed) return t.cv.notify_all();
    if (t.restart_key == key) {
      t.restart_key = 0;
      reset_locked(t, 0);
      return;
    }
    if (r.retry_at) {
      const auto at = *r.retry_at;
      r.retry_at.reset();
      r.in_flight = true;
      ++t.timers;
      timers.emplace(at, std::make_pair(tp, index));
      return;
    }
    if (res && r.done()) {
      if (t.in_flight == 0 && t.timers == 0 &&
          std::all_of(t.ranges.begin(), t.ranges.end(), [](const Range& x) { return x.done(); })) {
        t.complete = true;
        t.cv.notify_all();
      }
      return;
    }
    if (!res && res.error().code == ErrorCode::Cancelled) {
      fail_locked(t, res.error());
      return;
    }
    // A stream error, or a body that ended early: retry from the current offset (spec 5 step 4);
    // the counter resets whenever bytes arrive.
    if (r.pos == r.pos_at_request) ++r.failures;
    if (r.failures > options.stream_retries) {
      const std::string cause = res ? "the body keeps ending early (" + std::to_string(t.present()) + " of " +
                                          std::to_string(t.job.size) + " bytes)"
                                    : res.error().message;
      fail_locked(t, make_error(res ? ErrorCode::Network : res.error().code,
                                "download of '" + t.job.label + "' failed after " + std::to_string(options.stream_retries) +
                                    " retries: " + cause + ". The partial file is kept; the next run resumes it."));
      return;
    }
    r.in_flight = true;
    ++t.timers;
    timers.emplace(Clock::now() + options.retry.effective(options.stream_retry_delay), std::make_pair(tp, index));
  }
};

Engine::Engine(EngineOptions options) : m_impl(std::make_unique<Impl>(std::move(options))) {}
Engine::~Engine() = default;

std::uint64_t Engine::requests_started() const { return m_impl->started.load(); }

}  // namespace hubcache::transfer

namespace hubcache::transfer {

Result<Outcome> Engine::download(const Job& job) {
  Outcome out;
  for (int attempt = 1;; ++attempt) {
    auto task = std::make_shared<Task>();
    task->job = job;
    task->job.restart = job.restart || attempt > 1;
    HUBCACHE_TRY(detail::prepare_task(*task, m_impl->options));
    m_impl->submit(task);
    const std::string digest = detail::follow_and_hash(*task);
    std::unique_lock lock(task->mutex);
    task->cv.wait(lock, [&] { return task->finished(); });
    if (task->failed) return fail(*task->error);
    out.path = task->path;
    out.downloaded += task->received;
    out.reused = task->reused;
    out.split = task->split;
    out.attempts = attempt;
    if (::ftruncate(task->fd, static_cast<off_t>(job.size)) != 0)
      return fail(errno_error(errno, "cannot truncate", task->path));
    if (job.hash == HashKind::None) {
      if (!job.parts_state_path.empty()) ::unlink(job.parts_state_path.c_str());
      return out;
    }
    if (digest == job.digest) {
      out.verified = true;
      if (task->split) ::unlink(job.parts_state_path.c_str());
      return out;
    }
    // A mismatch discards everything and retries once from scratch, then fails naming the file.
    lock.unlock();
    detail::discard_files(job);
    if (attempt >= 2)
      return fail(Error{ErrorCode::Integrity,
                        "downloaded bytes of '" + job.label + "' do not match their hash: expected " +
                            (job.hash == HashKind::Sha256 ? "sha256 " : "git-sha1 ") + job.digest + ", got " + digest +
                            " (twice, from " + http::redact(job.url) + "). Nothing was stored.",
                        job.temp_path, std::nullopt, {}});
  }
}

}  // namespace hubcache::transfer

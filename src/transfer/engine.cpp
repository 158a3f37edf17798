// The engine loop: scheduling requests over the shared connections, and Engine::download.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "engine_impl.hpp"

namespace hubcache::transfer {
namespace {
constexpr std::size_t k_head_allowance = 2048;  // a response head from the Hub or its CDN: about 1 KiB
// libcurl's receive buffer per range in flight, 64 KiB: at 16 ranges of 1 GiB on the real-Hub
// bench this peaked at 18.3 MiB, 256 KiB at 21.5 MiB, 1 MiB higher still, at the same speed.
constexpr std::uint64_t k_large_buffer = 64u << 10;
}  // namespace

void Engine::Impl::start_range(const std::shared_ptr<Task>& tp, std::size_t index, std::unique_lock<std::mutex>& held) {
  Task& t = *tp;
  Range& r = t.ranges[index];
  http::Request req;
  // A direct URL (a followed redirect's target) saves the redirect's round trip on every range.
  const bool direct = !t.location.empty();
  req.url = direct ? t.location : t.job.url;
  req.headers = t.job.headers;
  if (direct && http::origin_of(t.location) != http::origin_of(t.job.url)) {
    req.headers.remove("Authorization");  // docs/hub-protocol.md#redirects: credentials stay on the origin they are for
    req.headers.remove("Cookie");
  }
  req.headers.set("Accept-Encoding", "identity");
  req.redirects = http::Redirects::Follow;
  req.connect_timeout = options.connect_timeout;
  req.idle_timeout = options.idle_timeout;
  const bool ranged = r.pos > 0 || r.end < t.job.size;
  // A small file's body and head fit a few KiB; the engine keeps up to 128 of them in flight.
  if (t.job.size > 0)
    req.receive_buffer = static_cast<std::size_t>(std::min<std::uint64_t>(r.end - r.pos, k_large_buffer)) + k_head_allowance;
  if (ranged)
    req.headers.set("Range", "bytes=" + std::to_string(r.pos) + "-" + (r.end < t.job.size ? std::to_string(r.end - 1) : ""));
  const std::uint64_t key = ++t.next_key;
  t.owners[key] = index;
  r.in_flight = true;
  r.pos_at_request = r.pos;
  ++t.in_flight;
  t.peak_parallel = std::max(t.peak_parallel, static_cast<unsigned>(t.in_flight));
  ++connections;
  ++started;
  const std::uint64_t want_start = r.pos;
  std::weak_ptr<Task> weak = tp;
  std::string sent_to = direct ? t.location : std::string();
  http::Sink sink{[this, weak, key, want_start, ranged, sent_to](const http::Response& h) {
                    return on_head(weak, key, want_start, ranged, sent_to, h);
                  },
                  [this, weak, key](const char* d, std::size_t n) { return on_data(weak, key, d, n); }};
  // Multi::add runs no callbacks, so the task mutex may stay held.
  r.request = multi.add(req, std::move(sink), [this, tp, key](Result<http::Response> res) { on_done(tp, key, res); });
  (void)held;
}

void Engine::Impl::update_parallel(Task& t) {
  if (options.parallel_below_rate == 0 || options.max_parts_per_file == 1) {
    t.parallel = options.max_parts_per_file > 1;
    return;
  }
  const auto now = Clock::now();
  if (t.window_start == Clock::time_point{}) {
    t.window_start = now;
    t.window_received = t.received;
    return;
  }
  const auto elapsed = std::chrono::duration<double>(now - t.window_start).count();
  if (elapsed < std::chrono::duration<double>(options.rate_window).count()) return;
  const double rate = static_cast<double>(t.received - t.window_received) / elapsed;
  if (rate < static_cast<double>(options.parallel_below_rate)) {
    t.parallel = true;
  } else {
    t.window_start = now;
    t.window_received = t.received;
  }
}

void Engine::Impl::schedule() {
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
      if (t.split && t.ranges_confirmed && !t.parallel) update_parallel(t);
      const unsigned limit = !t.parallel ? 1u : t.part_limit ? t.part_limit : options.max_parts_per_file;
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

Engine::Engine(EngineOptions options) : m_impl(std::make_unique<Impl>(std::move(options))) {}
Engine::~Engine() = default;

std::uint64_t Engine::requests_started() const { return m_impl->started.load(); }

}  // namespace hubcache::transfer

namespace hubcache::transfer {

Engine::Pending::Pending(Engine* engine, std::shared_ptr<Task> task, int attempt)
    : m_engine(engine), m_task(std::move(task)), m_attempt(attempt) {}
Engine::Pending::Pending(Pending&& other) noexcept
    : m_engine(std::exchange(other.m_engine, nullptr)), m_task(std::move(other.m_task)), m_attempt(other.m_attempt) {}
Engine::Pending& Engine::Pending::operator=(Pending&& other) noexcept {
  if (this != &other) {
    Pending dropped(std::move(*this));
    m_engine = std::exchange(other.m_engine, nullptr);
    m_task = std::move(other.m_task);
    m_attempt = other.m_attempt;
  }
  return *this;
}
Engine::Pending::~Pending() {
  if (m_engine && m_task) (void)m_engine->finish(std::move(*this));
}

Result<std::shared_ptr<Task>> Engine::Impl::begin(const Job& job, int attempt) {
  auto task = std::make_shared<Task>();
  task->job = job;
  task->job.restart = job.restart || attempt > 1;
  task->location = job.location;
  HUBCACHE_TRY(detail::prepare_task(*task, options));
  task->submitted = Clock::now();
  submit(task);
  return task;
}

Result<Engine::Pending> Engine::start(const Job& job) {
  HUBCACHE_TRY_ASSIGN(auto task, m_impl->begin(job, 1));
  return Pending(this, std::move(task), 1);
}

Result<Outcome> Engine::download(const Job& job) {
  HUBCACHE_TRY_ASSIGN(Pending pending, start(job));
  return finish(std::move(pending));
}

Result<Outcome> Engine::finish(Pending pending) {
  if (!pending.m_task || pending.m_engine != this)
    return fail(ErrorCode::InvalidArgument, "Engine::finish: the transfer was finished already or belongs to another engine");
  Outcome out;
  std::shared_ptr<Task> task = std::move(pending.m_task);
  int attempt = pending.m_attempt;
  pending.m_engine = nullptr;
  const Job job = task->job;  // as started; a second attempt restarts from scratch anyway
  for (;;) {
    const std::string digest = detail::follow_and_hash(*task, m_impl->options);
    std::unique_lock lock(task->mutex);
    task->cv.wait(lock, [&] { return task->finished(); });
    out.elapsed += std::chrono::duration_cast<std::chrono::microseconds>(
        (task->finished_at == Clock::time_point{} ? Clock::now() : task->finished_at) - task->submitted);
    if (task->failed) {
      // Keep a sequential temp file an exact prefix (a restart may have left older bytes after
      // the current position), so the next run resumes from its size.
      if (!task->split && ::ftruncate(task->fd.get(), static_cast<off_t>(task->prefix())) != 0) ::unlink(task->path.c_str());
      return fail(*task->error);
    }
    out.path = task->path;
    out.downloaded += task->received;
    out.reused = task->reused;
    out.split = task->split;
    out.peak_parallel = task->peak_parallel;
    out.attempts = attempt;
    out.url_refreshes += task->url_refreshes;
    // A sequential file is exactly its prefix; a split one was preallocated and may be longer.
    if (task->split && ::ftruncate(task->fd.get(), static_cast<off_t>(job.size)) != 0)
      return fail(errno_error(errno, "cannot truncate", task->path));
    if (job.hash == DigestKind::None) return out;  // never split: a split file needs a hash
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
                            std::string(to_string(job.hash)) + " " + job.digest + ", got " + digest + " (twice, from " +
                            http::redact(job.url) + "). Nothing was stored.",
                        job.temp_path});
    ++attempt;
    HUBCACHE_TRY_ASSIGN(task, m_impl->begin(job, attempt));
  }
}

}  // namespace hubcache::transfer

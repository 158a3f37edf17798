#pragma once
// Internal: the engine's loop state. The loop thread owns multi, active, timers and connections;
// callers only submit(). Split over engine.cpp (loop, scheduling) and callbacks.cpp (responses).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "hubcache/http/multi.hpp"
#include "hubcache/transfer/engine.hpp"
#include "task.hpp"

namespace hubcache::transfer {

using detail::Range;
using detail::Task;
using Clock = std::chrono::steady_clock;

inline Error make_error(ErrorCode code, std::string message, std::string path = {}) {
  return Error{code, std::move(message), std::move(path)};
}

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

  // libcurl never opens more connections to one host than the engine has requests running.
  explicit Impl(EngineOptions o) : options(std::move(o)), multi(std::max(1u, options.max_connections), options.transport) {
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

  // A new task for `job` (attempt > 1 restarts from scratch), prepared and submitted.
  Result<std::shared_ptr<Task>> begin(const Job& job, int attempt);

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
          if (!t->failed && !t->complete)
            fail_locked(*t, make_error(ErrorCode::Cancelled, "download of '" + t->job.label + "' cancelled"));
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
        if (done && (*it)->finished_at == Clock::time_point{}) (*it)->finished_at = Clock::now();
      }
      if (done) (*it)->cv.notify_all();  // unlocked: the waiter does not block again on the mutex
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

  // Discards all progress and restarts with one range from byte 0. Task mutex held. A server
  // that keeps answering from byte 0 (ignoring Range, or a 206 elsewhere) and cutting the body
  // off would make this loop forever, each round "progress": after k_max_restarts the task
  // fails instead, naming the server's fault, and false is returned.
  static constexpr int k_max_restarts = 8;
  bool reset_locked(Task& t, std::uint64_t keep_key, const std::string& url) {
    if (++t.restarts > k_max_restarts) {
      Error e = make_error(
          ErrorCode::Http,
          "the server at " + http::origin_of(url) + " sent '" + t.job.label + "' from byte 0 again " +
              std::to_string(k_max_restarts) + " times (it ignores Range or answers another range, and " +
              "cuts the body off); gave up. This is the server's fault, not your connection: retry later or check the endpoint.");
      e.http = HttpErrorContext{};
      e.http->url = http::redact(url);
      e.http->error_code = "RestartLoop";
      fail_locked(t, std::move(e));
      return false;
    }
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
    return true;
  }

  // Starts requests while connections are free, round-robin over tasks.
  void schedule();
  // Decides whether a split task's single stream is slow enough to add parallel ranges.
  void update_parallel(Task& t);

  void start_range(const std::shared_ptr<Task>& tp, std::size_t index, std::unique_lock<std::mutex>& held);

  // `direct_url`: the Task::location the request was sent to, or empty when it went to Job::url.
  bool on_head(const std::weak_ptr<Task>& weak, std::uint64_t key, std::uint64_t want_start, bool ranged,
               const std::string& direct_url, const http::Response& h);

  bool on_data(const std::weak_ptr<Task>& weak, std::uint64_t key, const char* data, std::size_t n);

  void on_done(const std::shared_ptr<Task>& tp, std::uint64_t key, const Result<http::Response>& res);
  // on_done's work under the task mutex; true when waiters must be woken (after unlocking).
  bool on_done_locked(const std::shared_ptr<Task>& tp, std::uint64_t key, const Result<http::Response>& res);
};

}  // namespace hubcache::transfer

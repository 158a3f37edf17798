// Response handling of the engine loop: status decisions (docs/cache-format.md#temp-files step 3), writing bytes in
// place, and what happens when an exchange ends (completion, stream retries, restarts).
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include "engine_impl.hpp"

namespace hubcache::transfer {

namespace {
// What a pre-signed URL's server answers once the signature expired (S3 and CloudFront: 403;
// others 401, 404 or 410): worth one fresh redirect from the stable URL.
bool refuses_url(int status) { return status == 401 || status == 403 || status == 404 || status == 410; }
}  // namespace

bool Engine::Impl::on_head(const std::weak_ptr<Task>& weak, std::uint64_t key, std::uint64_t want_start, bool ranged,
                           const std::string& direct_url, const http::Response& h) {
  auto tp = weak.lock();
  if (!tp) return false;
  Task& t = *tp;
  std::lock_guard lock(t.mutex);
  auto owner = t.owners.find(key);
  if (t.failed || owner == t.owners.end()) return false;
  Range& r = t.ranges[owner->second];
  const std::string where = "'" + t.job.label + "' from " + http::redact(h.url);
  if (!direct_url.empty() && refuses_url(h.status)) {
    // Go back to Job::url now: its redirect signs a fresh URL. A refusal of that one is an error
    // (it was not sent directly), so this cannot loop without progress.
    if (t.location == direct_url) t.location.clear();
    ++t.url_refreshes;
    r.retry_at = Clock::now();
    return false;
  }
  if ((h.status == 200 || h.status == 206) && !h.url.empty() && h.url != t.job.url) t.location = h.url;
  if (h.status == 200) {
    if (auto cl = h.headers.get("Content-Length"); cl && *cl != std::to_string(t.job.size)) {
      fail_locked(t, make_error(ErrorCode::Integrity, "size mismatch for " + where + ": the server sends " + *cl +
                                                          " bytes, expected " + std::to_string(t.job.size) +
                                                          ". Nothing was stored; retry later or force the download.")
                         .with_remedy(Remedy::ForceDownload));
      return false;
    }
    if (ranged && !reset_locked(t, key, h.url))
      return false;  // Range ignored (docs/cache-format.md#temp-files step 3): the whole file from 0
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
      t.restart_key = key;  // a 206 that starts elsewhere restarts the download (docs/hub-protocol.md#requests)
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
    r.retry_at = Clock::now() + http::wait_before_retry(http::backoff_delay(options.retry, r.status_retries, &h));
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
  e.http->server_message = h.headers.get("X-Error-Message").value_or("");
  e.http->repo_commit = h.headers.get("X-Repo-Commit").value_or("");
  fail_locked(t, std::move(e));
  return false;
}

bool Engine::Impl::on_data(const std::weak_ptr<Task>& weak, std::uint64_t key, const char* data, std::size_t n) {
  auto tp = weak.lock();
  if (!tp) return false;
  Task& t = *tp;
  std::unique_lock lock(t.mutex);
  auto owner = t.owners.find(key);
  if (t.failed || owner == t.owners.end()) return false;
  const std::size_t index = owner->second;
  if (t.ranges[index].pos + n > t.ranges[index].end) {
    fail_locked(
        t, make_error(ErrorCode::Integrity, "size mismatch for '" + t.job.label + "': the server sent more than the expected " +
                                                std::to_string(t.job.size) + " bytes. Nothing was stored."));
    return false;
  }
  const int fd = t.fd.get();
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
        fail_locked(t, make_error(ErrorCode::DiskFull,
                                  "no space left on device while writing '" + t.job.label + "' to '" + t.path + "' (" +
                                      std::to_string(off + written) + " of " + std::to_string(t.job.size) +
                                      " bytes). Free some space and retry; the download resumes.",
                                  t.path));
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
  // context switches than the hashing itself. The end of a single-stream file needs no wake-up
  // of its own: on_done's follows at once, and one wake-up per small file is enough.
  const bool wake = present - t.notified_present >= (4u << 20) || (r.done() && t.split);
  if (wake) t.notified_present = present;
  // Progress at most every 50 ms per file (and at the end of each range), not per network read.
  const auto now = Clock::now();
  const bool report = t.job.on_progress && (r.done() || now - t.last_progress >= std::chrono::milliseconds(50));
  if (report) t.last_progress = now;
  lock.unlock();
  if (wake) t.cv.notify_all();
  if (report) t.job.on_progress(present, t.job.size);  // the job is not changed after submit
  return true;
}

void Engine::Impl::on_done(const std::shared_ptr<Task>& tp, std::uint64_t key, const Result<http::Response>& res) {
  --connections;
  bool wake;
  {
    std::lock_guard lock(tp->mutex);
    wake = on_done_locked(tp, key, res);
  }
  // After unlocking: a waiter woken under the lock would only block again on the mutex.
  if (wake) tp->cv.notify_all();
}

bool Engine::Impl::on_done_locked(const std::shared_ptr<Task>& tp, std::uint64_t key, const Result<http::Response>& res) {
  Task& t = *tp;
  --t.in_flight;
  auto owner = t.owners.find(key);
  if (owner == t.owners.end()) return true;  // superseded by a reset
  const std::size_t index = owner->second;
  t.owners.erase(owner);
  Range& r = t.ranges[index];
  r.in_flight = false;
  r.request = 0;
  if (t.failed) return true;
  if (t.restart_key == key) {
    t.restart_key = 0;
    (void)reset_locked(t, 0, res ? res->url : t.job.url);
    return false;
  }
  if (r.retry_at) {
    const auto at = *r.retry_at;
    r.retry_at.reset();
    r.in_flight = true;
    ++t.timers;
    timers.emplace(at, std::make_pair(tp, index));
    return false;
  }
  if (res && r.done()) {
    if (t.in_flight == 0 && t.timers == 0 &&
        std::all_of(t.ranges.begin(), t.ranges.end(), [](const Range& x) { return x.done(); })) {
      t.complete = true;
      return true;
    }
    return false;
  }
  // Cancelled, or a server fault the http layer names (a redirect loop): retrying cannot help.
  if (!res && (res.error().code == ErrorCode::Cancelled || res.error().code == ErrorCode::Http)) {
    fail_locked(t, res.error());
    return false;
  }
  // A connection that brought nothing while other ranges of the file are being served: the
  // server (a proxy, a CDN edge) is at its connection limit for this client ("Empty reply from
  // server"). The file runs one range fewer from now on and this one waits for a free slot, which
  // is not a failure; a range that fails alone counts as before.
  if (!res && res.error().code == ErrorCode::Network && r.pos == r.pos_at_request && t.split && t.in_flight > 0) {
    t.part_limit = static_cast<unsigned>(t.in_flight);
    return false;
  }
  // A stream error, or a body that ended early: retry from the current offset (docs/cache-format.md#temp-files step 4);
  // the counter resets whenever bytes arrive.
  if (r.pos == r.pos_at_request) ++r.failures;
  if (r.failures > options.stream_retries) {
    const std::string cause =
        res ? "the body keeps ending early (" + std::to_string(t.present()) + " of " + std::to_string(t.job.size) + " bytes)"
            : res.error().message;
    fail_locked(t, make_error(res ? ErrorCode::Network : res.error().code,
                              "download of '" + t.job.label + "' failed after " + std::to_string(options.stream_retries) +
                                  " retries: " + cause + ". The partial file is kept; the next run resumes it."));
    return false;
  }
  r.in_flight = true;
  ++t.timers;
  timers.emplace(Clock::now() + http::wait_before_retry(options.stream_retry_delay), std::make_pair(tp, index));
  return false;
}

}  // namespace hubcache::transfer

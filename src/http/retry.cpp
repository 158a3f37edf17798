#include "hubcache/http/retry.hpp"
#include "hubcache/core/error.hpp"
#include "hubcache/util/text.hpp"
#include "retry_seams.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace hubcache::http {
namespace {

// Seconds given by a server, bounded so that adding to them cannot overflow.
std::optional<long> seconds(std::string_view s) {
  const auto n = parse_u64(s);
  if (!n || *n >= 1'000'000'000) return std::nullopt;
  return static_cast<long>(*n);
}

// RateLimit: "api";r=0;t=55  ->  (r, t)
std::optional<std::pair<long, long>> parse_ratelimit(std::string_view v) {
  std::optional<long> r, t;
  std::size_t i = 0;
  while (i <= v.size()) {
    std::size_t j = v.find_first_of(";,", i);
    if (j == std::string_view::npos) j = v.size();
    auto item = trim(v.substr(i, j - i));
    if (item.size() > 2 && item[1] == '=' && (item[0] == 'r' || item[0] == 't')) {
      if (auto n = seconds(item.substr(2))) (item[0] == 'r' ? r : t) = *n;
    }
    i = j + 1;
  }
  if (r && t) return std::make_pair(*r, *t);
  return std::nullopt;
}

}  // namespace

bool is_retryable_status(int s) { return is_transient_http_status(s); }

std::optional<std::chrono::seconds> server_requested_delay(const Response& response) {
  if (response.status == 429) {
    if (auto rl = response.headers.get("RateLimit")) {
      if (auto p = parse_ratelimit(*rl); p && p->first == 0) return std::chrono::seconds(p->second + 1);
    }
  }
  if (auto ra = response.headers.get("Retry-After")) {
    if (auto n = seconds(trim(*ra))) return std::chrono::seconds(*n + 1);
  }
  return std::nullopt;
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, const Response* response) {
  if (response && is_retryable_status(response->status)) {
    if (auto s = server_requested_delay(*response))
      return std::min(std::chrono::duration_cast<std::chrono::milliseconds>(*s), policy.max_server_delay);
  }
  auto d = policy.base;
  for (int i = 0; i < retry && d < policy.cap; ++i) d *= 2;
  return std::min(d, policy.cap);
}

namespace {

std::mutex g_delay_map_mutex;
std::shared_ptr<const detail::RetryDelayMap> g_delay_map;  // null = identity

}  // namespace

detail::RetryDelayMap detail::set_retry_delay_map(RetryDelayMap map) {
  auto installed = map ? std::make_shared<const RetryDelayMap>(std::move(map)) : nullptr;
  std::shared_ptr<const RetryDelayMap> previous;
  {
    std::lock_guard lock(g_delay_map_mutex);
    previous = std::exchange(g_delay_map, std::move(installed));
  }
  return previous ? *previous : RetryDelayMap{};
}

std::chrono::milliseconds wait_before_retry(std::chrono::milliseconds requested) {
  std::shared_ptr<const detail::RetryDelayMap> map;
  {
    std::lock_guard lock(g_delay_map_mutex);
    map = g_delay_map;
  }
  return map ? (*map)(requested) : requested;
}

bool sleep_for(std::chrono::milliseconds delay, const CancelToken* cancel) {
  const auto end = std::chrono::steady_clock::now() + delay;
  for (;;) {
    if (cancel && cancel->cancelled()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(50)));
  }
}

Result<Response> perform_with_retries(Client& client, const Request& req, const RetryPolicy& policy, int max_retries,
                                      const CancelToken* cancel) {
  for (int retry = 0;; ++retry) {
    auto r = client.perform(req, cancel);
    const bool retryable = r ? is_retryable_status(r->status) : (r.error().is_transient() && !is_proxy_error(r.error()));
    if (!retryable || retry >= max_retries) return r;
    if (!sleep_for(wait_before_retry(backoff_delay(policy, retry, r ? &*r : nullptr)), cancel))
      return fail(ErrorCode::Cancelled, "cancelled while waiting to retry " + redact(req.url));
  }
}

}  // namespace hubcache::http

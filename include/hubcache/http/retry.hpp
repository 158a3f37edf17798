#pragma once
// huggingface_hub's backoff (docs/hub-protocol.md#retries): up to 5 retries sleeping 1, 2, 4, 8, 8 s; 429 with a
// RateLimit "r=0;t=S" sleeps S+1; an all-digit Retry-After sleeps that + 1, at most
// RetryPolicy::max_server_delay (a server cannot park the client for days).
#include <chrono>
#include <optional>

#include "hubcache/http/http.hpp"

namespace hubcache::http {

struct RetryPolicy {
  int max_retries = 5;
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{8000};
  /// Longest wait a server's Retry-After / RateLimit can ask for (the Hub's rate-limit windows
  /// are 5 minutes); a longer request waits this long.
  std::chrono::milliseconds max_server_delay{std::chrono::minutes(5)};
};

/// is_transient_http_status (core/error.hpp): 408, 429, 500, 502, 503, 504.
bool is_retryable_status(int status);

/// Delay before retry number `retry` (0-based) after `response` (null for a transport error);
/// a server-requested delay is capped at policy.max_server_delay.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, const Response* response);

/// Seconds a server asks to wait, from RateLimit (429 with r=0) or an all-digit Retry-After,
/// already plus one; nullopt when the headers ask nothing (HTTP-date Retry-After included).
std::optional<std::chrono::seconds> server_requested_delay(const Response& response);

/// The wait before a retry for a delay the rules above ask for (backoff_delay, or a fixed stream-retry
/// delay): `requested` itself. Every retry wait in the library goes through here, which is where the test
/// suite shortens them (src/http/retry_seams.hpp, not installed).
std::chrono::milliseconds wait_before_retry(std::chrono::milliseconds requested);

/// Sleeps, waking early if `cancel` is set. Returns false if cancelled.
bool sleep_for(std::chrono::milliseconds delay, const CancelToken* cancel);

/// Sends `req` and retries it up to `max_retries` times while the answer is retryable
/// (is_retryable_status, or a transient transport error other than a proxy's), waiting
/// backoff_delay(policy, ...) between tries. Returns the last answer or transport error; a 4xx
/// or any other final status is returned as an answer, not an error. ErrorCode::Cancelled when
/// `cancel` fires during a wait. The Hub API and the Xet reconstruction fetch both use it.
Result<Response> perform_with_retries(Client& client, const Request& req, const RetryPolicy& policy, int max_retries,
                                      const CancelToken* cancel);

}  // namespace hubcache::http

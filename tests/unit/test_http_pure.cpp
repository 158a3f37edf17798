#include <gtest/gtest.h>

#include "hubcache/http/http.hpp"
#include "hubcache/http/retry.hpp"
#include "retry_seams.hpp"

using namespace hubcache;
using namespace hubcache::http;
using namespace std::chrono_literals;

TEST(HttpHeaders, CaseInsensitiveGetSetRemove) {
  Headers h;
  h.add("Content-Length", "10");
  h.add("X-Thing", "a");
  h.add("x-thing", "b");
  EXPECT_EQ(h.get("content-length"), "10");
  EXPECT_EQ(h.get("X-THING"), "a");
  h.set("X-Thing", "c");
  EXPECT_EQ(h.get("x-thing"), "c");
  EXPECT_EQ(h.items().size(), 2u);
  h.remove("CONTENT-length");
  EXPECT_FALSE(h.has("Content-Length"));
}

TEST(HttpUrl, OriginOf) {
  EXPECT_EQ(origin_of("https://huggingface.co/gpt2/resolve/main/x"), "https://huggingface.co");
  EXPECT_EQ(origin_of("HTTP://Example.COM:80/a"), "http://example.com");
  EXPECT_EQ(origin_of("http://127.0.0.1:8080/a?b"), "http://127.0.0.1:8080");
  EXPECT_EQ(origin_of("https://h:443"), "https://h");
  EXPECT_NE(origin_of("http://h/x"), origin_of("https://h/x"));
  EXPECT_EQ(origin_of("/relative/path"), "");
}

TEST(HttpUrl, ResolveLocation) {
  const std::string base = "http://127.0.0.1:9/old/x/resolve/main/f?q=1";
  EXPECT_EQ(resolve_location(base, "/new/x/resolve/main/f"), "http://127.0.0.1:9/new/x/resolve/main/f");
  EXPECT_EQ(resolve_location(base, "https://cdn-lfs.hf.co/abc"), "https://cdn-lfs.hf.co/abc");
  EXPECT_EQ(resolve_location(base, "//cdn.example/abc"), "http://cdn.example/abc");
  EXPECT_EQ(resolve_location(base, "g"), "http://127.0.0.1:9/old/x/resolve/main/g");
}

TEST(HttpRedact, MasksTokensAndSignatures) {
  const std::string s = redact(
      "authorization: Bearer hf_abcdefghijklmnop and hf_ZZZZZZZZZZZZ at "
      "https://cdn/x?X-Amz-Signature=deadbeef&X-Amz-Date=1&Key-Pair-Id=K123&token=sek");
  EXPECT_EQ(s.find("abcdefghijklmnop"), std::string::npos);
  EXPECT_EQ(s.find("ZZZZZZZZZZZZ"), std::string::npos);
  EXPECT_EQ(s.find("deadbeef"), std::string::npos);
  EXPECT_EQ(s.find("K123"), std::string::npos);
  EXPECT_EQ(s.find("sek"), std::string::npos);
  EXPECT_NE(s.find("X-Amz-Date=1"), std::string::npos);  // harmless values stay readable
  EXPECT_EQ(redact("nothing secret here"), "nothing secret here");
}

TEST(HttpRetry, BackoffSequenceIsOneTwoFourEightEight) {
  RetryPolicy p;
  std::vector<long> got;
  for (int i = 0; i < 5; ++i) got.push_back(static_cast<long>(backoff_delay(p, i, nullptr).count()));
  EXPECT_EQ(got, (std::vector<long>{1000, 2000, 4000, 8000, 8000}));
}

TEST(HttpRetry, RateLimitAndRetryAfter) {  // vector 19
  RetryPolicy p;
  Response r;
  r.status = 429;
  r.headers.add("RateLimit", "\"api\";r=0;t=55");
  EXPECT_EQ(backoff_delay(p, 0, &r), 56s);
  Response ra;
  ra.status = 503;
  ra.headers.add("Retry-After", "120");
  EXPECT_EQ(backoff_delay(p, 3, &ra), 121s);
  Response date;
  date.status = 429;
  date.headers.add("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT");
  EXPECT_EQ(backoff_delay(p, 2, &date), 4s);  // HTTP-date: normal backoff
  Response remaining;
  remaining.status = 429;
  remaining.headers.add("RateLimit", "\"api\";r=5;t=55");
  EXPECT_EQ(backoff_delay(p, 0, &remaining), 1s);  // quota not exhausted: normal backoff
}

TEST(HttpRetry, AServerCannotParkTheClientForDays) {
  RetryPolicy p;
  Response r;
  r.status = 503;
  r.headers.add("Retry-After", "999999999");
  EXPECT_EQ(backoff_delay(p, 0, &r), 5min);
  Response rl;
  rl.status = 429;
  rl.headers.add("RateLimit", "\"api\";r=0;t=86400");
  EXPECT_EQ(backoff_delay(p, 0, &rl), 5min);
  p.max_server_delay = 30s;
  EXPECT_EQ(backoff_delay(p, 0, &r), 30s);
}

TEST(HttpDescribeAnswer, NamesStatusTypeAndTheBodysStart) {
  Response r;
  r.status = 200;
  r.headers.add("Content-Type", "text/html; charset=utf-8");
  r.body = "<!DOCTYPE html>\n<html><body>Sign in, token=hf_abcdefghijkl" + std::string(200, 'x');
  const std::string d = describe_answer(r, 60);
  EXPECT_EQ(d.rfind("HTTP 200, Content-Type text/html; charset=utf-8, body starts with '<!DOCTYPE html> <html><body>", 0), 0u)
      << d;
  EXPECT_EQ(d.find("hf_abcdefghijkl"), std::string::npos) << d;
  EXPECT_EQ(d.substr(d.size() - 4), "...'");
  Response empty;
  empty.status = 308;
  EXPECT_EQ(describe_answer(empty), "HTTP 308, Content-Type (none), empty body");
  Response binary;
  binary.status = 200;
  binary.body = std::string("\x01\x02ok", 4);
  EXPECT_EQ(describe_answer(binary), "HTTP 200, Content-Type (none), body starts with '??ok'");
}

TEST(HttpRetry, RetryableStatuses) {
  for (int s : {408, 429, 500, 502, 503, 504}) EXPECT_TRUE(is_retryable_status(s)) << s;
  for (int s : {200, 206, 400, 401, 403, 404, 416, 501}) EXPECT_FALSE(is_retryable_status(s)) << s;
  // One list: an HTTP error is transient exactly when its status is one the retry policy retries.
  for (int s = 100; s < 600; ++s) {
    Error e{ErrorCode::Http, "x", "", HttpErrorContext{}, {}};
    e.http->status = s;
    EXPECT_EQ(e.is_transient(), is_retryable_status(s)) << s;
  }
}

TEST(HttpRetry, WaitIsTheRequestedDelayUnlessATestMapsIt) {
  EXPECT_EQ(wait_before_retry(8s), 8s);
  std::vector<std::chrono::milliseconds> asked;
  {
    detail::ScopedRetryDelayMap outer([&](std::chrono::milliseconds d) {
      asked.push_back(d);
      return 0ms;
    });
    EXPECT_EQ(wait_before_retry(8s), 0ms);
    {
      detail::ScopedRetryDelayMap inner([](std::chrono::milliseconds d) { return d / 2; });
      EXPECT_EQ(wait_before_retry(8s), 4s);
    }
    EXPECT_EQ(wait_before_retry(2s), 0ms);  // the outer map is back
  }
  EXPECT_EQ(asked, (std::vector<std::chrono::milliseconds>{8s, 2s}));
  EXPECT_EQ(wait_before_retry(8s), 8s);
}

TEST(HttpRetry, SleepStopsOnCancel) {
  CancelToken c;
  c.cancel();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(sleep_for(5s, &c));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_TRUE(sleep_for(1ms, nullptr));
}

TEST(HttpClient, ConnectionRefusedIsNetworkError) {
  Client client;
  Request req;
  req.url = "http://127.0.0.1:1/x";  // port 1: nothing listens
  req.connect_timeout = 2000ms;
  auto r = client.perform(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Network);
  EXPECT_TRUE(r.error().is_transient());
}

TEST(HttpClient, CancelledBeforeStart) {
  Client client;
  CancelToken c;
  c.cancel();
  Request req;
  req.url = "http://127.0.0.1:1/x";
  auto r = client.perform(req, &c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Cancelled);
}

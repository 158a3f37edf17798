#pragma once
// HTTP exchanges over libcurl: bytes and statuses only, no Hub semantics. Transport failures
// (connect, reset, timeout, cancel) are errors; every HTTP status is a value in Response.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hubcache/core/cancel.hpp"

#include "hubcache/core/result.hpp"

namespace hubcache::http {

/// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  void add(std::string name, std::string value);
  /// Replaces every field called `name` with one field.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  std::optional<std::string> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return m_items; }
  void clear() { m_items.clear(); }

 private:
  std::vector<std::pair<std::string, std::string>> m_items;
};

enum class Method { Get, Head, Post };
const char* to_string(Method m);

enum class Redirects { Keep, Follow };

struct Request {
  Method method = Method::Get;
  std::string url;
  Headers headers;
  std::string body;  // POST only
  std::chrono::milliseconds connect_timeout{10'000};
  /// No byte for this long is a Timeout (checked about every second, or faster while data flows).
  std::chrono::milliseconds idle_timeout{10'000};
  /// Whole exchange limit; zero means none.
  std::chrono::milliseconds total_timeout{0};
  /// Follow: libcurl follows up to `max_redirects` redirects (relative or absolute, a POST stays
  /// a POST with its body on 307/308) and drops Authorization and Cookie whenever the origin
  /// (scheme, host, port) changes. More hops fail with ErrorCode::Http (http context error_code
  /// "TooManyRedirects"): a redirect loop is the server's fault and never retried.
  /// Keep: a 3xx is returned as is.
  Redirects redirects = Redirects::Keep;
  int max_redirects = 10;
  /// Limit on a body collected into Response::body (streaming sinks are unlimited). A larger
  /// answer (announced by Content-Length or received) fails with ErrorCode::Http (http context
  /// error_code "ResponseTooLarge"; not transient) as soon as it is known, so memory stays bounded.
  std::size_t max_body = 64u << 20;
  /// libcurl's receive buffer (CURLOPT_BUFFERSIZE), in bytes, clamped to [1 KiB, 1 MiB]; 0 = 1 MiB.
  /// A large buffer means fewer callbacks and writes per GiB; a body known to be small should ask
  /// for little, since every exchange in flight holds its buffer (128 small files x 1 MiB, of
  /// which each touches a different few pages, cost about 2 MiB of resident memory).
  std::size_t receive_buffer = 0;
};

struct Response {
  int status = 0;
  Headers headers;   // of the final response
  std::string body;  // empty when streamed into a Sink
  std::string url;   // effective URL (after followed redirects)
};

/// Streaming receiver. on_head runs once with the final response's status and headers (before
/// any body byte, also for an empty body); on_data gets the body. Returning false aborts the
/// exchange, which then fails with ErrorCode::Cancelled and the message "aborted by receiver".
struct Sink {
  std::function<bool(const Response& head)> on_head;
  std::function<bool(const char* data, std::size_t size)> on_data;
};

/// One finished exchange, for HF_DEBUG-style request logs. Holds no secret: the URL is redacted
/// and no header is kept.
struct ExchangeRecord {
  Method method = Method::Get;
  std::string url;  // redact()ed; the final URL when redirects were followed
  int status = 0;   // 0 when no response came (see error)
  std::chrono::milliseconds elapsed{0};
  std::string error;  // the transport failure, redacted; empty when a status came
};

/// How exchanges reach servers; shared by every exchange of a Client or Multi. Proxies are
/// libcurl's own: it reads http_proxy, HTTPS_PROXY/https_proxy, ALL_PROXY and NO_PROXY from the
/// environment itself and nothing here turns that off.
struct Transport {
  /// PEM file of the certificate authorities to trust instead of the system store
  /// (CURLOPT_CAINFO); empty: the system store.
  std::string ca_file;
  /// Where ca_file came from ("SSL_CERT_FILE", ...), named in certificate errors.
  std::string ca_file_source;
  /// Proxy for http:// URLs when libcurl would not read it itself (it ignores upper-case
  /// HTTP_PROXY, which the Python clients honour); empty: libcurl's own choice.
  std::string http_proxy;
  /// The proxy variables as set (name, value; config's proxy_vars), only to name the proxy in
  /// errors (a refused CONNECT tunnel); libcurl reads the environment itself.
  std::vector<std::pair<std::string, std::string>> proxy_vars;
  /// Runs after every exchange (on the thread that performed it; keep it quick). Empty: none.
  std::function<void(const ExchangeRecord&)> on_exchange;
};

/// Blocking client; thread-safe. Keeps a pool of connections (one per concurrent caller).
class Client {
 public:
  explicit Client(Transport transport = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// The body is collected into Response::body.
  Result<Response> perform(const Request& request, const CancelToken* cancel = nullptr);
  /// The body goes to `sink`; Response::body stays empty.
  Result<Response> perform(const Request& request, const Sink& sink, const CancelToken* cancel = nullptr);
  /// Number of exchanges performed (all methods), for tests and stats.
  std::uint64_t exchanges() const { return m_exchanges.load(); }

 private:
  struct Pool;
  std::unique_ptr<Pool> m_pool;
  Transport m_transport;
  std::atomic<std::uint64_t> m_exchanges{0};
};

/// "scheme://host[:port]" of an absolute URL (lower-cased scheme and host); "" if not absolute.
std::string origin_of(std::string_view url);
/// Resolves a Location value against the URL it came from (absolute, "//host/p", "/p", "p").
std::string resolve_location(std::string_view base, std::string_view location);
/// What a server sent, for messages about an answer that is not what was expected: status,
/// Content-Type and the first `max_bytes` of the body (non-printable bytes as '?', secrets
/// redacted), e.g. "HTTP 200, Content-Type text/html, body starts with '<!DOCTYPE html>...'".
std::string describe_answer(const Response& response, std::size_t max_bytes = 120);
/// Masks secrets in text meant for messages: bearer tokens, "hf_..." tokens and the values of
/// signature-like query parameters.
std::string redact(std::string_view text);

/// A server certificate that cannot be verified (unknown CA, expired, wrong host name) or an
/// unusable CA file fails with ErrorCode::Http, http context error_code "TlsCertificate": never
/// retried; the message names the problem and SSL_CERT_FILE / REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.
bool is_tls_certificate_error(const Error& e);

/// Transport error codes (not HTTP statuses): Network, Timeout or Cancelled. When a proxy
/// failed (its name cannot be resolved, or it refused the CONNECT tunnel an https:// URL needs:
/// the message names the proxy, its variable, the answer and NO_PROXY), the error's http context
/// carries error_code "ProxyError" (never retried).
bool is_proxy_error(const Error& e);

}  // namespace hubcache::http

#pragma once
// Transport-independent HTTP request/response values and the parsing helpers the mirror uses.
// The router (router.hpp) maps a Request to a Response without any socket, so tests and the fuzz
// target drive it directly; server.hpp puts it behind libmicrohttpd.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"  // percent_encode / percent_decode

namespace hubcache::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;                // "GET", "HEAD", "POST", ...
  std::string version = "HTTP/1.1";  // protocol version of the request line
  std::string path;                  // raw request path, still percent-encoded, without the query
  HeaderList query;                  // query arguments, raw (still percent-encoded) as received
  HeaderList headers;                // request headers as received (names compared case-insensitively)
  std::string body;                  // request body (bounded by the transport)
  /// "http://host:port": this server's own URL as the transport knows it (the bound address, or
  /// the Host header only when it names this server), for absolute Location / Link URLs when
  /// RouterOptions::public_url is not set. Never an unchecked Host header.
  std::string base_url;

  /// First header with this name (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  /// First query argument with this name, percent-decoded ('+' as space). nullopt if absent.
  std::optional<std::string> query_value(std::string_view name) const;
  /// Every value of a repeated query argument, percent-decoded.
  std::vector<std::string> query_values(std::string_view name) const;
};

struct Response {
  int status = 200;
  HeaderList headers;  // never Content-Length: the transport derives it from the body
  std::string body;    // used when `file` is not set
  fs::Fd file;         // body = file bytes [file_offset, file_offset + file_length)
  std::uint64_t file_offset = 0;
  std::uint64_t file_length = 0;
  /// HEAD answered without opening the file: the Content-Length a GET would have.
  std::optional<std::uint64_t> head_length;
  /// A body made while it is sent (the proxy's file still being fetched), used when set: called
  /// with the offset into the body (0 .. stream_length) and room for `max` bytes; returns the bytes
  /// written (> 0), or -1 to cut the connection (the bytes cannot come). It may block until bytes
  /// arrive (the server gives such handlers a thread per connection).
  std::function<long(std::uint64_t offset, char* buffer, std::size_t max)> stream;
  std::uint64_t stream_length = 0;  // Content-Length of a streamed body

  void set_header(std::string name, std::string value);
  std::optional<std::string_view> header(std::string_view name) const;
  std::uint64_t body_size() const {
    return stream ? stream_length : file ? file_length : head_length ? *head_length : body.size();
  }
};

/// The Hub's message for a repo that is missing, or private and the request carries no token
/// that may read it (401 RepoNotFound).
inline constexpr const char* k_anonymous_repo_not_found = "Invalid username or password.";

/// The Hub's error answer: {"error": message} with X-Error-Code (if not empty) and
/// X-Error-Message (printable ASCII, capped), as huggingface_hub's hf_raise_for_status reads it.
Response error_response(int status, std::string_view error_code, const std::string& message);

/// Printable ASCII for a header or message: other bytes become %XX, the length is capped.
std::string sanitize_for_header(std::string_view s, std::size_t max_len = 300);

/// RFC 9112 request hygiene. Returns why the request must be refused with 400, or nullopt:
/// more than one Host header, none in an HTTP/1.1 request, or an invalid one; Content-Length
/// values that differ or are not decimal digits; Transfer-Encoding together with Content-Length,
/// in an HTTP/1.0 request, or not ending in "chunked"; a header name that is not a token; a
/// control byte (NUL, CR, LF, ... but not HTAB) in a header value; a space or control byte in
/// the (still percent-encoded) path.
std::optional<std::string> malformed_request(const Request& request);

/// Parses an application/x-www-form-urlencoded body into decoded pairs; nullopt on bad escapes.
std::optional<HeaderList> parse_form(std::string_view body);

/// A satisfiable byte range [first, last] of a representation.
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};
/// Outcome of a Range header against a representation of `size` bytes (RFC 9110 section 14).
struct RangeDecision {
  enum class Kind {
    Full,           // no usable Range header (absent, malformed, not "bytes", or several ranges)
    Partial,        // serve `range` with 206
    Unsatisfiable,  // 416 with Content-Range: bytes */size
  };
  Kind kind = Kind::Full;
  ByteRange range;
};
/// Multi-range requests are answered with the full representation (200), like S3/CloudFront.
RangeDecision decide_range(std::optional<std::string_view> range_header, std::uint64_t size);

/// RFC 9110 section 13.1.5: may a Range request carrying this If-Range value be answered with
/// a part? True only when the value is the strong ETag `quoted_etag` itself (a weak tag never
/// matches) or exactly `last_modified` (the Last-Modified value sent for the file; "" if none).
bool if_range_matches(std::string_view if_range, std::string_view quoted_etag, std::string_view last_modified);

/// IMF-fixdate of a time, as HTTP dates are sent ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string http_date(std::int64_t unix_seconds);

/// True if an If-None-Match header value matches the strong ETag `etag` (quoted form), or is "*".
bool if_none_match(std::string_view header_value, std::string_view quoted_etag);

/// RFC 3339 UTC timestamp with milliseconds, as the Hub writes them ("2024-01-02T03:04:05.000Z").
std::string iso8601_utc(std::int64_t unix_seconds);

/// Constant-time equality of two byte strings (the time depends only on the lengths).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace hubcache::server

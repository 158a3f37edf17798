#include "exchange.hpp"
#include "hubcache/util/text.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

namespace hubcache::http::detail {
namespace {

// "HTTPS_PROXY=http://proxy:3128" (credentials masked): the variable libcurl takes for `url`
// (lower case first, as libcurl reads them; upper-case HTTP_PROXY only through Transport::http_proxy),
// or "" when none is known.
std::string proxy_in_effect(const Transport* transport, const std::string& url) {
  if (transport == nullptr) return "";
  const bool https = url.rfind("https://", 0) == 0;
  std::vector<std::string> names =
      https ? std::vector<std::string>{"https_proxy", "HTTPS_PROXY"} : std::vector<std::string>{"http_proxy", "HTTP_PROXY"};
  names.insert(names.end(), {"all_proxy", "ALL_PROXY"});
  for (const auto& name : names)
    for (const auto& [var, value] : transport->proxy_vars) {
      if (var != name) continue;
      std::string shown = value;
      const auto scheme = shown.find("://");
      const std::size_t host_at = scheme == std::string::npos ? 0 : scheme + 3;
      const auto at = shown.find('@', host_at);
      if (at != std::string::npos && at < shown.find('/', host_at)) shown.replace(host_at, at - host_at, "***");
      return var + "=" + shown;
    }
  return "";
}

size_t on_header_line(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  ex->last_activity = std::chrono::steady_clock::now();
  const std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (redirect hop, 100-continue, final)
    ex->response.headers.clear();
    const auto sp = line.find(' ');
    ex->response.status = sp == std::string_view::npos ? 0 : std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos)
    ex->response.headers.add(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t len = size * n;
  ex->last_activity = std::chrono::steady_clock::now();
  if (!ex->deliver_head()) return CURL_WRITEFUNC_ERROR;
  if (!ex->streaming) {
    if (ex->response.body.size() + len > ex->request.max_body) {
      ex->body_too_large = true;
      return CURL_WRITEFUNC_ERROR;
    }
    ex->response.body.append(data, len);
    return len;
  }
  if (ex->sink.on_data && !ex->sink.on_data(data, len)) {
    ex->aborted_by_receiver = true;
    return CURL_WRITEFUNC_ERROR;
  }
  return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* ex = static_cast<Exchange*>(user);
  if (ex->cancel != nullptr && ex->cancel->cancelled()) return 1;
  if (ex->request.idle_timeout.count() > 0 && std::chrono::steady_clock::now() - ex->last_activity > ex->request.idle_timeout) {
    ex->idle_timed_out = true;
    return 1;
  }
  return 0;
}

}  // namespace

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Exchange::~Exchange() {
  if (header_list) curl_slist_free_all(header_list);
  if (easy) curl_easy_cleanup(easy);
}

void Exchange::prepare(const Request& req, Sink s, bool stream, const CancelToken* c, const Transport* t) {
  global_init();
  if (easy == nullptr)
    easy = curl_easy_init();
  else
    curl_easy_reset(easy);
  if (header_list) {
    curl_slist_free_all(header_list);
    header_list = nullptr;
  }
  request = req;
  sink = std::move(s);
  streaming = stream;
  cancel = c;
  transport = t;
  started = std::chrono::steady_clock::now();
  response = Response{};
  head_delivered = aborted_by_receiver = body_too_large = idle_timed_out = false;
  last_activity = std::chrono::steady_clock::now();
  error_buffer[0] = '\0';

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header_line);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, this);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  if (request.total_timeout.count() > 0)
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
  constexpr std::size_t k_max_buffer = 1u << 20;
  const std::size_t buffer =
      request.receive_buffer == 0 ? k_max_buffer : std::clamp<std::size_t>(request.receive_buffer, 1024, k_max_buffer);
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, static_cast<long>(buffer));
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  // Over HTTPS a transfer that starts while a connection to its host is still being set up waits
  // for ALPN's verdict and, if it is h2, becomes one more stream on it instead of opening another
  // connection (without this, the first round of a snapshot opened one connection per file).
  // Not over http://: HTTP/1.1 never multiplexes, and waiting would only serialise the connects.
  if (request.url.rfind("https://", 0) == 0) curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  // No CURLOPT_PROXY by default: libcurl then reads the proxy environment variables itself.
  if (transport != nullptr) {
    if (!transport->ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, transport->ca_file.c_str());
    if (!transport->http_proxy.empty() && request.url.rfind("http://", 0) == 0)
      curl_easy_setopt(easy, CURLOPT_PROXY, transport->http_proxy.c_str());
  }
  if (request.redirects == Redirects::Follow) {
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, static_cast<long>(request.max_redirects));
    curl_easy_setopt(easy, CURLOPT_UNRESTRICTED_AUTH, 0L);
  }
  switch (request.method) {
    case Method::Head:
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
      break;
    case Method::Post:
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.c_str());
      break;
    case Method::Get:
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
      break;
  }
  for (const auto& [k, v] : request.headers.items()) {
    const std::string line = v.empty() ? k + ";" : k + ": " + v;
    header_list = curl_slist_append(header_list, line.c_str());
  }
  header_list = curl_slist_append(header_list, "Expect:");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list);
}

bool Exchange::deliver_head() {
  if (head_delivered) return true;
  head_delivered = true;
  char* eff = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) response.url = eff;
  // An announced body over the limit is refused before a byte of it is stored.
  if (!streaming && request.method != Method::Head) {
    const auto length = response.headers.get("Content-Length");
    const auto n = length ? parse_u64(*length) : std::nullopt;
    if (n && *n > request.max_body) {
      body_too_large = true;
      return false;
    }
  }
  if (streaming && sink.on_head && !sink.on_head(response)) {
    aborted_by_receiver = true;
    return false;
  }
  return true;
}

Result<Response> Exchange::finish(CURLcode code) {
  const std::string what = std::string(to_string(request.method)) + " " + redact(request.url);
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (status > 0) response.status = static_cast<int>(status);
    if (!deliver_head()) {
      if (body_too_large) return fail(too_large(what));
      return fail(ErrorCode::Cancelled, what + ": aborted by receiver");
    }
    return std::move(response);
  }
  if (body_too_large) return fail(too_large(what));
  if (aborted_by_receiver) return fail(ErrorCode::Cancelled, what + ": aborted by receiver");
  if (idle_timed_out)
    return fail(ErrorCode::Timeout, what + ": timed out (no data for " + std::to_string(request.idle_timeout.count()) + " ms)");
  const std::string detail = redact(error_buffer[0] ? error_buffer : curl_easy_strerror(code));
  // An https:// URL through a proxy needs a CONNECT tunnel; a proxy that refuses it is no network
  // fault a retry could fix (libcurl reports it as a receive error).
  long connect_status = 0;
  if (curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &connect_status) == CURLE_OK && connect_status >= 300) {
    const std::string proxy = proxy_in_effect(transport, request.url);
    Error e{ErrorCode::Network,
            what + ": the proxy " + (proxy.empty() ? std::string("in effect") : proxy) + " refused to open a tunnel to " +
                origin_of(redact(request.url)) + " (it answered CONNECT with HTTP " + std::to_string(connect_status) +
                "). Ask the proxy's operator to allow that host, point HTTPS_PROXY at a proxy that does, or list the "
                "host in NO_PROXY to reach it directly.",
            {},
            HttpErrorContext{},
            {}};
    e.http->error_code = "ProxyError";
    e.http->url = redact(request.url);
    return fail(std::move(e));
  }
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return fail(ErrorCode::Timeout, what + ": timed out (" + detail + ")");
    case CURLE_ABORTED_BY_CALLBACK:
      return fail(ErrorCode::Cancelled, what + ": cancelled");
    case CURLE_TOO_MANY_REDIRECTS: {
      char* next = nullptr;
      curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &next);
      char* last = nullptr;
      curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &last);
      const std::string at = last ? redact(last) : redact(request.url);
      Error e{ErrorCode::Http,
              what + ": the server at " + origin_of(at) + " redirected more than " + std::to_string(request.max_redirects) +
                  " times (a redirect loop or an endless chain; last hop " + at + (next ? " -> " + redact(next) : std::string()) +
                  "). This is the server's fault, not your connection: check the endpoint (HF_ENDPOINT) or tell its operator.",
              {},
              HttpErrorContext{},
              {}};
      e.http->status = response.status;
      e.http->url = at;
      e.http->error_code = "TooManyRedirects";
      return fail(std::move(e));
    }
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: {
      // A URL no retry can fetch (often one a server sent: a Location or a next-page link).
      Error e{ErrorCode::Http,
              what + ": not a URL hubcache fetches (only http:// and https://; " + detail + ")",
              {},
              HttpErrorContext{},
              {}};
      e.http->url = redact(request.url);
      e.http->error_code = "UnsupportedUrl";
      return fail(std::move(e));
    }
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE: {
      // Retrying cannot help: the client's trust settings or the server's certificate must change.
      const std::string ca = transport && !transport->ca_file.empty()
                                 ? "the CA file '" + transport->ca_file + "' (from " + transport->ca_file_source + ")"
                                 : std::string("the system's CA store");
      const std::string problem = code == CURLE_SSL_CACERT_BADFILE
                                      ? "cannot use " + ca + " (" + detail + "): point SSL_CERT_FILE at a readable PEM file"
                                      : "the server's TLS certificate cannot be verified with " + ca + " (" + detail +
                                            "). If the server uses a private CA (a LAN mirror serving its own certificate, "
                                            "a corporate proxy), set SSL_CERT_FILE (or REQUESTS_CA_BUNDLE, "
                                            "CURL_CA_BUNDLE) to that CA's PEM file";
      Error e{ErrorCode::Http, what + ": " + problem, {}, HttpErrorContext{}, {}};
      e.remedy = Remedy::TrustCa;
      e.http->url = redact(request.url);
      e.http->error_code = "TlsCertificate";
      return fail(std::move(e));
    }
    case CURLE_COULDNT_RESOLVE_PROXY: {
      Error e{ErrorCode::Network, what + ": proxy error (" + detail + ")", {}, HttpErrorContext{}, {}};
      e.http->error_code = "ProxyError";
      e.http->url = redact(request.url);
      return fail(std::move(e));
    }
    default:
      return fail(ErrorCode::Network, what + ": " + detail);
  }
}

void Exchange::record(const Result<Response>& result) const {
  if (transport == nullptr || !transport->on_exchange) return;
  ExchangeRecord rec;
  rec.method = request.method;
  rec.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (result) {
    rec.status = result->status;
    rec.url = redact(result->url.empty() ? request.url : result->url);
  } else {
    rec.status = response.status;
    rec.url = redact(response.url.empty() ? request.url : response.url);
    rec.error = redact(result.error().message);
  }
  transport->on_exchange(rec);
}

Error Exchange::too_large(const std::string& what) const {
  // Announced: nothing of it was read; else what was read before the limit.
  const auto length = response.headers.get("Content-Length");
  const std::string got = length ? "HTTP " + std::to_string(response.status) + ", Content-Type " +
                                       response.headers.get("Content-Type").value_or("(none)") + ", Content-Length " + *length
                                 : describe_answer(response, 80);
  Error e{ErrorCode::Http,
          what + ": the server's answer is larger than the limit of " + std::to_string(request.max_body) + " bytes (" + got +
              "); stopped reading it. This is the server's fault, not your connection: check the endpoint (HF_ENDPOINT) or tell "
              "its operator.",
          {},
          HttpErrorContext{},
          {}};
  e.http->status = response.status;
  e.http->url = redact(response.url.empty() ? request.url : response.url);
  e.http->error_code = "ResponseTooLarge";
  return e;
}

}  // namespace hubcache::http::detail

#include "hubcache/http/http.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "exchange.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache::http {
namespace {}  // namespace

void Headers::add(std::string name, std::string value) { m_items.emplace_back(std::move(name), std::move(value)); }

void Headers::set(std::string name, std::string value) {
  remove(name);
  add(std::move(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  m_items.erase(std::remove_if(m_items.begin(), m_items.end(), [&](const auto& kv) { return iequals(kv.first, name); }),
                m_items.end());
}

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : m_items)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

const char* to_string(Method m) {
  switch (m) {
    case Method::Get:
      return "GET";
    case Method::Head:
      return "HEAD";
    case Method::Post:
      return "POST";
  }
  return "GET";
}

struct Client::Pool {
  std::mutex mutex;
  std::vector<std::unique_ptr<detail::Exchange>> idle;
};

Client::Client(Transport transport) : m_pool(std::make_unique<Pool>()), m_transport(std::move(transport)) {
  detail::global_init();
}
Client::~Client() = default;

Result<Response> Client::perform(const Request& request, const CancelToken* cancel) { return perform(request, Sink{}, cancel); }

Result<Response> Client::perform(const Request& request, const Sink& sink, const CancelToken* cancel) {
  std::unique_ptr<detail::Exchange> ex;
  {
    std::lock_guard lock(m_pool->mutex);
    if (!m_pool->idle.empty()) {
      ex = std::move(m_pool->idle.back());
      m_pool->idle.pop_back();
    }
  }
  if (!ex) ex = std::make_unique<detail::Exchange>();
  if (cancel && cancel->cancelled())
    return fail(ErrorCode::Cancelled, std::string(to_string(request.method)) + " " + redact(request.url) + ": cancelled");
  const bool streaming = static_cast<bool>(sink.on_data) || static_cast<bool>(sink.on_head);
  ex->prepare(request, sink, streaming, cancel, &m_transport);
  const CURLcode code = curl_easy_perform(ex->easy);
  ++m_exchanges;
  auto result = ex->finish(code);
  ex->record(result);
  {
    std::lock_guard lock(m_pool->mutex);
    m_pool->idle.push_back(std::move(ex));  // keeps its connection alive for the next caller
  }
  return result;
}

std::string origin_of(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const std::string scheme = to_lower(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  const auto end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string host = to_lower(authority);
  // Default ports are implied, so "http://h" and "http://h:80" are one origin.
  if (scheme == "http" && host.size() > 3 && host.compare(host.size() - 3, 3, ":80") == 0) host.resize(host.size() - 3);
  if (scheme == "https" && host.size() > 4 && host.compare(host.size() - 4, 4, ":443") == 0) host.resize(host.size() - 4);
  return scheme + "://" + host;
}

std::string resolve_location(std::string_view base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return std::string(location);
  const std::string origin = origin_of(base);
  if (location.rfind("//", 0) == 0) return origin.substr(0, origin.find("://") + 1) + std::string(location);
  if (!location.empty() && location.front() == '/') return origin + std::string(location);
  // Relative to the base path's directory.
  std::string_view path = base.substr(std::min(base.size(), base.find("://") + 3));
  const auto slash = path.find('/');
  std::string dir = slash == std::string_view::npos ? "/" : std::string(path.substr(slash));
  dir = dir.substr(0, dir.find_first_of("?#"));
  dir = dir.substr(0, dir.rfind('/') + 1);
  return origin + dir + std::string(location);
}

std::string redact(std::string_view text) {
  std::string s(text);
  auto mask_from = [&](std::size_t start, auto stop) {
    std::size_t end = start;
    while (end < s.size() && !stop(s[end])) ++end;
    if (end > start) s.replace(start, end - start, "***");
  };
  // Bearer tokens.
  for (std::size_t pos = 0; (pos = s.find("Bearer ", pos)) != std::string::npos;) {
    mask_from(pos + 7, [](char c) { return c == ' ' || c == '\n' || c == '"' || c == '\''; });
    pos += 7;
  }
  // hf_ tokens.
  for (std::size_t pos = 0; (pos = s.find("hf_", pos)) != std::string::npos;) {
    const bool boundary = pos == 0 || !std::isalnum(static_cast<unsigned char>(s[pos - 1]));
    std::size_t end = pos + 3;
    while (end < s.size() && (std::isalnum(static_cast<unsigned char>(s[end])) || s[end] == '_')) ++end;
    if (boundary && end - pos >= 8) s.replace(pos + 3, end - pos - 3, "***");
    pos += 3;
  }
  // Signed-URL query values.
  static const char* keys[] = {"signature=", "x-amz-signature=", "x-amz-credential=", "x-amz-security-token=",
                               "token=",     "access_token=",    "policy=",           "key-pair-id=",
                               "sig="};
  const std::string low = to_lower(s);
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (const char* k : keys) {
    const std::string key(k);
    for (std::size_t pos = 0; (pos = low.find(key, pos)) != std::string::npos; pos += key.size()) {
      if (pos > 0 && low[pos - 1] != '?' && low[pos - 1] != '&') continue;
      std::size_t end = pos + key.size();
      while (end < s.size() && s[end] != '&' && s[end] != ' ' && s[end] != '#' && s[end] != '\n') ++end;
      if (end > pos + key.size()) spans.emplace_back(pos + key.size(), end);
    }
  }
  std::sort(spans.rbegin(), spans.rend());
  std::size_t limit = std::string::npos;
  for (auto [b, e] : spans) {
    if (e > limit) continue;  // overlapping spans (a key inside another's value)
    s.replace(b, e - b, "***");
    limit = b;
  }
  return s;
}

std::string describe_answer(const Response& r, std::size_t max_bytes) {
  std::string out = "HTTP " + std::to_string(r.status) + ", Content-Type " + r.headers.get("Content-Type").value_or("(none)");
  if (r.body.empty()) return out + ", empty body";
  std::string start;
  for (std::size_t i = 0; i < r.body.size() && i < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(r.body[i]);
    start += c == '\n' || c == '\r' || c == '\t' ? ' ' : (c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c));
  }
  return out + ", body starts with '" + redact(start) + (r.body.size() > max_bytes ? "...'" : "'");
}

bool is_tls_certificate_error(const Error& e) { return e.http && e.http->error_code == "TlsCertificate"; }

bool is_proxy_error(const Error& e) { return e.http && e.http->error_code == "ProxyError"; }

}  // namespace hubcache::http

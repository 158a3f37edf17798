// Real-Hub mode of the test HubServer: signed, expiring CDN URLs; the CDN's own S3-style ETag
// and its If-Range rule; the small files' relative 307 to /api/resolve-cache/.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include "hub_server.hpp"
#include "hub_server_internal.hpp"

namespace hubcache::test {
using namespace detail_server;

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += d[p[i] >> 4];
    out += d[p[i] & 15];
  }
  return out;
}

std::string md5_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return hex(md, len);
}

// X-Amz-Date form: 20261202T150000Z.
std::string amz_date(std::int64_t unix_time) {
  const std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> parse_amz_date(const std::string& s) {
  std::tm tm{};
  if (s.size() != 16 || ::strptime(s.c_str(), "%Y%m%dT%H%M%SZ", &tm) == nullptr) return std::nullopt;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::string http_date(std::int64_t unix_time) {
  const std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// Percent-encodes everything but RFC 3986 unreserved characters (and '/' when `keep_slash`).
std::string pct(const std::string& s, bool keep_slash) {
  static const char* d = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += d[c >> 4];
      out += d[c & 15];
    }
  }
  return out;
}

std::string s3_error(const std::string& code, const std::string& message) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message +
         "</Message><RequestId>TESTREQUEST</RequestId></Error>";
}

}  // namespace

namespace detail_server {

std::string hmac_hex(const std::string& key, const std::string& payload) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(payload.data()),
       payload.size(), mac, &len);
  return hex(mac, len);
}

std::string cdn_etag_of_content(std::string_view content) { return md5_hex(content); }

// S3 objects uploaded in parts (as large LFS files are) carry md5-of-part-md5s + "-<parts>";
// derived here from the SHA-256 so a disk-backed file is not read again.
std::string cdn_etag_of_disk_file(const std::string& sha256, std::uint64_t size) {
  const std::uint64_t part = 8ull << 20;
  return md5_hex(sha256 + ":" + std::to_string(size)) + "-" +
         std::to_string(std::max<std::uint64_t>(1, (size + part - 1) / part));
}

std::optional<std::string> resolve_cache_as_resolve(const std::string& path) {
  const auto segs = split(path.substr(std::string_view("/api/resolve-cache/").size()), '/');
  const auto type = segs.empty() ? std::nullopt : parse_repo_type(segs[0]);
  std::size_t at = 0;  // the commit's segment: after a one- or two-segment repo id
  for (std::size_t i = 2; i < segs.size() && i <= 3 && !at; ++i)
    if (is_commit_hash(segs[i])) at = i;
  if (!type || !at || at + 1 >= segs.size()) return std::nullopt;
  std::string out = "/" + std::string(url_prefix(*type)) + segs[1];
  if (at == 3) out += "/" + segs[2];
  out += "/resolve/" + segs[at];
  for (std::size_t i = at + 1; i < segs.size(); ++i) out += "/" + segs[i];
  return out;
}

std::string random_sign_key() {
  std::random_device rd;
  std::string key;
  for (int i = 0; i < 32; ++i) key += static_cast<char>(rd() & 0xff);
  return key;
}

}  // namespace detail_server

void HubServer::wait_unless_stopped(std::chrono::milliseconds how_long) const {
  const auto until = std::chrono::steady_clock::now() + how_long;
  while (!m_stop && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(until - std::chrono::steady_clock::now(), std::chrono::milliseconds(100)));
}

void HubServer::set_real_hub(const RealHubOptions& options) {
  std::lock_guard lock(m_mutex);
  m_real = true;
  m_real_options = options;
}

bool HubServer::real_hub() const {
  std::lock_guard lock(m_mutex);
  return m_real;
}

std::string HubServer::cdn_etag(const std::string& sha256) const {
  std::lock_guard lock(m_mutex);
  auto it = m_by_sha.find(sha256);
  return it == m_by_sha.end() ? std::string() : it->second.cdn_etag;
}

std::string HubServer::cdn_last_modified() const { return http_date(m_started_unix); }

void HubServer::advance_clock(std::chrono::seconds by) {
  std::lock_guard lock(m_mutex);
  m_clock_offset += by.count();
}

std::int64_t HubServer::now_unix() const {
  std::int64_t offset;
  {
    std::lock_guard lock(m_mutex);
    offset = m_clock_offset;
  }
  return static_cast<std::int64_t>(std::time(nullptr)) + offset;
}

std::string HubServer::signed_cdn_url(const std::string& sha256) {
  std::int64_t expires;
  {
    std::lock_guard lock(m_mutex);
    expires = m_real_options.url_expiry.count();
  }
  // A fresh URL per answer: the date is the signing second and a nonce keeps two URLs apart.
  static std::atomic<std::uint64_t> nonce{0};
  const std::string date = amz_date(now_unix());
  const std::string n = std::to_string(++nonce);
  const std::string sig = hmac_hex(m_sign_key, sha256 + "\n" + date + "\n" + std::to_string(expires) + "\n" + n);
  return "http://127.0.0.1:" + std::to_string(m_cdn_port) + "/cdn/" + sha256 +
         "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=" + date + "&X-Amz-Expires=" + std::to_string(expires) +
         "&X-Amz-SignedHeaders=host&x-id=GetObject&X-Amz-Nonce=" + n + "&X-Amz-Signature=" + sig;
}

std::string HubServer::resolve_cache_location(RepoType type, const std::string& id, const std::string& rev,
                                              const std::string& commit, const std::string& path,
                                              const std::string& git_sha1) const {
  const std::string original = "/" + std::string(url_prefix(type)) + id + "/resolve/" + rev + "/" + path;
  return "/api/resolve-cache/" + std::string(plural(type)) + "/" + id + "/" + commit + "/" + pct(path, true) + "?" +
         pct(original, false) + "=&etag=" + pct("\"" + git_sha1 + "\"", false);
}

// The CDN listener in real-Hub mode: only signed, unexpired /cdn/<sha256> URLs are served.
void HubServer::serve_real_cdn(Reply& reply, const std::optional<Fault>& fault, std::uint64_t throttle) {
  const HttpRequest& req = reply.req;
  auto deny = [&](int status, const std::string& code, const std::string& message) {
    reply.simple(status, {}, s3_error(code, message), "application/xml");
  };
  if (req.path.rfind("/cdn/", 0) != 0) return deny(404, "NoSuchKey", "The specified key does not exist.");
  const std::string sha = req.path.substr(5);
  const std::string date = query_param(req.query, "X-Amz-Date");
  const std::string expires = query_param(req.query, "X-Amz-Expires");
  const std::string nonce = query_param(req.query, "X-Amz-Nonce");
  const std::string sig = query_param(req.query, "X-Amz-Signature");
  if (date.empty() || expires.empty() || sig.empty())
    return deny(403, "AccessDenied", "Query-string authentication requires the Signature, Expires and Credential parameters");
  const auto signed_at = parse_amz_date(date);
  if (!signed_at || hmac_hex(m_sign_key, sha + "\n" + date + "\n" + expires + "\n" + nonce) != sig)
    return deny(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
  std::int64_t lifetime = 0;
  try {
    lifetime = std::stoll(expires);
  } catch (...) {
    return deny(403, "AuthorizationQueryParametersError", "X-Amz-Expires should be a number");
  }
  if (now_unix() > *signed_at + lifetime) return deny(403, "AccessDenied", "Request has expired");
  std::optional<ServedFile> file;
  {
    std::lock_guard lock(m_mutex);
    if (auto it = m_by_sha.find(sha); it != m_by_sha.end()) file = it->second;
  }
  if (!file) return deny(404, "NoSuchKey", "The specified key does not exist.");
  const std::string last_modified = cdn_last_modified();
  Hdrs h{{"Content-Type", "binary/octet-stream"}, {"Last-Modified", last_modified}, {"x-amz-request-id", "TESTREQUEST"}};
  serve_body(reply, fault, throttle, *file, h, "\"" + file->cdn_etag + "\"", last_modified);
}

}  // namespace hubcache::test

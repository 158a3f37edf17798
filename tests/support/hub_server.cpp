#include "hub_server.hpp"
#include "hub_server_internal.hpp"
#include "hubcache/cache/lfs_pointer.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "hubcache/util/hash.hpp"

namespace hubcache::test {

namespace detail_server {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t i = 0;
  for (;;) {
    const auto j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) return out;
    i = j + 1;
  }
}

std::string query_param(const std::string& query, const std::string& name) {
  for (const auto& kv : split(query, '&')) {
    const auto eq = kv.find('=');
    if (eq != std::string::npos && kv.substr(0, eq) == name) return url_decode(kv.substr(eq + 1));
  }
  return {};
}

bool send_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

const char* reason(int s) {
  switch (s) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 302:
      return "Found";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace detail_server

namespace {
int listen_on_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 256) != 0)
    throw std::runtime_error("test server: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}
}  // namespace

namespace detail_server {

// Parsed "bytes=a-b" / "bytes=a-" / "bytes=-n" against a size; nullopt if absent or unusable.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_range(const std::string& h, std::uint64_t size) {
  if (h.rfind("bytes=", 0) != 0 || h.find(',') != std::string::npos) return std::nullopt;
  const std::string spec = h.substr(6);
  const auto dash = spec.find('-');
  if (dash == std::string::npos) return std::nullopt;
  const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  try {
    if (a.empty()) {
      const std::uint64_t n = std::stoull(b);
      if (n == 0) return std::nullopt;
      return std::make_pair(size > n ? size - n : 0, size);
    }
    const std::uint64_t start = std::stoull(a);
    std::uint64_t end = b.empty() ? size : std::min<std::uint64_t>(std::stoull(b) + 1, size);
    if (start >= size || end <= start) return std::make_pair(size, size);  // unsatisfiable
    return std::make_pair(start, end);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace detail_server
using namespace detail_server;

// ---------------------------------------------------------------------------------------------

HubServer::HubServer() {
  m_listen = listen_on_loopback(m_port);
  m_cdn_listen = listen_on_loopback(m_cdn_port);
  m_sign_key = random_sign_key();
  m_xet_cas = make_xet_cas_state();
  m_started_unix = static_cast<std::int64_t>(std::time(nullptr)) - 60;
  m_acceptors.emplace_back([this] { accept_loop(m_listen, false); });
  m_acceptors.emplace_back([this] { accept_loop(m_cdn_listen, true); });
}

HubServer::~HubServer() {
  m_stop = true;
  ::shutdown(m_listen, SHUT_RDWR);
  ::shutdown(m_cdn_listen, SHUT_RDWR);
  for (auto& t : m_acceptors) t.join();
  ::close(m_listen);
  ::close(m_cdn_listen);
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(m_mutex);
    for (int fd : m_open_fds) ::shutdown(fd, SHUT_RDWR);
    workers.swap(m_workers);
  }
  for (auto& t : workers) t.join();
}

std::string HubServer::endpoint() const { return "http://127.0.0.1:" + std::to_string(m_port); }

void HubServer::accept_loop(int listen_fd, bool cdn) {
  while (!m_stop) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++m_connections;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(m_mutex);
    if (m_stop) {
      ::close(fd);
      break;
    }
    if (cdn && m_real && m_real_options.cdn_max_connections > 0 && m_cdn_open.load() >= m_real_options.cdn_max_connections) {
      ++m_cdn_refused;
      ::close(fd);
      continue;
    }
    if (cdn) ++m_cdn_open;
    m_open_fds.push_back(fd);
    m_workers.emplace_back([this, fd, cdn] { serve_connection(fd, cdn); });
  }
}

void HubServer::serve_connection(int fd, bool cdn) {
  std::string buf;
  char chunk[16384];
  bool keep_alive = true;
  while (keep_alive && !m_stop) {
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) goto done;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    {
      HttpRequest req;
      const auto lines = split(buf.substr(0, end), '\n');
      const auto parts = split(lines[0].substr(0, lines[0].find('\r')), ' ');
      if (parts.size() < 2) break;
      req.method = parts[0];
      req.target = parts[1];
      const auto q = req.target.find('?');
      req.path = req.target.substr(0, q);
      req.query = q == std::string::npos ? "" : req.target.substr(q + 1);
      for (std::size_t i = 1; i < lines.size(); ++i) {
        std::string l = lines[i];
        if (!l.empty() && l.back() == '\r') l.pop_back();
        const auto c = l.find(':');
        if (c == std::string::npos) continue;
        std::string v = l.substr(c + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        req.headers[lower(l.substr(0, c))] = v;
      }
      buf.erase(0, end + 4);
      const std::size_t body_len = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
      while (buf.size() < body_len) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) goto done;
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      req.body = buf.substr(0, body_len);
      buf.erase(0, body_len);
      if (lower(req.header("connection")) == "close") keep_alive = false;
      {
        const int now = ++m_in_flight;
        for (int peak = m_peak_in_flight.load(); now > peak && !m_peak_in_flight.compare_exchange_weak(peak, now);) {
        }
        handle(fd, req, keep_alive, cdn);
        --m_in_flight;
      }
    }
  }
done:
  std::lock_guard lock(m_mutex);
  if (cdn) --m_cdn_open;
  ::close(fd);
  m_open_fds.erase(std::remove(m_open_fds.begin(), m_open_fds.end(), fd), m_open_fds.end());
}

// ---- repo content ---------------------------------------------------------------------------

namespace {
std::string key_of(const RepoRef& r) { return std::string(to_string(r.type)) + "/" + r.id; }
}  // namespace

std::string HubServer::add_file(const RepoRef& repo, const std::string& commit, const std::string& path,
                                const std::string& content, bool lfs) {
  ServedFile f;
  f.content = content;
  f.size = content.size();
  f.lfs = lfs;
  f.sha256 = sha256_hex(content);
  // As the Hub lists it: an LFS file's git oid is that of its pointer file.
  f.git_sha1 = git_blob_sha1_hex(lfs ? lfs_pointer_text(f.sha256, f.size) : content);
  if (lfs) f.cdn_etag = cdn_etag_of_content(content);
  std::lock_guard lock(m_mutex);
  auto& r = m_repos[key_of(repo)];
  r.ref = repo;
  r.commits[commit][path] = f;
  if (lfs) m_by_sha[f.sha256] = f;
  if (lfs && std::find(m_lfs_order.begin(), m_lfs_order.end(), f.sha256) == m_lfs_order.end()) m_lfs_order.push_back(f.sha256);
  return f.etag();
}

void HubServer::add_disk_file(const RepoRef& repo, const std::string& commit, const std::string& path,
                              const std::string& disk_path, std::uint64_t size, const std::string& sha256) {
  ServedFile f;
  f.disk_path = disk_path;
  f.size = size;
  f.lfs = true;
  f.sha256 = sha256;
  f.git_sha1 = git_blob_sha1_hex(lfs_pointer_text(sha256, size));  // the pointer file's oid, as the Hub lists it
  f.cdn_etag = cdn_etag_of_disk_file(sha256, size);
  std::lock_guard lock(m_mutex);
  auto& r = m_repos[key_of(repo)];
  r.ref = repo;
  r.commits[commit][path] = f;
  m_by_sha[sha256] = f;
  if (std::find(m_lfs_order.begin(), m_lfs_order.end(), sha256) == m_lfs_order.end()) m_lfs_order.push_back(sha256);
}

void HubServer::set_ref(const RepoRef& repo, const std::string& name, const std::string& commit) {
  std::lock_guard lock(m_mutex);
  auto& r = m_repos[key_of(repo)];
  r.ref = repo;
  r.refs[name] = commit;
  r.commits[commit];
}
void HubServer::set_private(const RepoRef& repo, bool v) {
  std::lock_guard lock(m_mutex);
  m_repos[key_of(repo)].is_private = v;
}
void HubServer::set_gated(const RepoRef& repo, bool v) {
  std::lock_guard lock(m_mutex);
  m_repos[key_of(repo)].gated = v;
}
void HubServer::add_rename(const RepoRef& from, const RepoRef& to) {
  std::lock_guard lock(m_mutex);
  m_renames[std::string(url_prefix(from.type)) + from.id] = std::string(url_prefix(to.type)) + to.id;
}
void HubServer::set_valid_token(const std::string& token) {
  std::lock_guard lock(m_mutex);
  m_token = token;
}
void HubServer::add_token_without_access(const std::string& token) {
  std::lock_guard lock(m_mutex);
  m_tokens_without_access.push_back(token);
}
void HubServer::set_hostile(Hostile mode) {
  std::lock_guard lock(m_mutex);
  m_hostile = mode;
}
void HubServer::set_moved(Moved mode) {
  std::lock_guard lock(m_mutex);
  m_moved = mode;
}
void HubServer::add_fault(const Fault& fault) {
  std::lock_guard lock(m_mutex);
  m_faults.push_back(fault);
}
void HubServer::clear_faults() {
  std::lock_guard lock(m_mutex);
  m_faults.clear();
}
void HubServer::set_tree_page_size(std::size_t n) {
  std::lock_guard lock(m_mutex);
  m_page_size = n;
}
void HubServer::set_throttle(std::uint64_t bps) {
  std::lock_guard lock(m_mutex);
  m_throttle = bps;
}
void HubServer::set_hostile_commit(const std::string& v) {
  std::lock_guard lock(m_mutex);
  m_hostile_commit = v;
}
void HubServer::set_xet(bool on) {
  std::lock_guard lock(m_mutex);
  m_xet = on;
}
void HubServer::set_hostile_etag(const std::string& v) {
  std::lock_guard lock(m_mutex);
  m_hostile_etag = v;
}
std::vector<RequestRecord> HubServer::requests() const {
  std::lock_guard lock(m_mutex);
  return m_log;
}
int HubServer::count(const std::string& method, const std::string& match) const {
  std::lock_guard lock(m_mutex);
  int n = 0;
  for (const auto& r : m_log)
    if ((method.empty() || r.method == method) && r.path.find(match) != std::string::npos) ++n;
  return n;
}
std::uint64_t HubServer::body_bytes(const std::string& match) const {
  std::lock_guard lock(m_mutex);
  std::uint64_t n = 0;
  for (const auto& r : m_log)
    if (r.path.find(match) != std::string::npos) n += r.body_bytes;
  return n;
}
bool HubServer::wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto idle_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    bool open;
    {
      std::lock_guard lock(m_mutex);
      open = !m_open_fds.empty();
    }
    const auto now = std::chrono::steady_clock::now();
    if (open)
      idle_since = now;
    else if (now - idle_since >= quiet)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

void HubServer::clear_requests() {
  std::lock_guard lock(m_mutex);
  m_log.clear();
  ++m_log_epoch;
  m_peak_in_flight = m_in_flight.load();
}

}  // namespace hubcache::test

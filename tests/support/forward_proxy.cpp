#include "forward_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace hubcache::test {
namespace {

bool send_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

int connect_to(const std::string& host, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (fd < 0 || ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

ForwardProxy::ForwardProxy(bool refuse_connect) : m_refuse_connect(refuse_connect) {
  m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(m_listen, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(m_listen, 64) != 0 ||
      ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return;
  m_port = ntohs(addr.sin_port);
  m_accept = std::thread([this] {
    while (!m_stop) {
      pollfd p{m_listen, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard lock(m_mutex);
      m_workers.emplace_back([this, c] { serve(c); });
    }
  });
}

ForwardProxy::~ForwardProxy() {
  m_stop = true;
  if (m_accept.joinable()) m_accept.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(m_mutex);
    workers.swap(m_workers);
  }
  for (auto& t : workers) t.join();
  if (m_listen >= 0) ::close(m_listen);
}

std::vector<std::string> ForwardProxy::requests() const {
  std::lock_guard lock(m_mutex);
  return m_requests;
}

std::size_t ForwardProxy::connects() const {
  std::lock_guard lock(m_mutex);
  std::size_t n = 0;
  for (const auto& r : m_requests) n += r.rfind("CONNECT ", 0) == 0 ? 1 : 0;
  return n;
}

// CONNECT host:port: a plain byte relay, to loopback targets only (a test must not reach out).
void ForwardProxy::tunnel(int client, const std::string& target, const std::string& early_bytes) {
  const auto colon = target.rfind(':');
  const std::string host = colon == std::string::npos ? "" : target.substr(0, colon);
  const int port = colon == std::string::npos ? 0 : std::atoi(target.c_str() + colon + 1);
  const bool loopback = host == "127.0.0.1" || host == "localhost";
  const int upstream =
      m_refuse_connect || !loopback || port <= 0 || port > 65535 ? -1 : connect_to("127.0.0.1", static_cast<std::uint16_t>(port));
  if (upstream < 0) {
    const std::string no = m_refuse_connect ? "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                            : "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(client, no.data(), no.size());
    return;
  }
  const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
  if (send_all(client, ok.data(), ok.size()) &&
      (early_bytes.empty() || send_all(upstream, early_bytes.data(), early_bytes.size()))) {
    char buf[16384];
    bool open = true;
    while (open && !m_stop) {
      pollfd p[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      if (::poll(p, 2, 100) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
        open = n > 0 && send_all(p[1 - i].fd, buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(upstream);
}

void ForwardProxy::serve(int client) {
  // The request head (and whatever body bytes came with it).
  std::string in;
  char buf[16384];
  std::size_t head_end = std::string::npos;
  while (head_end == std::string::npos && in.size() < 64 * 1024) {
    pollfd p{client, POLLIN, 0};
    if (m_stop || ::poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
    head_end = in.find("\r\n\r\n");
  }
  const auto line_end = in.find("\r\n");
  const std::string line = in.substr(0, line_end);
  {
    std::lock_guard lock(m_mutex);
    if (!line.empty()) m_requests.push_back(line);
  }
  // "METHOD http://host:port/path HTTP/1.1"
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  const std::string target = sp1 == std::string::npos || sp2 <= sp1 ? "" : line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (head_end != std::string::npos && line.rfind("CONNECT ", 0) == 0) {
    tunnel(client, target, in.substr(head_end + 4));
    ::close(client);
    return;
  }
  int upstream = -1;
  if (head_end != std::string::npos && target.rfind("http://", 0) == 0) {
    const auto path_at = target.find('/', 7);
    const std::string authority = target.substr(7, path_at == std::string::npos ? std::string::npos : path_at - 7);
    const auto colon = authority.rfind(':');
    const std::string host = authority.substr(0, colon);
    const int port = colon == std::string::npos ? 80 : std::atoi(authority.c_str() + colon + 1);
    upstream = connect_to(host, static_cast<std::uint16_t>(port));
    if (upstream >= 0) {
      // Origin-form request line; hop-by-hop headers replaced by Connection: close.
      std::string out =
          line.substr(0, sp1 + 1) + (path_at == std::string::npos ? "/" : target.substr(path_at)) + line.substr(sp2) + "\r\n";
      std::size_t pos = line_end + 2;
      while (pos < head_end) {
        const auto eol = in.find("\r\n", pos);
        const std::string h = in.substr(pos, eol - pos);
        pos = eol + 2;
        std::string lower = h;
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (lower.rfind("connection:", 0) == 0 || lower.rfind("proxy-", 0) == 0 || lower.rfind("keep-alive:", 0) == 0) continue;
        out += h + "\r\n";
      }
      out += "Connection: close\r\n\r\n" + in.substr(head_end + 4);
      if (send_all(upstream, out.data(), out.size())) {
        for (ssize_t n; (n = ::recv(upstream, buf, sizeof buf, 0)) > 0;)
          if (!send_all(client, buf, static_cast<std::size_t>(n))) break;
      }
      ::close(upstream);
    }
  }
  if (upstream < 0) {
    const std::string bad = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(client, bad.data(), bad.size());
  }
  ::close(client);
}

}  // namespace hubcache::test

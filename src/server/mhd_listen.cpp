// The mirror's listening socket (addresses, the names a client may use for this server) and its
// TLS material: the set-up half of Server::start.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "mhd_impl.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::server {
namespace {

std::string address_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    return std::string("[") + buf + "]";
  }
  ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  return buf;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return {};
  std::string h = name;
  for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return h;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> split_host(std::string_view h) {
  std::string host, port;
  if (!h.empty() && h.front() == '[') {
    const std::size_t close = h.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = std::string(h.substr(1, close - 1));
    if (close + 1 < h.size()) {
      if (h[close + 1] != ':') return std::nullopt;
      port = std::string(h.substr(close + 2));
    }
    in6_addr a6{};
    char buf[INET6_ADDRSTRLEN] = {};
    if (::inet_pton(AF_INET6, host.c_str(), &a6) != 1) return std::nullopt;
    ::inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    host = std::string("[") + buf + "]";
  } else {
    const std::size_t colon = h.find(':');
    host = std::string(h.substr(0, colon));
    if (colon != std::string_view::npos) port = std::string(h.substr(colon + 1));
    for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!host.empty() && host.back() == '.') host.pop_back();  // "example.com." is example.com
  }
  return std::make_pair(std::move(host), std::move(port));
}

Result<fs::Fd> open_listener(const std::string& host, std::uint16_t port, Server::Impl& impl) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return fail(ErrorCode::InvalidArgument, "cannot use host '" + host + "': " + ::gai_strerror(rc));
  std::string last_error = "no address";
  fs::Fd fd;
  for (addrinfo* ai = res; ai && !fd; ai = ai->ai_next) {
    fd.reset(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!fd) continue;
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), 4096) != 0) {
      last_error = std::strerror(errno);
      fd.reset();
    }
  }
  ::freeaddrinfo(res);
  if (!fd) return fail(ErrorCode::Io, "cannot listen on " + host + ":" + service + ": " + last_error);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  impl.bound_host = address_text(reinterpret_cast<const sockaddr*>(&ss));
  impl.bound_port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port)
                                             : ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  impl.all_interfaces = impl.bound_host == "0.0.0.0" || impl.bound_host == "[::]";
  impl.url_host = impl.bound_host;
  impl.own_hosts = {impl.bound_host};
  if (impl.all_interfaces) {
    // Reachable at every local address: name it by the host name (what another machine can
    // resolve), and accept a Host naming any of them.
    impl.own_hosts = {"localhost"};
    if (ifaddrs* ifs = nullptr; ::getifaddrs(&ifs) == 0) {
      for (ifaddrs* i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
          impl.own_hosts.push_back(address_text(i->ifa_addr));
      ::freeifaddrs(ifs);
    }
    const std::string name = host_name();
    if (!name.empty()) impl.own_hosts.push_back(name);
    impl.url_host = name.empty() ? (impl.bound_host == "[::]" ? "[::1]" : "127.0.0.1") : name;
  } else if (impl.bound_host.rfind("127.", 0) == 0 || impl.bound_host == "[::1]") {
    impl.own_hosts.push_back("localhost");
  }
  return fd;
}

Result<void> load_tls(const ServerOptions& o, Server::Impl& impl) {
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) return {};
  if (o.tls_cert_file.empty() || o.tls_key_file.empty())
    return fail(ErrorCode::InvalidArgument,
                std::string("HTTPS needs both a certificate and its private key: ") +
                    (o.tls_cert_file.empty() ? "give the certificate file too" : "give the key file too"));
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
    return fail(ErrorCode::InvalidArgument,
                "this libmicrohttpd was built without TLS support, so the mirror cannot serve HTTPS; install a build with "
                "GnuTLS (Debian's libmicrohttpd12 has it) or put a TLS proxy (nginx, caddy) in front of a plain-HTTP mirror");
  struct Part {
    const std::string* file;
    std::string* out;
    const char* what;
  };
  for (const Part& p :
       {Part{&o.tls_cert_file, &impl.tls_cert, "certificate"}, Part{&o.tls_key_file, &impl.tls_key, "private key"}}) {
    const std::string* file = p.file;
    const char* what = p.what;
    std::string* out = p.out;
    auto text = fs::read_file(*file, 1 << 20);
    if (!text)
      return fail(ErrorCode::Io, std::string("cannot read the TLS ") + what + " '" + *file + "': " + text.error().message);
    if (text->find("-----BEGIN ") == std::string::npos)
      return fail(ErrorCode::InvalidArgument,
                  std::string("the TLS ") + what + " '" + *file + "' is not in PEM format (no '-----BEGIN' line)");
    *out = std::move(*text);
  }
  return {};
}

}  // namespace hubcache::server

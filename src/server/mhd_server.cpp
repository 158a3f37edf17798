// The Router behind libmicrohttpd. Why libmicrohttpd (Debian libmicrohttpd-dev 0.9.75): an
// epoll event loop per worker thread, HTTP/1.1 keep-alive, bounded per-connection memory (which
// caps the request line and headers), a connection limit, idle timeouts, and sendfile(2) for
// file-descriptor bodies, so file bytes never pass through user space. What it lacks (a deadline
// for receiving a whole request, against slow-loris clients) is added here by a watchdog thread.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "hubcache/server/server.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::server {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t k_inline_body_max = 16 * 1024;

// Per HTTP request (MHD's con_cls).
struct RequestState {
  Clock::time_point start = Clock::now();
  bool handled = false;  // the access handler has seen it (else MHD answered it by itself)
  std::string method;
  std::string path;
  Request request;  // filled when the headers are complete
  bool too_large = false;
  int status = 0;
  std::uint64_t bytes = 0;
  // The request target as the URI callback saw it, in MHD's read buffer (see target_cut_at_nul).
  const char* raw_target = nullptr;
  std::size_t raw_target_len = 0;
};

// libmicrohttpd 0.9.75 parses a request in place and hands out C strings, so a NUL byte in the
// request target or in a header value silently cuts it ("config.json\0x" would be served as
// "config.json"). Its parser (connection.c: get_next_header_line, parse_initial_message_line,
// process_header_line) leaves every line in the read buffer, with the line end (CR LF, or a
// bare LF) overwritten by NUL bytes: what follows the C string shows whether it was cut.
// Verified for this version only; elsewhere the checks are left out (and the tests say so).
#if MHD_VERSION == 0x00097500
constexpr bool k_in_place_parser = true;
#else
constexpr bool k_in_place_parser = false;
#endif

// The target ends right before the space in front of the HTTP version (also NUL now).
bool target_cut_at_nul(const RequestState& st, const char* url, const char* version) {
  if (!k_in_place_parser || !st.raw_target || url != st.raw_target || !version) return false;
  if (version <= st.raw_target || version - st.raw_target > (1 << 20)) return false;  // not the layout above
  return static_cast<std::size_t>(version - st.raw_target) != st.raw_target_len + 1;
}

struct RawHeader {
  const char* key;
  const char* value;
  std::size_t value_size;
};

MHD_Result collect_raw(void* cls, MHD_ValueKind, const char* key, size_t, const char* value, size_t value_size) {
  auto* list = static_cast<std::vector<RawHeader>*>(cls);
  if (list->size() < 256 && key && value) list->push_back(RawHeader{key, value, value_size});
  return MHD_YES;
}

// A value is whole when only its line end follows it: one NUL (bare LF) or two (CR LF) before
// the next header's name; after the last header, the NUL of its line end and then the empty
// line's. Anything else is the rest of a value cut at a NUL byte (or a folded line moved by MHD).
bool header_cut_at_nul(const std::vector<RawHeader>& headers) {
  if (!k_in_place_parser) return false;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const char* end = headers[i].value + headers[i].value_size;
    if (i + 1 < headers.size()) {
      const auto gap = headers[i + 1].key - end;
      if (!(gap == 1 || (gap == 2 && end[1] == '\0'))) return true;
    } else if (end[1] != '\0') {
      return true;
    }
  }
  return false;
}

// Host header -> (lower-case host, port); IP literals in the canonical inet_ntop form.
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

std::string printable(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x21 && c < 0x7f)
      out.push_back(ch);
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
    if (out.size() > 2000) {
      out += "...";
      break;
    }
  }
  return out;
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  std::unique_ptr<Router> router;
  MHD_Daemon* daemon = nullptr;
  int listen_fd = -1;
  std::uint16_t bound_port = 0;
  std::string bound_host;       // the address listened on: "127.0.0.1", "0.0.0.0", "[::]", ...
  bool all_interfaces = false;  // bound to 0.0.0.0 or [::]
  std::string url_host;         // the bound address, or for all interfaces the machine's host name
  /// Hosts a client may name this server by (lower case): the bound address, or for all
  /// interfaces every local address, the host name and "localhost". A Host header naming one
  /// of them (with the bound port) may become the base of absolute URLs; any other never does.
  std::vector<std::string> own_hosts;

  // Watchdog over connections still receiving a request (see request_timeout). Each connection's
  // Conn lives in MHD's socket context: worker threads update it without a shared lock; the
  // mutex only guards the set (connect/disconnect) against the watchdog's scan.
  struct Conn {
    int fd = -1;
    std::atomic<Clock::rep> phase_start{0};  // steady_clock ticks
    std::atomic<bool> receiving{true};
  };
  std::mutex conn_mutex;
  std::unordered_map<MHD_Connection*, std::unique_ptr<Conn>> conns;
  std::condition_variable cv;
  bool stopping = false;
  std::thread watchdog;

  std::string tls_cert, tls_key;  // PEM text; MHD reads it while the daemon runs
  std::string scheme() const { return tls_cert.empty() ? "http://" : "https://"; }
  std::string default_base() const { return scheme() + url_host + ":" + std::to_string(bound_port); }

  /// The base URL for a request with this Host header: the header itself when it names this
  /// server, else default_base() (a forged Host never reaches a Location or Link header).
  std::string base_for(std::optional<std::string_view> host_header) const {
    if (!host_header) return default_base();
    const auto hp = split_host(*host_header);
    if (!hp || hp->first.empty()) return default_base();
    const std::string port = hp->second.empty() ? (tls_cert.empty() ? "80" : "443") : hp->second;
    if (port != std::to_string(bound_port)) return default_base();
    if (std::find(own_hosts.begin(), own_hosts.end(), hp->first) == own_hosts.end()) return default_base();
    return scheme() + hp->first + ":" + port;
  }

  static void set_receiving(MHD_Connection* c, bool receiving) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    auto* conn = info ? static_cast<Conn*>(info->socket_context) : nullptr;
    if (!conn) return;
    conn->phase_start.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    conn->receiving.store(receiving, std::memory_order_release);
  }

  void watch() {
    std::unique_lock lock(conn_mutex);
    while (!stopping) {
      cv.wait_for(lock, std::chrono::milliseconds(200));
      const auto now = Clock::now().time_since_epoch().count();
      const auto limit = std::chrono::duration_cast<Clock::duration>(options.request_timeout).count();
      for (auto& [c, conn] : conns) {
        if (conn->receiving.load(std::memory_order_acquire) && now - conn->phase_start.load(std::memory_order_relaxed) > limit) {
          // MHD reports CLOSED (under this mutex) before it closes the fd, so the fd is still
          // this connection's. shutdown() makes MHD see the end and clean up.
          ::shutdown(conn->fd, SHUT_RDWR);
          conn->receiving.store(false, std::memory_order_relaxed);
        }
      }
    }
  }
};

namespace {

MHD_Result collect(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* list = static_cast<HeaderList*>(cls);
  if (list->size() < 256) list->emplace_back(key ? key : "", value ? value : "");
  return MHD_YES;
}

ssize_t never_read(void*, std::uint64_t, char*, size_t) { return MHD_CONTENT_READER_END_WITH_ERROR; }

// Small bodies are read into memory so that MHD writes head and body with one sendmsg(): by
// sendfile that is two system calls and two TCP segments per response, which costs more than
// copying a few KiB. Larger bodies always go by sendfile, never through user space.
MHD_Response* small_file_body(const Response& resp) {
  const auto n = static_cast<std::size_t>(resp.file_length);
  void* buf = std::malloc(n);
  if (buf && ::pread(resp.file.get(), buf, n, static_cast<off_t>(resp.file_offset)) == static_cast<ssize_t>(n))
    return MHD_create_response_from_buffer(n, buf, MHD_RESPMEM_MUST_FREE);
  std::free(buf);  // the file changed under us: the sendfile path reports it
  return nullptr;
}

MHD_Response* make_body(Response& resp, bool head) {
  if (!resp.file && resp.head_length)  // HEAD without an open file: a body that is never read
    return MHD_create_response_from_callback(*resp.head_length, 4096, &never_read, nullptr, nullptr);
  if (resp.file && resp.file_length > 0) {
    if (!head && resp.file_length <= k_inline_body_max)
      if (MHD_Response* r = small_file_body(resp)) return r;
    MHD_Response* r = MHD_create_response_from_fd_at_offset64(resp.file_length, resp.file.get(), resp.file_offset);
    if (r) resp.file.release();  // MHD closes it
    return r;
  }
  return MHD_create_response_from_buffer(resp.body.size(), resp.body.data(), MHD_RESPMEM_MUST_COPY);
}

MHD_Result queue(MHD_Connection* c, RequestState* st, Response&& resp, bool head) {
  st->status = resp.status;
  st->bytes = head ? 0 : resp.body_size();
  MHD_Response* r = make_body(resp, head);
  if (!r) return MHD_NO;
  for (const auto& [k, v] : resp.headers) MHD_add_response_header(r, k.c_str(), v.c_str());
  const MHD_Result ok = MHD_queue_response(c, static_cast<unsigned>(resp.status), r);
  MHD_destroy_response(r);
  return ok;
}

Response bad_request(const std::string& why) {
  Response r;
  r.status = 400;
  r.set_header("Content-Type", "application/json; charset=utf-8");
  r.set_header("X-Error-Message", "Bad request: " + why);
  r.set_header("Connection", "close");  // RFC 9112: framing in doubt, do not read on
  r.body = nlohmann::json{{"error", "Bad request: " + why}}.dump();
  return r;
}

MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char* version,
                      const char* upload_data, size_t* upload_size, void** con_cls) {
  auto* impl = static_cast<Server::Impl*>(cls);
  auto* st = static_cast<RequestState*>(*con_cls);
  if (st == nullptr) *con_cls = st = new RequestState;  // (normally made by on_uri already)
  if (!st->handled) {
    // The headers are complete, the body (if any) not read yet: refuse what must be refused now.
    st->handled = true;
    st->method = method ? method : "";
    st->path = url ? url : "";
    Request& req = st->request;
    req.method = st->method;
    req.version = version ? version : "";
    req.path = st->path;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, &collect, &req.query);
    MHD_get_connection_values(c, MHD_HEADER_KIND, &collect, &req.headers);
    std::vector<RawHeader> raw;
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, &collect_raw, &raw);
    if (target_cut_at_nul(*st, url, version))
      return queue(c, st, bad_request("the request target holds a NUL byte; percent-encode it"), false);
    if (header_cut_at_nul(raw))
      return queue(c, st, bad_request("a header value holds a NUL byte or continues on a folded line; remove it"), false);
    if (malformed_request(req)) return queue(c, st, impl->router->handle(req), false);  // its 400, at once
    if (const auto cl = req.header(MHD_HTTP_HEADER_CONTENT_LENGTH)) {
      if (std::strtoull(std::string(*cl).c_str(), nullptr, 10) > impl->options.max_body_bytes) {
        Response r;
        r.status = 413;
        r.set_header("Content-Type", "application/json; charset=utf-8");
        r.set_header("X-Error-Message", "Request body too large");
        r.set_header("Connection", "close");
        r.body = "{\"error\":\"Request body too large\"}";
        return queue(c, st, std::move(r), false);
      }
    }
    return MHD_YES;
  }
  if (*upload_size != 0) {
    if (st->request.body.size() + *upload_size > impl->options.max_body_bytes)
      st->too_large = true;
    else
      st->request.body.append(upload_data, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  impl->set_receiving(c, false);
  const bool head = st->method == "HEAD";
  if (st->too_large) {
    Response r;
    r.status = 413;
    r.set_header("X-Error-Message", "Request body too large");
    r.body = "{\"error\":\"Request body too large\"}";
    return queue(c, st, std::move(r), head);
  }
  st->request.base_url = impl->base_for(st->request.header("Host"));
  return queue(c, st, impl->router->handle(st->request), head);
}

// Called once the request line is parsed, before the headers: a request that MHD refuses by
// itself (headers too large, malformed) still reaches on_completed and the access log.
void* on_uri(void*, const char* uri, MHD_Connection*) {
  auto* st = new RequestState;
  const std::string_view u = uri ? uri : "";
  st->path = u.substr(0, u.find('?'));  // as the access handler gets it: no query (signatures)
  st->raw_target = uri;                 // still whole here: MHD splits off the query after this call
  st->raw_target_len = u.size();
  return st;
}

void on_completed(void* cls, MHD_Connection* c, void** con_cls, MHD_RequestTerminationCode toe) {
  auto* impl = static_cast<Server::Impl*>(cls);
  std::unique_ptr<RequestState> st(static_cast<RequestState*>(*con_cls));
  *con_cls = nullptr;
  impl->set_receiving(c, true);  // keep-alive: the next request must arrive in time
  if (!st || !impl->options.access_log) return;
  if (!st->handled) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
    st->status = info ? static_cast<int>(info->http_status) : 0;
    if (st->method.empty()) st->method = "-";
  }
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - st->start).count();
  char line[2300];
  std::snprintf(line, sizeof line, "%s %s %d %llu %.2fms%s", printable(st->method).c_str(), printable(st->path).c_str(),
                st->status, static_cast<unsigned long long>(st->bytes), ms,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (cut)");
  impl->options.access_log(line);
}

void on_connection(void* cls, MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode toe) {
  auto* impl = static_cast<Server::Impl*>(cls);
  std::lock_guard lock(impl->conn_mutex);
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    auto conn = std::make_unique<Server::Impl::Conn>();
    conn->fd = info ? info->connect_fd : -1;
    conn->phase_start = Clock::now().time_since_epoch().count();
    *socket_context = conn.get();
    impl->conns[c] = std::move(conn);
  } else {
    *socket_context = nullptr;
    impl->conns.erase(c);
  }
}

size_t no_unescape(void*, MHD_Connection*, char* s) { return std::strlen(s); }  // the router decodes

void ignore_mhd_log(void*, const char*, va_list) {}

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

// Binds and listens; fills the bound address fields of `impl` (see Server::Impl).
Result<int> open_listener(const std::string& host, std::uint16_t port, Server::Impl& impl) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return fail(ErrorCode::InvalidArgument, "cannot use host '" + host + "': " + ::gai_strerror(rc));
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 4096) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) return fail(ErrorCode::Io, "cannot listen on " + host + ":" + service + ": " + last_error);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
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

// Reads the PEM certificate and key for HTTPS into `impl` (nothing when neither is given).
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

}  // namespace

Server::Server(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::start(ServerOptions options) {
  auto impl = std::make_unique<Impl>();
  HUBCACHE_TRY_ASSIGN(impl->router, Router::create(options.router));
  impl->options = std::move(options);
  const ServerOptions& o = impl->options;
  HUBCACHE_TRY(load_tls(o, *impl));
  HUBCACHE_TRY_ASSIGN(impl->listen_fd, open_listener(o.host, o.port, *impl));
  unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO;
  const bool tls = !impl->tls_cert.empty();
  if (tls) flags |= MHD_USE_TLS;  // bodies then go through GnuTLS, not sendfile
  Impl* self = impl.get();
  // Without TLS the certificate options are skipped: MHD_OPTION_ARRAY with an empty list.
  MHD_OptionItem tls_options[] = {
      {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls ? const_cast<char*>(impl->tls_cert.c_str()) : nullptr},
      {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, tls ? const_cast<char*>(impl->tls_key.c_str()) : nullptr},
      {MHD_OPTION_END, 0, nullptr}};
  impl->daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &on_request, self, MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(impl->listen_fd),
      MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(threads > 1 ? threads : 0), MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned>(o.max_connections), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      static_cast<unsigned>(o.max_connections_per_client), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(o.idle_timeout.count()), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      static_cast<size_t>(o.max_header_bytes + 4096), MHD_OPTION_UNESCAPE_CALLBACK, &no_unescape, nullptr,
      MHD_OPTION_URI_LOG_CALLBACK, &on_uri, nullptr, MHD_OPTION_NOTIFY_COMPLETED, &on_completed, self,
      MHD_OPTION_NOTIFY_CONNECTION, &on_connection, self, MHD_OPTION_EXTERNAL_LOGGER, &ignore_mhd_log, nullptr, MHD_OPTION_ARRAY,
      tls_options, MHD_OPTION_END);
  if (!impl->daemon) {
    ::close(impl->listen_fd);
    if (tls)
      return fail(ErrorCode::InvalidArgument, "cannot start the HTTPS server: TLS refused the certificate '" + o.tls_cert_file +
                                                  "' or the key '" + o.tls_key_file +
                                                  "' (check that both are PEM and that the key belongs to the certificate)");
    return fail(ErrorCode::Io, "cannot start the HTTP server (libmicrohttpd refused the configuration)");
  }
  impl->watchdog = std::thread([self] { self->watch(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::uint16_t Server::port() const { return m_impl->bound_port; }
std::string Server::url() const { return m_impl->default_base(); }
std::string Server::bound_address() const { return m_impl->bound_host + ":" + std::to_string(m_impl->bound_port); }
bool Server::all_interfaces() const { return m_impl->all_interfaces; }

void Server::stop() {
  if (!m_impl || !m_impl->daemon) return;
  {
    std::lock_guard lock(m_impl->conn_mutex);
    m_impl->stopping = true;
  }
  m_impl->cv.notify_all();
  if (m_impl->watchdog.joinable()) m_impl->watchdog.join();
  MHD_stop_daemon(m_impl->daemon);
  m_impl->daemon = nullptr;
  m_impl->listen_fd = -1;  // closed by MHD_stop_daemon: a started daemon owns its listen socket
}

}  // namespace hubcache::server

// The Router behind libmicrohttpd: the request callbacks and Server::start/stop (the listener
// and TLS set-up are in mhd_listen.cpp). Why libmicrohttpd (Debian libmicrohttpd-dev 0.9.75): an
// epoll event loop per worker thread, HTTP/1.1 keep-alive, bounded per-connection memory (which
// caps the request line and headers), a connection limit, idle timeouts, and sendfile(2) for
// file-descriptor bodies, so file bytes never pass through user space. What it lacks (a deadline
// for receiving a whole request, against slow-loris clients) is added here by a watchdog thread.
#include <fcntl.h>
#include <microhttpd.h>
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

#include "mhd_impl.hpp"

namespace hubcache::server {
namespace {

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

ssize_t read_stream(void* cls, std::uint64_t pos, char* buf, size_t max) {
  const auto& stream = *static_cast<std::function<long(std::uint64_t, char*, std::size_t)>*>(cls);
  const long n = stream(pos, buf, max);
  return n > 0 ? static_cast<ssize_t>(n) : MHD_CONTENT_READER_END_WITH_ERROR;
}

void free_stream(void* cls) { delete static_cast<std::function<long(std::uint64_t, char*, std::size_t)>*>(cls); }

MHD_Response* make_body(Response& resp, bool head) {
  if (resp.stream) {
    if (head) return MHD_create_response_from_callback(resp.stream_length, 4096, &never_read, nullptr, nullptr);
    if (resp.stream_length == 0) return MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
    auto* fn = new std::function<long(std::uint64_t, char*, std::size_t)>(std::move(resp.stream));
    MHD_Response* r = MHD_create_response_from_callback(resp.stream_length, 256 * 1024, &read_stream, fn, &free_stream);
    if (!r) delete fn;
    return r;
  }
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
    if (malformed_request(req)) return queue(c, st, impl->handle(req), false);  // its 400, at once
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
  if ((head || st->method == "GET") && (st->path == "/health" || st->path == "/metrics")) {
    Response r;
    if (st->path == "/health") {
      r.set_header("Content-Type", "application/json");
      r.body = "{\"status\":\"ok\"}";
    } else {
      r.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      r.body = impl->metrics_text();
    }
    r.set_header("Cache-Control", "no-store");
    return queue(c, st, std::move(r), head);
  }
  return queue(c, st, impl->handle(st->request), head);
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
  if (st && st->handled) {
    const int status_class = st->status >= 500 ? 3 : st->status >= 400 ? 2 : st->status >= 300 ? 1 : 0;
    ++impl->answered[status_class];
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) impl->bytes_sent += st->bytes;
  }
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

}  // namespace

std::string Server::Impl::metrics_text() {
  std::size_t open = 0;
  {
    std::lock_guard lock(conn_mutex);
    open = conns.size();
  }
  std::string t =
      "# HELP hubcache_requests_total Requests answered, by status class.\n"
      "# TYPE hubcache_requests_total counter\n";
  const char* classes[4] = {"2xx", "3xx", "4xx", "5xx"};
  for (int i = 0; i < 4; ++i)
    t += "hubcache_requests_total{code=\"" + std::string(classes[i]) + "\"} " + std::to_string(answered[i].load()) + "\n";
  t += "# HELP hubcache_response_bytes_total Body bytes of the responses sent whole.\n"
       "# TYPE hubcache_response_bytes_total counter\n"
       "hubcache_response_bytes_total " +
       std::to_string(bytes_sent.load()) +
       "\n"
       "# HELP hubcache_connections Open client connections.\n"
       "# TYPE hubcache_connections gauge\n"
       "hubcache_connections " +
       std::to_string(open) + "\n";
  if (options.extra_metrics) t += options.extra_metrics();
  return t;
}

Server::Server(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::start(ServerOptions options) {
  auto impl = std::make_unique<Impl>();
  if (options.handler) {
    impl->handle = options.handler;
  } else {
    HUBCACHE_TRY_ASSIGN(impl->router, Router::create(options.router));
    impl->handle = [router = impl->router.get()](const Request& req) { return router->handle(req); };
  }
  impl->options = std::move(options);
  const ServerOptions& o = impl->options;
  HUBCACHE_TRY(load_tls(o, *impl));
  HUBCACHE_TRY_ASSIGN(fs::Fd listener, open_listener(o.host, o.port, *impl));
  unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  // A blocking handler would stall every connection of its event loop: a thread each instead.
  const bool per_connection = static_cast<bool>(o.handler);
  if (per_connection) threads = 1;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                   (per_connection ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL : MHD_USE_EPOLL | MHD_USE_TURBO);
  const bool tls = !impl->tls_cert.empty();
  if (tls) flags |= MHD_USE_TLS;  // bodies then go through GnuTLS, not sendfile
  Impl* self = impl.get();
  // Without TLS the certificate options are skipped: MHD_OPTION_ARRAY with an empty list.
  MHD_OptionItem tls_options[] = {
      {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls ? const_cast<char*>(impl->tls_cert.c_str()) : nullptr},
      {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, tls ? const_cast<char*>(impl->tls_key.c_str()) : nullptr},
      {MHD_OPTION_END, 0, nullptr}};
  impl->daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &on_request, self, MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(listener.get()),
      MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(threads > 1 ? threads : 0), MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned>(o.max_connections), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      static_cast<unsigned>(o.max_connections_per_client), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(o.idle_timeout.count()), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      static_cast<size_t>(o.max_header_bytes + 4096), MHD_OPTION_UNESCAPE_CALLBACK, &no_unescape, nullptr,
      MHD_OPTION_URI_LOG_CALLBACK, &on_uri, nullptr, MHD_OPTION_NOTIFY_COMPLETED, &on_completed, self,
      MHD_OPTION_NOTIFY_CONNECTION, &on_connection, self, MHD_OPTION_EXTERNAL_LOGGER, &ignore_mhd_log, nullptr, MHD_OPTION_ARRAY,
      tls_options, MHD_OPTION_END);
  if (!impl->daemon) {  // `listener` closes the socket
    if (tls)
      return fail(ErrorCode::InvalidArgument, "cannot start the HTTPS server: TLS refused the certificate '" + o.tls_cert_file +
                                                  "' or the key '" + o.tls_key_file +
                                                  "' (check that both are PEM and that the key belongs to the certificate)");
    return fail(ErrorCode::Io, "cannot start the HTTP server (libmicrohttpd refused the configuration)");
  }
  impl->listen_fd = listener.release();  // a started daemon owns its listen socket (MHD_stop_daemon closes it)
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

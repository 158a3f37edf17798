#include "hubcache/http/multi.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <unordered_map>
#include <vector>

#include "exchange.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::http {

// Event-driven: libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when its
// next timeout is due (CURLMOPT_TIMERFUNCTION); one epoll set waits for them, and
// curl_multi_socket_action() then touches only the exchanges with activity. With 128 exchanges
// in flight this replaces a poll() over every socket and a walk over every handle per wakeup
// (curl_multi_perform) with work proportional to what happened.
struct Multi::Impl {
  CURLM* multi = nullptr;
  Transport transport;
  fs::Fd epoll;
  fs::Fd wake;                                               // eventfd: wakeup() from other threads
  std::unordered_map<curl_socket_t, std::uint32_t> watched;  // socket -> epoll events registered
  bool timer_armed = false;
  std::chrono::steady_clock::time_point timer_due{};
  struct Entry {
    std::unique_ptr<detail::Exchange> ex;
    Done done;
    bool cancelled = false;
  };
  std::map<Id, Entry> entries;
  std::unordered_map<CURL*, Id> by_handle;
  std::vector<std::unique_ptr<detail::Exchange>> idle;  // reused: keeps connections in the cache
  std::vector<Id> to_cancel;
  Id next_id = 1;

  void complete(Id id, Result<Response> r) {
    auto it = entries.find(id);
    if (it == entries.end()) return;
    Entry e = std::move(it->second);
    entries.erase(it);
    by_handle.erase(e.ex->easy);
    curl_multi_remove_handle(multi, e.ex->easy);
    idle.push_back(std::move(e.ex));
    if (e.done) e.done(std::move(r));
  }

  // CURLMOPT_SOCKETFUNCTION. A socket closed by libcurl leaves the epoll set by itself, so a
  // reused descriptor number may be unknown to epoll while still in `watched`: MOD falls back
  // to ADD and ADD to MOD.
  static int on_socket(CURL*, curl_socket_t s, int what, void* user, void*) {
    auto& im = *static_cast<Impl*>(user);
    if (what == CURL_POLL_REMOVE) {
      if (im.watched.erase(s) > 0) ::epoll_ctl(im.epoll.get(), EPOLL_CTL_DEL, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = s;
    const bool known = im.watched.count(s) > 0;
    if (::epoll_ctl(im.epoll.get(), known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0) {
      if (known && errno == ENOENT)
        ::epoll_ctl(im.epoll.get(), EPOLL_CTL_ADD, s, &ev);
      else if (!known && errno == EEXIST)
        ::epoll_ctl(im.epoll.get(), EPOLL_CTL_MOD, s, &ev);
    }
    im.watched[s] = ev.events;
    return 0;
  }

  // CURLMOPT_TIMERFUNCTION: -1 disarms, 0 means "call socket_action(TIMEOUT) at once".
  static int on_timer(CURLM*, long timeout_ms, void* user) {
    auto& im = *static_cast<Impl*>(user);
    im.timer_armed = timeout_ms >= 0;
    if (im.timer_armed) im.timer_due = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
  }

  void action(curl_socket_t s, int mask) {
    int running = 0;
    curl_multi_socket_action(multi, s, mask, &running);
  }

  bool timer_expired() const { return timer_armed && std::chrono::steady_clock::now() >= timer_due; }

  // Delivers finished exchanges; returns how many.
  int reap() {
    int queued = 0, completed = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      auto h = by_handle.find(msg->easy_handle);
      if (h == by_handle.end()) continue;
      const Id id = h->second;
      auto it = entries.find(id);
      auto r = it->second.cancelled ? Result<Response>(fail(ErrorCode::Cancelled, "cancelled"))
                                    : it->second.ex->finish(msg->data.result);
      it->second.ex->record(r);
      complete(id, std::move(r));
      ++completed;
    }
    return completed;
  }
};

Multi::Multi(unsigned max_host_connections, Transport transport) : m_impl(std::make_unique<Impl>()) {
  auto& im = *m_impl;
  im.transport = std::move(transport);
  detail::global_init();
  im.epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  im.wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (im.epoll && im.wake) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = im.wake.get();
    ::epoll_ctl(im.epoll.get(), EPOLL_CTL_ADD, im.wake.get(), &ev);
  }
  im.multi = curl_multi_init();
  curl_multi_setopt(im.multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  curl_multi_setopt(im.multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(max_host_connections));
  if (max_host_connections > 0)
    curl_multi_setopt(im.multi, CURLMOPT_MAX_CONCURRENT_STREAMS, static_cast<long>(max_host_connections));
  curl_multi_setopt(im.multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
  curl_multi_setopt(im.multi, CURLMOPT_SOCKETDATA, &im);
  curl_multi_setopt(im.multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
  curl_multi_setopt(im.multi, CURLMOPT_TIMERDATA, &im);
}

Multi::~Multi() {
  auto& im = *m_impl;
  for (auto& [id, e] : im.entries) curl_multi_remove_handle(im.multi, e.ex->easy);
  im.entries.clear();
  im.idle.clear();
  curl_multi_cleanup(im.multi);  // may still report sockets to remove: the epoll set is alive
}

Multi::Id Multi::add(const Request& request, Sink sink, Done done) {
  std::unique_ptr<detail::Exchange> ex;
  if (!m_impl->idle.empty()) {
    ex = std::move(m_impl->idle.back());
    m_impl->idle.pop_back();
  } else {
    ex = std::make_unique<detail::Exchange>();
  }
  ex->prepare(request, std::move(sink), true, nullptr, &m_impl->transport);
  const Id id = m_impl->next_id++;
  CURL* easy = ex->easy;
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);  // multiplex over h2 rather than opening a connection each
  m_impl->by_handle[easy] = id;
  m_impl->entries.emplace(id, Impl::Entry{std::move(ex), std::move(done), false});
  curl_multi_add_handle(m_impl->multi, easy);  // arms the timer at 0: the next poll() starts it
  return id;
}

void Multi::cancel(Id id) {
  auto it = m_impl->entries.find(id);
  if (it == m_impl->entries.end() || it->second.cancelled) return;
  it->second.cancelled = true;
  m_impl->to_cancel.push_back(id);
}

std::size_t Multi::poll(std::chrono::milliseconds timeout) {
  auto& im = *m_impl;
  // Cancellations first, so a cancelled exchange never delivers more data.
  while (!im.to_cancel.empty()) {
    const Id id = im.to_cancel.back();
    im.to_cancel.pop_back();
    auto it = im.entries.find(id);
    if (it == im.entries.end()) continue;
    const std::string what = std::string(to_string(it->second.ex->request.method)) + " " + redact(it->second.ex->request.url);
    im.complete(id, fail(ErrorCode::Cancelled, what + ": cancelled"));
  }
  if (im.timer_expired()) im.action(CURL_SOCKET_TIMEOUT, 0);
  // Return at once after completions so the caller can start follow-up work without waiting.
  if (im.reap() > 0 || !im.to_cancel.empty()) return im.entries.size();

  auto wait = timeout;
  if (im.timer_armed) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(im.timer_due - std::chrono::steady_clock::now());
    wait = std::clamp(left, std::chrono::milliseconds(0), timeout);
  }
  constexpr int k_batch = 64;
  epoll_event events[k_batch];
  const int n = im.epoll.get() >= 0 ? ::epoll_wait(im.epoll.get(), events, k_batch, static_cast<int>(wait.count())) : 0;
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == im.wake.get()) {
      std::uint64_t count = 0;
      [[maybe_unused]] auto r = ::read(im.wake.get(), &count, sizeof count);
      continue;
    }
    int mask = 0;
    if (events[i].events & (EPOLLIN | EPOLLHUP)) mask |= CURL_CSELECT_IN;
    if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
    if (events[i].events & EPOLLERR) mask |= CURL_CSELECT_ERR;
    im.action(fd, mask);
  }
  if (im.timer_expired()) im.action(CURL_SOCKET_TIMEOUT, 0);
  im.reap();
  return im.entries.size();
}

std::size_t Multi::running() const { return m_impl->entries.size(); }

void Multi::wakeup() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(m_impl->wake.get(), &one, sizeof one);
}

}  // namespace hubcache::http

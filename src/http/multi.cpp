#include "hubcache/http/multi.hpp"

#include <map>
#include <vector>

#include "exchange.hpp"

namespace hubcache::http {

struct Multi::Impl {
  CURLM* multi = nullptr;
  Transport transport;
  struct Entry {
    std::unique_ptr<detail::Exchange> ex;
    Done done;
    bool cancelled = false;
  };
  std::map<Id, Entry> entries;
  std::map<CURL*, Id> by_handle;
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
};

Multi::Multi(unsigned max_host_connections, Transport transport) : m_impl(std::make_unique<Impl>()) {
  m_impl->transport = std::move(transport);
  detail::global_init();
  m_impl->multi = curl_multi_init();
  curl_multi_setopt(m_impl->multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  curl_multi_setopt(m_impl->multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(max_host_connections));
}

Multi::~Multi() {
  for (auto& [id, e] : m_impl->entries) curl_multi_remove_handle(m_impl->multi, e.ex->easy);
  m_impl->entries.clear();
  m_impl->idle.clear();
  curl_multi_cleanup(m_impl->multi);
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
  curl_multi_add_handle(m_impl->multi, easy);
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
  auto drive = [&] {
    int running = 0;
    curl_multi_perform(im.multi, &running);
    int queued = 0, completed = 0;
    while (CURLMsg* msg = curl_multi_info_read(im.multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      auto h = im.by_handle.find(msg->easy_handle);
      if (h == im.by_handle.end()) continue;
      const Id id = h->second;
      auto it = im.entries.find(id);
      auto r = it->second.cancelled ? Result<Response>(fail(ErrorCode::Cancelled, "cancelled")) : it->second.ex->finish(msg->data.result);
      it->second.ex->record(r);
      im.complete(id, std::move(r));
      ++completed;
    }
    return completed;
  };
  // Return at once after completions so the caller can start follow-up work without waiting.
  if (drive() > 0 || !im.to_cancel.empty()) return im.entries.size();
  int fds = 0;
  curl_multi_poll(im.multi, nullptr, 0, static_cast<int>(timeout.count()), &fds);
  drive();
  return im.entries.size();
}

std::size_t Multi::running() const { return m_impl->entries.size(); }

void Multi::wakeup() { curl_multi_wakeup(m_impl->multi); }

}  // namespace hubcache::http

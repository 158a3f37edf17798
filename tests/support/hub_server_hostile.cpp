// Hostile answers of the test HubServer (the hostile-input probe): pagination that never ends
// or loops, and API bodies too large to hold.
#include <sys/socket.h>

#include <string>

#include "hub_server.hpp"
#include "hub_server_internal.hpp"

namespace hubcache::test {
using namespace detail_server;

std::optional<std::string> HubServer::hostile_next_link(Hostile mode, const std::string& path, const std::string& query,
                                                        std::size_t next_cursor) const {
  const std::string first = endpoint() + path + "?recursive=" + query_param(query, "recursive") + "&expand=false";
  switch (mode) {
    case Hostile::NextLinksToItself:
      return endpoint() + path + (query.empty() ? "" : "?" + query);
    case Hostile::NextLinksCycle:  // A (no cursor) -> B -> A
      return query_param(query, "cursor").empty() ? first + "&cursor=b" : first;
    case Hostile::EndlessNextPages:
      return first + "&cursor=" + std::to_string(next_cursor);
    default:
      return std::nullopt;
  }
}

void HubServer::serve_huge_json(Reply& reply, bool declared) {
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";
  if (declared) head += "Content-Length: 4294967296\r\n";
  head += "Connection: close\r\n\r\n";
  reply.keep_alive = false;
  reply.rec.status = 200;
  reply.publish();
  if (!send_all(reply.fd, head.data(), head.size()) || reply.req.method == "HEAD") return;
  std::string chunk = "[";
  const std::string entry = R"({"type":"file","oid":"0000000000000000000000000000000000000000","size":1,"path":"x"},)";
  while (chunk.size() < 65536) chunk += entry;
  // Until the client stops reading (or 4 GiB): a client that buffers it all shows in memory.
  for (std::uint64_t sent = 0; sent < (4ull << 30) && !m_stop; sent += chunk.size()) {
    reply.rec.body_bytes += chunk.size();
    reply.publish();
    if (!send_all(reply.fd, chunk.data(), chunk.size())) return;
    chunk[0] = ' ';  // the rest continues the array
  }
}

}  // namespace hubcache::test

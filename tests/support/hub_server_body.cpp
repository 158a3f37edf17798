// Body serving of the test HubServer: ranges, throttling and the body faults.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "hub_server.hpp"
#include "hub_server_internal.hpp"

namespace hubcache::test {
using namespace detail_server;

// Sends `file`'s bytes, honouring Range unless a fault says otherwise.
void HubServer::serve_body(Reply& reply, const std::optional<Fault>& fault, std::uint64_t throttle, const ServedFile& file,
                           std::vector<std::pair<std::string, std::string>> headers, const std::string& etag,
                           const std::string& last_modified) {
  const HttpRequest& req = reply.req;
  RequestRecord& rec = reply.rec;
  bool& keep_alive = reply.keep_alive;
  const int fd = reply.fd;
  auto publish = reply.publish;
  const std::string etag_value = etag.empty() ? "\"" + file.etag() + "\"" : etag;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> range;
  const std::string if_range = req.header("if-range");
  const bool validator_matches =
      if_range.empty() || if_range == etag_value || (!last_modified.empty() && if_range == last_modified);
  const bool ignore_range = fault && (fault->kind == FaultKind::IgnoreRange || fault->kind == FaultKind::IgnoreRangeAndCut);
  if (!ignore_range && validator_matches) range = parse_range(req.header("range"), file.size);
  headers.emplace_back("Accept-Ranges", "bytes");
  headers.emplace_back("ETag", etag_value);
  std::uint64_t begin = 0, end = file.size;
  int status = 200;
  if (range) {
    if (range->first >= file.size && file.size > 0) {
      headers.emplace_back("Content-Range", "bytes */" + std::to_string(file.size));
      reply.head(416, headers, 0);
      return;
    }
    begin = range->first;
    end = range->second;
    if (fault && fault->kind == FaultKind::RangeElsewhere) {
      end = end - begin;
      begin = 0;
    }
    status = 206;
    headers.emplace_back("Content-Range",
                         "bytes " + std::to_string(begin) + "-" + std::to_string(end - 1) + "/" + std::to_string(file.size));
  }
  const bool cut = fault && (fault->kind == FaultKind::ResetMidBody || fault->kind == FaultKind::ShortBody ||
                             fault->kind == FaultKind::Stall || fault->kind == FaultKind::IgnoreRangeAndCut);
  if (cut) keep_alive = false;
  reply.head(status, headers, end - begin);
  if (req.method == "HEAD") return;
  const std::uint64_t limit = cut ? std::min<std::uint64_t>(end, begin + fault->after_bytes) : end;
  int disk = file.disk_path.empty() ? -1 : ::open(file.disk_path.c_str(), O_RDONLY | O_CLOEXEC);
  std::vector<char> buf(throttle ? 16384 : 262144);
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t sent = 0;
  for (std::uint64_t off = begin; off < limit && !m_stop;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), limit - off));
    if (disk >= 0) {
      if (::pread(disk, buf.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) break;
    } else {
      std::memcpy(buf.data(), file.content.data() + off, n);
    }
    if (fault && fault->kind == FaultKind::WrongBytes) {
      const std::uint64_t flip = file.size / 2;
      if (flip >= off && flip < off + n) buf[flip - off] = static_cast<char>(buf[flip - off] ^ 0x5a);
    }
    rec.body_bytes += n;  // counted before sending: a client may finish reading before send() returns
    publish();
    if (!send_all(fd, buf.data(), n)) {
      keep_alive = false;
      break;
    }
    off += n;
    sent += n;
    if (throttle) {
      const auto due = t0 + std::chrono::microseconds(sent * 1000000 / throttle);
      // One sleep to the due time (in slices, so a stopping server is not held up): a sleep per
      // 2 ms cost the benchmarks' shared CPU more than the client it measured.
      while (!m_stop && std::chrono::steady_clock::now() < due)
        std::this_thread::sleep_until(std::min(due, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
    }
  }
  if (disk >= 0) ::close(disk);
  if (fault && fault->kind == FaultKind::Stall) {
    const auto until = std::chrono::steady_clock::now() + fault->stall;
    while (!m_stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (fault && fault->kind == FaultKind::ResetMidBody) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
}

}  // namespace hubcache::test

// HEAD latency/throughput load generator (wrk cannot time HEAD responses: it waits for a body).
//   head_bench <url> [connections=8] [seconds=10]
// Each connection is a thread sending keep-alive HEAD requests back to back; prints the request
// rate and latency percentiles (microsecond resolution), and counts errors and non-2xx/3xx.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Target {
  std::string host, port, path;
};

bool parse_url(const std::string& url, Target& t) {
  if (url.rfind("http://", 0) != 0) return false;
  const std::string rest = url.substr(7);
  const auto slash = rest.find('/');
  const std::string hostport = rest.substr(0, slash);
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = hostport.rfind(':');
  t.host = hostport.substr(0, colon);
  t.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  return true;
}

int connect_to(const Target& t) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (::getaddrinfo(t.host.c_str(), t.port.c_str(), &hints, &res) != 0) return -1;
  const int fd = ::socket(res->ai_family, SOCK_STREAM, 0);
  if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    ::close(fd);
    ::freeaddrinfo(res);
    return -1;
  }
  ::freeaddrinfo(res);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

struct Stats {
  std::vector<double> latencies_us;
  long errors = 0;
  long bad_status = 0;
};

void worker(const Target& t, Clock::time_point end, Stats& s) {
  const std::string req = "HEAD " + t.path + " HTTP/1.1\r\nHost: " + t.host + ":" + t.port + "\r\n\r\n";
  int fd = connect_to(t);
  char buf[16384];
  while (Clock::now() < end) {
    if (fd < 0) {
      ++s.errors;
      fd = connect_to(t);
      continue;
    }
    const auto t0 = Clock::now();
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      ++s.errors;
      ::close(fd);
      fd = -1;
      continue;
    }
    std::string resp;
    bool ok = false;
    while (true) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      resp.append(buf, static_cast<std::size_t>(n));
      if (resp.find("\r\n\r\n") != std::string::npos) {
        ok = true;
        break;
      }
    }
    if (!ok) {
      ++s.errors;
      ::close(fd);
      fd = -1;
      continue;
    }
    s.latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    const int status = resp.size() > 12 ? std::atoi(resp.c_str() + 9) : 0;
    if (status < 200 || status >= 400) ++s.bad_status;
  }
  if (fd >= 0) ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  Target t;
  if (argc < 2 || !parse_url(argv[1], t)) {
    std::fprintf(stderr, "usage: head_bench http://host:port/path [connections] [seconds]\n");
    return 2;
  }
  const int conns = argc > 2 ? std::atoi(argv[2]) : 8;
  const int secs = argc > 3 ? std::atoi(argv[3]) : 10;
  std::vector<Stats> stats(static_cast<std::size_t>(conns));
  std::vector<std::thread> threads;
  const auto end = Clock::now() + std::chrono::seconds(secs);
  for (int i = 0; i < conns; ++i) threads.emplace_back(worker, std::cref(t), end, std::ref(stats[static_cast<std::size_t>(i)]));
  for (auto& th : threads) th.join();
  std::vector<double> all;
  long errors = 0, bad = 0;
  for (auto& s : stats) {
    all.insert(all.end(), s.latencies_us.begin(), s.latencies_us.end());
    errors += s.errors;
    bad += s.bad_status;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(p * static_cast<double>(all.size())))];
  };
  std::printf("requests %zu  req/s %.0f  p50 %.0fus  p99 %.0fus  p99.9 %.0fus  max %.0fus  errors %ld  bad_status %ld\n",
              all.size(), static_cast<double>(all.size()) / secs, pct(0.50), pct(0.99), pct(0.999),
              all.empty() ? 0.0 : all.back(), errors, bad);
  return 0;
}

#include "net_transport.hpp"

#include <cstdio>

#include <fmt/core.h>

#include "hubcache/resolve/download.hpp"

namespace hubcache::cli {

http::Transport net_transport(const Config& config) {
  http::Transport t = DownloadOptions::from_env(config).transport;
  if (config.debug)
    t.on_exchange = [](const http::ExchangeRecord& r) {
      const std::string outcome = r.status > 0 ? std::to_string(r.status) : "failed";
      std::string line = fmt::format("[HF_DEBUG] {} {} -> {} ({} ms){}\n", http::to_string(r.method), r.url, outcome,
                                     r.elapsed.count(), r.error.empty() ? "" : ": " + r.error);
      std::fwrite(line.data(), 1, line.size(), stderr);
    };
  return t;
}

}  // namespace hubcache::cli

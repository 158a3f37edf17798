// The transport every hubcache-net command uses (hubcache-net only: it names libcurl's world).
#pragma once

#include "hubcache/config/config.hpp"
#include "hubcache/http/http.hpp"

namespace hubcache::cli {

/// The CA bundle (SSL_CERT_FILE / REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE), the proxies, and with
/// HF_DEBUG=1 a request log on stderr (method, redacted URL, status, time; never a header), so
/// download, auth login and auth whoami reach a server the same way.
http::Transport net_transport(const Config& config);

}  // namespace hubcache::cli

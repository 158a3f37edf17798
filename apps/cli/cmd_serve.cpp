// `hubcache serve`: a read-only Hub-compatible mirror over a cache, until SIGINT/SIGTERM.
#include <fmt/core.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <tuple>

#include "cli.hpp"
#include "hubcache/proxy/proxy.hpp"
#include "hubcache/util/human.hpp"
#include "hubcache/server/server.hpp"

namespace hubcache::cli {
namespace {

struct ServeOptions {
  CommonOptions common;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::optional<std::string> token_file;
  std::vector<std::string> private_repos;
  bool quiet = false;
  unsigned threads = 0;
  unsigned max_connections = 4096;
  std::optional<unsigned> max_connections_per_client;  // default: per_client_default()
  std::string public_url;
  unsigned idle_timeout = 30;
  unsigned request_timeout = 30;
  unsigned revalidate_ms = 1000;
  std::string tls_cert;
  std::string tls_key;
  bool redirect_all = false;
  bool xet = false;
  bool xet_index = false;
  std::optional<std::string> signing_key_file;
  server::RouterOptions::BlobAuth blob_auth = server::RouterOptions::BlobAuth::Signed;
  // Pull-through proxy
  std::string upstream;
  std::optional<std::string> upstream_token_file;
  unsigned revalidate = 60;
  bool offline = false;
  bool forward_client_token = false;
  bool share_gated = false;
  std::optional<std::string> max_size;
};

void print_line(std::string_view line) {
  std::string l(line);
  l.push_back('\n');
  std::fwrite(l.data(), 1, l.size(), stderr);
}

// The proxy over `so.router` (so.handler answers through it); nullptr and an exit code on error.
std::shared_ptr<proxy::Proxy> make_proxy(const ServeOptions& o, const Config& c, server::ServerOptions& so, int& exit_code) {
  proxy::ProxyOptions po;
  po.router = so.router;
  po.upstream = DownloadOptions::from_env(c);
  po.upstream.endpoint = o.upstream;
  if (o.upstream_token_file) {
    auto tokens = server::load_token_file(*o.upstream_token_file);
    if (!tokens) {
      exit_code = report_error(tokens.error(), false);
      return nullptr;
    }
    po.upstream.token = tokens->front();
  }
  if (o.max_size) {
    po.max_size = parse_size(*o.max_size);
    if (!po.max_size) {
      exit_code =
          usage_error(fmt::format("--max-size takes a size such as 500MB, 20GB or 1TB (powers of 1000), got '{}'", *o.max_size));
      return nullptr;
    }
  }
  po.revalidate = std::chrono::seconds(o.revalidate);
  po.offline = o.offline;
  po.forward_client_token = o.forward_client_token;
  po.share_restricted = o.share_gated;
  if (!o.quiet) po.log = print_line;
  auto p = proxy::Proxy::create(std::move(po));
  if (!p) {
    exit_code = report_error(p.error(), false);
    return nullptr;
  }
  std::shared_ptr<proxy::Proxy> shared = std::move(*p);
  so.handler = [shared](const server::Request& req) { return shared->handle(req); };
  so.extra_metrics = [shared] { return shared->metrics_text(); };
  return shared;
}

// Raises the descriptor limit to its maximum and shares it between connections and the files the
// server keeps open (a quarter, at most 4096). Returns {connections, open files}.
std::pair<unsigned, std::size_t> share_fd_limit(unsigned wanted_connections) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return {wanted_connections, 0};
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  const rlim_t usable = rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64;
  const std::size_t files = std::min<std::size_t>(4096, usable / 4);
  const rlim_t for_connections = usable - files;
  return {wanted_connections < for_connections ? wanted_connections : static_cast<unsigned>(for_connections), files};
}

// The per-client default follows the connections the server really has (share_fd_limit may cut
// them to a few hundred): 256 (twice the 128 connections `hubcache download` opens at most), but
// never more than an eighth of them, so one client address leaves room for at least 7 others.
unsigned per_client_default(unsigned max_connections) { return std::max(1u, std::min(256u, max_connections / 8)); }

// Where the mirror listens and the HF_ENDPOINT clients should use.
void print_banner(const server::Server& srv, const std::string& cache, const std::string& public_url, bool proxy) {
  fmt::print(stderr, "Serving the Hub cache {} ({}) on {}", cache, proxy ? "filled from the upstream" : "read-only",
             srv.bound_address());
  if (srv.all_interfaces())
    fmt::print(stderr,
               ", all interfaces: other machines reach it at {} (or {}://<an address of this machine>:{}), "
               "this one at {}://127.0.0.1:{}",
               srv.url(), srv.url().substr(0, srv.url().find(':')), srv.port(), srv.url().substr(0, srv.url().find(':')),
               srv.port());
  fmt::print(stderr, ".\n");
  if (!public_url.empty())
    fmt::print(stderr, "Public URL: {} (download redirects and page links point there). Use HF_ENDPOINT={}. Stop with Ctrl-C.\n",
               public_url, public_url);
  else
    fmt::print(stderr, "Use HF_ENDPOINT={}. Stop with Ctrl-C.{}\n", srv.url(),
               srv.all_interfaces() ? " Behind a proxy or another name, pass --public-url URL." : "");
}

int run(const ServeOptions& o, const Context& ctx) {
  const Config c = load_config(ctx, o.common, o.quiet);
  server::ServerOptions so;
  so.router.cache_dir = c.hub_cache.value;
  so.router.private_repos = o.private_repos;
  so.router.revalidate_after = std::chrono::milliseconds(o.revalidate_ms);
  so.router.public_url = o.public_url;
  so.router.redirect_all = o.redirect_all;
  so.router.xet = o.xet || o.xet_index;
  so.router.xet_index_all = o.xet_index;
  if (o.signing_key_file) {
    auto key = server::load_signing_key(*o.signing_key_file);
    if (!key) return report_error(key.error(), false);
    so.router.signing_key = std::move(*key);
  }
  so.router.blob_auth = o.blob_auth;
  if (o.token_file) {
    auto tokens = server::load_token_file(*o.token_file);
    if (!tokens) return report_error(tokens.error(), false);
    so.router.tokens = std::move(*tokens);
  } else if (!o.private_repos.empty() && !o.quiet) {
    print_warning("--private without --token-file: nobody can read those repos");
  }
  so.host = o.host;
  so.port = static_cast<std::uint16_t>(o.port);
  so.threads = o.threads;
  std::tie(so.max_connections, so.router.max_open_files) = share_fd_limit(o.max_connections);
  so.max_connections_per_client = o.max_connections_per_client.value_or(per_client_default(so.max_connections));
  const unsigned max_connections = so.max_connections, per_client = so.max_connections_per_client;
  so.idle_timeout = std::chrono::seconds(o.idle_timeout);
  so.request_timeout = std::chrono::seconds(o.request_timeout);
  so.tls_cert_file = o.tls_cert;
  so.tls_key_file = o.tls_key;
  if (!o.quiet) so.access_log = print_line;
  std::shared_ptr<proxy::Proxy> pull_through;
  if (!o.upstream.empty()) {
    int exit_code = k_exit_ok;
    pull_through = make_proxy(o, c, so, exit_code);
    if (!pull_through) return exit_code;
  }
  // Block the stop signals before any server thread exists, so only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  const auto index_began = std::chrono::steady_clock::now();
  if (o.xet_index && !o.quiet)
    fmt::print(stderr, "Chunking every LFS blob of the cache for Xet (--xet-index) before listening...\n");
  auto server = server::Server::start(std::move(so));
  if (!server) return report_error(server.error(), false);
  if (o.xet_index && !o.quiet)
    fmt::print(stderr, "Xet index ready in {:.1f} s.\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - index_began).count());
  const server::Server& srv = **server;
  fmt::print("{}\n", srv.url());
  std::fflush(stdout);
  if (!o.quiet) {
    print_banner(srv, c.hub_cache.value, o.public_url, pull_through != nullptr);
    if (o.xet || o.xet_index)
      fmt::print(stderr, "Xet: on (X-Xet-Hash on /resolve of LFS files, read tokens, CAS under /_xet/){}.\n",
                 o.xet_index ? "" : "; blobs are chunked on first need (--xet-index does it before listening)");
    if (pull_through)
      fmt::print(
          stderr, "Pull-through proxy of {}: {}.\n", o.upstream,
          o.offline ? "offline, never contacted; only what the cache holds is served" : "misses are fetched into the cache");
    fmt::print(stderr, "Connections: at most {}, {} per client address.\n", max_connections,
               per_client == 0 ? std::string("no limit") : std::to_string(per_client));
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*server)->stop();
  // Ctrl-C is how a foreground mirror is meant to end: a clean stop, exit 0.
  if (!o.quiet && pull_through) {
    const auto n = pull_through->counters();
    fmt::print(stderr, "Stopped ({}): {} requests, {} answered from the cache, {} fetched upstream, {} stale.\n",
               sig == SIGINT ? "Ctrl-C" : "SIGTERM", n.requests, n.hits, n.misses, n.stale);
  } else if (!o.quiet) {
    fmt::print(stderr, "Stopped ({}); the cache was not changed.\n", sig == SIGINT ? "Ctrl-C" : "SIGTERM");
  }
  return k_exit_ok;
}

}  // namespace

void add_serve_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand(
      "serve", "Serve a cache as a Hub mirror (use its URL as HF_ENDPOINT); with --upstream, a pull-through proxy");
  add_cache_dir_option(*cmd, o->common);
  cmd->add_option("--host", o->host, "Address to listen on; 0.0.0.0: all interfaces (default 127.0.0.1)");
  cmd->add_option("--port", o->port, "Port to listen on; 0 picks a free one (default 8080)")->check(CLI::Range(0, 65535));
  cmd->add_option("--token-file", o->token_file, "File with the bearer tokens that may read private repos, one per line");
  cmd->add_option("--private", o->private_repos,
                  "Repo that needs a token: ORG/NAME, or datasets/ORG/NAME, spaces/ORG/NAME (repeatable)");
  cmd->add_flag("--quiet", o->quiet, "No access log or banner on stderr");
  cmd->add_option("--threads", o->threads, "Event-loop threads (default: one per core)");
  cmd->add_option("--max-connections", o->max_connections,
                  "Open connections at most (default 4096; fewer when the open-file limit is lower)");
  cmd->add_option("--max-connections-per-client", o->max_connections_per_client,
                  "Open connections one client address may hold, so that no client starves the others; 0: no limit "
                  "(default: 256, or an eighth of the connections the server has when that is less, at least 1)");
  cmd->add_option("--public-url", o->public_url,
                  "URL clients reach the mirror at (e.g. behind a proxy); download redirects and page links use it, never the "
                  "request's Host");
  cmd->add_option("--idle-timeout", o->idle_timeout, "Seconds a silent connection is kept (default 30)");
  cmd->add_option("--request-timeout", o->request_timeout, "Seconds a client has to send a whole request (default 30)");
  cmd->add_option("--revalidate-ms", o->revalidate_ms,
                  "How long a checked ref or file is trusted before the disk is asked again; 0: every request (default 1000)");
  cmd->add_flag("--redirect-all", o->redirect_all,
                "Answer /resolve of every file, not only LFS ones, with a 302 to its immutable /_blobs/ URL (for a "
                "cache in front: nginx, a CDN)");
  cmd->add_flag("--xet", o->xet,
                "Also serve LFS files over the Xet protocol (X-Xet-Hash on /resolve, xet-read-token, a CAS under /_xet/ "
                "made of the cache's blobs; a blob is chunked on first need). With --upstream: only files the cache holds "
                "(a file streamed while it is fetched is answered plainly); the fills use Xet when the upstream offers it");
  cmd->add_flag("--xet-index", o->xet_index,
                "With --xet (implied): chunk every LFS blob before listening, so no client waits for it");
  const std::map<std::string, server::RouterOptions::BlobAuth> blob_auths{{"signed", server::RouterOptions::BlobAuth::Signed},
                                                                          {"none", server::RouterOptions::BlobAuth::None}};
  cmd->add_option("--blob-auth", o->blob_auth,
                  "How /_blobs/ URLs are authorized: signed (default; expiring signature in the query) or none (plain "
                  "content addresses; private repos' blobs still need a token)")
      ->transform(CLI::CheckedTransformer(blob_auths, CLI::ignore_case));
  cmd->add_option("--signing-key-file", o->signing_key_file,
                  "File with the secret (32+ bytes) that signs /_blobs/ URLs, shared by origins behind one address and kept "
                  "across restarts (default: random per process)");
  auto* tls_cert = cmd->add_option("--tls-cert", o->tls_cert,
                                   "Serve HTTPS with this PEM certificate (chain after it); clients that do not trust its CA set "
                                   "SSL_CERT_FILE=ca.pem")
                       ->check(CLI::ExistingFile);
  auto* tls_key = cmd->add_option("--tls-key", o->tls_key, "The PEM private key of --tls-cert")->check(CLI::ExistingFile);
  auto* upstream = cmd->add_option("--upstream", o->upstream,
                                   "Pull-through proxy: fetch what the cache lacks from this Hub (e.g. https://huggingface.co) "
                                   "into the cache, then serve it");
  cmd->add_option("--upstream-token-file", o->upstream_token_file,
                  "The proxy's own token for the upstream (first line of the file; default: the configured token)")
      ->needs(upstream);
  cmd->add_option("--revalidate", o->revalidate,
                  "Seconds a branch or tag's commit from the upstream is trusted before it is asked again (default 60)")
      ->needs(upstream);
  cmd->add_flag("--offline", o->offline, "With --upstream: never contact it, serve only the cache")->needs(upstream);
  cmd->add_flag("--forward-client-token", o->forward_client_token, "Send each client's own token upstream instead of the proxy's")
      ->needs(upstream);
  cmd->add_option("--max-size", o->max_size,
                  "With --upstream: keep the cache at most SIZE (e.g. 500GB), removing the least recently served revisions "
                  "as cache gc would (pins kept, never a file being fetched)")
      ->needs(upstream);
  cmd->add_flag("--share-gated", o->share_gated,
                "Serve repos the upstream marks gated or private to clients without a --token-file token")
      ->needs(upstream);
  tls_cert->needs(tls_key);  // HTTPS needs both: a usage error names the missing flag
  tls_key->needs(tls_cert);
  cmd->callback([&ctx, o] { ctx.exit_code = run(*o, ctx); });
}

}  // namespace hubcache::cli

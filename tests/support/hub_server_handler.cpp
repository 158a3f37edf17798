// Request routing of the test HubServer: fault injection, a moved endpoint, hostile answers, whoami,
// the CDN, and the repo and revision a request addresses (its routes: hub_server_repo_routes.cpp).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "hub_server.hpp"
#include "hub_server_internal.hpp"

namespace hubcache::test {
using namespace detail_server;

void HubServer::handle(int fd, HttpRequest& req, bool& keep_alive, bool cdn) {
  RequestRecord rec;
  rec.cdn = cdn;
  rec.method = req.method;
  rec.path = req.path;
  rec.query = req.query;
  rec.had_auth = !req.header("authorization").empty();
  rec.range = req.header("range");
  rec.if_range = req.header("if-range");
  std::size_t slot;
  std::uint64_t epoch;
  {
    std::lock_guard lock(m_mutex);
    slot = m_log.size();
    epoch = m_log_epoch;
    m_log.push_back(rec);  // logged on arrival, so the log is in request order
  }
  auto publish = [&] {
    std::lock_guard lock(m_mutex);
    if (epoch == m_log_epoch) m_log[slot] = rec;
  };
  Reply reply{fd, req, rec, keep_alive, publish};

  const RequestConfig config = config_for(req);
  if (config.real) wait_unless_stopped(config.real_options.latency);
  std::string routed = req.path;
  if (!serve_before_repo(reply, config, routed, cdn)) {
    if (auto target = address_repo(reply, config, routed)) serve_repo_route(reply, config, *target);
  }
  publish();
}

RequestConfig HubServer::config_for(const HttpRequest& req) {
  RequestConfig c;
  c.req = &req;
  std::lock_guard lock(m_mutex);
  for (auto& f : m_faults) {
    if (f.times == 0) continue;
    if (!f.method.empty() && f.method != req.method) continue;
    if (req.path.find(f.match) == std::string::npos) continue;
    if (f.times > 0) --f.times;
    c.fault = f;
    break;
  }
  c.token = m_token;
  c.tokens_without_access = m_tokens_without_access;
  c.hostile = m_hostile;
  c.moved = m_moved;
  c.hostile_commit = m_hostile_commit;
  c.hostile_etag = m_hostile_etag;
  c.page_size = m_page_size;
  c.throttle = m_throttle;
  c.xet = m_xet;
  c.real = m_real;
  c.real_options = m_real_options;
  if (c.real && c.real_options.rate_bytes_per_second) c.throttle = c.real_options.rate_bytes_per_second;
  return c;
}

bool HubServer::serve_before_repo(Reply& reply, const RequestConfig& config, std::string& routed, bool& cdn) {
  const HttpRequest& req = *config.req;
  const Hostile hostile = config.hostile;
  if (config.fault && config.fault->kind == FaultKind::Status) {
    Hdrs h;
    if (!config.fault->retry_after.empty()) h.emplace_back("Retry-After", config.fault->retry_after);
    if (!config.fault->ratelimit.empty()) h.emplace_back("RateLimit", config.fault->ratelimit);
    reply.error(config.fault->status, config.fault->error_code, "injected failure", h);
    return true;
  }

  // ---- a moved endpoint, hostile answers ----
  if (config.moved != Moved::None) {
    if (routed.rfind("/moved/", 0) == 0) {
      if (query_param(req.query, "key") != "k3y") {
        reply.error(403, "", "this moved URL needs the key its redirect gave");
        return true;
      }
      routed = routed.substr(6);
      cdn = false;  // the other host serves the Hub's routes under /moved/
    } else if (!cdn) {
      const std::string base = config.moved == Moved::OtherHost ? "http://127.0.0.1:" + std::to_string(m_cdn_port) : "";
      const std::string location = base + "/moved" + req.path + "?" + (req.query.empty() ? "" : req.query + "&") + "key=k3y";
      reply.simple(308, {{"Location", location}}, "Permanent Redirect. Redirecting to " + location, "text/plain; charset=utf-8");
      return true;
    }
  }
  if (hostile == Hostile::RedirectLoop && !cdn) {
    const bool second = query_param(req.query, "loop") == "1";
    reply.simple(307, {{"Location", second ? req.path : req.path + "?loop=1"}}, "", "text/plain");
    return true;
  }
  if (hostile == Hostile::HtmlApi && !cdn && routed.rfind("/api/", 0) == 0) {
    reply.simple(200, {},
                 "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in to continue</body></html>",
                 "text/html; charset=utf-8");
    return true;
  }
  if ((hostile == Hostile::HugeBody || hostile == Hostile::HugeBodyUndeclared) && !cdn && routed.rfind("/api/", 0) == 0) {
    serve_huge_json(reply, hostile == Hostile::HugeBody);
    return true;
  }

  // ---- whoami-v2: the account of the valid token (set_valid_token); anyone else 401 ----
  if (!cdn && routed == "/api/whoami-v2") {
    const std::string auth = req.header("authorization");
    if (config.token.empty() || auth != "Bearer " + config.token) {
      reply.error(401, "", "Invalid credentials in Authorization header");
    } else {
      reply.simple(200, {},
                   R"({"type":"user","name":"tester","orgs":[{"name":"org"}],)"
                   R"("auth":{"type":"access_token","accessToken":{"displayName":"test-token","role":"read"}}})",
                   "application/json");
    }
    return true;
  }

  // ---- Xet CAS (set_xet): on the CDN listener, another origin ----
  if (config.xet && cdn && routed.rfind("/cas/", 0) == 0) {
    serve_xet_cas(reply, config);
    return true;
  }

  // ---- CDN ----
  if (config.real && cdn) {
    serve_real_cdn(reply, config.fault, config.throttle);
    return true;
  }
  if (!config.real && routed.rfind("/cdn/", 0) == 0) {
    const std::string sha = routed.substr(5);
    std::optional<ServedFile> file;
    {
      std::lock_guard lock(m_mutex);
      if (auto it = m_by_sha.find(sha); it != m_by_sha.end()) file = it->second;
    }
    if (!file)
      reply.error(404, "", "no such object");
    else
      serve_body(reply, config.fault, config.throttle, *file, {});
    return true;
  }
  return false;
}

std::optional<RepoTarget> HubServer::address_repo(Reply& reply, const RequestConfig& config, std::string routed) {
  const HttpRequest& req = *config.req;
  RepoTarget target;
  target.unmoved_path = routed;
  // Real-Hub mode: /api/resolve-cache/<type>s/<id>/<commit>/<path> is the resolve of <path> at
  // <commit>, answered with the body (never redirected again).
  if (config.real && routed.rfind("/api/resolve-cache/", 0) == 0) {
    auto as_resolve = resolve_cache_as_resolve(routed);
    if (!as_resolve) {
      reply.error(404, "", "unknown resolve-cache route");
      return std::nullopt;
    }
    routed = *as_resolve;
    target.from_resolve_cache = true;
  }
  const bool api = routed.rfind("/api/", 0) == 0;
  std::string rest = routed.substr(api ? 5 : 1);
  if (api) {
    const auto slash = rest.find('/');
    auto t = parse_repo_type(rest.substr(0, slash));
    if (!t || slash == std::string::npos) {
      reply.error(404, "", "unknown api route");
      return std::nullopt;
    }
    target.type = *t;
    rest = rest.substr(slash + 1);
  } else {
    for (RepoType t : {RepoType::Dataset, RepoType::Space, RepoType::Kernel}) {
      const std::string p = url_prefix(t);
      if (rest.rfind(p, 0) == 0) {
        target.type = t;
        rest = rest.substr(p.size());
        break;
      }
    }
  }
  std::string after;
  target.id = rest;
  for (const char* marker : {"/resolve/", "/revision/", "/tree/", "/paths-info/", "/xet-read-token/"}) {
    if (!(config.xet && api) && std::strcmp(marker, "/xet-read-token/") == 0) continue;  // set_xet's route only
    const auto pos = rest.find(marker);
    if (pos != std::string::npos) {
      target.id = rest.substr(0, pos);
      target.action = std::string(marker).substr(1, std::strlen(marker) - 2);
      after = rest.substr(pos + std::strlen(marker));
      break;
    }
  }
  if (api && target.action.empty() && rest.size() > 5 && rest.compare(rest.size() - 5, 5, "/refs") == 0) {
    target.id = rest.substr(0, rest.size() - 5);
    target.action = "refs";
  }
  const std::string& id = target.id;
  if (!api && target.action != "resolve") {
    reply.error(404, "", "unknown route");
    return std::nullopt;
  }
  {
    std::string renamed;
    {
      std::lock_guard lock(m_mutex);
      if (auto it = m_renames.find(std::string(url_prefix(target.type)) + id); it != m_renames.end()) renamed = it->second;
    }
    if (!renamed.empty() && !api) {
      reply.simple(307, {{"Location", "/" + renamed + "/resolve/" + after}}, "");
      return std::nullopt;
    }
  }
  // Look up only what this request needs (copying a whole repo per request would make the
  // server, not the client, the bottleneck of benchmarks).
  bool found = false;
  std::map<std::string, std::string> refs;
  std::vector<std::string> commits;
  {
    std::lock_guard lock(m_mutex);
    if (auto it = m_repos.find(std::string(to_string(target.type)) + "/" + id); it != m_repos.end()) {
      found = true;
      target.is_private = it->second.is_private;
      target.gated = it->second.gated;
      refs = it->second.refs;
      for (const auto& [c, f] : it->second.commits) commits.push_back(c);
    }
  }
  const std::string auth = req.header("authorization");
  const std::string given = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : "";
  const auto& without_access = config.tokens_without_access;
  const bool known_without_access = std::find(without_access.begin(), without_access.end(), given) != without_access.end();
  if (!given.empty() && !config.token.empty() && given != config.token && !known_without_access) {
    reply.error(401, "", "Invalid credentials in Authorization header");
    return std::nullopt;
  }
  const bool has_access = !given.empty() && !known_without_access;
  if (!found || (target.is_private && !has_access)) {
    // Like the Hub: anonymous 401, an account without access 404; both RepoNotFound.
    reply.error(found && given.empty() ? 401 : 404, "RepoNotFound", "Repository not found");
    return std::nullopt;
  }
  // A gated repo's info and listings are public; its files need an account with access.
  if (target.gated && !has_access && target.action == "resolve") {
    if (given.empty())
      reply.error(401, "GatedRepo",
                  "Access to model " + id +
                      " is restricted. You must have access to it and be authenticated to access it. Please log in.");
    else
      reply.error(403, "GatedRepo",
                  "Access to model " + id + " is restricted and you are not in the authorized list. Visit " + endpoint() + "/" +
                      id + " to ask for access.");
    return std::nullopt;
  }

  // ---- refs: the Hub's GET /api/<type>s/<id>/refs ----
  if (target.action == "refs") {
    nlohmann::json branches = nlohmann::json::array(), converts = nlohmann::json::array(), prs = nlohmann::json::array();
    for (const auto& [name, commit] : refs) {
      if (name.rfind("refs/pr/", 0) == 0)
        prs.push_back({{"name", name.substr(8)}, {"ref", name}, {"targetCommit", commit}});
      else if (name.rfind("refs/convert/", 0) == 0)
        converts.push_back({{"name", name.substr(13)}, {"ref", name}, {"targetCommit", commit}});
      else
        branches.push_back({{"name", name}, {"ref", "refs/heads/" + name}, {"targetCommit", commit}});
    }
    reply.simple(
        200, {},
        nlohmann::json{{"branches", branches}, {"converts", converts}, {"tags", nlohmann::json::array()}, {"pullRequests", prs}}
            .dump());
    return std::nullopt;
  }

  // ---- revision ----
  std::string rev_enc = after;
  if (target.action != "revision") {
    const auto slash = after.find('/');
    rev_enc = after.substr(0, slash);
    target.tail = slash == std::string::npos ? "" : after.substr(slash + 1);
  }
  const std::string rev = url_decode(rev_enc.empty() ? "main" : rev_enc);
  target.rev = rev;
  if (auto it = refs.find(rev); it != refs.end())
    target.commit = it->second;
  else if (std::find(commits.begin(), commits.end(), rev) != commits.end())
    target.commit = rev;
  else if (rev.size() >= 7 && rev.size() <= 40 && std::all_of(rev.begin(), rev.end(), ::isxdigit)) {
    for (const auto& c : commits)
      if (c.compare(0, rev.size(), lower(rev)) == 0) target.commit = c;
  }
  if (target.commit.empty()) {
    reply.error(404, "RevisionNotFound", "Invalid rev id: " + rev);
    return std::nullopt;
  }
  target.commit_header = config.hostile_commit.empty() ? target.commit : config.hostile_commit;
  return target;
}

}  // namespace hubcache::test

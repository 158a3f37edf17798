// Request routing of the test HubServer: resolve (with LFS redirect), CDN, api (repo info,
// tree, paths-info), and fault injection.
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

namespace {

std::string json_entry_list(const std::vector<std::pair<std::string, const ServedFile*>>& files,
                            const std::set<std::string>& dirs, std::size_t from, std::size_t count, std::size_t& total,
                            const std::string& hostile_etag = {}, bool xet = false) {
  nlohmann::json arr = nlohmann::json::array();
  std::vector<std::pair<std::string, const ServedFile*>> all;
  for (const auto& d : dirs) all.emplace_back(d, nullptr);
  for (const auto& f : files) all.push_back(f);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  total = all.size();
  for (std::size_t i = from; i < all.size() && i < from + count; ++i) {
    const auto& [p, f] = all[i];
    if (!f) {
      arr.push_back({{"type", "directory"}, {"oid", std::string(40, 'd')}, {"size", 0}, {"path", p}});
      continue;
    }
    nlohmann::json e = {
        {"type", "file"}, {"oid", hostile_etag.empty() ? f->git_sha1 : hostile_etag}, {"size", f->size}, {"path", p}};
    if (f->lfs) e["lfs"] = {{"oid", hostile_etag.empty() ? f->sha256 : hostile_etag}, {"size", f->size}, {"pointerSize", 134}};
    if (f->lfs && xet) e["xetHash"] = std::string(64, 'c');  // the X-Xet-Hash of resolve answers
    arr.push_back(e);
  }
  return arr.dump();
}

}  // namespace

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
  auto finish = publish;

  // Snapshot the mutable configuration.
  std::optional<Fault> fault;
  std::string token, hostile_commit, hostile_etag;
  std::vector<std::string> tokens_without_access;
  Hostile hostile;
  Moved moved;
  std::size_t page_size;
  std::uint64_t throttle;
  bool xet, real;
  RealHubOptions real_options;
  {
    std::lock_guard lock(m_mutex);
    for (auto& f : m_faults) {
      if (f.times == 0) continue;
      if (!f.method.empty() && f.method != req.method) continue;
      if (req.path.find(f.match) == std::string::npos) continue;
      if (f.times > 0) --f.times;
      fault = f;
      break;
    }
    token = m_token;
    tokens_without_access = m_tokens_without_access;
    hostile = m_hostile;
    moved = m_moved;
    hostile_commit = m_hostile_commit;
    hostile_etag = m_hostile_etag;
    page_size = m_page_size;
    throttle = m_throttle;
    xet = m_xet;
    real = m_real;
    real_options = m_real_options;
  }
  if (real) {
    if (real_options.rate_bytes_per_second) throttle = real_options.rate_bytes_per_second;
    wait_unless_stopped(real_options.latency);
  }
  if (fault && fault->kind == FaultKind::Status) {
    Hdrs h;
    if (!fault->retry_after.empty()) h.emplace_back("Retry-After", fault->retry_after);
    if (!fault->ratelimit.empty()) h.emplace_back("RateLimit", fault->ratelimit);
    reply.error(fault->status, fault->error_code, "injected failure", h);
    return finish();
  }

  // ---- a moved endpoint, hostile answers ----
  std::string routed = req.path;
  if (moved != Moved::None) {
    if (routed.rfind("/moved/", 0) == 0) {
      if (query_param(req.query, "key") != "k3y") {
        reply.error(403, "", "this moved URL needs the key its redirect gave");
        return finish();
      }
      routed = routed.substr(6);
      cdn = false;  // the other host serves the Hub's routes under /moved/
    } else if (!cdn) {
      const std::string base = moved == Moved::OtherHost ? "http://127.0.0.1:" + std::to_string(m_cdn_port) : "";
      const std::string location = base + "/moved" + req.path + "?" + (req.query.empty() ? "" : req.query + "&") + "key=k3y";
      reply.simple(308, {{"Location", location}}, "Permanent Redirect. Redirecting to " + location, "text/plain; charset=utf-8");
      return finish();
    }
  }
  const std::string unmoved_path = routed;  // what the client asked for, before the move
  if (hostile == Hostile::RedirectLoop && !cdn) {
    const bool second = query_param(req.query, "loop") == "1";
    reply.simple(307, {{"Location", second ? req.path : req.path + "?loop=1"}}, "", "text/plain");
    return finish();
  }
  if (hostile == Hostile::HtmlApi && !cdn && routed.rfind("/api/", 0) == 0) {
    reply.simple(200, {},
                 "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in to continue</body></html>",
                 "text/html; charset=utf-8");
    return finish();
  }
  if ((hostile == Hostile::HugeBody || hostile == Hostile::HugeBodyUndeclared) && !cdn && routed.rfind("/api/", 0) == 0) {
    serve_huge_json(reply, hostile == Hostile::HugeBody);
    return finish();
  }

  // ---- whoami-v2: the account of the valid token (set_valid_token); anyone else 401 ----
  if (!cdn && routed == "/api/whoami-v2") {
    const std::string auth = req.header("authorization");
    if (token.empty() || auth != "Bearer " + token) {
      reply.error(401, "", "Invalid credentials in Authorization header");
    } else {
      reply.simple(200, {},
                   R"({"type":"user","name":"tester","orgs":[{"name":"org"}],)"
                   R"("auth":{"type":"access_token","accessToken":{"displayName":"test-token","role":"read"}}})",
                   "application/json");
    }
    return finish();
  }

  // ---- CDN ----
  if (real && cdn) {
    serve_real_cdn(reply, fault, throttle);
    return finish();
  }
  if (!real && routed.rfind("/cdn/", 0) == 0) {
    const std::string sha = routed.substr(5);
    std::optional<ServedFile> file;
    {
      std::lock_guard lock(m_mutex);
      if (auto it = m_by_sha.find(sha); it != m_by_sha.end()) file = it->second;
    }
    if (!file)
      reply.error(404, "", "no such object");
    else
      serve_body(reply, fault, throttle, *file, {});
    return finish();
  }

  // ---- repo addressing ----
  // Real-Hub mode: /api/resolve-cache/<type>s/<id>/<commit>/<path> is the resolve of <path> at
  // <commit>, answered with the body (never redirected again).
  bool from_resolve_cache = false;
  if (real && routed.rfind("/api/resolve-cache/", 0) == 0) {
    auto as_resolve = resolve_cache_as_resolve(routed);
    if (!as_resolve) {
      reply.error(404, "", "unknown resolve-cache route");
      return finish();
    }
    routed = *as_resolve;
    from_resolve_cache = true;
  }
  const bool api = routed.rfind("/api/", 0) == 0;
  std::string rest = routed.substr(api ? 5 : 1);
  RepoType type = RepoType::Model;
  if (api) {
    const auto slash = rest.find('/');
    auto t = parse_repo_type(rest.substr(0, slash));
    if (!t || slash == std::string::npos) {
      reply.error(404, "", "unknown api route");
      return finish();
    }
    type = *t;
    rest = rest.substr(slash + 1);
  } else {
    for (RepoType t : {RepoType::Dataset, RepoType::Space, RepoType::Kernel}) {
      const std::string p = url_prefix(t);
      if (rest.rfind(p, 0) == 0) {
        type = t;
        rest = rest.substr(p.size());
        break;
      }
    }
  }
  std::string id = rest, action, after;
  for (const char* marker : {"/resolve/", "/revision/", "/tree/", "/paths-info/"}) {
    const auto pos = rest.find(marker);
    if (pos != std::string::npos) {
      id = rest.substr(0, pos);
      action = std::string(marker).substr(1, std::strlen(marker) - 2);
      after = rest.substr(pos + std::strlen(marker));
      break;
    }
  }
  if (api && action.empty() && rest.size() > 5 && rest.compare(rest.size() - 5, 5, "/refs") == 0) {
    id = rest.substr(0, rest.size() - 5);
    action = "refs";
  }
  if (!api && action != "resolve") {
    reply.error(404, "", "unknown route");
    return finish();
  }
  {
    std::string renamed;
    {
      std::lock_guard lock(m_mutex);
      if (auto it = m_renames.find(std::string(url_prefix(type)) + id); it != m_renames.end()) renamed = it->second;
    }
    if (!renamed.empty() && !api) {
      reply.simple(307, {{"Location", "/" + renamed + "/resolve/" + after}}, "");
      return finish();
    }
  }
  // Look up only what this request needs (copying a whole repo per request would make the
  // server, not the client, the bottleneck of benchmarks).
  bool found = false, is_private = false, gated = false;
  std::map<std::string, std::string> refs;
  std::vector<std::string> commits;
  {
    std::lock_guard lock(m_mutex);
    if (auto it = m_repos.find(std::string(to_string(type)) + "/" + id); it != m_repos.end()) {
      found = true;
      is_private = it->second.is_private;
      gated = it->second.gated;
      refs = it->second.refs;
      for (const auto& [c, f] : it->second.commits) commits.push_back(c);
    }
  }
  const std::string auth = req.header("authorization");
  const std::string given = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : "";
  const bool known_without_access =
      std::find(tokens_without_access.begin(), tokens_without_access.end(), given) != tokens_without_access.end();
  if (!given.empty() && !token.empty() && given != token && !known_without_access) {
    reply.error(401, "", "Invalid credentials in Authorization header");
    return finish();
  }
  const bool has_access = !given.empty() && !known_without_access;
  if (!found || (is_private && !has_access)) {
    // Like the Hub: anonymous 401, an account without access 404; both RepoNotFound.
    reply.error(found && given.empty() ? 401 : 404, "RepoNotFound", "Repository not found");
    return finish();
  }
  // A gated repo's info and listings are public; its files need an account with access.
  if (gated && !has_access && action == "resolve") {
    if (given.empty())
      reply.error(401, "GatedRepo",
                  "Access to model " + id +
                      " is restricted. You must have access to it and be authenticated to access it. Please log in.");
    else
      reply.error(403, "GatedRepo",
                  "Access to model " + id + " is restricted and you are not in the authorized list. Visit " + endpoint() + "/" +
                      id + " to ask for access.");
    return finish();
  }

  // ---- refs: the Hub's GET /api/<type>s/<id>/refs ----
  if (action == "refs") {
    nlohmann::json branches = nlohmann::json::array(), converts = nlohmann::json::array(), prs = nlohmann::json::array();
    for (const auto& [name, target] : refs) {
      if (name.rfind("refs/pr/", 0) == 0)
        prs.push_back({{"name", name.substr(8)}, {"ref", name}, {"targetCommit", target}});
      else if (name.rfind("refs/convert/", 0) == 0)
        converts.push_back({{"name", name.substr(13)}, {"ref", name}, {"targetCommit", target}});
      else
        branches.push_back({{"name", name}, {"ref", "refs/heads/" + name}, {"targetCommit", target}});
    }
    reply.simple(
        200, {},
        nlohmann::json{{"branches", branches}, {"converts", converts}, {"tags", nlohmann::json::array()}, {"pullRequests", prs}}
            .dump());
    return finish();
  }

  // ---- revision ----
  std::string rev_enc = after, tail;
  if (action != "revision") {
    const auto slash = after.find('/');
    rev_enc = after.substr(0, slash);
    tail = slash == std::string::npos ? "" : after.substr(slash + 1);
  }
  const std::string rev = url_decode(rev_enc.empty() ? "main" : rev_enc);
  std::string commit;
  if (auto it = refs.find(rev); it != refs.end())
    commit = it->second;
  else if (std::find(commits.begin(), commits.end(), rev) != commits.end())
    commit = rev;
  else if (rev.size() >= 7 && rev.size() <= 40 && std::all_of(rev.begin(), rev.end(), ::isxdigit)) {
    for (const auto& c : commits)
      if (c.compare(0, rev.size(), lower(rev)) == 0) commit = c;
  }
  if (commit.empty()) {
    reply.error(404, "RevisionNotFound", "Invalid rev id: " + rev);
    return finish();
  }
  const std::string commit_header = hostile_commit.empty() ? commit : hostile_commit;
  auto lookup_file = [&](const std::string& path) -> std::optional<ServedFile> {
    std::lock_guard lock(m_mutex);
    const auto& files = m_repos.at(std::string(to_string(type)) + "/" + id).commits.at(commit);
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
  auto all_files = [&] {
    std::lock_guard lock(m_mutex);
    return m_repos.at(std::string(to_string(type)) + "/" + id).commits.at(commit);
  };

  if (action == "resolve") {
    const std::string path = url_decode(tail);
    const auto found_file = lookup_file(path);
    if (!found_file) {
      reply.error(404, "EntryNotFound", "Entry not found", {{"X-Repo-Commit", commit_header}});
      return finish();
    }
    const ServedFile& f = *found_file;
    if (real && !f.lfs && !from_resolve_cache) {
      // Like huggingface.co: a relative 307 to the commit-pinned resolve-cache URL; the ETag
      // comes with the answer there, not on the redirect.
      const std::string location = resolve_cache_location(type, id, rev, commit, path, f.git_sha1);
      reply.simple(
          307, {{"Location", location}, {"X-Repo-Commit", commit_header}, {"Accept-Ranges", "bytes"}, {"Vary", "Origin, Accept"}},
          "Temporary Redirect. Redirecting to " + location, "text/plain; charset=utf-8");
      return finish();
    }
    if (f.lfs) {
      const std::string etag = hostile_etag.empty() ? f.sha256 : hostile_etag;
      const std::string location =
          real ? signed_cdn_url(f.sha256)
               : "http://127.0.0.1:" + std::to_string(m_cdn_port) + "/cdn/" + f.sha256 + "?X-Amz-Signature=s3cr3t";
      Hdrs h{{"Location", location},
             {"X-Repo-Commit", commit_header},
             {"X-Linked-Etag", "\"" + etag + "\""},
             {"X-Linked-Size", std::to_string(f.size)},
             {"ETag", "\"" + f.git_sha1 + "\""}};
      if (xet) {
        h.emplace_back("X-Xet-Hash", std::string(64, 'c'));
        h.emplace_back("Link", "<" + endpoint() + "/api/models/" + id + "/xet-read-token/" + commit +
                                   ">; rel=\"xet-auth\", <http://cas.invalid/v1/reconstructions/" + std::string(64, 'c') +
                                   ">; rel=\"xet-reconstruction-info\"");
      }
      // The real Hub's redirect has a body: its Content-Length is not the file's size.
      reply.simple(302, h, real ? "Found. Redirecting to " + location : "",
                   real ? "text/plain; charset=utf-8" : "application/json");
      return finish();
    }
    Hdrs h{{"X-Repo-Commit", commit_header}};
    if (real) h.emplace_back("Content-Type", "application/octet-stream");
    if (!hostile_etag.empty()) {
      reply.simple(200, {{"X-Repo-Commit", commit_header}, {"ETag", "\"" + hostile_etag + "\""}}, f.content,
                   "application/octet-stream");
      return finish();
    }
    serve_body(reply, fault, throttle, f, h);
    return finish();
  }
  const auto files = all_files();
  if (action.empty() || action == "revision") {
    nlohmann::json sib = nlohmann::json::array();
    for (const auto& [p, f] : files) sib.push_back({{"rfilename", p}});
    reply.simple(200, {},
                 nlohmann::json{{"id", id},
                                {"sha", commit_header},
                                {"private", is_private},
                                {"gated", gated ? nlohmann::json("manual") : nlohmann::json(false)},
                                {"siblings", sib}}
                     .dump());
    return finish();
  }
  std::vector<std::pair<std::string, const ServedFile*>> selected;
  std::set<std::string> dirs;
  if (action == "tree") {
    const std::string base = url_decode(tail);
    const bool recursive = query_param(req.query, "recursive") == "true";
    const std::string prefix = base.empty() ? "" : base + "/";
    for (const auto& [p, f] : files) {
      if (p.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string sub = p.substr(prefix.size());
      const auto slash = sub.find('/');
      if (slash == std::string::npos)
        selected.emplace_back(p, &f);
      else if (!recursive)
        dirs.insert(prefix + sub.substr(0, slash));
      else {
        selected.emplace_back(p, &f);
        for (auto s = sub.find('/'); s != std::string::npos; s = sub.find('/', s + 1)) dirs.insert(prefix + sub.substr(0, s));
      }
    }
    if (!base.empty() && selected.empty() && dirs.empty()) {
      reply.error(404, "EntryNotFound", "Folder not found");
      return finish();
    }
    const std::string cursor_param = query_param(req.query, "cursor");
    const std::size_t cursor =
        cursor_param.empty() || !std::isdigit(static_cast<unsigned char>(cursor_param[0])) ? 0 : std::stoul(cursor_param);
    // Endless pagination serves real entries on every page (a client that keeps them grows).
    const std::size_t from =
        hostile == Hostile::EndlessNextPages ? cursor % std::max<std::size_t>(1, selected.size() + dirs.size()) : cursor;
    std::size_t total = 0;
    const std::string body = json_entry_list(selected, dirs, from, page_size, total, hostile_etag, xet);
    Hdrs h;
    if (from + page_size < total) {
      const std::string q =
          "recursive=" + query_param(req.query, "recursive") + "&expand=false&cursor=" + std::to_string(from + page_size);
      h.emplace_back("Link", "<" + endpoint() + unmoved_path + "?" + q + ">; rel=\"next\"");
    }
    if (auto next = hostile_next_link(hostile, unmoved_path, req.query, cursor + page_size)) {
      h.clear();
      h.emplace_back("Link", "<" + *next + ">; rel=\"next\"");
    }
    reply.simple(200, h, body);
    return finish();
  }
  if (action == "paths-info") {
    std::vector<std::string> wanted;
    const auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("paths")) {
      for (const auto& p : j["paths"]) wanted.push_back(p.get<std::string>());
    } else {
      for (const auto& kv : split(req.body, '&'))
        if (kv.rfind("paths=", 0) == 0) wanted.push_back(url_decode(kv.substr(6)));
    }
    for (const auto& w : wanted)
      if (auto it = files.find(w); it != files.end()) selected.emplace_back(w, &it->second);
    std::size_t total = 0;
    reply.simple(200, {}, json_entry_list(selected, dirs, 0, selected.size() + 1, total, {}, xet));
    return finish();
  }
  reply.error(404, "", "unknown route");
  finish();
}

}  // namespace hubcache::test

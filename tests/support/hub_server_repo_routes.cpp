// The test HubServer's routes of a repo at a commit: resolve (a body, a 307 to resolve-cache, or an
// LFS 302 to the CDN), repo info, tree (paginated, recursive or not) and paths-info.
#include <algorithm>
#include <cctype>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hub_server.hpp"
#include "hub_server_internal.hpp"

namespace hubcache::test {
using namespace detail_server;

namespace {

std::string json_entry_list(const std::vector<std::pair<std::string, const ServedFile*>>& files,
                            const std::set<std::string>& dirs, std::size_t from, std::size_t count, std::size_t& total,
                            const std::string& hostile_etag = {},
                            const std::function<std::string(const std::string&)>& xet_hash = {}) {
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
    if (f->lfs && xet_hash) e["xetHash"] = xet_hash(f->sha256);  // the X-Xet-Hash of resolve answers
    arr.push_back(e);
  }
  return arr.dump();
}

}  // namespace

void HubServer::serve_repo_route(Reply& reply, const RequestConfig& config, const RepoTarget& target) {
  if (target.action == "resolve") return serve_resolve(reply, config, target);
  if (target.action == "xet-read-token") return serve_xet_token(reply, config);
  ServedRepo::Files files;
  {
    std::lock_guard lock(m_mutex);
    files = m_repos.at(std::string(to_string(target.type)) + "/" + target.id).commits.at(target.commit);
  }
  if (target.action.empty() || target.action == "revision") {
    nlohmann::json sib = nlohmann::json::array();
    for (const auto& [p, f] : files) sib.push_back({{"rfilename", p}});
    reply.simple(200, {},
                 nlohmann::json{{"id", target.id},
                                {"sha", target.commit_header},
                                {"private", target.is_private},
                                {"gated", target.gated ? nlohmann::json("manual") : nlohmann::json(false)},
                                {"siblings", sib}}
                     .dump());
  } else if (target.action == "tree") {
    serve_tree(reply, config, target, files);
  } else if (target.action == "paths-info") {
    serve_paths_info(reply, config, files);
  } else {
    reply.error(404, "", "unknown route");
  }
}

void HubServer::serve_resolve(Reply& reply, const RequestConfig& config, const RepoTarget& target) {
  const std::string path = url_decode(target.tail);
  std::optional<ServedFile> found;
  {
    std::lock_guard lock(m_mutex);
    const auto& files = m_repos.at(std::string(to_string(target.type)) + "/" + target.id).commits.at(target.commit);
    if (auto it = files.find(path); it != files.end()) found = it->second;
  }
  const std::string& commit_header = target.commit_header;
  if (!found) {
    reply.error(404, "EntryNotFound", "Entry not found", {{"X-Repo-Commit", commit_header}});
    return;
  }
  const ServedFile& f = *found;
  if (config.real && !f.lfs && !target.from_resolve_cache) {
    // Like huggingface.co: a relative 307 to the commit-pinned resolve-cache URL; the ETag
    // comes with the answer there, not on the redirect.
    const std::string location = resolve_cache_location(target.type, target.id, target.rev, target.commit, path, f.git_sha1);
    reply.simple(
        307, {{"Location", location}, {"X-Repo-Commit", commit_header}, {"Accept-Ranges", "bytes"}, {"Vary", "Origin, Accept"}},
        "Temporary Redirect. Redirecting to " + location, "text/plain; charset=utf-8");
    return;
  }
  if (f.lfs) {
    const std::string etag = config.hostile_etag.empty() ? f.sha256 : config.hostile_etag;
    const std::string location =
        config.real ? signed_cdn_url(f.sha256)
                    : "http://127.0.0.1:" + std::to_string(m_cdn_port) + "/cdn/" + f.sha256 + "?X-Amz-Signature=s3cr3t";
    Hdrs h{{"Location", location},
           {"X-Repo-Commit", commit_header},
           {"X-Linked-Etag", "\"" + etag + "\""},
           {"X-Linked-Size", std::to_string(f.size)},
           {"ETag", "\"" + f.git_sha1 + "\""}};
    if (config.xet) {
      const std::string id = xet_hash(f.sha256);
      h.emplace_back("X-Xet-Hash", id);
      h.emplace_back("Link", "<" + endpoint() + "/api/" + plural(target.type) + "/" + target.id + "/xet-read-token/" +
                                 target.commit + ">; rel=\"xet-auth\", <" + xet_cas_url() + "/v1/reconstructions/" + id +
                                 ">; rel=\"xet-reconstruction-info\"");
    }
    // The real Hub's redirect has a body: its Content-Length is not the file's size.
    reply.simple(302, h, config.real ? "Found. Redirecting to " + location : "",
                 config.real ? "text/plain; charset=utf-8" : "application/json");
    return;
  }
  Hdrs h{{"X-Repo-Commit", commit_header}};
  if (config.real) h.emplace_back("Content-Type", "application/octet-stream");
  if (!config.hostile_etag.empty()) {
    reply.simple(200, {{"X-Repo-Commit", commit_header}, {"ETag", "\"" + config.hostile_etag + "\""}}, f.content,
                 "application/octet-stream");
    return;
  }
  serve_body(reply, config.fault, config.throttle, f, h);
}

void HubServer::serve_tree(Reply& reply, const RequestConfig& config, const RepoTarget& target, const ServedRepo::Files& files) {
  const HttpRequest& req = *config.req;
  std::vector<std::pair<std::string, const ServedFile*>> selected;
  std::set<std::string> dirs;
  const std::string base = url_decode(target.tail);
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
    return;
  }
  const std::size_t page_size = config.page_size;
  const std::string cursor_param = query_param(req.query, "cursor");
  const std::size_t cursor =
      cursor_param.empty() || !std::isdigit(static_cast<unsigned char>(cursor_param[0])) ? 0 : std::stoul(cursor_param);
  // Endless pagination serves real entries on every page (a client that keeps them grows).
  const std::size_t from =
      config.hostile == Hostile::EndlessNextPages ? cursor % std::max<std::size_t>(1, selected.size() + dirs.size()) : cursor;
  std::size_t total = 0;
  std::function<std::string(const std::string&)> xet;
  if (config.xet) xet = [this](const std::string& sha) { return xet_hash(sha); };
  const std::string body = json_entry_list(selected, dirs, from, page_size, total, config.hostile_etag, xet);
  Hdrs h;
  if (from + page_size < total) {
    const std::string q =
        "recursive=" + query_param(req.query, "recursive") + "&expand=false&cursor=" + std::to_string(from + page_size);
    h.emplace_back("Link", "<" + endpoint() + target.unmoved_path + "?" + q + ">; rel=\"next\"");
  }
  if (auto next = hostile_next_link(config.hostile, target.unmoved_path, req.query, cursor + page_size)) {
    h.clear();
    h.emplace_back("Link", "<" + *next + ">; rel=\"next\"");
  }
  reply.simple(200, h, body);
}

void HubServer::serve_paths_info(Reply& reply, const RequestConfig& config, const ServedRepo::Files& files) {
  const HttpRequest& req = *config.req;
  std::vector<std::string> wanted;
  const auto j = nlohmann::json::parse(req.body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("paths")) {
    for (const auto& p : j["paths"]) wanted.push_back(p.get<std::string>());
  } else {
    for (const auto& kv : split(req.body, '&'))
      if (kv.rfind("paths=", 0) == 0) wanted.push_back(url_decode(kv.substr(6)));
  }
  std::vector<std::pair<std::string, const ServedFile*>> selected;
  for (const auto& w : wanted)
    if (auto it = files.find(w); it != files.end()) selected.emplace_back(w, &it->second);
  std::size_t total = 0;
  std::function<std::string(const std::string&)> xet;
  if (config.xet) xet = [this](const std::string& sha) { return xet_hash(sha); };
  reply.simple(200, {}, json_entry_list(selected, {}, 0, selected.size() + 1, total, {}, xet));
}

}  // namespace hubcache::test

// Reading the Hub's URL space: the route, repo, revision and path a request names.
#include "hubcache/server/route.hpp"

#include "hubcache/util/text.hpp"
#include "router_impl.hpp"

namespace hubcache::server {
namespace {

bool is_api_keyword(std::string_view s) {
  return s == "revision" || s == "tree" || s == "paths-info" || s == "refs" || s == "xet-read-token";
}
bool is_file_keyword(std::string_view s) { return s == "resolve" || s == "raw"; }
bool no_keyword(std::string_view) { return false; }

struct Split {
  RepoRef repo;
  std::size_t consumed = 0;  // segments used by the repo id
};

// Chooses between "ns/name" and "name" for the id at the start of `segs`: the candidate must be
// followed by the end or a keyword; if both fit, the one present in the cache wins.
std::optional<Split> split_repo(const std::function<bool(const RepoRef&)>& in_cache, RepoType type,
                                const std::vector<std::string>& segs, bool (*keyword)(std::string_view), bool end_allowed) {
  std::vector<Split> candidates;
  for (std::size_t n : {std::size_t{2}, std::size_t{1}}) {
    if (segs.size() < n) continue;
    const bool follows_ok = segs.size() == n ? end_allowed : keyword(segs[n]);
    if (!follows_ok) continue;
    std::string id = n == 2 ? segs[0] + "/" + segs[1] : segs[0];
    if (!validate_repo_id(id)) continue;
    candidates.push_back(Split{RepoRef{type, std::move(id)}, n});
  }
  if (candidates.empty()) return std::nullopt;
  if (candidates.size() > 1 && in_cache)
    for (auto& c : candidates)
      if (in_cache(c.repo)) return c;
  return candidates.front();
}

// "refs" "pr" "1" sent unencoded is taken as the revision "refs/pr/1".
std::string take_revision(const std::vector<std::string>& segs, std::size_t& i) {
  std::string rev = segs[i++];
  if (rev == "refs" && i + 1 < segs.size() && (segs[i] == "pr" || segs[i] == "convert")) {
    rev += "/" + segs[i] + "/" + segs[i + 1];
    i += 2;
  }
  return rev;
}

std::string join_from(const std::vector<std::string>& segs, std::size_t i) {
  std::string out;
  for (std::size_t k = i; k < segs.size(); ++k) {
    if (k > i) out += "/";
    out += segs[k];
  }
  return out;
}

ParsedRoute refused(Response r) { return ParsedRoute{std::nullopt, std::move(r), std::nullopt}; }

ParsedRoute method_not_allowed(const char* allow) {
  Response r = error_response(405, "", "Method not allowed here; use " + std::string(allow));
  r.set_header("Allow", allow);
  return refused(std::move(r));
}

ParsedRoute not_found_route() { return refused(error_response(404, "", "Not Found: no such route on this Hub mirror")); }

ParsedRoute found(Route r) { return ParsedRoute{std::move(r), {}, std::nullopt}; }

}  // namespace

ParsedRoute parse_route(const Request& req, const std::function<bool(const RepoRef&)>& in_cache) {
  if (auto why = malformed_request(req)) {
    // RFC 9112: a request a proxy could read differently is refused, and the connection closed.
    Response r = error_response(400, "", "Bad request: " + *why);
    r.set_header("Connection", "close");
    return refused(std::move(r));
  }
  if (req.path.empty() || req.path.front() != '/')
    return refused(error_response(400, "", "Bad request: the path must start with '/'"));
  // Decode segment by segment, so "%2F" inside a revision stays inside it.
  std::vector<std::string> segs;
  std::size_t i = 1;
  while (i <= req.path.size()) {
    std::size_t j = req.path.find('/', i);
    if (j == std::string::npos) j = req.path.size();
    auto seg = percent_decode(std::string_view(req.path).substr(i, j - i));
    if (!seg) return refused(error_response(400, "", "Bad request: malformed percent-encoding in the URL path"));
    // Never cut or pass on a NUL or another control byte ("config.json%00x" is not "config.json").
    for (const char ch : *seg)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
        return refused(
            error_response(400, "", "Bad request: the URL path decodes to a control byte (such as %00); no file name holds one"));
    segs.push_back(std::move(*seg));
    i = j + 1;
  }
  if (!segs.empty() && segs.back().empty() && segs.size() > 1) segs.pop_back();  // trailing '/'
  const bool read_method = req.method == "GET" || req.method == "HEAD";

  Route route;
  if (segs.size() >= 2 && segs[0] == "_auth" && segs[1] == "_blobs") {
    if (!read_method) return method_not_allowed("GET, HEAD");
    route.kind = Route::Kind::BlobAuth;
    route.segments.assign(segs.begin() + 1, segs.end());
    return found(std::move(route));
  }
  if (segs.size() >= 1 && segs[0] == "_blobs") {
    if (!read_method) return method_not_allowed("GET, HEAD");
    route.kind = Route::Kind::Blob;
    route.segments = std::move(segs);
    return found(std::move(route));
  }
  if (segs.size() >= 1 && segs[0] == "_xet") {
    // The mirror's Xet CAS (serve --xet): /_xet/v{1,2}/reconstructions/{file id} and
    // /_xet/xorbs/default/{xorb}/{first}-{end}; the segments are checked by their handlers.
    if (!read_method) return method_not_allowed("GET, HEAD");
    if (segs.size() == 4 && (segs[1] == "v1" || segs[1] == "v2") && segs[2] == "reconstructions") {
      route.kind = Route::Kind::XetReconstruction;
      route.segments = {segs[1], segs[3]};
      return found(std::move(route));
    }
    if (segs.size() == 5 && segs[1] == "xorbs" && segs[2] == "default") {
      route.kind = Route::Kind::XetXorb;
      route.segments = {segs[3], segs[4]};
      return found(std::move(route));
    }
    return not_found_route();
  }
  if (segs.size() == 2 && segs[0] == "api" && segs[1] == "whoami-v2") {
    if (!read_method) return method_not_allowed("GET, HEAD");
    route.kind = Route::Kind::WhoAmI;
    return found(std::move(route));
  }
  if (segs.size() == 1 && segs[0].empty()) {  // "/"
    if (!read_method) return method_not_allowed("GET, HEAD");
    route.kind = Route::Kind::Index;
    return found(std::move(route));
  }
  if (segs.size() >= 3 && segs[0] == "api") {
    std::optional<RepoType> type;
    for (RepoType t : {RepoType::Model, RepoType::Dataset, RepoType::Space, RepoType::Kernel})
      if (segs[1] == plural(t)) type = t;
    if (!type) return not_found_route();
    const std::vector<std::string> rest(segs.begin() + 2, segs.end());
    auto split = split_repo(in_cache, *type, rest, &is_api_keyword, true);
    if (!split) return refused(error_response(404, "RepoNotFound", "Repository not found: invalid repo id in the URL"));
    route.repo = split->repo;
    const auto named = [&](ParsedRoute p) {
      p.repo = route.repo;
      return p;
    };
    std::size_t k = split->consumed;
    if (k == rest.size()) {
      if (!read_method) return named(method_not_allowed("GET, HEAD"));
      route.kind = Route::Kind::RepoInfo;
      // Dragonfly's hf:// backend names the revision as a query argument (research scale.md 4b).
      route.revision = req.query_value("revision").value_or("main");
      if (route.revision.empty()) route.revision = "main";
      return found(std::move(route));
    }
    const std::string& kw = rest[k++];
    if (kw == "refs" && k == rest.size()) {
      if (!read_method) return named(method_not_allowed("GET, HEAD"));
      route.kind = Route::Kind::Refs;
      return found(std::move(route));
    }
    if (k >= rest.size()) return named(not_found_route());
    if (kw == "revision") {
      if (!read_method) return named(method_not_allowed("GET, HEAD"));
      route.kind = Route::Kind::RepoInfo;
      route.revision = join_from(rest, k);
      return found(std::move(route));
    }
    route.revision = take_revision(rest, k);
    if (kw == "tree") {
      if (!read_method) return named(method_not_allowed("GET, HEAD"));
      route.kind = Route::Kind::Tree;
      route.path = join_from(rest, k);
      return found(std::move(route));
    }
    if (kw == "xet-read-token" && k == rest.size()) {
      if (!read_method) return named(method_not_allowed("GET, HEAD"));
      route.kind = Route::Kind::XetToken;
      return found(std::move(route));
    }
    if (kw == "paths-info" && k == rest.size()) {
      if (req.method != "POST") return named(method_not_allowed("POST"));
      route.kind = Route::Kind::PathsInfo;
      return found(std::move(route));
    }
    return named(not_found_route());
  }

  // /{datasets/|spaces/|kernels/}{repo_id}/{resolve|raw}/{revision}/{path}
  RepoType type = RepoType::Model;
  std::size_t start = 0;
  if (!segs.empty())
    for (RepoType t : {RepoType::Dataset, RepoType::Space, RepoType::Kernel})
      if (segs[0] == plural(t)) {
        type = t;
        start = 1;
      }
  const std::vector<std::string> rest(segs.begin() + static_cast<std::ptrdiff_t>(start), segs.end());
  // A repo's page at the Hub's own URL: /{id} or /{type}s/{id}, nothing after the id.
  if (!rest.empty() && rest.size() <= 2 && !(start == 0 && (rest[0] == "api" || rest[0] == "_blobs")))
    if (auto page = split_repo(in_cache, type, rest, &no_keyword, true); page && page->consumed == rest.size()) {
      if (!read_method) return method_not_allowed("GET, HEAD");
      route.kind = Route::Kind::RepoPage;
      route.repo = page->repo;
      route.revision = req.query_value("revision").value_or("");
      return found(std::move(route));
    }
  auto split = split_repo(in_cache, type, rest, &is_file_keyword, false);
  if (!split || rest.size() < split->consumed + 3) return not_found_route();
  if (!read_method) return method_not_allowed("GET, HEAD");
  route.kind = Route::Kind::Resolve;
  route.repo = split->repo;
  std::size_t k = split->consumed;
  route.raw = rest[k++] == "raw";
  route.revision = take_revision(rest, k);
  if (k >= rest.size()) {
    auto p = not_found_route();
    p.repo = route.repo;
    return p;
  }
  route.path = join_from(rest, k);
  return found(std::move(route));
}

}  // namespace hubcache::server

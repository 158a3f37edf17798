#pragma once
// The Hub's URL space as the mirror reads it (docs/hub-protocol.md, spec sections 7-8): which
// route a request names, for which repo, revision and file. Shared by the Router and by the
// pull-through proxy (proxy module), which must read a request exactly as the Router will.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/server/http.hpp"

namespace hubcache::server {

struct Route {
  enum class Kind {
    Blob,               // /_blobs/... (the mirror's own blob URLs): `segments` holds the decoded path
    BlobAuth,           // GET|HEAD /_auth/_blobs/...?QUERY: may this request read /_blobs/...?QUERY (an edge
                        // cache's auth_request subrequest); `segments` as for Blob, without "_auth"
    WhoAmI,             // GET /api/whoami-v2
    RepoInfo,           // GET /api/{type}s/{id}[/revision/{rev}] or /api/{type}s/{id}?revision={rev} (Dragonfly's
                        // hf:// form); revision "main" when none is named
    Refs,               // GET /api/{type}s/{id}/refs
    Tree,               // GET /api/{type}s/{id}/tree/{rev}[/{path}]
    PathsInfo,          // POST /api/{type}s/{id}/paths-info/{rev}
    Resolve,            // GET|HEAD /[{type}s/]{id}/{resolve|raw}/{rev}/{path}
    XetToken,           // GET /api/{type}s/{id}/xet-read-token/{rev} (serve --xet)
    XetReconstruction,  // GET /_xet/v{1,2}/reconstructions/{file id}: `segments` = {"v1"|"v2", file id}
    XetXorb,            // GET /_xet/xorbs/default/{xorb}/{first}-{end}?expires&sig: `segments` = {xorb, "first-end"}
    Index,              // GET|HEAD /: the mirror's HTML page for people (repos, how to use it)
    RepoPage,           // GET|HEAD /[{type}s/]{id}[?revision={rev}]: a repo's HTML page (the Hub's own URL form);
                        // revision "" when none is named. Never "/api" or "/_blobs".
  };
  Kind kind = Kind::Blob;
  RepoRef repo;
  std::string revision;  // decoded; "refs/pr/1" sent unencoded is one revision (RepoPage: "" = the default)
  std::string path;      // decoded file or folder path (Tree, Resolve)
  bool raw = false;      // Resolve through /raw/
  std::vector<std::string> segments;
};

/// A route, or the answer a request that names none gets (400 malformed, 404 no such route or
/// an invalid repo id, 405 wrong method; the Hub's error shapes).
struct ParsedRoute {
  std::optional<Route> route;
  Response error;
  /// The repo the URL names when the error comes after it was read (the Router checks access to
  /// it first, so a private repo's 401 does not depend on the rest of the URL).
  std::optional<RepoRef> repo;
};

/// Reads a request's route. The path is decoded per segment ("%2F" stays inside a revision);
/// a control byte or malformed escape is a 400. `in_cache` decides between the ids "ns/name"
/// and "name" where both fit the URL (the one it knows wins; else "ns/name").
ParsedRoute parse_route(const Request& request, const std::function<bool(const RepoRef&)>& in_cache);

}  // namespace hubcache::server

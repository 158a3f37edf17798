#pragma once
// How the proxy answers what the upstream said: the Hub's error shapes for the Hub's errors.
#include "hubcache/core/error.hpp"
#include "hubcache/core/repo_id.hpp"
#include "hubcache/server/http.hpp"

namespace hubcache::proxy {

/// What the upstream says about who may read a repo.
enum class Restriction { None, Gated, Private };

/// The upstream could not give an answer (unreachable, timed out, rate-limited, a 5xx, an
/// unusable answer): a request the cache can answer is answered from it.
bool upstream_unreachable(const Error& e);

/// The Hub's answer for an upstream failure: 404 RepoNotFound / RevisionNotFound /
/// EntryNotFound, 401 or 403 GatedRepo, 401 for the proxy's refused token, 429 (with the
/// upstream's wait in Retry-After when known), 504 when the upstream gave no answer, 502 for an
/// unusable one, 507 when the cache's disk is full; the message names the upstream's part.
server::Response response_for_upstream_error(const Error& e, const RepoRef& repo);

/// 401 for a client without one of the proxy's tokens asking for a repo the upstream marks gated
/// (X-Error-Code GatedRepo) or private (RepoNotFound, the Hub's anonymous message).
server::Response restricted_response(Restriction restriction, const RepoRef& repo);

}  // namespace hubcache::proxy

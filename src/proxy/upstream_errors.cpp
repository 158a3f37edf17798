// The Hub's error shapes for what the upstream answered.
#include "upstream_errors.hpp"

namespace hubcache::proxy {
namespace {

std::string describe(const RepoRef& repo) { return std::string(to_string(repo.type)) + " '" + repo.id + "'"; }

}  // namespace

bool upstream_unreachable(const Error& e) {
  switch (e.code) {
    case ErrorCode::Network:
    case ErrorCode::Timeout:
    case ErrorCode::RateLimited:
    case ErrorCode::LocalEntryNotFound:
    case ErrorCode::Http:
    case ErrorCode::Integrity:
      return true;
    default:
      return e.is_transient();
  }
}

server::Response response_for_upstream_error(const Error& e, const RepoRef& repo) {
  const int status = e.http ? e.http->status : 0;
  switch (e.code) {
    case ErrorCode::RepoNotFound:
      return server::error_response(404, "RepoNotFound",
                                    "Repository not found upstream: " + describe(repo) +
                                        " (if it is private or gated, the proxy needs a token with access: "
                                        "--upstream-token-file)");
    case ErrorCode::RevisionNotFound:
      return server::error_response(404, "RevisionNotFound", "Invalid rev id upstream: " + e.message);
    case ErrorCode::EntryNotFound:
      return server::error_response(404, "EntryNotFound", "Entry not found upstream: " + e.message);
    case ErrorCode::Gated:
      return server::error_response(403, "GatedRepo",
                                    "Access to " + describe(repo) + " is restricted upstream and the proxy's token was refused");
    case ErrorCode::Unauthorized:
      return server::error_response(401, "", "The upstream refused the proxy's credentials: " + e.message);
    case ErrorCode::PermissionDenied:
      return server::error_response(403, "", "The upstream refused access: " + e.message);
    case ErrorCode::RateLimited: {
      auto r = server::error_response(429, "", "The upstream rate-limits this proxy; retry later: " + e.message);
      r.set_header("Retry-After", "60");
      return r;
    }
    case ErrorCode::DiskFull:
      return server::error_response(507, "", "The proxy's cache disk is full: " + e.message);
    case ErrorCode::LocalEntryNotFound:
      // The downloader's "not cached and the Hub failed": an answer it could not use (a status
      // that is no blip) is the upstream's fault (502); no answer is a 504.
      if (status != 0 && !is_transient_http_status(status))
        return server::error_response(502, "", "The upstream Hub sent an answer that cannot be used: " + e.message);
      [[fallthrough]];
    case ErrorCode::Network:
    case ErrorCode::Timeout:
      return server::error_response(504, "",
                                    "The upstream Hub could not be reached and the cache does not hold this: " + e.message);
    default:
      if (status == 429) return server::error_response(429, "", "The upstream rate-limits this proxy; retry later");
      return server::error_response(502, "", "The upstream Hub failed: " + e.message);
  }
}

server::Response restricted_response(Restriction restriction, const RepoRef& repo) {
  if (restriction == Restriction::Private) return server::error_response(401, "RepoNotFound", server::k_anonymous_repo_not_found);
  return server::error_response(
      401, "GatedRepo",
      "Access to " + describe(repo) + " is restricted: it is gated upstream and this proxy shares it only with its own tokens");
}

}  // namespace hubcache::proxy

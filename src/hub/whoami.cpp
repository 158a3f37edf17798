// GET /api/whoami-v2: who a token belongs to (hf auth login / whoami).
#include <nlohmann/json.hpp>

#include "hubcache/hub/hub.hpp"

namespace hubcache::hub {

Result<WhoAmI> HubApi::whoami() {
  const std::string url = m_options.endpoint + "/api/whoami-v2";
  http::Request req;
  req.method = http::Method::Get;
  req.url = url;
  req.headers = headers_for(url);
  req.connect_timeout = m_options.connect_timeout;
  req.idle_timeout = std::chrono::milliseconds(m_options.download_timeout);
  req.max_body = m_options.limits.max_response_bytes;
  req.redirects = http::Redirects::Follow;
  req.max_redirects = m_options.limits.max_redirects;
  HUBCACHE_TRY_ASSIGN(auto r, perform_with_retries(req, m_options.retry.max_retries));
  const std::string where = r.url.empty() ? url : r.url;
  if (r.status == 401 || r.status == 403) {
    // Redirected to another host: the token stayed behind (it never leaves its origin), so the
    // refusal says nothing about the token.
    const std::string moved_to = http::origin_of(where);
    const bool other_host = m_options.token && !moved_to.empty() && moved_to != http::origin_of(url);
    Error e{ErrorCode::Unauthorized,
            other_host ? m_options.endpoint + " redirected whoami-v2 to " + moved_to + ", another host, which answered HTTP " +
                             std::to_string(r.status) + ": the token is never sent to another host than the endpoint's. If " +
                             moved_to + " is the Hub you mean, set HF_ENDPOINT=" + moved_to + " and run hubcache auth login again"
            : m_options.token ? "the token was refused by " + m_options.endpoint + " (HTTP " + std::to_string(r.status) +
                                    "): it is invalid, expired or for another endpoint. Create one at " + m_options.endpoint +
                                    "/settings/tokens and run: hubcache auth login"
                              : "not logged in to " + m_options.endpoint + ": run hubcache auth login (or set HF_TOKEN)",
            {},
            HttpErrorContext{},
            {}};
    e.http->status = r.status;
    e.http->url = http::redact(where);
    return fail(std::move(e));
  }
  if (r.status < 200 || r.status >= 300)
    return fail(server_fault("answered " + http::describe_answer(r) + " to whoami-v2", where, "UnexpectedAnswer", r.status));
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (!doc.is_object() || !doc.contains("name") || !doc["name"].is_string())
    return fail(server_fault("answered whoami-v2 with " + http::describe_answer(r) + ", not an account's JSON", where,
                             "UnexpectedAnswer", r.status));
  WhoAmI out;
  out.name = doc["name"].get<std::string>();
  out.type = doc.value("type", "");
  if (auto a = doc.find("auth"); a != doc.end() && a->is_object())
    if (auto t = a->find("accessToken"); t != a->end() && t->is_object()) {
      if (auto n = t->find("displayName"); n != t->end() && n->is_string()) out.token_name = n->get<std::string>();
      if (auto ro = t->find("role"); ro != t->end() && ro->is_string()) out.token_role = ro->get<std::string>();
    }
  if (auto o = doc.find("orgs"); o != doc.end() && o->is_array())
    for (const auto& org : *o)
      if (org.is_object() && org.contains("name") && org["name"].is_string()) out.orgs.push_back(org["name"].get<std::string>());
  return out;
}

}  // namespace hubcache::hub

#include <nlohmann/json.hpp>
#include <set>

#include "hubcache/hub/hub.hpp"

namespace hubcache::hub {
namespace {

std::string capitalized(RepoType t) {
  std::string s = to_string(t);
  s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// De-duplicated server messages: X-Error-Message, JSON error (string or list), error_description,
// errors[].message; otherwise the body unless it is HTML.
std::string server_messages(const http::Response& r) {
  std::vector<std::string> msgs;
  std::set<std::string> seen;
  auto push = [&](std::string m) {
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    if (!m.empty() && seen.insert(m).second) msgs.push_back(std::move(m));
  };
  if (auto m = r.headers.get("X-Error-Message")) push(*m);
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (j.contains("error")) {
      if (j["error"].is_string())
        push(j["error"].get<std::string>());
      else if (j["error"].is_array())
        for (const auto& e : j["error"])
          if (e.is_string()) push(e.get<std::string>());
    }
    if (j.contains("error_description") && j["error_description"].is_string()) push(j["error_description"].get<std::string>());
    if (j.contains("errors") && j["errors"].is_array())
      for (const auto& e : j["errors"])
        if (e.is_object() && e.contains("message") && e["message"].is_string()) push(e["message"].get<std::string>());
  } else if (!r.body.empty() && r.body.find("<html") == std::string::npos && r.body.find("<!DOCTYPE") == std::string::npos) {
    push(r.body.substr(0, 500));
  }
  std::string out;
  for (const auto& m : msgs) out += (out.empty() ? "" : "\n") + m;
  return http::redact(out);
}

std::string request_id(const http::Response& r) {
  if (auto v = r.headers.get("X-Request-Id")) return "Request ID: " + *v;
  if (auto v = r.headers.get("X-Amzn-Trace-Id")) return "Amzn Trace ID: " + *v;
  if (auto v = r.headers.get("X-Amz-Cf-Id")) return "Amz CF ID: " + *v;
  return {};
}

// The Hub's message with 401 RepoNotFound, which speaks of a login the client never made.
constexpr std::string_view k_anonymous_message = "Invalid username or password.";

bool is_repo_api_or_resolve(std::string_view url) {
  for (RepoType t : {RepoType::Model, RepoType::Dataset, RepoType::Space, RepoType::Kernel})
    if (url.find("/api/" + std::string(plural(t)) + "/") != std::string_view::npos) return true;
  return url.find("/resolve/") != std::string_view::npos;
}

}  // namespace

Error map_http_error(const http::Response& r, std::string_view url, const RepoRef& repo, std::string_view endpoint) {
  const std::string code = r.headers.get("X-Error-Code").value_or("");
  const std::string header_msg = r.headers.get("X-Error-Message").value_or("");
  const std::string server = server_messages(r);
  const std::string rid = request_id(r);
  const std::string what = std::string(to_string(repo.type)) + " '" + repo.id + "'";
  const std::string repo_page =
      std::string(endpoint.empty() ? "https://huggingface.co" : endpoint) + "/" + url_prefix(repo.type) + repo.id;

  ErrorCode ec = ErrorCode::Http;
  std::string msg, hint;
  Remedy remedy = Remedy::None;
  std::string shown_server = server;  // what of the server's words the message repeats
  if (code == "RevisionNotFound") {
    ec = ErrorCode::RevisionNotFound;
    msg = "Revision not found in " + what + ". Check the revision parameter.";
  } else if (code == "EntryNotFound") {
    ec = ErrorCode::EntryNotFound;
    msg = "File not found in " + what + ".";
    hint = "URL: " + http::redact(url);
  } else if (code == "GatedRepo") {
    ec = ErrorCode::Gated;
    msg = "Access denied. " + capitalized(repo.type) + " '" + repo.id + "' requires approval.";
    hint = "Ask for access at " + repo_page +
           " and authenticate with a token of an account that has it (HF_TOKEN, the token file of `hf auth login`, or the token "
           "option).";
    remedy = Remedy::UseToken;
  } else if (header_msg == "Access to this resource is disabled.") {
    ec = ErrorCode::PermissionDenied;
    msg = "Access to " + what + " is disabled.";
  } else if (code == "RepoNotFound" ||
             (r.status == 401 && is_repo_api_or_resolve(url) && header_msg != "Invalid credentials in Authorization header")) {
    ec = ErrorCode::RepoNotFound;
    msg = capitalized(repo.type) + " '" + repo.id + "' not found.";
    hint =
        "If the repo is private or gated, make sure you are authenticated: set HF_TOKEN, run `hf auth login`, or give the token "
        "option.";
    remedy = Remedy::UseToken;
    if (r.status == 401) {
      // The Hub (and a hubcache mirror) answers so for a missing repo and for a private one
      // without a token that may read it, never saying which.
      msg += " (The server answers so for a private repo too when no token that may read it is sent.)";
      shown_server = server == k_anonymous_message ? std::string() : server;  // names neither case
    }
  } else if (r.status == 401) {
    ec = ErrorCode::Unauthorized;
    msg = "Invalid credentials for " + what + ": the token was refused.";
    hint = "Check the token (HF_TOKEN, the token file or the token option), or remove it to access public repos anonymously.";
    remedy = Remedy::CheckToken;
  } else if (r.status == 429) {
    ec = ErrorCode::RateLimited;
    msg = "Rate limited by the Hub while accessing " + what + ".";
    hint = "Wait and retry, or authenticate to get a higher limit.";
  } else if (r.status == 403) {
    msg = "Forbidden: access to " + what + " was refused.";
  } else if (r.status == 400) {
    msg = "Bad request for " + what + ".";
  } else if (r.status == 416) {
    msg = "Requested range not satisfiable for " + what + ".";
  } else {
    msg = "HTTP error " + std::to_string(r.status) + " for " + what + ".";
  }
  std::string full = msg + " (HTTP " + std::to_string(r.status) + (rid.empty() ? "" : "; " + rid) + ")";
  if (!shown_server.empty()) full += "\n" + shown_server;
  if (!hint.empty()) full += "\n" + hint;
  Error e{ec, full, {}, HttpErrorContext{}, {}};
  e.remedy = remedy;
  e.http->status = r.status;
  e.http->url = http::redact(url);
  e.http->request_id = rid;
  e.http->error_code = code;
  e.http->server_message = server;
  e.http->repo_commit = r.headers.get("X-Repo-Commit").value_or("");
  return e;
}

}  // namespace hubcache::hub

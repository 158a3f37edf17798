// Route dispatch, access control and the Hub's error shapes.
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/text.hpp"
#include "hubcache/server/route.hpp"
#include "router_impl.hpp"

namespace hubcache::server {
Response error_response(int status, std::string_view error_code, const std::string& message) {
  Response r;
  r.status = status;
  if (!error_code.empty()) r.set_header("X-Error-Code", std::string(error_code));
  r.set_header("X-Error-Message", sanitize_for_header(message));
  r.set_header("Content-Type", "application/json; charset=utf-8");
  r.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response json_response(int status, const std::string& json_text) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", "application/json; charset=utf-8");
  r.body = json_text;
  return r;
}

std::string sanitize_for_header(std::string_view s, std::size_t max_len) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 0xf]);
    }
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
  }
  return out;
}

std::string describe(const RepoRef& repo) { return std::string(to_string(repo.type)) + " '" + repo.id + "'"; }

bool safe_repo_path(std::string_view path) {
  return path.find('\\') == std::string_view::npos && validate_repo_path(path).has_value();
}

Result<std::vector<std::string>> load_token_file(const std::string& path) {
  HUBCACHE_TRY_ASSIGN(std::string text, fs::read_file(path, 1 << 20));
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = text.find('\n', i);
    if (j == std::string::npos) j = text.size();
    const std::string_view line = trim(std::string_view(text.data() + i, j - i));
    if (!line.empty()) tokens.emplace_back(line);
    i = j + 1;
  }
  if (tokens.empty())
    return fail(ErrorCode::InvalidArgument, "token file '" + path + "' holds no token (expected one token per line)", path);
  return tokens;
}

Router::Impl::Impl(RouterOptions o, std::string root_real)
    : options(std::move(o)), root(std::move(root_real)), view(root, options.revalidate_after, options.max_open_files) {
  signing_key = options.signing_key;
  unsigned char key[32];
  if (signing_key.empty() && RAND_bytes(key, sizeof key) == 1) signing_key.assign(reinterpret_cast<const char*>(key), sizeof key);
}

Result<std::string> load_signing_key(const std::string& path) {
  auto read = fs::read_file(path, 1u << 20);
  if (!read) return fail(ErrorCode::Io, "cannot read the signing key file '" + path + "': " + read.error().message, path);
  std::string key = std::move(*read);
  if (!key.empty() && key.back() == '\n') key.pop_back();
  if (key.size() < 32)
    return fail(ErrorCode::InvalidArgument,
                "the signing key file '" + path + "' holds " + std::to_string(key.size()) +
                    " bytes; it needs at least 32 (make one with: openssl rand -hex 32 > '" + path + "')",
                path);
  return key;
}

bool Router::Impl::is_private(const RepoRef& repo) const {
  for (const auto& p : private_repos)
    if (p.id == repo.id && (!p.type || *p.type == repo.type)) return true;
  return false;
}

bool Router::Impl::has_mirror_token(const Request& req) const {
  const auto auth = req.header("Authorization");
  if (!auth) return false;
  const std::string_view v = trim(*auth);
  if (v.size() <= 7 || !iequals(v.substr(0, 7), "Bearer ")) return false;  // the scheme is case-insensitive (RFC 9110)
  const std::string_view token = trim(v.substr(7));
  // Every token is compared (no early exit) in constant time.
  bool ok = false;
  for (const auto& t : options.tokens) ok = constant_time_equal(token, t) || ok;
  return ok;
}

Response Router::Impl::whoami(const Request& req) const {
  const auto auth = req.header("Authorization");
  std::string_view v = auth ? trim(*auth) : std::string_view();
  const bool bearer = v.size() > 7 && iequals(v.substr(0, 7), "Bearer ");
  const std::string_view token = bearer ? trim(v.substr(7)) : std::string_view();
  std::size_t line = 0;  // which token: every one compared, in constant time
  for (std::size_t i = 0; i < options.tokens.size(); ++i)
    if (constant_time_equal(token, options.tokens[i]) && bearer && line == 0) line = i + 1;
  if (line == 0) return error_response(401, "", "Invalid credentials in Authorization header");
  const nlohmann::json doc{
      {"type", "user"},
      {"id", "hubcache-mirror"},
      {"name", "hubcache-mirror"},
      {"fullname", "hubcache mirror"},
      {"orgs", nlohmann::json::array()},
      {"auth",
       {{"type", "access_token"}, {"accessToken", {{"displayName", "mirror-token-" + std::to_string(line)}, {"role", "read"}}}}}};
  return json_response(200, doc.dump());
}

std::optional<Response> Router::Impl::check_access(const Request& req, const RepoTarget& t) const {
  const bool exists = !t.folder.empty();
  if (exists && !is_private(t.repo)) return std::nullopt;
  const bool token = has_mirror_token(req);
  if (exists && token) return std::nullopt;
  // As the Hub does: without a token that may read it, a private repo and a missing one get the
  // same 401 (a token the mirror does not know, e.g. a Hub token, counts as none), so the
  // answer never tells whether a private repo exists.
  if (!token) return error_response(401, "RepoNotFound", k_anonymous_repo_not_found);
  return error_response(404, "RepoNotFound", "Repository not found: no " + describe(t.repo) + " in this mirror's cache");
}

std::string Router::Impl::base_url(const Request& req) const {
  if (!options.public_url.empty()) return options.public_url;
  return req.base_url.empty() ? std::string("http://localhost") : req.base_url;
}

std::string Router::Impl::sign(std::string_view payload) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), signing_key.data(), static_cast<int>(signing_key.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &len);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(k_hex[mac[i] >> 4]);
    out.push_back(k_hex[mac[i] & 0xf]);
  }
  return out;
}

std::optional<std::string> Router::Impl::commit_of(const RepoTarget& t, const std::string& revision, Response& error) const {
  const auto r = view.resolve_revision(t.folder, revision);
  if (r.kind == CacheView::Revision::Kind::Found) return r.commit;
  std::string msg =
      "Invalid rev id: " + revision + " (not a ref or a snapshot commit of " + describe(t.repo) + " in this mirror's cache)";
  if (r.kind == CacheView::Revision::Kind::NoSnapshot)
    msg = "Invalid rev id: " + revision + " (its ref points to commit " + r.commit +
          ", which has no snapshot in this mirror's cache)";
  error = error_response(404, "RevisionNotFound", msg);
  return std::nullopt;
}

Router::Router(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Router::~Router() = default;

Result<std::unique_ptr<Router>> Router::create(RouterOptions options) {
  if (options.cache_dir.empty()) return fail(ErrorCode::InvalidArgument, "no cache folder given to serve");
  auto real = fs::real_path(options.cache_dir);
  struct stat st {};
  if (!real || ::stat(real->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(Error{ErrorCode::NotFound,
                      "cache folder '" + options.cache_dir + "' does not exist or is not a folder; serve a Hub cache",
                      options.cache_dir}
                    .with_remedy(Remedy::UseCacheDir));
  for (const auto& t : options.tokens)
    if (t.empty() || t.find_first_of(" \t\r\n") != std::string::npos)
      return fail(ErrorCode::InvalidArgument, "a token must be non-empty and hold no whitespace");
  if (!options.public_url.empty()) {
    std::string& u = options.public_url;
    while (!u.empty() && u.back() == '/') u.pop_back();
    const std::size_t scheme = u.rfind("http://", 0) == 0 ? 7 : u.rfind("https://", 0) == 0 ? 8 : 0;
    const bool bad_byte = std::any_of(u.begin(), u.end(), [](char c) {
      const auto b = static_cast<unsigned char>(c);
      return b <= 0x20 || b >= 0x7f || c == '?' || c == '#' || c == '"' || c == '<' || c == '>' || c == '\\';
    });
    if (scheme == 0 || u.size() == scheme || u[scheme] == '/' || bad_byte)
      return fail(ErrorCode::InvalidArgument,
                  "the public URL '" + sanitize_for_header(options.public_url) +
                      "' is not a URL like http://mirror.example:8080 (http or https, a host, an optional path; no query)");
  }
  auto impl = std::make_unique<Impl>(options, *real);
  if (!options.signing_key.empty() && options.signing_key.size() < 32)
    return fail(ErrorCode::InvalidArgument,
                "the blob URL signing key holds " + std::to_string(options.signing_key.size()) + " bytes; it needs at least 32");
  if (impl->signing_key.empty())
    return fail(ErrorCode::Io,
                "cannot get random bytes from OpenSSL (RAND_bytes) to sign download URLs; check the system's entropy source");
  for (const auto& spec : options.private_repos) {
    Impl::PrivateSpec p;
    std::string_view s = spec;
    // "org/name" is a model; "models/", "datasets/", "spaces/", "kernels/" name the type.
    for (RepoType t : {RepoType::Model, RepoType::Dataset, RepoType::Space, RepoType::Kernel}) {
      const std::string prefix = std::string(plural(t)) + "/";
      if (s.substr(0, prefix.size()) == prefix) {
        p.type = t;
        s.remove_prefix(prefix.size());
        break;
      }
    }
    if (auto v = validate_repo_id(s); !v)
      return fail(ErrorCode::InvalidRepoId, "private repo '" + spec + "': " + v.error().message);
    p.id = std::string(s);
    impl->private_repos.push_back(std::move(p));
  }
  if (options.xet) {
    impl->xet = std::make_unique<XetIndex>();
    impl->xet_load(options.xet_index_all);
  }
  return std::unique_ptr<Router>(new Router(std::move(impl)));
}

bool Router::authorized(const Request& request) const { return m_impl->has_mirror_token(request); }

Response Router::handle(const Request& req) const {
  const Impl& impl = *m_impl;
  auto parsed = parse_route(req, [&impl](const RepoRef& repo) { return impl.view.repo_folder(repo).has_value(); });
  const auto target = [&impl](const RepoRef& repo) {
    RepoTarget t{repo, {}};
    if (auto folder = impl.view.repo_folder(repo)) t.folder = *folder;
    return t;
  };
  if (!parsed.route) {
    if (parsed.repo)
      if (auto denied = impl.check_access(req, target(*parsed.repo))) return std::move(*denied);
    return std::move(parsed.error);
  }
  const Route& route = *parsed.route;
  switch (route.kind) {
    case Route::Kind::Blob:
      return impl.blob(req, route.segments);
    case Route::Kind::BlobAuth:
      return impl.blob_auth(req, route.segments);
    case Route::Kind::WhoAmI:
      return impl.whoami(req);
    case Route::Kind::Index:
      return impl.index_page(req);
    case Route::Kind::RepoPage:
      return impl.repo_page(req, route.repo, route.revision);
    case Route::Kind::XetReconstruction:
      return impl.xet_reconstruction(req, route.segments);
    case Route::Kind::XetXorb:
      return impl.xet_xorb(req, route.segments);
    default:
      break;
  }
  const RepoTarget t = target(route.repo);
  if (auto denied = impl.check_access(req, t)) return std::move(*denied);
  switch (route.kind) {
    case Route::Kind::RepoInfo:
      return impl.repo_info(req, t, route.revision);
    case Route::Kind::Refs:
      return impl.refs(req, t);
    case Route::Kind::Tree:
      return impl.tree(req, t, route.revision, route.path);
    case Route::Kind::PathsInfo:
      return impl.paths_info(req, t, route.revision);
    case Route::Kind::XetToken:
      return impl.xet_token(req, t, route.revision);
    default:
      return impl.resolve(req, t, route.revision, route.path, route.raw);
  }
}

}  // namespace hubcache::server

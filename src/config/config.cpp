#include "hubcache/config/config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "hubcache/util/fs.hpp"
#include "hubcache/util/text.hpp"

extern char** environ;

namespace hubcache {
namespace {

constexpr const char* k_default_endpoint = "https://huggingface.co";

std::string clean_token(std::string_view raw) {
  std::string t;
  for (char c : raw)
    if (c != '\r' && c != '\n') t += c;
  return std::string(trim(t));  // with CR/LF gone, trim() strips exactly " \t\f\v"
}

int parse_timeout(const Environment& env, std::string_view name, std::string& source) {
  source = "default";
  auto v = env.get_nonempty(name);
  if (!v) return 10;
  try {
    std::size_t used = 0;
    const int n = std::stoi(*v, &used);
    if (used == v->size() && n > 0) {
      source = std::string(name);
      return n;
    }
  } catch (...) {
  }
  return 10;
}

}  // namespace

Environment Environment::from_process() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.m_vars.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::optional<std::string> Environment::get(std::string_view name) const {
  auto it = m_vars.find(name);
  if (it == m_vars.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Environment::get_nonempty(std::string_view name) const {
  auto v = get(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

bool parse_env_bool(std::string_view value) {
  std::string up;
  for (char c : value) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return up == "1" || up == "ON" || up == "YES" || up == "TRUE";
}

std::string expand_path(std::string_view path, const Environment& env) {
  std::string s(path);
  if (!s.empty() && s[0] == '~' && (s.size() == 1 || s[1] == '/')) {
    if (auto home = env.get_nonempty("HOME")) s = *home + s.substr(1);
  }
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '$') {
      out += s[i++];
      continue;
    }
    std::size_t j = i + 1;
    std::string name;
    bool braced = j < s.size() && s[j] == '{';
    if (braced) {
      const auto close = s.find('}', j + 1);
      if (close == std::string::npos) {
        out += s.substr(i);
        break;
      }
      name = s.substr(j + 1, close - j - 1);
      j = close + 1;
    } else {
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) name += s[j++];
    }
    auto v = name.empty() ? std::nullopt : env.get(name);
    out += v ? *v : s.substr(i, j - i);
    if (j == i + 1) ++j;  // lone '$'
    i = j;
  }
  return out;
}

Config Config::from_env(const Environment& env, const Overrides& ov) {
  Config c;
  // HF_HOME
  if (auto v = env.get("HF_HOME"); v && v->empty())
    c.warnings.push_back("HF_HOME is set but empty; treating it as unset (huggingface_hub would use the relative path 'hub')");
  if (auto v = env.get_nonempty("HF_HOME")) {
    c.hf_home = {expand_path(*v, env), "HF_HOME"};
  } else if (auto x = env.get_nonempty("XDG_CACHE_HOME")) {
    c.hf_home = {expand_path(*x + "/huggingface", env), "XDG_CACHE_HOME"};
  } else {
    c.hf_home = {expand_path("~/.cache/huggingface", env), "default"};
  }
  // Hub cache
  if (ov.cache_dir) {
    c.hub_cache = {expand_path(*ov.cache_dir, env), ov.cache_dir_source};
  } else if (auto v = env.get_nonempty("HF_HUB_CACHE")) {
    c.hub_cache = {expand_path(*v, env), "HF_HUB_CACHE"};
  } else if (auto l = env.get_nonempty("HUGGINGFACE_HUB_CACHE")) {
    c.hub_cache = {expand_path(*l, env), "HUGGINGFACE_HUB_CACHE"};
  } else {
    c.hub_cache = {c.hf_home.value + "/hub", "HF_HOME/hub (" + c.hf_home.source + ")"};
  }
  c.hub_cache.value = fs::absolute_real(c.hub_cache.value);
  // Token path
  if (auto v = env.get_nonempty("HF_TOKEN_PATH"))
    c.token_path = {expand_path(*v, env), "HF_TOKEN_PATH"};
  else
    c.token_path = {c.hf_home.value + "/token", "HF_HOME/token"};
  // huggingface_hub: HF_STORED_TOKENS_PATH = dirname(HF_TOKEN_PATH)/stored_tokens.
  {
    const auto slash = c.token_path.value.rfind('/');
    c.stored_tokens_path =
        (slash == std::string::npos ? std::string(".") : c.token_path.value.substr(0, slash)) + "/stored_tokens";
  }
  // Endpoint
  if (auto v = env.get_nonempty("HF_ENDPOINT"))
    c.endpoint = {*v, "HF_ENDPOINT"};
  else
    c.endpoint = {k_default_endpoint, "default"};
  while (c.endpoint.value.size() > 1 && c.endpoint.value.back() == '/') c.endpoint.value.pop_back();
  // Offline: PY evaluates `HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE` on the strings.
  if (ov.offline) {
    c.offline = {*ov.offline, ov.offline_source};
  } else if (auto v = env.get_nonempty("HF_HUB_OFFLINE")) {
    c.offline = {parse_env_bool(*v), "HF_HUB_OFFLINE"};
  } else if (auto t = env.get_nonempty("TRANSFORMERS_OFFLINE")) {
    c.offline = {parse_env_bool(*t), "TRANSFORMERS_OFFLINE"};
  } else {
    c.offline = {false, "default"};
  }
  c.etag_timeout.value = parse_timeout(env, "HF_HUB_ETAG_TIMEOUT", c.etag_timeout.source);
  c.download_timeout.value = parse_timeout(env, "HF_HUB_DOWNLOAD_TIMEOUT", c.download_timeout.source);
  c.disable_symlinks = parse_env_bool(env.get("HF_HUB_DISABLE_SYMLINKS").value_or(""));
  c.disable_implicit_token = parse_env_bool(env.get("HF_HUB_DISABLE_IMPLICIT_TOKEN").value_or(""));
  c.disable_xet = parse_env_bool(env.get("HF_HUB_DISABLE_XET").value_or(""));
  c.disable_shared_blobs = parse_env_bool(env.get("HF_HUB_DISABLE_SHARED_BLOBS").value_or(""));
  if (auto v = env.get_nonempty("HF_HUB_DISABLE_PROGRESS_BARS")) c.disable_progress_bars = parse_env_bool(*v);
  // TLS trust and proxies
  c.ca_bundle = {"", "system"};
  for (const char* name : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"})
    if (auto v = env.get_nonempty(name)) {
      c.ca_bundle = {expand_path(*v, env), name};
      break;
    }
  for (const char* name :
       {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"})
    if (auto v = env.get_nonempty(name)) c.proxy_vars.emplace_back(name, *v);
  if (!env.get_nonempty("http_proxy")) c.http_proxy_fallback = env.get_nonempty("HTTP_PROXY").value_or("");
  c.debug = parse_env_bool(env.get("HF_DEBUG").value_or(""));
  // Token: from the override or the variables now; from the token file only when token() is called.
  if (ov.token) {
    std::string t = clean_token(*ov.token);
    if (!t.empty()) {
      c.m_token = t;
      c.m_token_source = ov.token_source;
    }
  } else if (!c.disable_implicit_token) {
    for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
      if (auto v = env.get_nonempty(name)) {
        std::string t = clean_token(*v);
        if (!t.empty()) {
          c.m_token = t;
          c.m_token_source = name;
          break;
        }
      }
    }
    c.m_token_file_pending = !c.m_token;
  }
  // TRANSFORMERS_CACHE warning
  if (auto tc = env.get_nonempty("TRANSFORMERS_CACHE")) {
    if (fs::absolute_real(expand_path(*tc, env)) != c.hub_cache.value)
      c.warnings.push_back(
          "TRANSFORMERS_CACHE='" + *tc + "' differs from the hub cache '" + c.hub_cache.value +
          "'; hubcache ignores it. Unset it or set HF_HUB_CACHE to the same folder so all tools share one cache.");
  }
  return c;
}

const std::optional<std::string>& Config::token() const {
  if (m_token_file_pending) {
    m_token_file_pending = false;
    if (auto raw = fs::read_file(token_path.value, 64 * 1024)) {
      std::string t = clean_token(*raw);
      if (!t.empty()) {
        m_token = t;
        m_token_source = "token file " + token_path.value;
      }
    }
  }
  return m_token;
}

const std::string& Config::token_source() const {
  (void)token();
  return m_token_source;
}

std::string Config::token_source_unread() const {
  if (!m_token_file_pending) return m_token_source;
  struct stat st {};
  if (::stat(token_path.value.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
    return "token file " + token_path.value;
  return "";
}

std::vector<std::string> diagnose_cache_dir(const std::string& hub_cache) {
  std::vector<std::string> out;
  std::string probe = hub_cache;
  struct stat st {};
  while (!probe.empty() && ::stat(probe.c_str(), &st) != 0) {
    const std::string up = fs::parent(probe);
    if (up == probe) break;
    probe = up;
  }
  if (probe.empty()) probe = ".";
  if (::stat(probe.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    out.push_back(probe == hub_cache ? "the hub cache '" + hub_cache + "' is a file, not a directory; use another cache directory"
                                     : "the hub cache '" + hub_cache + "' cannot be created: '" + probe +
                                           "' is a file; use another cache directory");
  } else if (::access(probe.c_str(), W_OK | X_OK) != 0) {
    if (probe == hub_cache)
      out.push_back("the hub cache '" + hub_cache +
                    "' is not writable: downloads and imports will fail; fix its permissions or use another cache directory");
    else
      out.push_back("the hub cache '" + hub_cache + "' does not exist and cannot be created ('" + probe +
                    "' is not writable); use another cache directory");
  }
  return out;
}

}  // namespace hubcache

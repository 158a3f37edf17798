#pragma once
// Configuration resolved from environment variables with huggingface_hub's precedence (docs/hub-protocol.md#environment).
// The library never reads the process environment by itself: callers build an Environment
// (Environment::from_process() in the CLI, a literal map in tests) and call Config::from_env.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hubcache {

class Environment {
 public:
  Environment() = default;
  explicit Environment(const std::map<std::string, std::string>& vars) : m_vars(vars.begin(), vars.end()) {}
  /// Snapshot of the current process environment.
  static Environment from_process();
  /// The value if the variable is set (possibly empty).
  std::optional<std::string> get(std::string_view name) const;
  /// The value if set and non-empty.
  std::optional<std::string> get_nonempty(std::string_view name) const;
  void set(std::string name, std::string value) { m_vars[std::move(name)] = std::move(value); }

 private:
  std::map<std::string, std::string, std::less<>> m_vars;
};

/// huggingface_hub boolean: true iff upper-cased value is 1, ON, YES or TRUE.
bool parse_env_bool(std::string_view value);

/// Expands a leading "~" (HOME) and $VAR / ${VAR} (unknown variables left as-is).
std::string expand_path(std::string_view path, const Environment& env);

/// A resolved value and where it came from ("HF_HOME", an Overrides label such as the CLI's "--cache-dir", "default", ...).
template <typename T>
struct Sourced {
  T value{};
  std::string source;
};

/// Values the caller sets over the environment's. Each is named in Sourced::source (and so in
/// `hubcache env` and messages) by its `*_source` label: the front end's words for it (the CLI
/// sets its flags, "--cache-dir", ...).
struct Overrides {
  std::optional<std::string> cache_dir;
  std::optional<std::string> token;
  std::optional<bool> offline;
  std::string cache_dir_source = "cache_dir override";
  std::string token_source = "token override";
  std::string offline_source = "offline override";
};

struct Config {
  Sourced<std::string> hf_home;
  Sourced<std::string> hub_cache;  // absolute and symlink-resolved
  Sourced<std::string> token_path;
  std::string stored_tokens_path;  // named tokens of `auth login`: next to token_path (config/token_store.hpp)
  /// The token to send: Overrides::token, else HF_TOKEN / HUGGING_FACE_HUB_TOKEN, else the token file at
  /// token_path (unless HF_HUB_DISABLE_IMPLICIT_TOKEN). The file is read on the first call, not
  /// by from_env: commands that never authenticate (resolve, cache, env) never open it. Never
  /// print the value. The first call is not thread-safe (call it before sharing the Config).
  const std::optional<std::string>& token() const;
  /// Where token() came from: Overrides::token_source, "HF_TOKEN", "token file <path>", or "" (reads the file
  /// like token()).
  const std::string& token_source() const;
  /// Without opening the token file: Overrides::token_source / the variable when one gave the token; else
  /// "token file <path>" when the token file would be read (it exists as a non-empty regular
  /// file: its content is not checked), else "". For `hubcache env`.
  std::string token_source_unread() const;
  Sourced<std::string> endpoint;  // no trailing '/'
  Sourced<bool> offline;
  Sourced<int> etag_timeout;      // seconds
  Sourced<int> download_timeout;  // seconds
  bool disable_symlinks = false;
  bool disable_implicit_token = false;
  bool disable_xet = false;                   // HF_HUB_DISABLE_XET: also no reuse of a shared blob store
  bool disable_shared_blobs = false;          // HF_HUB_DISABLE_SHARED_BLOBS
  std::optional<bool> disable_progress_bars;  // tri-state
  /// CA bundle to trust instead of the system store: SSL_CERT_FILE (httpx, huggingface_hub >= 1),
  /// else REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE (requests' order, huggingface_hub < 1); empty
  /// values count as unset. Value "" with source "system" when none is set.
  Sourced<std::string> ca_bundle;
  /// Proxy variables as set (name, value), for `hubcache env`; libcurl reads them itself.
  std::vector<std::pair<std::string, std::string>> proxy_vars;
  /// Upper-case HTTP_PROXY when http_proxy is unset: libcurl ignores it, the Python clients use it.
  std::string http_proxy_fallback;
  bool debug = false;  // HF_DEBUG: log every request (method, redacted URL, status, time) on stderr
  std::vector<std::string> warnings;

  // The token state behind token(): filled by from_env from the override / the variables, and from the
  // file on the first token() call while m_token_file_pending.
  mutable std::optional<std::string> m_token;
  mutable std::string m_token_source;
  mutable bool m_token_file_pending = false;

  /// Resolves everything. Reads no token file (token() does, when a command needs it).
  static Config from_env(const Environment& env, const Overrides& overrides = {});
};

/// Checks the filesystem side of a config: writability of the hub cache (or of the nearest
/// existing parent when it does not exist yet). Returns warnings.
std::vector<std::string> diagnose_cache_dir(const std::string& hub_cache);

}  // namespace hubcache

#include "hubcache/config/token_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "hubcache/util/fs.hpp"

namespace hubcache {
namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Creates the token's folder (0700, like huggingface_hub) when it does not exist yet.
Result<void> ensure_parent(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  const std::string dir = path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return {};
  HUBCACHE_TRY(fs::make_dirs(dir));
  ::chmod(dir.c_str(), 0700);
  return {};
}

Result<void> write_secret(const std::string& path, const std::string& data) {
  HUBCACHE_TRY(ensure_parent(path));
  return fs::write_file_atomic(path, data, 0600);
}

Result<void> check_name(const std::string& name) {
  if (name.empty() || trim(name) != name || name.find_first_of("]\n\r") != std::string::npos)
    return fail(ErrorCode::InvalidArgument, "token name '" + name +
                                                "' cannot be stored (empty, surrounding spaces, ']' or a line break); "
                                                "rename the token on the Hub or pass a plain name");
  return {};
}

Result<void> write_all(const std::string& path, std::vector<StoredToken> tokens) {
  std::sort(tokens.begin(), tokens.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::string out;
  for (const auto& t : tokens) out += "[" + t.name + "]\nhf_token = " + t.token + "\n\n";  // configparser's layout
  return write_secret(path, out);
}

}  // namespace

Result<std::vector<StoredToken>> read_stored_tokens(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::vector<StoredToken>{};
    return fail(errno_error(errno, "cannot read the stored tokens file", path));
  }
  HUBCACHE_TRY_ASSIGN(std::string text, fs::read_file(path, 1u << 20));
  std::vector<StoredToken> out;
  std::string section;
  bool in_section = false;
  std::istringstream in(text);
  int lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      section = t.substr(1, t.size() - 2);
      in_section = true;
      continue;
    }
    const auto sep = t.find_first_of("=:");
    if (!in_section || sep == std::string::npos)
      return fail(ErrorCode::CacheCorrupted,
                  "the stored tokens file '" + path + "' is not an INI file (line " + std::to_string(lineno) +
                      "); fix or delete it, then run: hubcache auth login",
                  path);
    std::string key = trim(t.substr(0, sep));
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (key != "hf_token") continue;
    const std::string value = trim(t.substr(sep + 1));
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& s) { return s.name == section; });
    if (it != out.end())
      it->token = value;
    else
      out.push_back({section, value});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Result<void> save_named_token(const std::string& path, const std::string& name, const std::string& token) {
  HUBCACHE_TRY(check_name(name));
  if (token.empty() || token.find_first_of(" \t\r\n") != std::string::npos)
    return fail(ErrorCode::InvalidArgument,
                "the token is empty or holds whitespace; copy it again from the Hub's settings/tokens page");
  HUBCACHE_TRY_ASSIGN(auto tokens, read_stored_tokens(path));
  auto it = std::find_if(tokens.begin(), tokens.end(), [&](const auto& s) { return s.name == name; });
  if (it != tokens.end())
    it->token = token;
  else
    tokens.push_back({name, token});
  return write_all(path, std::move(tokens));
}

Result<bool> remove_named_token(const std::string& path, const std::string& name) {
  HUBCACHE_TRY_ASSIGN(auto tokens, read_stored_tokens(path));
  const auto before = tokens.size();
  std::erase_if(tokens, [&](const auto& s) { return s.name == name; });
  if (tokens.size() == before) return false;
  HUBCACHE_TRY(write_all(path, std::move(tokens)));
  return true;
}

Result<void> write_active_token(const std::string& token_path, const std::string& token) {
  return write_secret(token_path, token);
}

Result<std::string> read_active_token(const std::string& token_path) {
  struct stat st {};
  if (::stat(token_path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::string();
    return fail(errno_error(errno, "cannot read the token file", token_path));
  }
  HUBCACHE_TRY_ASSIGN(std::string raw, fs::read_file(token_path, 64 * 1024));
  std::erase_if(raw, [](char c) { return c == '\r' || c == '\n'; });
  return trim(raw);
}

Result<bool> remove_token_file(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return fail(errno_error(errno, "cannot remove", path));
}

std::string mask_token(const std::string& token) {
  if (token.size() < 12) return "****";
  return token.substr(0, 3) + "****" + token.substr(token.size() - 4);
}

}  // namespace hubcache

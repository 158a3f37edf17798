#include "hubcache/core/repo_id.hpp"

namespace hubcache {
namespace {

bool word_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }
bool id_char(char c) { return word_char(c) || c == '.' || c == '-'; }

std::string shown(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      out += "\\x" + std::string(1, "0123456789abcdef"[(c >> 4) & 0xf]) + "0123456789abcdef"[c & 0xf];
    else
      out += c;
  }
  return out;
}

}  // namespace

const char* to_string(RepoType t) {
  switch (t) {
    case RepoType::Model:
      return "model";
    case RepoType::Dataset:
      return "dataset";
    case RepoType::Space:
      return "space";
    case RepoType::Kernel:
      return "kernel";
  }
  return "model";
}

std::optional<RepoType> parse_repo_type(std::string_view s) {
  if (s == "model" || s == "models") return RepoType::Model;
  if (s == "dataset" || s == "datasets") return RepoType::Dataset;
  if (s == "space" || s == "spaces") return RepoType::Space;
  if (s == "kernel" || s == "kernels") return RepoType::Kernel;
  return std::nullopt;
}

const char* url_prefix(RepoType t) {
  switch (t) {
    case RepoType::Model:
      return "";
    case RepoType::Dataset:
      return "datasets/";
    case RepoType::Space:
      return "spaces/";
    case RepoType::Kernel:
      return "kernels/";
  }
  return "";
}

const char* plural(RepoType t) {
  switch (t) {
    case RepoType::Model:
      return "models";
    case RepoType::Dataset:
      return "datasets";
    case RepoType::Space:
      return "spaces";
    case RepoType::Kernel:
      return "kernels";
  }
  return "models";
}

Result<void> validate_repo_id(std::string_view id) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidRepoId, "invalid repo id '" + shown(id) + "': " + why +
                                              ". Use 'name' or 'namespace/name' with letters, digits, '_', '.', '-'.");
  };
  if (id.empty()) return bad("it is empty");
  if (id.find("--") != std::string_view::npos) return bad("it contains '--'");
  if (id.find("..") != std::string_view::npos) return bad("it contains '..'");
  const auto slash = id.find('/');
  if (slash != std::string_view::npos && id.find('/', slash + 1) != std::string_view::npos) {
    // "datasets/org/name" (a Hub URL path): the type is not part of a repo id.
    for (const char* prefix : {"models", "datasets", "spaces", "kernels"}) {
      const std::string p = std::string(prefix) + "/";
      if (id.substr(0, p.size()) != p) continue;
      const std::string rest(id.substr(p.size()));
      const std::string type = std::string(prefix).substr(0, std::string(prefix).size() - 1);
      return fail(Error{
          ErrorCode::InvalidRepoId,
          "invalid repo id '" + shown(id) + "': '" + p + "' names the repo type, which is not part of a repo id. Use '" +
              shown(rest) + (type == "model" ? "'" : "' as a " + type + " id") + ", or the URI 'hf://" +
              (type == "model" ? "" : p) + shown(rest) + "'.",
          {}}.with_remedy(type == "model" ? Remedy::None : Remedy::UseRepoType, type == "model" ? "" : type));
    }
    return bad("it has more than one '/'");
  }
  if (id.size() >= 4 && id.substr(id.size() - 4) == ".git") return bad("it ends with '.git'");
  std::string_view parts[2] = {id, {}};
  int nparts = 1;
  if (slash != std::string_view::npos) {
    parts[0] = id.substr(0, slash);
    parts[1] = id.substr(slash + 1);
    nparts = 2;
  }
  for (int i = 0; i < nparts; ++i) {
    std::string_view p = parts[i];
    if (p.empty()) return bad(i == 0 ? "the namespace is empty" : "the name is empty");
    for (char c : p)
      if (!id_char(c)) return bad(std::string("it contains the character '") + shown(std::string_view(&c, 1)) + "'");
    if (!word_char(p.front()) || !word_char(p.back())) return bad("each part must begin and end with a letter, digit or '_'");
  }
  if (parts[nparts - 1].size() > 96) return bad("the name is longer than 96 characters");
  return {};
}

Result<void> validate_revision(std::string_view rev) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidRevision,
                "invalid revision '" + shown(rev) + "': " + why + ". Use a branch, tag, 'refs/pr/N' or a 40-hex commit.");
  };
  if (rev.empty()) return bad("it is empty");
  if (rev.front() == '/') return bad("it starts with '/'");
  for (char c : rev) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return bad("it contains a control character");
    if (c == '\\') return bad("it contains '\\'");
  }
  std::size_t i = 0;
  while (i <= rev.size()) {
    std::size_t j = rev.find('/', i);
    if (j == std::string_view::npos) j = rev.size();
    const auto seg = rev.substr(i, j - i);
    if (seg.empty() || seg == "." || seg == "..") return bad("it has an empty, '.' or '..' segment");
    i = j + 1;
  }
  return {};
}

Result<void> validate_repo_path(std::string_view path) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidPath, "Invalid filename '" + shown(path) + "': " + why);
  };
  if (path.empty()) return bad("it is empty");
  if (path.find('\0') != std::string_view::npos) return bad("it contains a NUL byte");
  std::string p(path);
  for (auto& c : p)
    if (c == '\\') c = '/';
  // (b) absolute, drive-relative or UNC, judged on the raw text and on each segment.
  if (path.front() == '/' || path.front() == '\\') return bad("cannot be an absolute, drive-relative or UNC path");
  std::size_t i = 0;
  while (i <= p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    const std::string_view seg(p.data() + i, j - i);
    if (seg == "..") return bad("cannot contain a '..' path segment");
    if (seg.empty() || seg == ".") return bad("cannot contain an empty or '.' path segment");
    if (seg.size() >= 2 && seg[1] == ':') return bad("cannot be an absolute, drive-relative or UNC path");
    i = j + 1;
  }
  // A '\' in the original that made an empty segment (UNC "\\h\s") was caught above as empty.
  return {};
}

Result<void> validate_etag(std::string_view etag) {
  if (etag.empty() || etag == "." || etag == ".." || etag.find_first_of(std::string_view("/\\\0", 3)) != std::string_view::npos)
    return fail(ErrorCode::Integrity, "refusing unsafe ETag '" + shown(etag) + "' as a blob name");
  return {};
}

bool is_lower_hex(std::string_view s, std::size_t len) {
  if (s.size() != len) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_commit_hash(std::string_view rev) { return is_lower_hex(rev, 40); }

std::string normalize_etag(std::string_view etag) {
  if (etag.size() >= 2 && etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

}  // namespace hubcache

// hubcache.lock: parsing with a named place for every fault, and one canonical text.
#include "hubcache/lock/lockfile.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "hubcache/util/digest.hpp"
#include "hubcache/util/fs.hpp"

namespace hubcache::lock {
namespace {

using ordered = nlohmann::ordered_json;
constexpr std::size_t k_max_lockfile_bytes = 64u << 20;

struct Reader {
  const std::string& source;
  Error fault(const std::string& where, const std::string& why) const {
    return Error{ErrorCode::InvalidArgument,
                 "lockfile '" + source + "': " + where + ": " + why +
                     ". Make it again with `hubcache lock`, or fix it by hand (docs/lockfile.md).",
                 source};
  }
  Result<std::string> string(const nlohmann::json& obj, const std::string& where, const char* key) const {
    const auto it = obj.find(key);
    if (it == obj.end() || !it->is_string()) return fail(fault(where + "." + key, "missing, or not a string"));
    return it->get<std::string>();
  }
  Result<std::vector<std::string>> strings(const nlohmann::json& obj, const std::string& where, const char* key) const {
    std::vector<std::string> out;
    const auto it = obj.find(key);
    if (it == obj.end()) return out;
    if (!it->is_array()) return fail(fault(where + "." + key, "not a list of strings"));
    for (const auto& v : *it) {
      if (!v.is_string() || v.get_ref<const std::string&>().empty())
        return fail(fault(where + "." + key, "not a list of non-empty strings"));
      out.push_back(v.get<std::string>());
    }
    return out;
  }
};

Result<LockedFile> parse_file(const Reader& r, const nlohmann::json& f, const std::string& where) {
  if (!f.is_object()) return fail(r.fault(where, "not an object"));
  LockedFile out;
  HUBCACHE_TRY_ASSIGN(out.path, r.string(f, where, "path"));
  if (auto v = validate_repo_path(out.path); !v) return fail(r.fault(where + ".path", v.error().message));
  const auto size = f.find("size");
  if (size == f.end() || !size->is_number_unsigned()) return fail(r.fault(where + ".size", "missing, or not a byte count"));
  out.size = size->get<std::uint64_t>();
  HUBCACHE_TRY_ASSIGN(out.git_oid, r.string(f, where, "git_oid"));
  if (digest_kind_of(out.git_oid) != DigestKind::GitSha1)
    return fail(r.fault(where + ".git_oid", "not a git blob id (40 lower-case hex)"));
  if (f.contains("lfs_sha256")) {
    HUBCACHE_TRY_ASSIGN(auto sha, r.string(f, where, "lfs_sha256"));
    if (digest_kind_of(sha) != DigestKind::Sha256)
      return fail(r.fault(where + ".lfs_sha256", "not a SHA-256 (64 lower-case hex)"));
    out.lfs_sha256 = std::move(sha);
  }
  return out;
}

Result<LockedRepo> parse_repo(const Reader& r, const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return fail(r.fault(where, "not an object"));
  LockedRepo out;
  HUBCACHE_TRY_ASSIGN(auto type, r.string(j, where, "repo_type"));
  const auto parsed = parse_repo_type(type);
  if (!parsed) return fail(r.fault(where + ".repo_type", "'" + type + "' is not model, dataset, space or kernel"));
  out.repo.type = *parsed;
  HUBCACHE_TRY_ASSIGN(out.repo.id, r.string(j, where, "repo_id"));
  if (auto v = validate_repo_id(out.repo.id); !v) return fail(r.fault(where + ".repo_id", v.error().message));
  HUBCACHE_TRY_ASSIGN(out.revision, r.string(j, where, "revision"));
  if (auto v = validate_revision(out.revision); !v) return fail(r.fault(where + ".revision", v.error().message));
  HUBCACHE_TRY_ASSIGN(out.commit, r.string(j, where, "commit"));
  if (!is_commit_hash(out.commit)) return fail(r.fault(where + ".commit", "not a commit hash (40 lower-case hex)"));
  HUBCACHE_TRY_ASSIGN(out.include, r.strings(j, where, "include"));
  HUBCACHE_TRY_ASSIGN(out.exclude, r.strings(j, where, "exclude"));
  const auto files = j.find("files");
  if (files == j.end() || !files->is_array()) return fail(r.fault(where + ".files", "missing, or not a list"));
  std::set<std::string> seen;
  for (std::size_t i = 0; i < files->size(); ++i) {
    const std::string at = where + ".files[" + std::to_string(i) + "]";
    HUBCACHE_TRY_ASSIGN(auto f, parse_file(r, (*files)[i], at));
    if (!seen.insert(f.path).second) return fail(r.fault(at + ".path", "'" + f.path + "' is listed twice"));
    out.files.push_back(std::move(f));
  }
  return out;
}

}  // namespace

Result<Lockfile> parse_lockfile(std::string_view text, const std::string& source) {
  const Reader r{source};
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(r.fault("the whole file", "not a JSON object"));
  const auto version = j.find("lockfile_version");
  if (version == j.end() || !version->is_number_integer())
    return fail(r.fault("lockfile_version", "missing; is this a hubcache lockfile?"));
  if (version->get<std::int64_t>() != k_lockfile_version)
    return fail(r.fault("lockfile_version", std::to_string(version->get<std::int64_t>()) +
                                                " is not a version this hubcache reads (" + std::to_string(k_lockfile_version) +
                                                "); update hubcache"));
  Lockfile out;
  HUBCACHE_TRY_ASSIGN(out.endpoint, r.string(j, "lockfile", "endpoint"));
  if (out.endpoint.rfind("http://", 0) != 0 && out.endpoint.rfind("https://", 0) != 0)
    return fail(r.fault("endpoint", "'" + out.endpoint + "' is not an http(s) URL"));
  const auto repos = j.find("repos");
  if (repos == j.end() || !repos->is_array()) return fail(r.fault("repos", "missing, or not a list"));
  std::set<std::string> seen;
  for (std::size_t i = 0; i < repos->size(); ++i) {
    const std::string at = "repos[" + std::to_string(i) + "]";
    HUBCACHE_TRY_ASSIGN(auto repo, parse_repo(r, (*repos)[i], at));
    const std::string key = std::string(to_string(repo.repo.type)) + " " + repo.repo.id + "@" + repo.revision;
    if (!seen.insert(key).second) return fail(r.fault(at, key + " is locked twice"));
    out.repos.push_back(std::move(repo));
  }
  return out;
}

Result<Lockfile> read_lockfile(const std::string& path) {
  auto text = fs::read_file(path, k_max_lockfile_bytes);
  if (!text)
    return fail(ErrorCode::Io,
                "cannot read the lockfile '" + path + "': " + text.error().message + " (make one with `hubcache lock ORG/NAME`)",
                path);
  return parse_lockfile(*text, path);
}

std::string serialize_lockfile(const Lockfile& lock) {
  ordered doc;
  doc["lockfile_version"] = k_lockfile_version;
  doc["endpoint"] = lock.endpoint;
  doc["repos"] = ordered::array();
  for (const auto& r : lock.repos) {
    ordered repo;
    repo["repo_type"] = to_string(r.repo.type);
    repo["repo_id"] = r.repo.id;
    repo["revision"] = r.revision;
    repo["commit"] = r.commit;
    repo["include"] = r.include;
    repo["exclude"] = r.exclude;
    repo["files"] = ordered::array();
    for (const auto& f : r.files) {
      ordered file;
      file["path"] = f.path;
      file["size"] = f.size;
      file["git_oid"] = f.git_oid;
      if (f.lfs_sha256) file["lfs_sha256"] = *f.lfs_sha256;
      repo["files"].push_back(std::move(file));
    }
    doc["repos"].push_back(std::move(repo));
  }
  return doc.dump(2) + "\n";
}

Result<void> write_lockfile(const std::string& path, const Lockfile& lock) {
  return fs::write_file_atomic(path, serialize_lockfile(lock));
}

void sort_files(LockedRepo& repo) {
  std::sort(repo.files.begin(), repo.files.end(), [](const LockedFile& a, const LockedFile& b) { return a.path < b.path; });
}

}  // namespace hubcache::lock

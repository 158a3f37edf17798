// JSON API routes: repo info, tree listing (paginated like the Hub), paths-info and refs.
#include <algorithm>
#include <unordered_set>
#include <nlohmann/json.hpp>

#include "hubcache/cache/layout.hpp"
#include "hubcache/util/hash.hpp"
#include "router_impl.hpp"

namespace hubcache::server {
namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

bool truthy(const std::optional<std::string>& v) {
  if (!v) return false;
  return *v == "true" || *v == "1" || *v == "True" || v->empty();
}

json last_commit(const SnapshotListing& l) {
  return json{{"id", l.commit},
              {"title", "Snapshot " + l.commit.substr(0, 7) + " served from a hubcache mirror"},
              {"date", iso8601_utc(l.mtime)}};
}

json file_entry(const ServedFile& f, const SnapshotListing& l, bool expand, const std::string& xet_hash) {
  json e{{"type", "file"}, {"oid", f.oid}, {"size", f.size}, {"path", f.path}};
  if (f.lfs_sha256) e["lfs"] = json{{"oid", *f.lfs_sha256}, {"size", f.size}, {"pointerSize", f.pointer_size}};
  if (!xet_hash.empty()) e["xetHash"] = xet_hash;
  if (expand) {
    e["lastCommit"] = last_commit(l);
    e["securityFileStatus"] = json{{"status", "unscanned"}};
  }
  return e;
}

json dir_entry(const DirInfo& d, const SnapshotListing& l, bool expand) {
  json e{{"type", "directory"}, {"oid", d.oid}, {"size", 0}, {"path", d.path}};
  if (expand) e["lastCommit"] = last_commit(l);
  return e;
}

std::string hex_encode(std::string_view s) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(k_hex[c >> 4]);
    out.push_back(k_hex[c & 0xf]);
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = v(s[i]), lo = v(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// Is `path` listed under `dir` ("" = root)? Directly only, unless recursive.
bool under(std::string_view path, std::string_view dir, bool recursive) {
  std::string_view rest = path;
  if (!dir.empty()) {
    if (path.size() <= dir.size() + 1 || path.substr(0, dir.size()) != dir || path[dir.size()] != '/') return false;
    rest = path.substr(dir.size() + 1);
  }
  return recursive || rest.find('/') == std::string_view::npos;
}

}  // namespace

Response Router::Impl::repo_info(const Request& req, const RepoTarget& t, const std::string& revision) const {
  Response err;
  auto commit = commit_of(t, revision, err);
  if (!commit) return err;
  auto listing = view.listing(t.folder, *commit);
  if (!listing) return error_response(404, "RevisionNotFound", "Invalid rev id: " + revision + " (snapshot vanished)");
  const bool blobs = truthy(req.query_value("blobs"));
  json siblings = json::array();
  for (const auto& f : listing->files) {
    json s{{"rfilename", f.path}};
    if (blobs) {
      s["size"] = f.size;
      s["blobId"] = f.oid;
      if (f.lfs_sha256) s["lfs"] = json{{"sha256", *f.lfs_sha256}, {"size", f.size}, {"pointerSize", f.pointer_size}};
    }
    siblings.push_back(std::move(s));
  }
  const std::string date = iso8601_utc(listing->mtime);
  const std::string label = std::string(plural(t.repo.type)) + "/" + t.repo.id;
  json j{{"_id", sha256_hex(label).substr(0, 24)},
         {"id", t.repo.id},
         {"sha", *commit},
         {"private", is_private(t.repo)},
         {"gated", false},
         {"disabled", false},
         {"lastModified", date},
         {"createdAt", date},
         {"downloads", 0},
         {"likes", 0},
         {"tags", json::array()},
         {"siblings", std::move(siblings)}};
  const std::size_t slash = t.repo.id.find('/');
  if (slash != std::string::npos) j["author"] = t.repo.id.substr(0, slash);
  if (t.repo.type == RepoType::Model) j["modelId"] = t.repo.id;
  if (t.repo.type == RepoType::Space) j["sdk"] = "static";
  Response r = json_response(200, dump(j));
  r.set_header("X-Repo-Commit", *commit);
  return r;
}

Response Router::Impl::tree(const Request& req, const RepoTarget& t, const std::string& revision, const std::string& path) const {
  Response err;
  auto commit = commit_of(t, revision, err);
  if (!commit) return err;
  auto listing = view.listing(t.folder, *commit);
  if (!listing) return error_response(404, "RevisionNotFound", "Invalid rev id: " + revision + " (snapshot vanished)");
  if (!path.empty() && (!safe_repo_path(path) || !listing->find_dir(path))) {
    Response r = error_response(404, "EntryNotFound",
                                "Entry not found: no folder '" + path + "' in snapshot " + *commit + " of " + describe(t.repo));
    r.set_header("X-Repo-Commit", *commit);
    return r;
  }
  const bool recursive = truthy(req.query_value("recursive"));
  const bool expand = truthy(req.query_value("expand"));
  const std::size_t page = expand ? options.tree_expand_page_size : options.tree_page_size;
  std::string after;  // keyset cursor: the last path of the previous page
  if (auto c = req.query_value("cursor")) {
    auto decoded = hex_decode(*c);
    if (!decoded) return error_response(400, "", "Bad request: invalid cursor; follow the Link header as given");
    after = std::move(*decoded);
  }
  // Merge files and directories in path order, from the first entry after the cursor and inside
  // `path`: entries under a folder are one contiguous run of the sorted listing.
  const std::string prefix = path.empty() ? std::string() : path + "/";
  const auto first = [&](const auto& v) {
    auto in_folder = std::lower_bound(v.begin(), v.end(), prefix, [](const auto& e, const std::string& k) { return e.path < k; });
    auto past_cursor =
        std::upper_bound(v.begin(), v.end(), after, [](const std::string& k, const auto& e) { return k < e.path; });
    return std::max(in_folder, past_cursor);
  };
  auto fit = first(listing->files);
  auto dit = first(listing->dirs);
  json out = json::array();
  std::string last;
  bool more = false;
  while (fit != listing->files.end() || dit != listing->dirs.end()) {
    const bool take_dir = fit == listing->files.end() || (dit != listing->dirs.end() && dit->path < fit->path);
    const std::string& p = take_dir ? dit->path : fit->path;
    if (p.compare(0, prefix.size(), prefix) != 0) break;  // past the folder's run
    if (under(p, path, recursive)) {
      if (out.size() == page) {
        more = true;
        break;
      }
      out.push_back(take_dir ? dir_entry(*dit, *listing, expand) : file_entry(*fit, *listing, expand, xet_known_hash(t, *fit)));
      last = p;
    }
    if (take_dir)
      ++dit;
    else
      ++fit;
  }
  Response r = json_response(200, dump(out));
  r.set_header("X-Repo-Commit", *commit);
  if (more) {
    std::string url = base_url(req) + "/api/" + plural(t.repo.type) + "/" + t.repo.id + "/tree/" + percent_encode(revision);
    if (!path.empty()) url += "/" + percent_encode(path, "/");
    url += std::string("?recursive=") + (recursive ? "true" : "false") + "&expand=" + (expand ? "true" : "false") +
           "&cursor=" + hex_encode(last);
    r.set_header("Link", "<" + url + ">; rel=\"next\"");
  }
  return r;
}

Response Router::Impl::paths_info(const Request& req, const RepoTarget& t, const std::string& revision) const {
  Response err;
  auto commit = commit_of(t, revision, err);
  if (!commit) return err;
  std::vector<std::string> paths;
  bool expand = false;
  const auto ctype = req.header("Content-Type").value_or("");
  const bool is_json = ctype.substr(0, 16) == "application/json" || (!req.body.empty() && req.body.front() == '{');
  if (is_json) {
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return error_response(400, "", "Bad request: body is not a JSON object like {\"paths\": [..], \"expand\": false}");
    if (auto it = j.find("paths"); it != j.end()) {
      if (it->is_string())
        paths.push_back(it->get<std::string>());
      else if (it->is_array())
        for (const auto& p : *it)
          if (p.is_string()) paths.push_back(p.get<std::string>());
    }
    if (auto it = j.find("expand"); it != j.end())
      expand = it->is_boolean() ? it->get<bool>() : it->is_string() && it->get<std::string>() == "true";
  } else {
    auto form = parse_form(req.body);
    if (!form) return error_response(400, "", "Bad request: malformed form body (expected paths=a&paths=b&expand=false)");
    for (auto& [k, v] : *form) {
      if (k == "paths")
        paths.push_back(v);
      else if (k == "expand")
        expand = v == "true" || v == "1" || v == "True";
    }
  }
  if (paths.size() > 10000) return error_response(400, "", "Bad request: at most 10000 paths per paths-info request");
  auto listing = view.listing(t.folder, *commit);
  if (!listing) return error_response(404, "RevisionNotFound", "Invalid rev id: " + revision + " (snapshot vanished)");
  json out = json::array();
  std::unordered_set<std::string> seen;
  for (std::string p : paths) {
    if (p.size() > 1 && p.back() == '/') p.pop_back();
    if (!safe_repo_path(p) || !seen.insert(p).second) continue;
    if (const ServedFile* f = listing->find_file(p))
      out.push_back(file_entry(*f, *listing, expand, xet_known_hash(t, *f)));
    else if (const DirInfo* d = listing->find_dir(p))
      out.push_back(dir_entry(*d, *listing, expand));
  }
  Response r = json_response(200, dump(out));
  r.set_header("X-Repo-Commit", *commit);
  return r;
}

Response Router::Impl::refs(const Request&, const RepoTarget& t) const {
  json branches = json::array(), converts = json::array(), prs = json::array(), tags = json::array();
  for (const auto& [name, commit] : view.list_refs(t.folder)) {
    if (name.rfind("refs/pr/", 0) == 0) {
      prs.push_back({{"name", name.substr(8)}, {"ref", name}, {"targetCommit", commit}});
    } else if (name.rfind("refs/convert/", 0) == 0) {
      converts.push_back({{"name", name.substr(13)}, {"ref", name}, {"targetCommit", commit}});
    } else {
      // The cache does not record whether a ref is a branch or a tag: report branches.
      branches.push_back({{"name", name}, {"ref", "refs/heads/" + name}, {"targetCommit", commit}});
    }
  }
  json j{{"branches", branches}, {"converts", converts}, {"tags", tags}, {"pullRequests", prs}};
  return json_response(200, dump(j));
}

}  // namespace hubcache::server

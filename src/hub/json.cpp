#include <nlohmann/json.hpp>

#include "hubcache/hub/hub.hpp"

namespace hubcache::hub {
namespace {

Unexpected bad(const std::string& what) { return fail(ErrorCode::Http, "unexpected answer from the Hub: " + what); }

}  // namespace

Result<std::vector<TreeEntry>> parse_tree_entries(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return bad("tree listing is not a JSON array");
  std::vector<TreeEntry> out;
  out.reserve(j.size());
  for (const auto& v : j) {
    if (!v.is_object() || !v.contains("path") || !v["path"].is_string() || !v.contains("type") || !v["type"].is_string())
      return bad("tree entry without 'path' or 'type'");
    TreeEntry e;
    e.type = v["type"].get<std::string>();
    e.path = v["path"].get<std::string>();
    if (v.contains("oid") && v["oid"].is_string()) e.oid = v["oid"].get<std::string>();
    if (v.contains("size") && v["size"].is_number_unsigned()) e.size = v["size"].get<std::uint64_t>();
    if (e.type == "file" && (e.oid.empty() || !v.contains("size") || !v["size"].is_number_unsigned()))
      return bad("file entry '" + e.path + "' without 'oid' or 'size'");
    if (v.contains("lfs") && v["lfs"].is_object()) {
      const auto& l = v["lfs"];
      if (!l.contains("oid") || !l["oid"].is_string()) return bad("LFS entry '" + e.path + "' without 'oid'");
      LfsInfo lfs;
      lfs.oid = l["oid"].get<std::string>();
      lfs.size = l.contains("size") && l["size"].is_number_unsigned() ? l["size"].get<std::uint64_t>() : e.size;
      e.lfs = lfs;
    }
    if (v.contains("xetHash") && v["xetHash"].is_string()) e.xet_hash = v["xetHash"].get<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

Result<RepoInfo> parse_repo_info(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("repo info is not a JSON object");
  RepoInfo info;
  if (j.contains("id") && j["id"].is_string()) info.id = j["id"].get<std::string>();
  if (!j.contains("sha") || !j["sha"].is_string()) return bad("repo info has no 'sha'");
  info.sha = j["sha"].get<std::string>();
  if (!is_commit_hash(info.sha))
    return fail(ErrorCode::Http, "the Hub answered with an invalid commit hash '" + info.sha.substr(0, 80) +
                                     "' (expected 40 lower-case hex characters); refusing to use it");
  if (j.contains("private") && j["private"].is_boolean()) info.is_private = j["private"].get<bool>();
  if (j.contains("gated") && j["gated"].is_string()) info.gated = j["gated"].get<std::string>();
  if (j.contains("siblings") && j["siblings"].is_array())
    for (const auto& s : j["siblings"])
      if (s.is_object() && s.contains("rfilename") && s["rfilename"].is_string())
        info.siblings.push_back(s["rfilename"].get<std::string>());
  return info;
}

}  // namespace hubcache::hub

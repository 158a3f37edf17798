// What a bundle entry may be: the cache layout's names only, nothing that leaves the cache root.
#include <algorithm>

#include "bundle_internal.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache::bundle::detail {
namespace {

const char* type_name(Entry::Type t) {
  switch (t) {
    case Entry::Type::File:
      return "a file";
    case Entry::Type::Dir:
      return "a folder";
    case Entry::Type::Symlink:
      return "a symlink";
    case Entry::Type::Hardlink:
      return "a hardlink";
    case Entry::Type::Other:
      return "a device, FIFO or socket";
  }
  return "?";
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto slash = s.find('/', start);
    parts.emplace_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

}  // namespace

Result<EntryClass> classify_entry(const Entry& entry) {
  const std::string shown = "bundle entry '" + entry.path + "'";
  auto bad = [&](const std::string& why) { return fail(ErrorCode::InvalidArgument, shown + ": " + why, entry.path); };
  if (entry.type == Entry::Type::Hardlink) return bad("hardlinks are refused (link to '" + entry.link_target + "')");
  if (entry.type == Entry::Type::Other) return bad("devices, FIFOs and sockets are refused");
  std::string rel = entry.path;
  if (rel.starts_with("./")) rel.erase(0, 2);
  if (entry.type == Entry::Type::Dir && rel.size() > 1 && rel.back() == '/') rel.pop_back();
  if (rel.empty() || rel.front() == '/') return bad("absolute paths are refused");
  if (rel.find('\0') != std::string::npos || rel.find('\\') != std::string::npos) return bad("NUL and '\\' are refused");
  const auto parts = split(rel);
  for (const auto& p : parts)
    if (p.empty() || p == "." || p == "..") return bad("empty, '.' and '..' path components are refused");
  EntryClass c;
  c.rel = rel;
  const bool is_dir = entry.type == Entry::Type::Dir, is_file = entry.type == Entry::Type::File;
  auto want = [&](bool ok, const char* what) -> Result<EntryClass> {
    if (!ok) return bad(std::string("must be ") + what + ", not " + type_name(entry.type));
    return c;
  };
  if (parts[0] == k_locks_dir) {
    if (parts.size() == 1) return want(is_dir, "a folder");
    if (rel == k_bundle_lock_entry) {
      c.kind = EntryClass::Kind::LockFile;
      if (is_file && entry.size > k_max_lock_bytes) return bad("a lockfile larger than 64 MiB is refused");
      return want(is_file, "a file");
    }
    return bad(std::string("only ") + k_bundle_lock_entry + " may be in .locks/");
  }
  const auto repo = parse_repo_folder_name(parts[0]);
  if (!repo || repo->type == RepoType::Kernel || repo_folder_name(*repo) != parts[0] || !validate_repo_id(repo->id))
    return bad("outside models--*, datasets--*, spaces--* repo folders and the lockfile");
  c.folder = parts[0];
  if (parts.size() == 1) return want(is_dir, "a folder");
  const std::string& sub = parts[1];
  const std::string rest = parts.size() > 2 ? rel.substr(parts[0].size() + sub.size() + 2) : std::string();
  if (sub == k_blobs_dir) {
    if (parts.size() == 2) return want(is_dir, "a folder");
    if (parts.size() != 3 || digest_kind_of(parts[2]) == DigestKind::None)
      return bad("a blob must be blobs/<64 hex SHA-256 or 40 hex git blob SHA-1>");
    c.kind = EntryClass::Kind::Blob;
    c.name = parts[2];
    return want(is_file, "a file");
  }
  if (sub == k_refs_dir) {
    if (parts.size() == 2 || is_dir) return want(is_dir, "a folder");
    if (!validate_revision(rest)) return bad("not a valid revision name");
    if (entry.size > 64) return bad("a ref holds a 40-hex commit, not " + std::to_string(entry.size) + " bytes");
    c.kind = EntryClass::Kind::Ref;
    c.name = rest;
    return want(is_file, "a file");
  }
  if (sub == k_trees_dir) {
    if (parts.size() == 2) return want(is_dir, "a folder");
    if (parts.size() != 3 || !parts[2].ends_with(".json") || !is_commit_hash(parts[2].substr(0, parts[2].size() - 5)))
      return bad("a tree record must be trees/<40 hex commit>.json");
    if (entry.size > k_max_small_entry) return bad("a tree record larger than 64 MiB is refused");
    c.kind = EntryClass::Kind::Tree;
    c.name = parts[2].substr(0, 40);
    return want(is_file, "a file");
  }
  if (sub == k_snapshots_dir) {
    if (parts.size() == 2) return want(is_dir, "a folder");
    if (!is_commit_hash(parts[2])) return bad("a snapshot folder must be named by a 40-hex commit");
    if (parts.size() == 3) return want(is_dir, "a folder");
    const std::string path = rel.substr(parts[0].size() + sub.size() + parts[2].size() + 3);
    if (!validate_repo_path(path)) return bad("not a valid repo file path");
    if (is_dir) return c;
    if (entry.type != Entry::Type::Symlink)
      return bad("a snapshot file must be a symlink to its blob (caches without symlinks cannot be bundled)");
    const std::size_t depth = 2 + static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
    std::string prefix;
    for (std::size_t i = 0; i < depth; ++i) prefix += "../";
    prefix += std::string(k_blobs_dir) + "/";
    const std::string& t = entry.link_target;
    if (!t.starts_with(prefix) || digest_kind_of(std::string_view(t).substr(prefix.size())) == DigestKind::None)
      return bad("the symlink points to '" + t + "', not to " + prefix + "<blob name> (its blob in this repo folder)");
    c.kind = EntryClass::Kind::Pointer;
    c.commit = parts[2];
    c.name = path;
    c.blob = t.substr(prefix.size());
    return c;
  }
  return bad("'" + sub + "' is not part of a repo folder in a bundle (blobs, refs, snapshots, trees)");
}

}  // namespace hubcache::bundle::detail

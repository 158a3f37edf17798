// parse_delete_target: the `cache rm TARGET` syntax (docs/cache-management.md#rm, #hf-uri).
#include <cctype>

#include "hubcache/manage/delete_plan.hpp"
#include "hubcache/cache/hf_uri.hpp"
#include "hubcache/core/repo_id.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache {
namespace {

Unexpected bad_uri(const std::string& text, const std::string& why) {
  return fail(ErrorCode::InvalidArgument, "invalid target '" + text + "': " + why +
                                              ". `cache rm` takes repo-level URIs like hf://org/name or hf://datasets/org/name.");
}

}  // namespace

DeleteTarget DeleteTarget::revision_of(const RepoRef& repo, std::string_view commit) {
  DeleteTarget t;
  t.kind = Kind::RepoRevision;
  t.type = repo.type;
  t.id = repo.id;
  t.commit = to_lower(commit);
  t.text = repo.label() + "@" + t.commit;
  return t;
}

Result<DeleteTarget> parse_delete_target(std::string_view raw) {
  const std::string text(trim(raw));
  DeleteTarget t;
  t.text = std::string(raw);
  if (text.empty()) return fail(ErrorCode::InvalidArgument, "empty target: pass a repo (model/org/name) or a revision hash");
  if (is_commit_hash(to_lower(text))) {  // a commit hash in either case
    t.kind = DeleteTarget::Kind::Revision;
    t.commit = to_lower(text);
    return t;
  }
  if (text.rfind("hf://", 0) == 0) {
    if (text.find('@') != std::string::npos) return bad_uri(text, "a revision (@...) is not supported");
    auto uri = parse_hf_uri(text);
    if (!uri) return bad_uri(text, uri.error().message);
    if (!uri->path.empty()) return bad_uri(text, "a path inside the repo is not supported");
    t.kind = DeleteTarget::Kind::Repo;
    t.type = uri->type;
    t.id = uri->repo_id;
    return t;
  }
  const auto slash = text.find('/');
  if (slash != std::string::npos) {
    const std::string first = text.substr(0, slash);
    if (first == "model" || first == "dataset" || first == "space" || first == "kernel") {
      t.kind = DeleteTarget::Kind::Repo;
      t.type = parse_repo_type(first);
      t.id = text.substr(slash + 1);
      if (t.id.empty()) return fail(ErrorCode::InvalidArgument, "invalid target '" + text + "': the repo id is empty");
      return t;
    }
  }
  t.kind = DeleteTarget::Kind::BareId;
  t.id = text;
  return t;
}

}  // namespace hubcache

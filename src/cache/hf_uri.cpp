#include "hubcache/cache/hf_uri.hpp"
#include "hubcache/util/text.hpp"

#include <algorithm>
#include <cctype>

namespace hubcache {
Result<HfUri> parse_hf_uri(std::string_view uri) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidArgument,
                "invalid hf:// URI '" + std::string(uri) + "': " + why +
                    ". Expected hf://[models/|datasets/|spaces/|kernels/]<namespace>/<name>[@revision][/path]");
  };
  constexpr std::string_view scheme = "hf://";
  if (uri.substr(0, scheme.size()) != scheme) return bad("it does not start with hf://");
  std::string_view rest = uri.substr(scheme.size());
  HfUri out;
  const auto first = rest.substr(0, rest.find('/'));
  if (first == "buckets") return bad("buckets are not repositories");
  if (first == "models" || first == "datasets" || first == "spaces" || first == "kernels") {
    out.type = *parse_repo_type(first);
    rest.remove_prefix(std::min(rest.size(), first.size() + 1));
  } else if (first == "model" || first == "dataset" || first == "space" || first == "kernel") {
    return bad("the type prefix must be plural ('" + std::string(first) + "s/')");
  }
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("the repo id must be namespace/name");
  const auto name_end = rest.find_first_of("/@", slash + 1);
  out.repo_id = std::string(rest.substr(0, name_end));
  HUBCACHE_TRY(validate_repo_id(out.repo_id));
  if (name_end == std::string_view::npos) return out;
  rest.remove_prefix(name_end);
  if (rest.front() == '@') {
    rest.remove_prefix(1);
    std::size_t rev_end;
    if (rest.substr(0, 8) == "refs/pr/" || rest.substr(0, 13) == "refs/convert/") {
      const std::size_t prefix = rest.substr(0, 8) == "refs/pr/" ? 8 : 13;
      rev_end = rest.find('/', prefix);
    } else {
      rev_end = rest.find('/');
    }
    out.revision = percent_decode(rest.substr(0, rev_end)).value_or(std::string(rest.substr(0, rev_end)));
    if (out.revision->empty()) return bad("the revision after '@' is empty");
    HUBCACHE_TRY(validate_revision(*out.revision));
    if (rev_end == std::string_view::npos) return out;
    rest.remove_prefix(rev_end);
  }
  out.path = std::string(rest.substr(1));
  return out;
}

}  // namespace hubcache

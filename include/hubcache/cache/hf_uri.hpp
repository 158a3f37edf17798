#pragma once
// hf:// URIs (huggingface_hub's HfFileSystem paths): the one parser, used by `download`/`resolve`
// (resolve) and by `cache rm` targets (manage).
#include <optional>
#include <string>
#include <string_view>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"

namespace hubcache {

/// A parsed `hf://[type/]<ns>/<name>[@rev][/path]` URI (docs/cache-management.md#hf-uri).
struct HfUri {
  RepoType type = RepoType::Model;
  std::string repo_id;
  std::optional<std::string> revision;  // percent-decoded; refs/pr/N and refs/convert/X kept whole
  std::string path;                     // "" for the whole repo; ends with '/' for a folder
};

/// Parses a hf:// URI. The type prefix is plural (models/, datasets/, spaces/, kernels/; none =
/// model); the repo id and revision are validated (validate_repo_id, validate_revision).
/// Errors: InvalidArgument naming what is wrong ("buckets are not repositories", a singular type
/// prefix, no namespace/name, an empty revision) and the expected form; the repo id's or the
/// revision's own error when one of them is invalid.
Result<HfUri> parse_hf_uri(std::string_view uri);

}  // namespace hubcache

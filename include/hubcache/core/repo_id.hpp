#pragma once
// Repo identity: type, id, revision and the validation of everything derived from input
// (docs/hub-protocol.md#identifiers), the vocabulary every module shares (core).
// Nothing that fails these checks may ever be used to build a path.
#include <optional>
#include <string>
#include <string_view>

#include "hubcache/core/result.hpp"

namespace hubcache {

enum class RepoType { Model, Dataset, Space, Kernel };

/// "model", "dataset", "space", "kernel".
const char* to_string(RepoType t);
/// Accepts the singular names (and the plural ones, "models", ...). Case-sensitive like `hf`.
std::optional<RepoType> parse_repo_type(std::string_view s);
/// URL prefix: "" for models, "datasets/", "spaces/", "kernels/".
const char* url_prefix(RepoType t);
/// API segment / folder prefix: "models", "datasets", "spaces", "kernels".
const char* plural(RepoType t);

struct RepoRef {
  RepoType type = RepoType::Model;
  std::string id;  // "name" or "ns/name", as typed (case kept)
  bool operator==(const RepoRef&) const = default;
  /// "model/gpt2" style label used in listings.
  std::string label() const { return std::string(to_string(type)) + "/" + id; }
};

Result<void> validate_repo_id(std::string_view repo_id);
Result<void> validate_revision(std::string_view revision);
/// Repo file path rules (a)-(c) plus NUL, empty and "." segments.
Result<void> validate_repo_path(std::string_view path);
/// A server-provided ETag used as a blob name: non-empty, no '/', '\', NUL, not "." or "..".
Result<void> validate_etag(std::string_view etag);

/// True iff `s` is exactly `len` lower-case hex digits.
bool is_lower_hex(std::string_view s, std::size_t len);
/// True iff `rev` is a full lower-case 40-hex commit hash.
bool is_commit_hash(std::string_view rev);

/// Strips a leading "W/" and surrounding quotes from an HTTP ETag.
std::string normalize_etag(std::string_view etag);

}  // namespace hubcache

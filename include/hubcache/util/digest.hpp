#pragma once
// What a blob name or ETag says about its content's hash: the one rule for "64 hex = SHA-256,
// 40 hex = git blob SHA-1" (huggingface_hub names a blob by its ETag: an LFS or Xet-backed file's
// SHA-256 `lfs.oid`, a regular file's git blob SHA-1 `oid`).
#include <string_view>

namespace hubcache {

enum class DigestKind {
  None,     // not a digest name (other length, upper-case or non-hex): nothing to check it against
  Sha256,   // 64 lower-case hex: SHA-256 of the content (LFS / Xet files)
  GitSha1,  // 40 lower-case hex: sha1("blob <size>\0" + content) (regular git files)
};

/// The kind of digest `name` is, by its spelling alone (lower-case hex of length 64 or 40).
[[nodiscard]] DigestKind digest_kind_of(std::string_view name);

/// "sha256", "git-sha1" or "none", as messages and JSON name the algorithm.
[[nodiscard]] const char* to_string(DigestKind kind);

}  // namespace hubcache

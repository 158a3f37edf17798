#pragma once
// The token files of huggingface_hub (`hf auth login / list / switch / logout`), byte-compatible:
// the active token is the whole content of Config::token_path (`$HF_HOME/token`, HF_TOKEN_PATH),
// and named tokens live in Config::stored_tokens_path (`stored_tokens` next to it), an INI file
// as Python's configparser writes it: one `[name]` section per token with `hf_token = <token>`,
// sections sorted by name. Both are written atomically with mode 0600; a folder created for
// them gets 0700. Nothing here prints or logs a token.
#include <string>
#include <vector>

#include "hubcache/core/result.hpp"

namespace hubcache {

struct StoredToken {
  std::string name;
  std::string token;  // never print this
};

/// Named tokens, sorted by name; a missing file is an empty list. Sections without `hf_token`
/// are skipped. Errors: Io (unreadable), CacheCorrupted (a line that is no section, option,
/// comment or blank: the file is named with what to do).
Result<std::vector<StoredToken>> read_stored_tokens(const std::string& path);

/// Adds or replaces `name` in the stored tokens file. Errors: InvalidArgument (a name that
/// configparser cannot hold: empty, with ']' or a line break, or surrounding spaces; a token
/// with whitespace), the errors of read_stored_tokens, Io / PermissionDenied / DiskFull.
Result<void> save_named_token(const std::string& path, const std::string& name, const std::string& token);

/// Removes `name`; returns whether it was there. Errors: as save_named_token.
Result<bool> remove_named_token(const std::string& path, const std::string& name);

/// Writes `token` as the active token (the whole file). Errors: Io / PermissionDenied / DiskFull.
Result<void> write_active_token(const std::string& token_path, const std::string& token);

/// The active token from `token_path` (cleaned like huggingface_hub: line breaks removed,
/// spaces trimmed), "" when the file is missing or empty. Errors: Io.
Result<std::string> read_active_token(const std::string& token_path);

/// Removes a file if present; returns whether it was there. Errors: Io / PermissionDenied.
Result<bool> remove_token_file(const std::string& path);

/// `hf_****abcd` (first 3 and last 4 characters, as `hf auth list` shows); "****" for short ones.
std::string mask_token(const std::string& token);

}  // namespace hubcache

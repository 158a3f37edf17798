#pragma once
// Error values returned by every public hubcache API (no exceptions cross the API).
#include <optional>
#include <string>
#include <vector>

namespace hubcache {

enum class ErrorCode {
  InvalidArgument,    // bad user input (flags, patterns, sizes)
  InvalidRepoId,      // repo id fails docs/hub-protocol.md#identifiers
  InvalidRevision,    // revision unusable as a ref path
  InvalidPath,        // repo file path fails docs/hub-protocol.md#identifiers (a)-(c)
  NotADirectory,      // a path that must be a directory is something else
  NotFound,           // a local file or folder is missing
  RepoNotFound,
  RevisionNotFound,
  EntryNotFound,
  LocalEntryNotFound, // not in the cache and the network may not be used
  IncompleteSnapshot, // snapshot present but files listed by trees/<commit>.json are missing
  CacheCorrupted,
  Integrity,          // content does not match its name/ETag
  Io,
  PermissionDenied,
  DiskFull,
  Conflict,           // e.g. a local-dir file disagrees with its recorded ETag
  Network,
  Timeout,
  Offline,
  Unauthorized,
  Gated,
  RateLimited,
  Http,
  Cancelled,
};

/// Context of a failed HTTP exchange (filled by the network layers).
struct HttpErrorContext {
  int status = 0;
  std::string url;
  std::string request_id;
  std::string error_code;      // X-Error-Code
  std::string server_message;  // X-Error-Message / JSON error
  std::string repo_commit;     // X-Repo-Commit of the error response (EntryNotFound), unvalidated
};

struct Error {
  ErrorCode code = ErrorCode::Io;
  std::string message;  // what failed, on what, and why; never contains a token
  std::string path;     // the local path concerned, if any
  std::optional<HttpErrorContext> http;
  std::vector<std::string> missing;  // files that were asked for and are absent (LocalEntryNotFound etc.)

  /// True for failures worth retrying (network blips, 5xx, 429).
  [[nodiscard]] bool is_transient() const;
};

/// The HTTP statuses worth retrying, as huggingface_hub's http_backoff retries them: 408, 429,
/// 500, 502, 503, 504 (the one list: http's retry policy and Error::is_transient use it).
[[nodiscard]] bool is_transient_http_status(int status);

/// Stable lower-case name of a code, e.g. "repo_not_found" (used in JSON output).
const char* to_string(ErrorCode code);

/// Builds an Error from errno for an operation on `path`: "<what> '<path>': <strerror>".
Error errno_error(int err, const std::string& what, const std::string& path);

}  // namespace hubcache

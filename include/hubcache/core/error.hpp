#pragma once
// Error values returned by every public hubcache API (no exceptions cross the API).
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hubcache {

enum class ErrorCode {
  InvalidArgument,  // bad user input (flags, patterns, sizes)
  InvalidRepoId,    // repo id fails docs/hub-protocol.md#identifiers
  InvalidRevision,  // revision unusable as a ref path
  InvalidPath,      // repo file path fails docs/hub-protocol.md#identifiers (a)-(c)
  NotADirectory,    // a path that must be a directory is something else
  NotFound,         // a local file or folder is missing
  RepoNotFound,
  RevisionNotFound,
  EntryNotFound,
  LocalEntryNotFound,  // not in the cache and the network may not be used
  IncompleteSnapshot,  // snapshot present but files listed by trees/<commit>.json are missing
  CacheCorrupted,
  Integrity,  // content does not match its name/ETag
  Io,
  PermissionDenied,
  DiskFull,
  Conflict,  // e.g. a local-dir file disagrees with its recorded ETag
  Network,
  Timeout,
  Offline,
  Unauthorized,
  Gated,
  RateLimited,
  Http,
  Cancelled,
};

/// What the caller can do about an error, for a front end to say in its own words. The library's
/// message says what failed, on what and why, in the API's terms (option and environment
/// variable names, never a command-line flag); the CLI adds its flags and commands from this
/// (apps/cli/hints.cpp). Error::remedy_value carries what a remedy names.
enum class Remedy {
  None,
  UseNetwork,         // offline mode (HF_HUB_OFFLINE) or local_files_only kept the Hub from being asked
  DropForceDownload,  // force_download without network
  UseCacheDir,        // the cache directory (Error::path) is missing or not a folder
  UseToken,           // a token with access to the repo is needed (private, gated)
  CheckToken,         // the token sent was refused
  Download,           // not cached: download Error::missing (none: the whole repo) at revision remedy_value
  UseRevision,        // name a revision: remedy_value is a cached commit to use, or empty
  UseRepoType,        // the id names a repo of type remedy_value ("dataset", "space", ...)
  DropLocalDir,       // the repo id is a local folder, the model itself: local_dir does not apply
  UseLocalDir,        // a symlink inside the local dir is refused: replace it or pick another local dir
  ForceDownload,      // the server's answer did not match: retry, later or with force_download
  TrustCa,            // the server's TLS certificate cannot be verified with the CA in effect
  FreeSpace,          // not enough free space in Error::path
  IgnoreMetadata,     // import: the local-dir metadata is in the way; remedy_value "untracked": or skip the untracked files
  ForceRef,           // import: moving the ref needs force; remedy_value: the imported commit (or import under another name)
  MirrorCache,        // import: the folder is (part of) the Hub cache Error::path: copy through a mirror of it
                      // (remedy_value: the repo as hf://[<type>s/]<id>[@<commit of a snapshot folder>])
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
  Error() = default;
  Error(ErrorCode c, std::string m, std::string p = {}, std::optional<HttpErrorContext> h = std::nullopt,
        std::vector<std::string> miss = {})
      : code(c), message(std::move(m)), path(std::move(p)), http(std::move(h)), missing(std::move(miss)) {}

  ErrorCode code = ErrorCode::Io;
  std::string message;  // what failed, on what, and why; never contains a token
  std::string path;     // the local path concerned, if any
  std::optional<HttpErrorContext> http;
  std::vector<std::string> missing;  // files that were asked for and are absent (LocalEntryNotFound etc.)
  Remedy remedy = Remedy::None;
  std::string remedy_value;  // see Remedy

  /// This error with `r` (and its value) as what the caller can do.
  [[nodiscard]] Error with_remedy(Remedy r, std::string value = {}) && {
    remedy = r;
    remedy_value = std::move(value);
    return std::move(*this);
  }

  /// True for failures worth retrying (network blips, 5xx, 429).
  [[nodiscard]] bool is_transient() const;
};

/// The HTTP statuses worth retrying, as huggingface_hub's http_backoff retries them: 408, 429,
/// 500, 502, 503, 504 (the one list: http's retry policy and Error::is_transient use it).
[[nodiscard]] bool is_transient_http_status(int status);

/// Stable lower-case name of a code, e.g. "repo_not_found" (used in JSON output).
const char* to_string(ErrorCode code);
/// Stable lower-case name of a remedy, e.g. "use_revision" ("" for None; used in JSON output).
const char* to_string(Remedy remedy);

/// Builds an Error from errno for an operation on `path`: "<what> '<path>': <strerror>".
Error errno_error(int err, const std::string& what, const std::string& path);

}  // namespace hubcache

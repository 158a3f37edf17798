#include <cerrno>
#include <cstring>

#include "hubcache/core/error.hpp"

namespace hubcache {

bool is_transient_http_status(int s) { return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504; }

bool Error::is_transient() const {
  switch (code) {
    case ErrorCode::Network:
    case ErrorCode::Timeout:
    case ErrorCode::RateLimited:
      return true;
    case ErrorCode::Http:
      return http && is_transient_http_status(http->status);
    default:
      return false;
  }
}

const char* to_string(Remedy remedy) {
  switch (remedy) {
    case Remedy::None:
      return "";
    case Remedy::UseNetwork:
      return "use_network";
    case Remedy::DropForceDownload:
      return "drop_force_download";
    case Remedy::UseCacheDir:
      return "use_cache_dir";
    case Remedy::UseToken:
      return "use_token";
    case Remedy::CheckToken:
      return "check_token";
    case Remedy::Download:
      return "download";
    case Remedy::UseRevision:
      return "use_revision";
    case Remedy::UseRepoType:
      return "use_repo_type";
    case Remedy::DropLocalDir:
      return "drop_local_dir";
    case Remedy::UseLocalDir:
      return "use_local_dir";
    case Remedy::ForceDownload:
      return "force_download";
    case Remedy::TrustCa:
      return "trust_ca";
    case Remedy::FreeSpace:
      return "free_space";
    case Remedy::IgnoreMetadata:
      return "ignore_metadata";
    case Remedy::ForceRef:
      return "force_ref";
    case Remedy::MirrorCache:
      return "mirror_cache";
  }
  return "";
}

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return "invalid_argument";
    case ErrorCode::InvalidRepoId:
      return "invalid_repo_id";
    case ErrorCode::InvalidRevision:
      return "invalid_revision";
    case ErrorCode::InvalidPath:
      return "invalid_path";
    case ErrorCode::NotADirectory:
      return "not_a_directory";
    case ErrorCode::NotFound:
      return "not_found";
    case ErrorCode::RepoNotFound:
      return "repo_not_found";
    case ErrorCode::RevisionNotFound:
      return "revision_not_found";
    case ErrorCode::EntryNotFound:
      return "entry_not_found";
    case ErrorCode::LocalEntryNotFound:
      return "local_entry_not_found";
    case ErrorCode::IncompleteSnapshot:
      return "incomplete_snapshot";
    case ErrorCode::CacheCorrupted:
      return "cache_corrupted";
    case ErrorCode::Integrity:
      return "integrity";
    case ErrorCode::Io:
      return "io";
    case ErrorCode::PermissionDenied:
      return "permission_denied";
    case ErrorCode::DiskFull:
      return "disk_full";
    case ErrorCode::Conflict:
      return "conflict";
    case ErrorCode::Network:
      return "network";
    case ErrorCode::Timeout:
      return "timeout";
    case ErrorCode::Offline:
      return "offline";
    case ErrorCode::Unauthorized:
      return "unauthorized";
    case ErrorCode::Gated:
      return "gated";
    case ErrorCode::RateLimited:
      return "rate_limited";
    case ErrorCode::Http:
      return "http";
    case ErrorCode::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

Error errno_error(int err, const std::string& what, const std::string& path) {
  ErrorCode code = ErrorCode::Io;
  if (err == ENOENT)
    code = ErrorCode::NotFound;
  else if (err == EACCES || err == EPERM || err == EROFS)
    code = ErrorCode::PermissionDenied;
  else if (err == ENOSPC || err == EDQUOT)
    code = ErrorCode::DiskFull;
  else if (err == ENOTDIR)
    code = ErrorCode::NotADirectory;
  return Error{code, what + " '" + path + "': " + std::strerror(err), path};
}

}  // namespace hubcache

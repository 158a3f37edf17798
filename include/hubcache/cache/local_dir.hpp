#pragma once
// The `--local-dir` metadata format (docs/cache-format.md#local-dir), the one owner of it: the
// names under <LOCAL>/.cache/huggingface and the per-file record, as huggingface_hub's
// _local_folder.py writes them (get_local_download_paths, read_download_metadata,
// write_download_metadata). Paths only; the I/O that must not leave <LOCAL> lives with its
// callers (resolve's openat walk, manage's import).
#include <optional>
#include <string>
#include <string_view>

namespace hubcache {

/// Relative to <LOCAL>: the metadata folder and the per-file records below it.
inline constexpr std::string_view k_local_meta_dir = ".cache/huggingface";
inline constexpr std::string_view k_local_download_dir = ".cache/huggingface/download";
inline constexpr std::string_view k_local_metadata_suffix = ".metadata";
inline constexpr std::string_view k_local_lock_suffix = ".lock";

/// One file's record (PY: LocalDownloadFileMetadata): the commit and ETag it was downloaded at,
/// and when (seconds since the epoch, a float in the file).
struct LocalDownloadFileMetadata {
  std::string commit;
  std::string etag;
  double timestamp = 0;
};

/// The names of one local dir. `root` is <LOCAL> (absolute, no trailing slash); `path` a repo
/// file path already validated (validate_repo_path). No I/O.
class LocalDirLayout {
 public:
  explicit LocalDirLayout(std::string root) : m_root(std::move(root)) {}
  const std::string& root() const { return m_root; }
  /// <LOCAL>/.cache/huggingface
  std::string meta_dir() const;
  /// <LOCAL>/.cache/huggingface/download (the records, locks and temp files, by repo path)
  std::string download_dir() const;
  /// <LOCAL>/.cache/huggingface/trees (trees/<commit>.json, as in the cache)
  std::string trees_dir() const;
  /// <LOCAL>/.cache/huggingface/download/<path>.metadata
  std::string metadata_path(std::string_view path) const;
  /// <LOCAL>/.cache/huggingface/download/<path>.lock
  std::string lock_path(std::string_view path) const;
  /// The temp file a download of `path` at `etag` writes first, named like PY's
  /// get_local_download_paths: download/<dir>/<base64url(sha1("<name>.metadata"))>.<etag>.incomplete
  std::string temp_path(std::string_view path, std::string_view etag) const;

 private:
  std::string m_root;
};

/// The record's text: "<commit>\n<etag>\n<timestamp>\n", the timestamp as Python's float repr
/// (write_download_metadata).
std::string format_local_metadata(const LocalDownloadFileMetadata& m);
/// Parses a record like read_download_metadata: three lines, each stripped, the third a float.
/// nullopt when it does not parse (PY then deletes the file). Checks nothing else: what a
/// caller trusts (a commit hash, a digest ETag) is its own rule.
std::optional<LocalDownloadFileMetadata> parse_local_metadata(std::string_view text);
/// The validity rule: a record describes the file only while the file's mtime (seconds) is at
/// most one second after the record's timestamp; an edit or a touch makes it stale.
bool local_metadata_is_current(const LocalDownloadFileMetadata& m, double file_mtime_seconds);

}  // namespace hubcache

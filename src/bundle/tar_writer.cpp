// The tar bundle: lockfile first, then per repo folder its blobs (each once), refs, snapshot
// pointers and trees, in a fixed order with fixed metadata (pax, uid/gid 0, one mtime). No folder
// entries (but refs/ when no ref creates it): `tar -x` into a live cache then creates the folders
// it lacks and leaves the modes and times of existing ones alone (a shared cache's group-writable
// .locks/ stays so).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "bundle_internal.hpp"
#include "hubcache/cache/layout.hpp"

namespace hubcache::bundle::detail {
namespace {

class TarWriter {
 public:
  TarWriter(std::time_t mtime, std::string what)
      : m_a(archive_write_new()), m_entry(archive_entry_new()), m_mtime(mtime), m_what(std::move(what)) {}
  ~TarWriter() {
    archive_entry_free(m_entry);
    if (m_a) archive_write_free(m_a);
  }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  Result<void> open(int fd) {
    // Names are written as the bytes they are (UTF-8 on the Hub), never converted through the
    // process's locale: in the C locale a conversion fails on any non-ASCII name.
    if (archive_write_set_format_pax_restricted(m_a) != ARCHIVE_OK ||
        archive_write_set_format_option(m_a, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
        archive_write_open_fd(m_a, fd) != ARCHIVE_OK)
      return error("cannot start the tar stream");
    return {};
  }
  Result<void> dir(const std::string& path) { return header(path + "/", AE_IFDIR, 0755, 0); }
  Result<void> symlink(const std::string& path, const std::string& target) {
    archive_entry_clear(m_entry);
    fill(path, AE_IFLNK, 0777, 0);
    archive_entry_set_symlink(m_entry, target.c_str());
    if (archive_write_header(m_a, m_entry) != ARCHIVE_OK) return error("cannot write " + path);
    return {};
  }
  Result<void> file(const std::string& path, std::string_view data) {
    HUBCACHE_TRY(header(path, AE_IFREG, 0644, data.size()));
    return write(path, data.data(), data.size());
  }
  Result<void> header(const std::string& path, unsigned type, unsigned mode, std::uint64_t size) {
    archive_entry_clear(m_entry);
    fill(path, type, mode, size);
    if (archive_write_header(m_a, m_entry) != ARCHIVE_OK) return error("cannot write " + path);
    return {};
  }
  Result<void> write(const std::string& path, const char* data, std::size_t n) {
    while (n > 0) {
      const la_ssize_t w = archive_write_data(m_a, data, n);
      if (w <= 0) return error("cannot write " + path);
      data += w;
      n -= static_cast<std::size_t>(w);
    }
    return {};
  }
  Result<void> close() {
    if (archive_write_close(m_a) != ARCHIVE_OK) return error("cannot finish the tar stream");
    return {};
  }

 private:
  void fill(const std::string& path, unsigned type, unsigned mode, std::uint64_t size) {
    archive_entry_set_pathname(m_entry, path.c_str());
    archive_entry_set_filetype(m_entry, type);
    archive_entry_set_perm(m_entry, mode);
    archive_entry_set_size(m_entry, static_cast<la_int64_t>(size));
    archive_entry_set_mtime(m_entry, m_mtime, 0);
    archive_entry_set_uid(m_entry, 0);
    archive_entry_set_gid(m_entry, 0);
  }
  Unexpected error(const std::string& what) {
    const int err = archive_errno(m_a);
    const char* msg = archive_error_string(m_a);
    return fail(err == ENOSPC ? ErrorCode::DiskFull : ErrorCode::Io,
                what + " in " + m_what + ": " + (msg ? msg : "unknown libarchive error"), m_what);
  }
  archive* m_a;
  archive_entry* m_entry;
  std::time_t m_mtime;
  std::string m_what;
};

Result<CreateReport> write_stream(TarWriter& tar, const CreateOptions& options, const std::vector<BundleRepo>& repos) {
  CreateReport report;
  HUBCACHE_TRY(tar.file(k_bundle_lock_entry, lock::serialize_lockfile(options.lock)));
  for (const auto& r : repos) {
    ++report.repos;
    const std::string root = r.folder + "/";
    for (const auto& [name, size] : r.blobs) {
      const std::string entry = root + std::string(k_blobs_dir) + "/" + name;
      HUBCACHE_TRY(tar.header(entry, AE_IFREG, 0644, size));
      const std::string source = options.cache_dir + "/" + entry;
      HUBCACHE_TRY(
          copy_verified_blob(source, name, size, [&](const char* data, std::size_t n) { return tar.write(entry, data, n); }));
      ++report.blobs;
      report.bytes += size;
    }
    // refs/ must exist (the JS scanner stats it); a ref file creates it, else an entry does.
    if (r.refs.empty()) HUBCACHE_TRY(tar.dir(root + std::string(k_refs_dir)));
    for (const auto& [ref, commit] : r.refs) HUBCACHE_TRY(tar.file(root + "refs/" + ref, commit));
    for (const auto& [commit, files] : r.snapshots) {
      const std::string snap = root + "snapshots/" + commit;
      for (const auto& [path, f] : files) {
        HUBCACHE_TRY(tar.symlink(snap + "/" + path, pointer_target(path, f.blob_name())));
        ++report.files;
      }
    }
    for (const auto& [commit, files] : r.snapshots) {
      HUBCACHE_TRY_ASSIGN(const std::string text, tree_file_text(tree_entries(files)));
      HUBCACHE_TRY(tar.file(root + "trees/" + commit + ".json", text));
    }
  }
  HUBCACHE_TRY(tar.close());
  return report;
}

}  // namespace

Result<CreateReport> write_tar(const CreateOptions& options, const std::vector<BundleRepo>& repos) {
  if (options.output == "-") {
    TarWriter tar(options.mtime, "standard output");
    HUBCACHE_TRY(tar.open(STDOUT_FILENO));
    return write_stream(tar, options, repos);
  }
  const std::string tmp = options.output + "." + fs::random_hex(8) + ".tmp";
  fs::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return fail(errno_error(errno, "cannot create the bundle", tmp));
  auto report = [&]() -> Result<CreateReport> {
    TarWriter tar(options.mtime, options.output);
    HUBCACHE_TRY(tar.open(fd.get()));
    return write_stream(tar, options, repos);
  }();
  if (report && ::fsync(fd.get()) != 0) report = fail(errno_error(errno, "cannot write the bundle", tmp));
  fd.reset();
  if (report && ::rename(tmp.c_str(), options.output.c_str()) != 0)
    report = fail(errno_error(errno, "cannot rename the bundle into place", options.output));
  if (!report) ::unlink(tmp.c_str());
  return report;
}

}  // namespace hubcache::bundle::detail

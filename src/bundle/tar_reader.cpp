// Reads a tar bundle entry by entry into the staging cache (libarchive; any compression it knows).
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <memory>

#include "bundle_internal.hpp"

namespace hubcache::bundle::detail {
namespace {

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

Entry::Type type_of(archive_entry* e) {
  if (archive_entry_hardlink_utf8(e) != nullptr || archive_entry_hardlink(e) != nullptr) return Entry::Type::Hardlink;
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      return Entry::Type::File;
    case AE_IFDIR:
      return Entry::Type::Dir;
    case AE_IFLNK:
      return Entry::Type::Symlink;
    default:
      return Entry::Type::Other;
  }
}

}  // namespace

Result<void> read_tar(const std::string& path, Staging& staging) {
  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_all(a.get());
  const std::string shown = path == "-" ? "standard input" : path;
  const int opened =
      path == "-" ? archive_read_open_fd(a.get(), 0, 1 << 20) : archive_read_open_filename(a.get(), path.c_str(), 1 << 20);
  if (opened != ARCHIVE_OK) {
    const char* msg = archive_error_string(a.get());
    return fail(archive_errno(a.get()) == ENOENT ? ErrorCode::NotFound : ErrorCode::InvalidArgument,
                "cannot read the bundle " + shown + ": " + (msg ? msg : "not a tar stream"), path);
  }
  std::string last = "(the first entry)";
  std::size_t entries = 0;
  while (true) {
    archive_entry* e = nullptr;
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      const char* msg = archive_error_string(a.get());
      return fail(ErrorCode::Io,
                  "the bundle " + shown + " is truncated or malformed after entry '" + last + "': " + (msg ? msg : "read error"),
                  path);
    }
    // UTF-8 names (a pax header says so) come as UTF-8 whatever the locale; raw ones (hdrcharset
    // BINARY, as create writes them, or old ustar) as their bytes.
    const char* name = archive_entry_pathname_utf8(e);
    if (name == nullptr) name = archive_entry_pathname(e);
    if (name == nullptr)
      return fail(ErrorCode::InvalidArgument,
                  "the bundle " + shown + " has an entry without a readable name after '" + last + "'", path);
    Entry entry;
    entry.path = name;
    entry.type = type_of(e);
    if (entry.type == Entry::Type::Hardlink)
      entry.link_target = archive_entry_hardlink_utf8(e) ? archive_entry_hardlink_utf8(e)
                          : archive_entry_hardlink(e)    ? archive_entry_hardlink(e)
                                                         : "";
    if (entry.type == Entry::Type::Symlink) {
      const char* target = archive_entry_symlink_utf8(e);
      if (target == nullptr) target = archive_entry_symlink(e);
      entry.link_target = target ? target : "";
    }
    entry.size = archive_entry_size_is_set(e) ? static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_entry_size(e))) : 0;
    last = entry.path;
    ++entries;
    const ReadFn read = [&](char* buf, std::size_t cap) -> Result<std::size_t> {
      const la_ssize_t n = archive_read_data(a.get(), buf, cap);
      if (n < 0) {
        const char* msg = archive_error_string(a.get());
        return fail(ErrorCode::Io, "bundle entry '" + entry.path + "': truncated or unreadable: " + (msg ? msg : "read error"),
                    entry.path);
      }
      return static_cast<std::size_t>(n);
    };
    HUBCACHE_TRY(staging.add(entry, read));
  }
  if (entries == 0) return fail(ErrorCode::InvalidArgument, "the bundle " + shown + " holds no entry", path);
  return {};
}

}  // namespace hubcache::bundle::detail

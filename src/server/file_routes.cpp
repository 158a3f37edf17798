// File routes: /{prefix}{repo}/resolve|raw/{rev}/{path} and the signed /_blobs/ download path.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/lfs_pointer.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/util/digest.hpp"
#include "router_impl.hpp"

namespace hubcache::server {
namespace {

std::string quote_etag(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::optional<fs::Fd> open_regular(const std::string& path, std::uint64_t& size, std::int64_t& mtime) {
  fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  size = static_cast<std::uint64_t>(st.st_size);
  mtime = st.st_mtim.tv_sec;
  return fd;
}

std::int64_t now_seconds() { return static_cast<std::int64_t>(::time(nullptr)); }

// A file of the commit (its tree record lists it) that the cache does not hold. Never 404
// EntryNotFound (clients would record it in .no_exist as a file the commit lacks): 503, which
// huggingface_hub and huggingface.js report as a server failure, and no X-Error-Code.
Response lacking(const RepoRef& repo, const std::string& commit, const std::string& path) {
  return error_response(503, "",
                        "This mirror lacks '" + path + "' of " + describe(repo) + " at " + commit +
                            " (it holds part of that commit). Get it from the Hub, or add it to the mirror's cache "
                            "(download that file at that commit into the cache the mirror serves).");
}

}  // namespace

// `fd` may be empty for HEAD: the response then carries only the length (head_length).
Response file_body_response(const Request& req, fs::Fd fd, std::uint64_t size, const std::string& quoted_etag, std::int64_t mtime,
                            HeaderList extra) {
  Response r;
  r.headers = std::move(extra);
  r.set_header("ETag", quoted_etag);
  r.set_header("Accept-Ranges", "bytes");
  // Never later than now (RFC 9110 section 8.8.2.1).
  const std::string last_modified = http_date(std::min<std::int64_t>(mtime, now_seconds()));
  r.set_header("Last-Modified", last_modified);
  if (auto inm = req.header("If-None-Match"); inm && if_none_match(*inm, quoted_etag)) {
    r.status = 304;
    return r;
  }
  r.set_header("Content-Type", "application/octet-stream");
  RangeDecision d = decide_range(req.header("Range"), size);
  // A Range whose If-Range names another version of the file is ignored: the whole file, 200.
  if (auto if_range = req.header("If-Range");
      if_range && req.header("Range") && !if_range_matches(*if_range, quoted_etag, last_modified))
    d = RangeDecision{};
  if (d.kind == RangeDecision::Kind::Unsatisfiable) {
    if (size == 0) {
      // An empty file cannot satisfy any range; answer it whole. The Content-Range carries the
      // size for clients (like huggingface.js) that probe with "Range: bytes=0-0".
      r.set_header("Content-Range", "bytes */0");
      r.file = std::move(fd);
      r.file_offset = 0;
      r.file_length = 0;
      return r;
    }
    Response e = error_response(416, "", "Range Not Satisfiable: the file has " + std::to_string(size) + " bytes");
    for (const auto& [k, v] : r.headers)
      if (k != "Content-Type") e.set_header(k, v);
    e.set_header("Content-Range", "bytes */" + std::to_string(size));
    return e;
  }
  const bool has_fd = static_cast<bool>(fd);
  r.file = std::move(fd);
  if (d.kind == RangeDecision::Kind::Partial) {
    r.status = 206;
    r.file_offset = d.range.first;
    r.file_length = d.range.last - d.range.first + 1;
    if (!has_fd) r.head_length = r.file_length;
    r.set_header("Content-Range",
                 "bytes " + std::to_string(d.range.first) + "-" + std::to_string(d.range.last) + "/" + std::to_string(size));
  } else {
    r.file_offset = 0;
    r.file_length = size;
    if (!has_fd) r.head_length = size;
  }
  return r;
}

Response Router::Impl::resolve(const Request& req, const RepoTarget& t, const std::string& revision, const std::string& path,
                               bool raw) const {
  Response err;
  auto commit = commit_of(t, revision, err);
  if (!commit) return err;
  auto not_found = [&](const std::string& why) {
    Response r = error_response(404, "EntryNotFound", "Entry not found: " + why);
    r.set_header("X-Repo-Commit", *commit);
    return r;
  };
  if (!safe_repo_path(path)) return not_found("'" + path + "' is not a valid file path in a repo");
  auto info = view.lookup_file(t.folder, *commit, path);
  if (!info) {
    if (auto listing = view.listing(t.folder, *commit))
      if (const ServedFile* listed = listing->find_file(path); listed && !listed->held) return lacking(t.repo, *commit, path);
    return not_found("no file '" + path + "' in snapshot " + *commit + " of " + describe(t.repo) + " in this mirror's cache");
  }
  HeaderList headers{{"X-Repo-Commit", *commit}};
  if (info->is_lfs() && raw) {
    // The raw git file of an LFS entry is its pointer.
    Response r;
    r.headers = std::move(headers);
    r.set_header("ETag", quote_etag(info->oid));
    if (auto inm = req.header("If-None-Match"); inm && if_none_match(*inm, quote_etag(info->oid))) {
      r.status = 304;
      return r;
    }
    r.set_header("Content-Type", "text/plain; charset=utf-8");
    r.body = lfs_pointer_text(*info->lfs_sha256, info->size);
    return r;
  }
  // A git file is redirected only with --redirect-all, and only when its bytes are a blob named
  // by its git blob id (a snapshot holding a plain copy is answered in place).
  const bool redirect_git = options.redirect_all && !raw && !info->is_lfs() && !info->content_path.empty() &&
                            std::string_view(info->content_path).ends_with("/" + info->oid);
  if (info->is_lfs() || redirect_git) {
    // As the Hub: 302 to the download location, the file's identity on the redirect itself.
    const std::string location = blob_location(req, t.repo, info->etag());
    const auto xet_id = info->is_lfs() ? xet_file_id(t, *info) : std::nullopt;
    if (xet_id && req.method == "GET")
      if (auto accept = req.header("Accept");
          accept && accept->find("application/vnd.xet-fileinfo+json") != std::string_view::npos) {
        // huggingface.js asks this way (lib/file-download-info.ts): the file's Xet identity in a
        // 200 instead of the redirect; it reads the headers.
        Response r = json_response(200, nlohmann::json{{"hash", *xet_id}, {"etag", info->etag()}, {"size", info->size}}.dump());
        r.headers.insert(r.headers.begin(), headers.begin(), headers.end());
        r.set_header("Content-Type", "application/vnd.xet-fileinfo+json");
        r.set_header("ETag", quote_etag(info->oid));
        r.set_header("X-Linked-Etag", quote_etag(info->etag()));
        r.set_header("X-Linked-Size", std::to_string(info->size));
        r.set_header("Cache-Control", "no-store");
        xet_headers(req, t, *commit, *xet_id, r);
        return r;
      }
    Response r;
    r.status = 302;
    r.headers = std::move(headers);
    r.set_header("ETag", quote_etag(info->oid));
    r.set_header("X-Linked-Etag", quote_etag(info->etag()));
    r.set_header("X-Linked-Size", std::to_string(info->size));
    r.set_header("Location", location);
    r.set_header("Content-Type", "text/plain; charset=utf-8");
    r.body = "Found. Redirecting to " + location;
    if (xet_id) xet_headers(req, t, *commit, *xet_id, r);
    return r;
  }
  if (req.method == "HEAD")  // metadata only: no need to open the file
    return file_body_response(req, fs::Fd(), info->size, quote_etag(info->oid), info->mtime, std::move(headers));
  std::uint64_t size = 0;
  std::int64_t mtime = info->mtime;
  std::optional<fs::Fd> fd;
  if (info->fd) {  // the lookup cache's descriptor: dup() it instead of walking the path again
    fs::Fd dup(::fcntl(info->fd->get(), F_DUPFD_CLOEXEC, 0));
    struct stat st {};
    if (dup && ::fstat(dup.get(), &st) == 0) {
      size = static_cast<std::uint64_t>(st.st_size);
      mtime = st.st_mtim.tv_sec;
      fd = std::move(dup);
    }
  }
  if (!fd) fd = open_regular(info->content_path, size, mtime);
  if (!fd) return not_found("'" + path + "' vanished from the cache while being served");
  return file_body_response(req, std::move(*fd), size, quote_etag(info->oid), mtime, std::move(headers));
}

std::string Router::Impl::blob_location(const Request& req, const RepoRef& repo, const std::string& hash) const {
  const std::string folder_name = repo_folder_name(repo);
  std::string location = base_url(req) + "/_blobs/" + folder_name + "/" + hash;
  if (options.blob_auth == RouterOptions::BlobAuth::None) return location;
  const std::string expires = std::to_string(now_seconds() + options.blob_url_ttl.count());
  return location + "?expires=" + expires + "&sig=" + sign(folder_name + "/" + hash + "/" + expires);
}

std::optional<Router::Impl::BlobTarget> Router::Impl::blob_access(const Request& req, const std::vector<std::string>& segs,
                                                                  Response& refusal) const {
  const auto kind = segs.size() == 3 ? digest_kind_of(segs[2]) : DigestKind::None;
  const auto repo = segs.size() == 3 ? parse_repo_folder_name(segs[1]) : std::nullopt;
  // A blob is named by its SHA-256 (LFS) or its git blob id (--redirect-all).
  if ((kind != DigestKind::Sha256 && kind != DigestKind::GitSha1) || !repo || !validate_repo_id(repo->id)) {
    refusal = error_response(404, "", "Not Found: no such blob");
    return std::nullopt;
  }
  if (options.blob_auth == RouterOptions::BlobAuth::None) {
    if (is_private(*repo) && !has_mirror_token(req)) {
      refusal = error_response(401, "", "Unauthorized: this blob belongs to a private repo; send one of the mirror's tokens");
      return std::nullopt;
    }
    return BlobTarget{*repo, segs[2]};
  }
  const auto expires = req.query_value("expires");
  const auto sig = req.query_value("sig");
  std::int64_t exp = 0;
  if (!expires || !sig || expires->empty() ||
      std::from_chars(expires->data(), expires->data() + expires->size(), exp).ptr != expires->data() + expires->size()) {
    refusal = error_response(403, "", "Forbidden: this download URL is not signed; resolve the file again to get a fresh one");
    return std::nullopt;
  }
  // Verify the signature before trusting the expiry, and compare in constant time.
  const bool good = constant_time_equal(sign(segs[1] + "/" + segs[2] + "/" + *expires), *sig);
  if (!good || exp < now_seconds()) {
    refusal =
        error_response(403, "", "Forbidden: this download URL is invalid or expired; resolve the file again to get a fresh one");
    return std::nullopt;
  }
  return BlobTarget{*repo, segs[2]};
}

Response Router::Impl::blob_auth(const Request& req, const std::vector<std::string>& segs) const {
  Response refusal;
  if (!blob_access(req, segs, refusal)) {
    // auth_request passes 401 and 403 on and turns any other status into a 500.
    if (refusal.status != 401) refusal.status = 403;
    return refusal;
  }
  Response ok;
  ok.status = 204;
  return ok;
}

Response Router::Impl::blob(const Request& req, const std::vector<std::string>& segs) const {
  Response refusal;
  auto target = blob_access(req, segs, refusal);
  if (!target) return refusal;
  auto folder = view.repo_folder(target->repo);
  if (!folder) return error_response(404, "", "Not Found: the repo is no longer in the cache");
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  auto fd = open_regular(RepoLayout(view.root(), target->repo).blob_path(target->hash), size, mtime);
  if (!fd)
    if (auto payload = view.shared_payload(*folder, target->hash)) fd = open_regular(*payload, size, mtime);
  if (!fd) return error_response(404, "", "Not Found: the blob is no longer in the cache");
  // Content-addressed: the bytes of this path never change, so any cache in front (nginx, a CDN)
  // may keep them for good, keyed on the path without the signature.
  return file_body_response(req, std::move(*fd), size, quote_etag(target->hash), mtime,
                            {{"Cache-Control", "public, max-age=31536000, immutable"}});
}

}  // namespace hubcache::server

#pragma once
// A Hub-compatible HTTP server for tests, with fault injection. It speaks enough of the Hub
// protocol (HEAD/GET resolve with the LFS redirect to a second "CDN" port, repo info, paginated
// tree listing, paths-info) over files it is given, and records every request.
// Listens on 127.0.0.1 with ephemeral ports; stops (joining all threads) in its destructor.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/xet/packing.hpp"

namespace hubcache::test {

struct ServedFile {
  std::string content;    // inline bytes, or
  std::string disk_path;  // bytes read from this file (large files)
  std::uint64_t size = 0;
  bool lfs = false;
  std::string sha256;
  std::string git_sha1;
  std::string cdn_etag;  // real-Hub mode: the CDN's own (S3-style) ETag, unquoted
  std::string etag() const { return lfs ? sha256 : git_sha1; }
};

struct ServedRepo {
  using Files = std::map<std::string, ServedFile>;  // path -> file
  RepoRef ref;
  std::map<std::string, std::string> refs;  // "main", "v1", "refs/pr/1" -> commit
  std::map<std::string, Files> commits;     // commit -> its files
  bool is_private = false;
  bool gated = false;
};

enum class FaultKind {
  Status,             // answer `status` (+ Retry-After / RateLimit / X-Error-Code) instead
  ResetMidBody,       // send `after_bytes` of the body, then reset the connection
  ShortBody,          // announce the full Content-Length, send `after_bytes`, close cleanly
  WrongBytes,         // send the full body with bytes flipped
  IgnoreRange,        // answer 200 with the whole body even when a Range was asked
  Stall,              // send `after_bytes`, then go silent for `stall`
  RangeElsewhere,     // answer a ranged GET with a 206 starting at 0
  IgnoreRangeAndCut,  // hostile: answer 200 from byte 0 even to a Range, send `after_bytes`, close
};

struct Fault {
  FaultKind kind = FaultKind::Status;
  std::string method;  // "GET", "HEAD", "POST" or "" for any
  std::string match;   // substring of the request path ("" = any)
  int times = 1;       // how many matching requests it hits (-1 = all)
  int status = 500;
  std::string retry_after;
  std::string ratelimit;
  std::string error_code;
  std::uint64_t after_bytes = 0;
  std::chrono::milliseconds stall{3000};

  static Fault http_status(std::string method, std::string match, int code, int times = 1) {
    Fault f;
    f.method = std::move(method);
    f.match = std::move(match);
    f.status = code;
    f.times = times;
    return f;
  }
  static Fault body(FaultKind kind, std::string method, std::string match, std::uint64_t after_bytes = 0, int times = 1) {
    Fault f;
    f.kind = kind;
    f.method = std::move(method);
    f.match = std::move(match);
    f.after_bytes = after_bytes;
    f.times = times;
    return f;
  }
};

struct RequestRecord {
  bool cdn = false;  // arrived on the CDN listener (cdn_port()), else on the Hub listener
  std::string method;
  std::string path;  // raw target path without query
  std::string query;
  int status = 0;
  bool had_auth = false;
  std::string range;
  std::string if_range;          // the If-Range header as sent ("" when absent)
  std::uint64_t body_bytes = 0;  // body bytes actually sent
};

/// Real-Hub mode (HubServer::set_real_hub): the test hub behaves like huggingface.co and its
/// CDN instead of the kinder default. See hub_server_cdn.cpp for what changes.
struct RealHubOptions {
  std::chrono::seconds url_expiry{3600};    // lifetime of each signed CDN URL (X-Amz-Expires)
  std::chrono::milliseconds latency{0};     // slept before answering each request's head, both listeners
  std::uint64_t rate_bytes_per_second = 0;  // body cap per response, both listeners (0 = set_throttle's value)
  /// Connections the CDN listener keeps open at once (0 = no cap); one more is accepted and closed
  /// before a byte is read, as a server at its per-address limit does (`hubcache serve`, nginx's
  /// limit_conn): the client sees "Empty reply from server".
  int cdn_max_connections = 0;
};

/// What a broken or malicious Hub sends (the hostile-input probe): every mode ends the client's
/// loop with an error naming the server's fault, never an endless or unbounded one.
enum class Hostile {
  None,
  NextLinksToItself,   // every tree page's `Link: rel="next"` names that page itself
  NextLinksCycle,      // tree page A's next is page B, whose next is A again
  EndlessNextPages,    // every tree page has a next page with a new cursor, forever
  RedirectLoop,        // every Hub request answers a relative 307 to a sibling URL that redirects back
  HugeBody,            // API answers: 200 announcing a 4 GiB JSON body, streamed until the client stops
  HugeBodyUndeclared,  // the same without Content-Length (the body ends when the server closes)
  HtmlApi,             // API answers: 200 with an HTML sign-in page (a captive portal or proxy)
};

/// The endpoint moved (a mirror or proxy in front of the Hub): every request on the Hub listener
/// is answered 308 to `/moved<path>?<query>&key=<k>`, which alone is served (without the key: 403).
enum class Moved {
  None,
  RelativeWithQuery,  // Location: /moved/...?...&key=... (same host)
  OtherHost,          // Location: http://127.0.0.1:<cdn_port()>/moved/...: another origin
};

/// The Xet CAS of the test hub (set_xet on; hub_server_xet.cpp). Each LFS file is chunked,
/// packed onto xorbs of at most `xorb_chunks` chunks (deduplicated across every file served, in
/// the order they were added: a later file sharing content references the earlier one's xorbs)
/// and serialized with mixed compression (by chunk index in its xorb: i % 3 == 0 LZ4, 1 BG4,
/// 2 None; incompressible chunks fall back to None). It lives on the CDN listener (another origin,
/// like cas-server.xethub.hf.co), under /cas:
///   GET /api/{type}s/{repo}/xet-read-token/{rev}  (Hub listener) {accessToken, exp, casUrl}
///   GET /cas/v2/reconstructions/{file id}, /cas/v1/...  Bearer token (401 without, unknown or
///       expired), optional Range (offset_into_first_range; 416 past the end), 404 unknown id
///   GET /cas/xorbs/{xorb}?ranges=a-b,...&expires=<unix>&sig=<hmac>  signed URLs, 403 when expired,
///       forged or asked for a Range outside the listed ones; a single Range answers 206
/// Faults (set_xet_fault, add_xet_fault; `n` is the fault's parameter):
enum class XetFault {
  None,
  TokenExpiresAfterUses,  // the first read token issued is refused (401) by CAS after `n` uses; later ones never
  ExpiredXorbUrl,         // the first xorb GET answers 403 (an expired signed URL): a fresh reconstruction cures it
  TruncatedXorb,          // every xorb GET announces the whole range but sends only half of it, then closes
  CutXorbsAfter,          // xorb GETs after the first `n` reset the connection after half their body
  OversizedChunkHeader,   // chunk 1 of every xorb has a header claiming a 128 KiB + 1 payload
  ChunkDecodesShort,      // the first LZ4 chunk of every xorb is a frame one byte shorter than its header says
  ChunkDecodesLong,       // the first LZ4 chunk of every xorb is a frame one byte longer than its header says
  WrongBytePlain,         // a byte of the first uncompressed (type 0) chunk of every xorb flipped: only a hash sees it
  WrongUnpackedLength,    // the first term's unpacked_length 1 too large, the last's 1 too small (total right)
  TermPastXorb,           // the last term's range ends one chunk past its xorb's end; no fetch range covers it
  NonHexHash,             // the first term's xorb hash is not hex
  V2NotFound,             // /cas/v2/reconstructions answers 404 (a CAS with v1 only)
};

struct XetCasOptions {
  std::size_t xorb_chunks = 16;               // chunks per new xorb (xet-core: about 1024)
  std::chrono::seconds token_lifetime{3600};  // exp of read tokens (against the server's clock)
  std::chrono::seconds url_lifetime{3600};    // expiry of signed xorb URLs
};

struct XetCasState;  // hub_server_xet.cpp

class HubServer {
 public:
  HubServer();
  ~HubServer();
  HubServer(const HubServer&) = delete;
  HubServer& operator=(const HubServer&) = delete;

  std::string endpoint() const;  // http://127.0.0.1:<port>
  std::uint16_t port() const { return m_port; }
  std::uint16_t cdn_port() const { return m_cdn_port; }

  /// Adds a file at `commit` (creating repo and commit as needed); returns its cache blob name.
  std::string add_file(const RepoRef& repo, const std::string& commit, const std::string& path, const std::string& content,
                       bool lfs = false);
  /// Adds a large file served from disk; `sha256` must be its content hash (LFS).
  void add_disk_file(const RepoRef& repo, const std::string& commit, const std::string& path, const std::string& disk_path,
                     std::uint64_t size, const std::string& sha256);
  void set_ref(const RepoRef& repo, const std::string& name, const std::string& commit);
  void set_private(const RepoRef& repo, bool is_private);
  void set_gated(const RepoRef& repo, bool gated);
  /// Requests for repo `from` answer 307 with a relative Location to `to` (a renamed repo).
  void add_rename(const RepoRef& from, const RepoRef& to);
  /// The token that grants access to private / gated repos; /api/whoami-v2 answers for it (user
  /// "tester", token "test-token") and 401 for anything else.
  void set_valid_token(const std::string& token);
  /// A token of an account without access: accepted as credentials, but a private repo is
  /// `404 RepoNotFound` to it and a gated repo's files `403 GatedRepo` (like the Hub).
  void add_token_without_access(const std::string& token);
  void set_hostile(Hostile mode);
  void set_moved(Moved mode);

  void add_fault(const Fault& fault);
  void clear_faults();
  void set_tree_page_size(std::size_t n);
  /// Body bytes per second per connection (0 = unlimited).
  void set_throttle(std::uint64_t bytes_per_second);
  /// Hostile values: replace X-Repo-Commit / repo info sha, or the ETag of HEAD answers and the
  /// oids of tree listings.
  void set_hostile_commit(const std::string& value);
  void set_hostile_etag(const std::string& value);
  /// LFS answers also carry the Xet headers (X-Xet-Hash: the file's real Xet hash, and a Link with
  /// rel="xet-auth" to the token route and rel="xet-reconstruction-info" to the CAS), tree /
  /// paths-info entries of LFS files a `xetHash` (the same value), and the CAS (XetFault above)
  /// serves every LFS file. Off (the default), none of it exists.
  void set_xet(bool on);
  void set_xet_options(const XetCasOptions& options);
  /// Replaces the faults with `fault` (None: none), restarting the counts of tokens and xorb GETs.
  void set_xet_fault(XetFault fault, std::uint64_t n = 0);
  /// Adds a fault to those set (they combine).
  void add_xet_fault(XetFault fault, std::uint64_t n = 0);
  /// The CAS base URL (a token's casUrl): http://127.0.0.1:<cdn_port()>/cas
  std::string xet_cas_url() const;
  /// The Xet file id (hex) of the LFS file with this SHA-256, "" if none; its terms (segments) and
  /// the xorb bytes a full reconstruction lists (what a whole download fetches).
  std::string xet_hash(const std::string& sha256);
  std::vector<xet::Segment> xet_terms(const std::string& sha256);
  std::uint64_t xet_fetch_bytes(const std::string& sha256);
  /// Chunks stored (over all xorbs) as None, LZ4 and ByteGrouping4LZ4.
  std::array<int, 3> xet_chunk_types();
  /// Read tokens issued by the token route since the last set_xet_fault (which also restarts
  /// the count of xorb GETs its faults go by).
  int xet_tokens_issued() const;

  /// Opt-in real-Hub mode (off by default; the default mode is unchanged):
  /// - LFS `/resolve/` answers 302 with an absolute Location on the CDN listener (another origin),
  ///   signed and expiring: `/cdn/<sha256>?X-Amz-Algorithm=..&X-Amz-Date=<ISO>&X-Amz-Expires=<s>&
  ///   X-Amz-Signature=<hmac>`, a fresh URL per answer. The CDN answers 403 with an S3 XML body
  ///   when the URL expired (checked when a request starts) or its signature does not match.
  /// - The CDN's ETag is S3-style (`cdn_etag()`: md5 of the content, or md5-of-parts "-N" for
  ///   disk files), never the SHA-256; it sends Last-Modified and honours If-Range only when it
  ///   equals that ETag or that date, else answers 200 with the whole body (RFC 9110, S3).
  /// - Small files: `/resolve/` answers 307 with a relative Location to
  ///   `/api/resolve-cache/<type>s/<id>/<commit>/<path>?...&etag=...`, which serves the body
  ///   (ETag git sha1, X-Repo-Commit, Accept-Ranges, Range) for GET and HEAD.
  /// - `latency` before each head and `rate_bytes_per_second` on both listeners.
  void set_real_hub(const RealHubOptions& options);
  bool real_hub() const;
  /// The CDN ETag (unquoted) of the LFS object with this SHA-256, or "" if there is none.
  std::string cdn_etag(const std::string& sha256) const;
  /// The CDN's Last-Modified value (IMF-fixdate) for every object.
  std::string cdn_last_modified() const;
  /// Moves the server's clock (signing and expiry checks) forward: a test expires the URLs it
  /// was given without sleeping.
  void advance_clock(std::chrono::seconds by);

  std::vector<RequestRecord> requests() const;
  /// Requests whose method matches (or "" for all) and whose path contains `match`.
  int count(const std::string& method, const std::string& match) const;
  std::uint64_t body_bytes(const std::string& match) const;
  /// Connections accepted so far on either port (a client that opened a socket but sent
  /// nothing shows up here, not in requests()). Not reset by clear_requests().
  int connections() const { return m_connections.load(); }
  /// CDN connections closed unanswered by RealHubOptions::cdn_max_connections.
  int cdn_refused() const { return m_cdn_refused.load(); }
  /// The most requests being answered at once (from a head read to its reply sent, latency
  /// included) on both listeners since the start or the last clear_requests().
  int peak_in_flight() const { return m_peak_in_flight.load(); }
  /// Requests being answered right now (a keep-alive connection between requests counts none).
  int in_flight() const { return m_in_flight.load(); }
  void clear_requests();
  /// Waits until no connection has been open for `quiet` (at most `timeout`); false on timeout.
  /// Call before clear_requests() when an earlier client was killed or destroyed: a request it
  /// sent may still be read and answered after the clear and would count against the next client.
  bool wait_idle(std::chrono::milliseconds quiet = std::chrono::milliseconds(100),
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  struct Conn;
  void accept_loop(int listen_fd, bool cdn);
  void serve_connection(int fd, bool cdn);
  void handle(int fd, struct HttpRequest& req, bool& keep_alive, bool cdn);
  // Routing, in the order a request meets it (hub_server_handler.cpp): the configuration it sees, the
  // routes before any repo (faults, moved endpoint, hostile answers, whoami, CDN), then the repo and
  // revision it addresses (with access rules and the refs route); false / nullopt once answered.
  struct RequestConfig config_for(const struct HttpRequest& req);
  bool serve_before_repo(struct Reply& reply, const struct RequestConfig& config, std::string& routed, bool& cdn);
  std::optional<struct RepoTarget> address_repo(struct Reply& reply, const struct RequestConfig& config, std::string routed);
  // A repo's routes at a commit (hub_server_repo_routes.cpp).
  void serve_repo_route(struct Reply& reply, const struct RequestConfig& config, const struct RepoTarget& target);
  void serve_resolve(struct Reply& reply, const struct RequestConfig& config, const struct RepoTarget& target);
  void serve_tree(struct Reply& reply, const struct RequestConfig& config, const struct RepoTarget& target,
                  const ServedRepo::Files& files);
  void serve_paths_info(struct Reply& reply, const struct RequestConfig& config, const ServedRepo::Files& files);
  // `etag`/`last_modified`: the validators sent and accepted in If-Range ("" etag = the file's
  // quoted etag(), "" last_modified = none sent).
  void serve_body(struct Reply& reply, const std::optional<Fault>& fault, std::uint64_t throttle, const ServedFile& file,
                  std::vector<std::pair<std::string, std::string>> headers, const std::string& etag = {},
                  const std::string& last_modified = {});
  // Real-Hub pieces (hub_server_cdn.cpp).
  std::string signed_cdn_url(const std::string& sha256);
  void serve_real_cdn(struct Reply& reply, const std::optional<Fault>& fault, std::uint64_t throttle);
  std::string resolve_cache_location(RepoType type, const std::string& id, const std::string& rev, const std::string& commit,
                                     const std::string& path, const std::string& git_sha1) const;
  std::int64_t now_unix() const;
  void wait_unless_stopped(std::chrono::milliseconds how_long) const;
  // Hostile pieces (hub_server_hostile.cpp).
  void serve_huge_json(struct Reply& reply, bool declared);
  std::optional<std::string> hostile_next_link(Hostile mode, const std::string& path, const std::string& query,
                                               std::size_t next_cursor) const;
  // Xet pieces (hub_server_xet.cpp).
  void serve_xet_token(struct Reply& reply, const struct RequestConfig& config);
  void serve_xet_cas(struct Reply& reply, const struct RequestConfig& config);
  std::vector<ServedFile> xet_sources() const;  // LFS files in the order added (under m_mutex)

  int m_listen = -1;
  int m_cdn_listen = -1;
  std::uint16_t m_port = 0;
  std::uint16_t m_cdn_port = 0;
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_connections{0};
  std::atomic<int> m_cdn_open{0};     // CDN connections being served
  std::atomic<int> m_cdn_refused{0};  // closed at once by RealHubOptions::cdn_max_connections
  std::atomic<int> m_in_flight{0}, m_peak_in_flight{0};
  std::vector<std::thread> m_acceptors;
  mutable std::mutex m_mutex;
  std::vector<std::thread> m_workers;
  std::vector<int> m_open_fds;
  std::map<std::string, ServedRepo> m_repos;  // key: "<type>/<id>"
  std::map<std::string, std::string> m_renames;
  std::map<std::string, ServedFile> m_by_sha;  // CDN lookup
  std::vector<Fault> m_faults;
  std::vector<RequestRecord> m_log;
  std::uint64_t m_log_epoch = 0;  // bumped by clear_requests()
  std::string m_token;
  std::vector<std::string> m_tokens_without_access;
  Hostile m_hostile = Hostile::None;
  Moved m_moved = Moved::None;
  std::size_t m_page_size = 1000;
  std::uint64_t m_throttle = 0;
  std::string m_hostile_commit;
  std::string m_hostile_etag;
  bool m_xet = false;
  std::shared_ptr<XetCasState> m_xet_cas;  // built on first use
  std::vector<std::string> m_lfs_order;    // SHA-256 of LFS files, in the order first added
  bool m_real = false;
  RealHubOptions m_real_options;
  std::string m_sign_key;           // per-server HMAC key of signed CDN URLs
  std::int64_t m_clock_offset = 0;  // seconds added by advance_clock()
  std::int64_t m_started_unix = 0;  // the CDN's Last-Modified

  friend struct ServerAccess;
};

}  // namespace hubcache::test

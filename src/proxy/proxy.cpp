// The pull-through proxy: fill the cache from the upstream on a miss, then let the Router answer.
#include "hubcache/proxy/proxy.hpp"

#include <sys/stat.h>

#include <condition_variable>
#include <thread>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/hub/hub.hpp"
#include "hubcache/server/route.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "evictor.hpp"
#include "growing_blob.hpp"
#include "upstream_errors.hpp"

namespace hubcache::proxy {
namespace {

using Clock = std::chrono::steady_clock;
using server::Request;
using server::Response;
using server::Route;

bool exists_any(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string repo_key(const RepoRef& repo) { return std::string(to_string(repo.type)) + "/" + repo.id; }

std::vector<TreeFileEntry> tree_file_entries(const std::vector<hub::TreeEntry>& listing) {
  std::vector<TreeFileEntry> out;
  for (const auto& e : listing) {
    if (e.type != "file") continue;
    TreeFileEntry f;
    f.path = e.path;
    f.size = e.size;
    f.blob_id = e.oid;
    if (e.lfs) {
      f.lfs_sha256 = e.lfs->oid;
      f.lfs_size = e.lfs->size;
    }
    // Kept on disk as huggingface_hub keeps it; the Router never lists it from here (with --xet it
    // lists the hash of a file the cache holds, from its own index).
    f.xet_hash = e.xet_hash;
    out.push_back(std::move(f));
  }
  return out;
}

// One fill in flight per key in this process; later arrivals wait for it, then look again.
class Flights {
 public:
  template <class F>
  void run_once(const std::string& key, F&& fill) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard lock(m_mutex);
      auto& slot = m_flights[key];
      if (!slot) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      flight = slot;
    }
    if (!leader) {
      std::unique_lock lock(flight->mutex);
      flight->cv.wait(lock, [&] { return flight->done; });
      return;
    }
    fill();
    {
      std::lock_guard lock(m_mutex);
      m_flights.erase(key);
    }
    std::lock_guard lock(flight->mutex);
    flight->done = true;
    flight->cv.notify_all();
  }

 private:
  struct Flight {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
  };
  std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<Flight>> m_flights;
};

}  // namespace

struct Proxy::Impl {
  ProxyOptions options;
  std::unique_ptr<server::Router> router;
  std::string cache;

  // What the upstream said about a revision: its commit and the repo's restriction, and when.
  struct Known {
    std::string commit;
    Restriction restriction = Restriction::None;
    Clock::time_point checked;
  };
  std::mutex known_mutex;
  std::map<std::string, Known> known;  // "<type>/<id>@<revision>"
  Flights flights;

  std::atomic<std::uint64_t> requests{0}, hits{0}, misses{0}, stale{0}, upstream_errors{0}, upstream_bytes{0};
  std::unique_ptr<Evictor> evictor;                       // with max_size
  std::map<std::string, Clock::time_point> use_recorded;  // "<repo>@<commit>": last record_use (under known_mutex)

  // The revision was served now: its use record (what --max-size evicts by), at most once a minute.
  void note_use(const RepoRef& repo, const std::string& commit) {
    {
      std::lock_guard lock(known_mutex);
      auto& at = use_recorded[repo_key(repo) + "@" + commit];
      const auto now = Clock::now();
      if (at != Clock::time_point{} && now - at < std::chrono::seconds(60)) return;
      at = now;
    }
    record_use(RepoLayout(cache, repo), commit);
  }

  // A fill's outcome: Ready (the Router answers), Refused (answer `response`), Unreachable (the
  // upstream failed: answer from the cache if it can, else `response`).
  // Stream: the file is being fetched in the background; answer from the growing blob.
  struct Outcome {
    enum class Kind { Ready, Refused, Unreachable, Stream } kind = Kind::Ready;
    Response response;
    std::string why;
    bool fetched = false;
    std::string commit, etag;  // Stream
    std::uint64_t size = 0;    // Stream
    std::shared_ptr<const FillState> fill;
  };

  // Background fills (large files streamed while fetched), by "<repo>@<etag>".
  std::shared_ptr<CancelToken> cancel = std::make_shared<CancelToken>();
  std::mutex bg_mutex;
  std::condition_variable bg_cv;
  std::map<std::string, std::shared_ptr<FillState>> running;
  std::size_t bg_count = 0;

  ~Impl() {
    cancel->cancel();
    std::unique_lock lock(bg_mutex);
    bg_cv.wait(lock, [this] { return bg_count == 0; });
  }

  // The client's bearer token, when forwarded upstream (else none).
  std::optional<std::string> client_token(const Request& req) const {
    if (!options.forward_client_token) return std::nullopt;
    const auto auth = req.header("Authorization");
    if (!auth || auth->size() <= 7 || !iequals(auth->substr(0, 7), "Bearer ")) return std::nullopt;
    return std::string(trim(auth->substr(7)));
  }
  // What the upstream said depends on the token sent: with forwarded tokens, answers are kept per token.
  std::string token_scope(const Request& req) const {
    if (!options.forward_client_token) return "";
    const auto t = client_token(req);
    return t ? "#" + sha256_hex(*t).substr(0, 16) : "#anonymous";
  }

  DownloadOptions upstream_for(const Request& req) const {
    DownloadOptions o = options.upstream;
    if (options.forward_client_token) o.token = client_token(req);
    return o;
  }

  hub::HubApi api_for(const Request& req) const {
    const DownloadOptions o = upstream_for(req);
    return hub::HubApi(o.hub_options(), std::make_shared<http::Client>(o.transport));
  }

  // After an upstream that gave no answer at all (unreachable, timed out) or rate-limited the
  // proxy, it is left alone for options.upstream_pause: what the cache holds is answered stale at
  // once, the rest gets 504 (or 429 with the time left in Retry-After) at once.
  std::atomic<Clock::rep> down_until{0};
  std::mutex down_mutex;
  std::string down_why;
  int down_status = 504;

  std::optional<Outcome> upstream_known_down(const RepoRef& repo) {
    if (Clock::now().time_since_epoch().count() >= down_until.load()) return std::nullopt;
    std::string why;
    int status = 504;
    {
      std::lock_guard lock(down_mutex);
      why = down_why;
      status = down_status;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::duration(down_until.load()) - Clock::now().time_since_epoch());
    Outcome out;
    out.kind = Outcome::Kind::Unreachable;
    out.why = std::string(status == 429 ? "the upstream rate-limited this proxy" : "the upstream did not answer") +
              " a moment ago (" + why + "); it is asked again in " + std::to_string(left.count() + 1) + " s";
    out.response = server::error_response(
        status, "",
        "The upstream Hub cannot be asked now for " + repo_key(repo) + " and the cache does not hold this: " + out.why);
    if (status == 429) out.response.set_header("Retry-After", std::to_string(left.count() + 1));
    return out;
  }

  // The upstream's own URL stays out of what clients see.
  std::string scrubbed(std::string message) const {
    const std::string& up = options.upstream.endpoint;
    for (std::size_t at = message.find(up); !up.empty() && at != std::string::npos; at = message.find(up, at))
      message.replace(at, up.size(), "<upstream>");
    return message;
  }

  Outcome failed(const Error& e, const RepoRef& repo) {
    Outcome out;
    out.kind = upstream_unreachable(e) ? Outcome::Kind::Unreachable : Outcome::Kind::Refused;
    Error shown = e;
    shown.message = scrubbed(e.message);
    out.response = response_for_upstream_error(shown, repo);
    out.why = shown.message;
    if (out.kind == Outcome::Kind::Unreachable) {
      ++upstream_errors;
      const int status = e.http ? e.http->status : 0;
      const bool limited = status == 429 || e.code == ErrorCode::RateLimited;
      if ((status == 0 || limited) && e.code != ErrorCode::Cancelled) {  // leave it alone for a while
        std::lock_guard lock(down_mutex);
        down_why = shown.message.substr(0, 200);
        down_status = limited ? 429 : 504;
        down_until = (Clock::now() + options.upstream_pause).time_since_epoch().count();
      }
    }
    if (options.log) options.log("upstream " + repo_key(repo) + ": " + e.message);
    return out;
  }

  // The commit `revision` names upstream, asked again once `revalidate` has passed (never for a
  // commit). A ref is written for a branch or tag.
  std::optional<Outcome> commit_of(const Request& req, const RepoRef& repo, const std::string& revision, Known& out) {
    const std::string key = repo_key(repo) + "@" + revision + token_scope(req);
    {
      std::lock_guard lock(known_mutex);
      if (auto it = known.find(key);
          it != known.end() && (is_commit_hash(revision) || Clock::now() - it->second.checked < options.revalidate))
        out = it->second;
    }
    if (!out.commit.empty()) {
      // The ref may have gone since (the repo evicted, deleted by `cache rm`): put it back.
      const RepoLayout layout(cache, repo);
      if (revision != out.commit) {
        auto ref = read_ref(layout, revision);
        if (!ref || !ref->has_value() || **ref != out.commit) {
          if (auto w = init_repo_folder(layout); !w) return failed(w.error(), repo);
          if (auto w = write_ref(layout, revision, out.commit); !w) return failed(w.error(), repo);
        }
      }
      return std::nullopt;
    }
    if (auto down = upstream_known_down(repo)) return down;
    auto api = api_for(req);
    const RepoLayout layout(cache, repo);
    // One attempt within the upstream's timeout: a client waits on this request (its own timeout is
    // ~10 s), so retries and long Retry-After waits are the client's, not the proxy's.
    auto info = api.repo_info(repo, revision, hub::Attempt::First);
    if (!info) return failed(info.error(), repo);
    out.commit = info->sha;
    out.restriction = info->is_private ? Restriction::Private : info->gated.empty() ? Restriction::None : Restriction::Gated;
    out.checked = Clock::now();
    if (revision != out.commit) {
      if (auto w = init_repo_folder(layout); !w) return failed(w.error(), repo);
      if (auto w = write_ref(layout, revision, out.commit); !w) return failed(w.error(), repo);
    }
    std::lock_guard lock(known_mutex);
    known[key] = out;
    return std::nullopt;
  }

  // The upstream accepts the client's forwarded token for this file (a HEAD), remembered per
  // token and repo for `revalidate`.
  std::optional<Outcome> check_grant(const Request& req, const RepoRef& repo, const std::string& commit,
                                     const std::string& path) {
    const std::string key = "grant:" + repo_key(repo) + token_scope(req);
    {
      std::lock_guard lock(known_mutex);
      if (auto it = known.find(key); it != known.end() && Clock::now() - it->second.checked < options.revalidate)
        return std::nullopt;
    }
    auto api = api_for(req);
    auto meta = api.file_metadata(repo, commit, path);
    if (!meta && meta.error().code != ErrorCode::EntryNotFound) return failed(meta.error(), repo);
    std::lock_guard lock(known_mutex);
    known[key] = Known{commit, Restriction::Gated, Clock::now()};
    return std::nullopt;
  }

  // check_grant for a Xet read token: asked with the first file of the commit's listing.
  std::optional<Outcome> check_xet_grant(const Request& req, const RepoRef& repo, const std::string& commit) {
    bool fetched = false;
    if (auto o = fill_tree(req, repo, commit, fetched)) return o;
    auto tree = read_tree_file(RepoLayout(cache, repo), commit);
    if (!tree || !tree->has_value() || (*tree)->empty()) {
      Outcome out;
      out.response = restricted_response(Restriction::Gated, repo);
      return out;
    }
    return check_grant(req, repo, commit, (*tree)->front().path);
  }

  std::optional<Outcome> fill_tree(const Request& req, const RepoRef& repo, const std::string& commit, bool& fetched) {
    const RepoLayout layout(cache, repo);
    std::optional<Outcome> result;
    const auto listed = [&] {
      auto tree = read_tree_file(layout, commit);
      return tree && tree->has_value() && exists_any(layout.snapshot_dir(commit));
    };
    if (listed()) return std::nullopt;
    const auto fetch = [&] {
      auto api = api_for(req);
      auto entries = api.list_tree(repo, commit, "", true);
      if (!entries) {
        result = failed(entries.error(), repo);
        return;
      }
      fetched = true;
      if (auto w = init_snapshot_folder(layout, commit); !w) {
        result = failed(w.error(), repo);
        return;
      }
      if (auto w = write_tree_file(layout, commit, tree_file_entries(*entries)); !w) result = failed(w.error(), repo);
    };
    flights.run_once("tree:" + repo_key(repo) + "@" + commit, [&] {
      if (!listed()) fetch();
    });
    if (!result && !listed()) fetch();  // a follower whose leader failed: its own attempt decides
    return result;
  }

  std::optional<Outcome> fill_file(const Request& req, const Route& route, const std::string& commit, bool& fetched) {
    const RepoLayout layout(cache, route.repo);
    const auto present = [&] {
      return fs::is_file(layout.pointer_path(commit, route.path)) || exists_any(layout.no_exist_path(commit, route.path));
    };
    if (present()) return std::nullopt;
    if (auto streamed = stream_large(req, route, commit)) return streamed;
    std::optional<Outcome> result;
    const auto fetch = [&] {
      Downloader downloader(upstream_for(req));
      FileRequest f;
      f.repo_id = route.repo.id;
      f.repo_type = route.repo.type;
      f.filename = route.path;
      f.revision = commit;
      auto got = downloader.download_file(f);
      if (!got) {
        result = failed(got.error(), route.repo);
        if (got.error().code == ErrorCode::EntryNotFound) result->response.set_header("X-Repo-Commit", commit);
        return;
      }
      fetched = fetched || got->transferred;
      if (got->transferred) upstream_bytes += got->size;
    };
    flights.run_once("file:" + repo_key(route.repo) + "@" + commit + "/" + route.path, [&] {
      if (!present()) fetch();
    });
    if (!result && !present()) fetch();  // a follower whose leader failed: its own attempt decides
    return result;
  }

  // A file of at least k_stream_from bytes whose blob is absent: fetched in the background (one
  // fill per blob) and streamed from the growing file, so that no client waits for the whole file
  // before its first byte (a client's read timeout is seconds). nullopt: fill it before answering.
  static constexpr std::uint64_t k_stream_from = 1u << 20;
  std::optional<Outcome> stream_large(const Request& req, const Route& route, const std::string& commit) {
    const RepoLayout layout(cache, route.repo);
    std::string etag;
    std::uint64_t size = 0;
    if (auto tree = read_tree_file(layout, commit); tree && tree->has_value()) {
      for (const auto& e : **tree)
        if (e.path == route.path) {
          etag = e.etag();
          size = e.lfs_size.value_or(e.size);
        }
    }
    if (etag.empty()) {
      auto api = api_for(req);
      auto meta = api.file_metadata(route.repo, commit, route.path);
      if (!meta) return std::nullopt;  // the blocking fill meets the same error and maps it
      etag = meta->etag;
      size = meta->size;
    }
    if (size < k_stream_from || fs::is_file(layout.blob_path(etag))) return std::nullopt;
    Outcome out;
    out.kind = Outcome::Kind::Stream;
    out.commit = commit;
    out.etag = etag;
    out.size = size;
    out.fill = start_fill(req, route, commit, etag, out.fetched);
    return out;
  }

  // `started`: this call started the fill (else it joins the one running).
  std::shared_ptr<const FillState> start_fill(const Request& req, const Route& route, const std::string& commit,
                                              const std::string& etag, bool& started) {
    std::lock_guard lock(bg_mutex);
    const std::string key = repo_key(route.repo) + "@" + etag;
    started = false;
    // A fill that just failed may still be listed (it unlists itself after waking its readers).
    if (auto it = running.find(key); it != running.end() && it->second->phase() != FillState::Phase::Failed) return it->second;
    started = true;
    auto state = std::make_shared<FillState>();
    running[key] = state;
    ++bg_count;
    DownloadOptions o = upstream_for(req);
    o.cancel = cancel;
    FileRequest f;
    f.repo_id = route.repo.id;
    f.repo_type = route.repo.type;
    f.filename = route.path;
    f.revision = commit;
    std::thread([this, o = std::move(o), f = std::move(f), key, state]() mutable {
      auto got = Downloader(std::move(o)).download_file(f);
      if (got && got->transferred) upstream_bytes += got->size;
      if (!got) {
        ++upstream_errors;
        if (options.log) options.log("upstream " + key + " " + f.filename + ": " + got.error().message);
      }
      state->finish(got.has_value());
      if (got && evictor) evictor->poke();  // the cache grew by a whole file
      std::lock_guard done(bg_mutex);
      if (auto it = running.find(key); it != running.end() && it->second == state) running.erase(it);
      --bg_count;
      bg_cv.notify_all();
    }).detach();
    return state;
  }

  // The answer for a file being fetched: 200 (or 206 for one range) with the Hub's headers,
  // its body read from the growing blob.
  Response streamed(const Request& req, const Route& route, const Outcome& o) const {
    const auto range = server::decide_range(req.header("Range"), o.size);
    const std::string quoted = "\"" + o.etag + "\"";
    if (range.kind == server::RangeDecision::Kind::Unsatisfiable) {
      Response r = server::error_response(416, "", "Requested range not satisfiable");
      r.set_header("Content-Range", "bytes */" + std::to_string(o.size));
      return r;
    }
    const bool partial = range.kind == server::RangeDecision::Kind::Partial;
    const std::uint64_t first = partial ? range.range.first : 0;
    const std::uint64_t length = partial ? range.range.last - range.range.first + 1 : o.size;
    Response r;
    r.status = partial ? 206 : 200;
    r.set_header("Content-Type", "application/octet-stream");
    r.set_header("Accept-Ranges", "bytes");
    r.set_header("ETag", quoted);
    r.set_header("X-Linked-Etag", quoted);
    r.set_header("X-Linked-Size", std::to_string(o.size));
    r.set_header("X-Repo-Commit", o.commit);
    r.set_header("X-Hubcache-Cache", "MISS, streamed while fetched");
    if (partial)
      r.set_header("Content-Range", "bytes " + std::to_string(range.range.first) + "-" + std::to_string(range.range.last) + "/" +
                                        std::to_string(o.size));
    auto reader =
        std::make_shared<GrowingBlob>(RepoLayout(cache, route.repo), o.etag, o.size, o.fill, std::chrono::milliseconds(60000));
    r.stream = [reader, first](std::uint64_t pos, char* buf, std::size_t max) { return reader->read(first + pos, buf, max); };
    r.stream_length = length;
    return r;
  }

  Outcome fill(const Request& req, const Route& route) {
    Known k;
    const std::string revision = route.kind == Route::Kind::Refs ? "main" : route.revision;
    // What no Hub could hold is not asked for: the Router answers it (404 RevisionNotFound or
    // EntryNotFound), as the Hub would.
    if (!validate_revision(revision) || (route.kind == Route::Kind::Resolve && !validate_repo_path(route.path)) ||
        route.path.find('\\') != std::string::npos)
      return Outcome{};
    if (auto o = commit_of(req, route.repo, revision, k)) return std::move(*o);
    if (k.restriction != Restriction::None && !options.share_restricted && !router->authorized(req)) {
      if (!client_token(req)) {
        Outcome out;
        out.kind = Outcome::Kind::Refused;
        out.response = restricted_response(k.restriction, route.repo);
        return out;
      }
      // A forwarded token: the upstream decides. A private repo's info came with this token; a
      // gated file needs the token accepted for it (what is cached is no proof for this client).
      if (k.restriction == Restriction::Gated && route.kind == Route::Kind::Resolve)
        if (auto o = check_grant(req, route.repo, k.commit, route.path)) {
          o->kind = Outcome::Kind::Refused;  // never the cache's copy for an unchecked client
          return std::move(*o);
        }
      // A Xet read token opens every file of the repo the cache holds: the upstream must accept
      // the token for one of the commit's files (gating is per repo).
      if (k.restriction == Restriction::Gated && route.kind == Route::Kind::XetToken)
        if (auto o = check_xet_grant(req, route.repo, k.commit)) {
          o->kind = Outcome::Kind::Refused;
          return std::move(*o);
        }
    }
    bool fetched = false;
    std::optional<Outcome> o;
    switch (route.kind) {
      case Route::Kind::RepoInfo:
      case Route::Kind::Tree:
      case Route::Kind::PathsInfo:
        o = fill_tree(req, route.repo, k.commit, fetched);
        break;
      case Route::Kind::XetToken:  // the Router gives one for a commit it has a snapshot folder of
        if (!exists_any(RepoLayout(cache, route.repo).snapshot_dir(k.commit))) o = fill_tree(req, route.repo, k.commit, fetched);
        break;
      case Route::Kind::Resolve:
        o = fill_file(req, route, k.commit, fetched);
        break;
      default:
        break;
    }
    if (o && o->kind != Outcome::Kind::Stream) return std::move(*o);
    record_upstream_access(RepoLayout(cache, route.repo), k.restriction == Restriction::Gated     ? "gated"
                                                          : k.restriction == Restriction::Private ? "private"
                                                                                                  : "");
    note_use(route.repo, k.commit);
    if (evictor && (fetched || o)) evictor->poke();
    if (o) return std::move(*o);
    Outcome out;
    out.fetched = fetched;
    return out;
  }

  // Without the upstream's word, a repo it marked gated or private (the record in the cache) is
  // served only to clients holding one of the proxy's tokens.
  std::optional<Response> recorded_restriction(const Request& req, const RepoRef& repo) const {
    if (options.share_restricted || router->authorized(req)) return std::nullopt;
    const std::string access = read_upstream_access(RepoLayout(cache, repo));
    if (access.empty()) return std::nullopt;
    return restricted_response(access == "gated" ? Restriction::Gated : Restriction::Private, repo);
  }

  // Offline, the cache is all the proxy knows: a 404 of the Router says "not cached", not "the Hub
  // lacks it", so it becomes a 504 (clients record a 404 EntryNotFound in .no_exist), unless the
  // cache holds the upstream's own word that the file is absent (its .no_exist marker).
  Response not_cached_offline(const Route& route, Response r) const {
    if (r.status != 404) return r;
    if (route.kind == Route::Kind::Resolve) {
      const auto commit = r.header("X-Repo-Commit");
      if (commit && is_commit_hash(*commit) &&
          exists_any(RepoLayout(cache, route.repo).no_exist_path(std::string(*commit), route.path)))
        return r;
    }
    return server::error_response(504, "",
                                  "This proxy runs offline (--offline) and its cache does not hold this; it never asks "
                                  "the upstream. Not cached: " +
                                      std::string(r.header("X-Error-Message").value_or("")));
  }

  // What the page at / says about the proxy: its upstream (without credentials) and hit rate.
  std::vector<std::pair<std::string, std::string>> page_facts() const {
    std::string upstream = options.upstream.endpoint;
    const std::size_t host = upstream.find("://") + 3;
    const std::size_t at = upstream.find('@', host);
    if (at != std::string::npos && at < upstream.find('/', host)) upstream.erase(host, at + 1 - host);
    if (options.offline) upstream += " (offline: never contacted)";
    const std::uint64_t h = hits.load(), m = misses.load();
    std::string rate = "no repo request yet";
    if (h + m > 0)
      rate = std::to_string((h * 100 + (h + m) / 2) / (h + m)) + "% (" + std::to_string(h) + " of " + std::to_string(h + m) +
             " repo requests answered from the cache, " + std::to_string(m) + " fetched upstream)";
    return {{"Upstream", upstream}, {"Hit rate", rate}};
  }

  Response handle(const Request& req) {
    ++requests;
    auto parsed = server::parse_route(req, [this](const RepoRef& repo) { return exists_any(RepoLayout(cache, repo).folder()); });
    // The HTML pages show what the cache holds; they never fill it.
    // The Xet CAS (with --xet) serves what the cache holds, behind the Router's own tokens and
    // signatures; it names no repo to fill.
    if (!parsed.route || parsed.route->kind == Route::Kind::Blob || parsed.route->kind == Route::Kind::BlobAuth ||
        parsed.route->kind == Route::Kind::WhoAmI || parsed.route->kind == Route::Kind::Index ||
        parsed.route->kind == Route::Kind::RepoPage || parsed.route->kind == Route::Kind::XetReconstruction ||
        parsed.route->kind == Route::Kind::XetXorb)
      return router->handle(req);
    if (options.offline) {
      if (auto denied = recorded_restriction(req, parsed.route->repo)) return std::move(*denied);
      return not_cached_offline(*parsed.route, router->handle(req));
    }
    Outcome out = fill(req, *parsed.route);
    switch (out.kind) {
      case Outcome::Kind::Ready:
        ++(out.fetched ? misses : hits);
        return router->handle(req);
      case Outcome::Kind::Refused:
        return std::move(out.response);
      case Outcome::Kind::Stream:
        ++(out.fetched ? misses : hits);
        return streamed(req, *parsed.route, out);
      case Outcome::Kind::Unreachable: {
        if (auto denied = recorded_restriction(req, parsed.route->repo)) return std::move(*denied);
        Response cached = router->handle(req);
        if (cached.status >= 400) return std::move(out.response);
        ++stale;
        cached.set_header("X-Hubcache-Stale",
                          server::sanitize_for_header("upstream failed, answered from the cache: " + out.why));
        return cached;
      }
    }
    return std::move(out.response);
  }
};

Result<std::unique_ptr<Proxy>> Proxy::create(ProxyOptions options) {
  std::string& endpoint = options.upstream.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0)
    return fail(ErrorCode::InvalidArgument,
                "the upstream '" + endpoint + "' is not an http(s) URL; give the Hub to pull from, like https://huggingface.co");
  auto impl = std::make_unique<Impl>();
  // The Router's pages show the proxy's facts and hide what it keeps restricted (the Router is
  // owned by the Impl, so the pointer outlives every call).
  const Impl* self = impl.get();
  options.router.page_facts = [self, more = std::move(options.router.page_facts)] {
    auto facts = self->page_facts();
    if (more)
      for (auto& f : more()) facts.push_back(std::move(f));
    return facts;
  };
  options.router.page_hides = [self, more = std::move(options.router.page_hides)](const Request& req, const RepoRef& repo) {
    return self->recorded_restriction(req, repo).has_value() || (more && more(req, repo));
  };
  // A pull-through proxy starts from an empty cache: its folder is made as a download makes it
  // (offline, there is nothing to fill, so a missing folder stays the Router's error).
  if (!options.offline && !options.router.cache_dir.empty() && !exists_any(options.router.cache_dir))
    HUBCACHE_TRY(fs::make_dirs(options.router.cache_dir));
  HUBCACHE_TRY_ASSIGN(impl->router, server::Router::create(options.router));
  impl->cache = fs::absolute_real(options.router.cache_dir);
  options.upstream.cache_dir = impl->cache;
  impl->options = std::move(options);
  if (impl->options.max_size) impl->evictor = std::make_unique<Evictor>(impl->cache, *impl->options.max_size, impl->options.log);
  return std::unique_ptr<Proxy>(new Proxy(std::move(impl)));
}

Proxy::Proxy(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Proxy::~Proxy() = default;

server::Response Proxy::handle(const server::Request& request) { return m_impl->handle(request); }

ProxyCounters Proxy::counters() const {
  return ProxyCounters{m_impl->requests.load(),        m_impl->hits.load(),
                       m_impl->misses.load(),          m_impl->stale.load(),
                       m_impl->upstream_errors.load(), m_impl->evictor ? m_impl->evictor->revisions_evicted() : 0,
                       m_impl->upstream_bytes.load()};
}

std::string Proxy::metrics_text() const {
  const ProxyCounters n = counters();
  std::string t;
  const auto counter = [&t](const char* name, const char* help, std::uint64_t value) {
    t += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " + std::to_string(value) +
         "\n";
  };
  counter("hubcache_proxy_requests_total", "Requests the proxy handled.", n.requests);
  counter("hubcache_proxy_hits_total", "Repo requests answered from the cache without the upstream.", n.hits);
  counter("hubcache_proxy_misses_total", "Repo requests that fetched from the upstream first.", n.misses);
  counter("hubcache_proxy_stale_total", "Answers from the cache because the upstream failed.", n.stale);
  counter("hubcache_proxy_upstream_errors_total", "Upstream failures that gave no usable answer (answered stale or 5xx).",
          n.upstream_errors);
  counter("hubcache_proxy_upstream_bytes_total", "File bytes fetched from the upstream.", n.upstream_bytes);
  counter("hubcache_proxy_evictions_total", "Revisions removed to stay under --max-size.", n.evicted);
  return t;
}

}  // namespace hubcache::proxy

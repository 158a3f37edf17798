#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>

#include "download_impl.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/resolve/local_folder.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache {

// ---- progress ----

void ProgressTracker::emit(DownloadEvent e) {
  e.bytes_total = m_bytes_total;
  e.files_total = m_files_total;
  e.files_done = m_files_done;
  e.active = m_active.size();
  e.bytes_done = m_finished_bytes;
  for (const auto& [f, b] : m_active) e.bytes_done += b;
  if (m_sink) m_sink(e);
}

void ProgressTracker::plan(std::size_t files, std::uint64_t bytes, std::set<std::string> to_fetch,
                           std::vector<model::LeftOut> left_out, std::string repo_id) {
  std::lock_guard lock(m_mutex);
  m_files_total = files;
  m_bytes_total = bytes;
  m_to_fetch = std::move(to_fetch);
  DownloadEvent e;
  e.kind = DownloadEvent::Kind::Plan;
  e.left_out = std::move(left_out);
  e.repo_id = std::move(repo_id);
  emit(e);
}

void ProgressTracker::start(const std::string& file, std::uint64_t total) {
  std::lock_guard lock(m_mutex);
  m_active[file] = 0;
  DownloadEvent e;
  e.kind = DownloadEvent::Kind::FileStart;
  e.file = file;
  e.file_total = total;
  emit(e);
}

void ProgressTracker::bytes(const std::string& file, std::uint64_t done, std::uint64_t total) {
  std::lock_guard lock(m_mutex);
  m_active[file] = done;
  const auto now = std::chrono::steady_clock::now();
  if (now - m_last_progress < std::chrono::milliseconds(100) && done < total) return;
  m_last_progress = now;
  DownloadEvent e;
  e.kind = DownloadEvent::Kind::Progress;
  e.file = file;
  e.file_bytes = done;
  e.file_total = total;
  emit(e);
}

void ProgressTracker::done(const std::string& file, std::uint64_t total, std::uint64_t downloaded, std::uint64_t reused) {
  std::lock_guard lock(m_mutex);
  m_active.erase(file);
  m_finished_bytes += total;
  ++m_files_done;
  DownloadEvent e;
  e.kind = DownloadEvent::Kind::FileDone;
  e.file = file;
  e.file_bytes = e.file_total = total;
  e.file_downloaded = downloaded;
  e.file_reused = reused;
  emit(e);
}

void ProgressTracker::cached(const std::string& file, std::uint64_t total) {
  std::lock_guard lock(m_mutex);
  ++m_files_done;
  if (m_to_fetch.erase(file) > 0) m_finished_bytes += total;  // planned, but finished by another process
  DownloadEvent e;
  e.kind = DownloadEvent::Kind::FileCached;
  e.file = file;
  e.file_bytes = e.file_total = total;
  emit(e);
}

void ProgressTracker::lock_wait(const std::string& file, const std::string& lock_path, std::uint64_t waited_seconds) {
  std::lock_guard lock(m_mutex);
  DownloadEvent e;
  e.kind = DownloadEvent::Kind::LockWait;
  e.file = file;
  e.lock_path = lock_path;
  e.waited_seconds = waited_seconds;
  emit(e);
}

void ProgressTracker::xet_fallback(const std::string& file, const std::string& message) {
  std::lock_guard lock(m_mutex);
  DownloadEvent e;
  e.kind = DownloadEvent::Kind::XetFallback;
  e.file = file;
  e.message = message;
  emit(e);
}

// ---- options ----

DownloadOptions DownloadOptions::from_env(const Config& c) {
  DownloadOptions o;
  o.endpoint = c.endpoint.value;
  o.token = c.token();  // reads the token file now: downloads may need it
  o.cache_dir = c.hub_cache.value;
  o.offline = c.offline.value;
  o.etag_timeout = std::chrono::seconds(c.etag_timeout.value);
  o.download_timeout = std::chrono::seconds(c.download_timeout.value);
  o.disable_symlinks = c.disable_symlinks;
  o.disable_shared_blobs = c.disable_xet || c.disable_shared_blobs;
  if (c.disable_xet) o.xet = XetMode::Off;
  o.transport.ca_file = c.ca_bundle.value;
  o.transport.ca_file_source = c.ca_bundle.source;
  o.transport.http_proxy = c.http_proxy_fallback;
  o.transport.proxy_vars = c.proxy_vars;  // to name the proxy in its errors
  return o;
}

// ---- network use ----

NetworkUse network_use(const DownloadOptions& options, bool local_files_only) {
  if (local_files_only) return NetworkUse::LocalFilesOnly;
  return options.offline ? NetworkUse::Offline : NetworkUse::Allowed;
}

std::string no_network_reason(NetworkUse use) { return use == NetworkUse::LocalFilesOnly ? "local_files_only" : "offline mode"; }

std::string traffic_disabled(NetworkUse use) {
  if (use == NetworkUse::LocalFilesOnly)
    return "outgoing traffic is disabled (local_files_only=true); set local_files_only=false to download it.";
  return "outgoing traffic is disabled (offline mode: HF_HUB_OFFLINE or DownloadOptions::offline).";
}

std::optional<Error> force_without_network(NetworkUse use, bool force_download) {
  if (!force_download || use == NetworkUse::Allowed) return std::nullopt;
  if (use == NetworkUse::LocalFilesOnly)
    return Error{ErrorCode::InvalidArgument,
                 "can't combine force_download and local_files_only: a forced download needs the Hub. Drop one of them.",
                 {}};
  return Error{
      ErrorCode::InvalidArgument,
      "cannot force a download while offline (HF_HUB_OFFLINE or DownloadOptions::offline): a forced download needs the Hub.",
      {}}
      .with_remedy(Remedy::DropForceDownload);
}

// A model named by a local folder is that folder (from_pretrained step 1): nothing to copy.
Result<void> refuse_local_dir_for_folder(const std::string& folder, const std::optional<std::string>& local_dir) {
  if (!local_dir) return {};
  return fail(Error{ErrorCode::InvalidArgument,
                    "'" + folder +
                        "' is a local folder, used as the model itself; a local dir only receives a copy of a Hub repo. "
                        "Use the folder as it is (or copy it), or run from a directory where '" +
                        folder +
                        "' is not a folder "
                        "to download the Hub repo of that name.",
                    folder}
                  .with_remedy(Remedy::DropLocalDir));
}

// ---- Impl ----

std::string describe(const RepoRef& repo) { return std::string(to_string(repo.type)) + " '" + repo.id + "'"; }

bool is_typed_hub_error(const Error& e) {
  switch (e.code) {
    case ErrorCode::RepoNotFound:
    case ErrorCode::RevisionNotFound:
    case ErrorCode::EntryNotFound:
    case ErrorCode::Gated:
    case ErrorCode::Unauthorized:
    case ErrorCode::PermissionDenied:
      return true;
    default:
      return false;
  }
}

Error hub_unusable(const Error& cause, const std::string& what, const std::string& where, const std::string& endpoint) {
  if (is_typed_hub_error(cause)) return cause;
  const std::string message =
      http::is_tls_certificate_error(cause) ? "Local entry not found. The TLS certificate of " + endpoint +
                                                  " could not be verified while locating " + what + ", and " + where + "."
      : cause.is_transient() ? "Local entry not found. An error happened while locating " + what + " on the Hub, and " + where +
                                   ". Check your connection."
                             : "Local entry not found. The Hub at " + endpoint +
                                   " gave an answer that cannot be used while locating " + what + ", and " + where + ".";
  return Error{ErrorCode::LocalEntryNotFound, message + "\nCause: " + cause.message, {}, cause.http, {}};
}

Downloader::Impl::Impl(DownloadOptions o) : options(std::move(o)) {
  if (!options.cancel) options.cancel = std::make_shared<CancelToken>();
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  if (!options.cache_dir.empty()) options.cache_dir = fs::absolute_real(options.cache_dir);
}

hub::HubOptions DownloadOptions::hub_options() const {
  hub::HubOptions h;
  h.endpoint = endpoint;
  h.token = token;
  h.user_agent = user_agent;
  h.etag_timeout = etag_timeout;
  h.download_timeout = download_timeout;
  h.retry = transfer.retry;
  h.cancel = cancel.get();
  return h;
}

hub::HubApi& Downloader::Impl::api() {
  std::lock_guard lock(lazy_mutex);
  if (!api_ptr) {
    api_ptr = std::make_unique<hub::HubApi>(options.hub_options(), std::make_shared<http::Client>(options.transport));
  }
  return *api_ptr;
}

void detail::set_download_seams(Downloader& downloader, DownloadSeams seams) { downloader.m_impl->seams = std::move(seams); }

transfer::Engine& Downloader::Impl::engine() {
  std::lock_guard lock(lazy_mutex);
  if (!engine_ptr) {
    transfer::EngineOptions e;
    const TransferTuning& t = options.transfer;
    e.split_threshold = t.split_threshold;
    e.part_size = t.part_size;
    e.max_parts_per_file = t.max_parts_per_file;
    e.parallel_below_rate = t.parallel_below_rate;
    e.stream_retries = t.stream_retries;
    e.retry = t.retry;
    e.write_fn = seams.write_fn;
    e.free_space_fn = seams.free_space_fn;
    e.max_connections = std::max(e.max_connections, options.max_workers == 0 ? k_auto_workers_max : options.max_workers);
    e.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.download_timeout);
    e.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.download_timeout);
    e.cancel = options.cancel.get();
    e.transport = options.transport;
    engine_ptr = std::make_unique<transfer::Engine>(e);
  }
  return *engine_ptr;
}

BlobFetch Downloader::Impl::fetch_for(const RepoRef& repo, std::string_view revision, const std::string& path,
                                      const hub::FileMetadata& m, bool force) const {
  BlobFetch f{m.commit, path, m.etag,     m.size, hub::resolve_url(options.endpoint, repo, m.commit, path),
              force,    {},   m.xet_hash, {}};
  if (m.location != hub::resolve_url(options.endpoint, repo, revision, path)) f.location = m.location;
  if (m.xet) f.xet_route = m.xet->refresh_route;
  return f;
}

transfer::Job Downloader::Impl::make_job(const BlobFetch& f, const std::string& temp, const std::string& parts_base,
                                         ProgressTracker& progress) {
  transfer::Job job;
  job.url = f.url;
  job.location = f.location;
  job.headers = api().headers_for(f.url);  // authorization only on the endpoint's origin
  job.temp_path = temp;
  job.parts_path = parts_base + std::string(k_parts_incomplete_suffix);
  job.parts_state_path = parts_base + std::string(k_parts_state_suffix);
  job.size = f.size;
  job.hash = digest_kind_of(f.etag);
  job.digest = f.etag;
  job.restart = f.force;
  // A Xet download (fetch_xet_file) writes the same split files whatever the size: an auto-mode
  // fallback, or a later run, resumes them.
  job.resume_split_any_size = f.xet_hash.has_value();
  job.label = f.path;
  const std::string name = f.path;
  job.on_progress = [&progress, name](std::uint64_t done, std::uint64_t total) { progress.bytes(name, done, total); };
  return job;
}

Result<FetchDone> Downloader::Impl::finish_fetch(PendingFetch pending, std::vector<std::string>& warnings) {
  FetchDone done;
  if (pending.fetched) {
    done.elapsed = pending.fetched->elapsed;
    HUBCACHE_TRY_ASSIGN(done.downloaded, pending.then(*pending.fetched, warnings));
    return done;
  }
  if (!pending.transfer) return done;
  HUBCACHE_TRY_ASSIGN(auto outcome, typed_blob_result(engine().finish(std::move(*pending.transfer)), pending.repo));
  pending.transfer.reset();
  done.elapsed = outcome.elapsed;
  HUBCACHE_TRY_ASSIGN(done.downloaded, pending.then(outcome, warnings));
  return done;
}

Result<transfer::Outcome> Downloader::Impl::typed_blob_result(Result<transfer::Outcome> outcome, const RepoRef& repo) {
  if (outcome) return outcome;
  Error e = std::move(outcome).error();
  if (!e.http || e.http->status < 400) return fail(std::move(e));
  if (e.http->error_code.empty() && http::origin_of(e.http->url) != http::origin_of(options.endpoint))
    return fail(std::move(e));  // a CDN's refusal is not the Hub's verdict on the repo
  http::Response answer;
  answer.status = e.http->status;
  if (!e.http->error_code.empty()) answer.headers.add("X-Error-Code", e.http->error_code);
  if (!e.http->server_message.empty()) answer.headers.add("X-Error-Message", e.http->server_message);
  if (!e.http->request_id.empty()) answer.headers.add("X-Request-Id", e.http->request_id);
  if (!e.http->repo_commit.empty()) answer.headers.add("X-Repo-Commit", e.http->repo_commit);
  Error typed = hub::map_http_error(answer, e.http->url, repo, options.endpoint);
  typed.path = e.path;
  return fail(std::move(typed));
}

// ---- public ----

Downloader::Downloader(DownloadOptions options) : m_impl(std::make_unique<Impl>(std::move(options))) {}
Downloader::~Downloader() = default;
const DownloadOptions& Downloader::options() const { return m_impl->options; }

void Downloader::Impl::add_repo_type_hint(Error& e, RepoType type, const std::string& repo_id) {
  if (e.code != ErrorCode::RepoNotFound || type != RepoType::Model) return;
  // Only while the Hub answers: one repo-info request per other type, like a person checking.
  for (RepoType other : {RepoType::Dataset, RepoType::Space}) {
    if (!api().repo_info(RepoRef{other, repo_id}, "main", hub::Attempt::First)) continue;
    e.message += std::string("\nThere is a ") + to_string(other) + " named '" + repo_id + "' (hf://" + to_string(other) + "s/" +
                 repo_id + ").";
    e.remedy = Remedy::UseRepoType;
    e.remedy_value = to_string(other);
    return;
  }
}

Result<FileResult> Downloader::download_file(const FileRequest& req) {
  if (auto folder = local_model_folder(req.repo_id)) {  // from_pretrained step 1: the folder itself
    HUBCACHE_TRY(refuse_local_dir_for_folder(*folder, req.local_dir));
    HUBCACHE_TRY_ASSIGN(std::string path, local_folder_file(*folder, req.filename));
    FileResult out;
    std::error_code ec;
    out.size = std::filesystem::file_size(path, ec);
    out.path = std::move(path);
    return out;
  }
  HUBCACHE_TRY(validate_model_name(req.repo_id));
  HUBCACHE_TRY(validate_revision(req.revision));
  HUBCACHE_TRY(validate_repo_path(req.filename));
  if (auto e = force_without_network(network_use(m_impl->options, req.local_files_only), req.force_download)) return fail(*e);
  ProgressTracker progress(m_impl->options.progress);
  if (req.local_dir) return m_impl->suggest_repo_type(m_impl->file_to_local_dir(req, progress), req.repo_type, req.repo_id);
  if (m_impl->options.cache_dir.empty()) return fail(ErrorCode::InvalidArgument, "no cache directory configured");
  auto out = m_impl->suggest_repo_type(m_impl->file_to_cache(req, progress), req.repo_type, req.repo_id);
  if (out) record_use(RepoLayout(m_impl->options.cache_dir, RepoRef{req.repo_type, req.repo_id}), out->commit);
  return out;
}

Result<SnapshotResult> Downloader::snapshot_download(const SnapshotRequest& req) {
  if (auto folder = local_model_folder(req.repo_id)) {  // from_pretrained step 1: the folder itself
    HUBCACHE_TRY(refuse_local_dir_for_folder(*folder, req.local_dir));
    HUBCACHE_TRY_ASSIGN(auto all, local_folder_files(*folder, PathFilter{}));
    const PathFilter filter = PathFilter::make(req.allow_patterns, req.ignore_patterns);
    SnapshotResult out;
    out.path = *folder;
    out.repo_files = all.size();
    out.from_cache_only = true;
    std::vector<model::RepoFile> listing;
    if (req.target)
      for (const auto& f : all) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(*folder + "/" + f, ec);
        listing.push_back({f, ec ? 0 : size});
      }
    HUBCACHE_TRY_ASSIGN(const auto wanted,
                        target_files(req, filter, listing, "the local folder '" + *folder + "'", out.left_out, out.warnings,
                                     [&](const std::string& path) { return read_small_file(*folder + "/" + path); }));
    for (auto& f : all) {
      if (!filter.selects(f) || (wanted && !wanted->count(f))) continue;
      std::error_code ec;
      const auto size = std::filesystem::file_size(*folder + "/" + f, ec);
      out.files.push_back(PlannedFile{std::move(f), ec ? 0 : size, "", true});
    }
    return out;
  }
  HUBCACHE_TRY(validate_model_name(req.repo_id));
  HUBCACHE_TRY(validate_revision(req.revision));
  if (auto e = force_without_network(network_use(m_impl->options, req.local_files_only), req.force_download)) return fail(*e);
  if (m_impl->options.cache_dir.empty() && !req.local_dir)
    return fail(ErrorCode::InvalidArgument, "no cache directory configured");
  Result<SnapshotResult> out = [&]() -> Result<SnapshotResult> {
    ProgressTracker progress(m_impl->options.progress);
    return m_impl->suggest_repo_type(m_impl->snapshot(req, progress), req.repo_type, req.repo_id);
  }();
  if (out && !req.local_dir && !req.dry_run)
    record_use(RepoLayout(m_impl->options.cache_dir, RepoRef{req.repo_type, req.repo_id}), out->commit);
  if (out && req.with_base) HUBCACHE_TRY(with_bases(req, *out));
  return out;
}

namespace {

constexpr int k_max_base_levels = 2;  // an adapter's base, and that base's own base when it is an adapter too
constexpr std::size_t k_max_adapter_config = 1u << 20;

bool has_file(const SnapshotResult& r, std::string_view path) {
  return std::any_of(r.files.begin(), r.files.end(), [&](const auto& f) { return f.path == path; }) ||
         std::any_of(r.left_out.begin(), r.left_out.end(), [&](const auto& f) { return f.path == path; });
}

// adapter_config.json's base_model_name_or_path (peft's PeftConfig), as a Hub repo id; the error
// quotes what the file says.
Result<std::string> base_model_of(const std::string& text, const std::string& adapter) {
  const std::string where = "adapter_config.json of " + adapter;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(ErrorCode::InvalidArgument, where + " is not a JSON object: cannot tell which base model it needs");
  const auto it = j.find("base_model_name_or_path");
  if (it == j.end() || it->is_null())
    return fail(ErrorCode::InvalidArgument, where + " has no base_model_name_or_path: cannot tell which base model to download");
  if (!it->is_string())
    return fail(ErrorCode::InvalidArgument,
                where + " says base_model_name_or_path = " + it->dump() + ": not a Hub repo id, so no base model to download");
  const std::string base = it->get<std::string>();
  const bool local = base.empty() || base[0] == '/' || base[0] == '.' || base[0] == '~' || base.find('\\') != std::string::npos ||
                     std::count(base.begin(), base.end(), '/') > 1;
  if (local || !validate_repo_id(base))
    return fail(ErrorCode::InvalidArgument, where + " says base_model_name_or_path = \"" + base +
                                                "\": " + (local ? "a local path" : "not a valid Hub repo id") +
                                                ", so there is no base model to download; download the base by its repo id");
  return base;
}

}  // namespace

Error not_an_adapter(const std::string& repo_id) {
  return Error(ErrorCode::NotFound,
               "--with-base: " + repo_id + " has no adapter_config.json, so it is no PEFT adapter and names no base model");
}

Result<void> Downloader::with_bases(const SnapshotRequest& req, SnapshotResult& out) {
  const auto& options = m_impl->options;
  std::string adapter = req.repo_id;
  // The repos of the chain so far (Hub ids are case-insensitive): a base among them is a cycle.
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  std::vector<std::string> chain{lower(req.repo_id)};
  for (int level = 0;; ++level) {
    // By index: bases grows below.
    const SnapshotResult* current = level == 0 ? &out : &out.bases[static_cast<std::size_t>(level - 1)].snapshot;
    // A base is looked at only when its listing has adapter_config.json; the requested repo always.
    if (level > 0 && !has_file(*current, "adapter_config.json")) return {};
    std::optional<std::string> text;
    if (const std::string on_disk = current->path + "/adapter_config.json"; fs::is_file(on_disk)) {
      auto bytes = fs::read_file(on_disk, k_max_adapter_config);
      if (!bytes) return fail(std::move(bytes).error());
      text = std::move(*bytes);
    } else if (!current->from_cache_only && network_use(options, req.local_files_only) == NetworkUse::Allowed) {
      // Not selected (or a dry run): read it from the Hub, writing nothing.
      const RepoRef ref{level == 0 ? req.repo_type : RepoType::Model, adapter};
      auto got = m_impl->api().file_text(ref, current->commit.empty() ? "main" : current->commit, "adapter_config.json");
      if (got)
        text = std::move(*got);
      else if (got.error().code != ErrorCode::EntryNotFound)
        return fail(std::move(got).error());
    }
    if (!text) {
      if (level > 0) return {};
      return fail(not_an_adapter(adapter));
    }
    HUBCACHE_TRY_ASSIGN(std::string base, base_model_of(*text, adapter));
    if (std::find(chain.begin(), chain.end(), lower(base)) != chain.end()) {
      out.warnings.push_back("--with-base stopped: " + adapter + " names " + base +
                             " as its base model (base_model_name_or_path), which is already in the chain " + req.repo_id +
                             std::accumulate(out.bases.begin(), out.bases.end(), std::string(),
                                             [](std::string a, const BaseSnapshot& b) { return a + " -> " + b.repo_id; }) +
                             "; not downloaded again");
      return {};
    }
    if (level == k_max_base_levels) {
      out.warnings.push_back("--with-base stopped after " + std::to_string(k_max_base_levels) + " levels: " + adapter +
                             " is an adapter too, of " + base + ", which is not downloaded");
      return {};
    }
    SnapshotRequest b;
    b.repo_id = base;
    b.revision = "main";
    b.force_download = req.force_download;
    b.local_files_only = req.local_files_only;
    b.dry_run = req.dry_run;
    b.target = req.target;
    auto got = snapshot_download(b);
    if (!got) {
      Error e = std::move(got).error();
      e.message = "base model " + base + " (base_model_name_or_path in adapter_config.json of " + adapter + "): " + e.message;
      return fail(std::move(e));
    }
    chain.push_back(lower(base));
    out.bases.push_back(BaseSnapshot{base, adapter, std::move(*got)});
    adapter = base;
  }
}

}  // namespace hubcache

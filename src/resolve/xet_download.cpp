// A blob over Xet, with the plain path as the fallback (download_impl.hpp fetch_over_xet).
#include <mutex>
#include <set>

#include "download_impl.hpp"
#include "hubcache/cache/shared_blobs.hpp"
#include "hubcache/cache/xet_records.hpp"
#include "hubcache/util/digest.hpp"

namespace hubcache {

http::Client& Downloader::Impl::xet_client() {
  std::lock_guard lock(lazy_mutex);
  if (!xet_client_ptr) xet_client_ptr = std::make_unique<http::Client>(options.transport);
  return *xet_client_ptr;
}

Result<std::optional<XetFetched>> Downloader::Impl::fetch_xet_file(const RepoRef& repo, const BlobFetch& f,
                                                                   const std::string& parts_base, ProgressTracker& progress) {
  using None = std::optional<XetFetched>;
  if (options.xet == XetMode::Off || !f.xet_hash || f.xet_route.empty() || f.size == 0 ||
      digest_kind_of(f.etag) != DigestKind::Sha256 || !is_lower_hex(*f.xet_hash, 64))
    return None{};
  {
    std::lock_guard lock(lazy_mutex);
    if (!xet_local) xet_local = std::make_unique<XetLocalIndex>(options.cache_dir, options.xet_local_max_chunks);
  }
  transfer::XetJob job;
  job.file_hash = *f.xet_hash;
  job.size = f.size;
  job.sha256 = f.etag;
  job.parts_path = parts_base + std::string(k_parts_incomplete_suffix);
  job.parts_state_path = parts_base + std::string(k_parts_state_suffix);
  job.restart = f.force;
  const std::string route = f.xet_route;
  job.token = [this, repo, route](bool) { return api().xet_token(repo, route); };
  auto lent = std::make_shared<std::pair<std::mutex, std::set<std::string>>>();  // blobs that lent chunks
  job.local = [this, lent](const xet::Term& term) {
    auto src = xet_local->find(term);
    if (src) {
      std::lock_guard lock(lent->first);
      lent->second.insert(src->path);
    }
    return src;
  };
  transfer::XetOptions xo;
  xo.max_parallel = options.xet_max_parallel;
  xo.memory_budget = options.xet_memory_budget;
  xo.connect_timeout = std::chrono::milliseconds(options.etag_timeout);
  xo.idle_timeout = std::chrono::milliseconds(options.download_timeout);
  xo.retry = options.transfer.retry;
  xo.cancel = cancel();
  const auto began = std::chrono::steady_clock::now();
  auto fetched = transfer::fetch_xet(xet_client(), job, xo);
  if (!fetched && fetched.error().code == ErrorCode::Integrity && !lent->second.empty()) {
    // The file did not verify with chunks copied from cached blobs: one of those is damaged (its
    // record is only a hint). Fetch it once more without local chunks before calling it wrong.
    std::string names;
    for (const auto& p : lent->second) names += (names.empty() ? "" : ", ") + p;
    job.local = nullptr;
    job.restart = true;
    fetched = transfer::fetch_xet(xet_client(), job, xo);
    if (!fetched) {
      Error e = std::move(fetched).error();
      e.message += " (also with chunks from the cached " + names + ", which may be damaged: run `hubcache cache verify`)";
      fetched = fail(std::move(e));
    }
  }
  if (!fetched) {
    Error e = std::move(fetched).error();
    if (options.xet == XetMode::On || e.code == ErrorCode::Cancelled || (cancel() && cancel()->cancelled()))
      return fail(std::move(e));
    std::call_once(xet_fallback_said, [&] { progress.xet_fallback(f.path, e.message); });
    return None{};
  }
  XetFetched out;
  out.outcome.path = fetched->path;
  out.outcome.downloaded = fetched->downloaded;
  out.outcome.reused = fetched->resumed_bytes + fetched->local_bytes;
  out.outcome.verified = true;
  out.outcome.split = true;
  out.outcome.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began);
  out.xet = std::move(*fetched);
  progress.bytes(f.path, f.size, f.size);
  return None{std::move(out)};
}

Result<std::optional<transfer::Outcome>> Downloader::Impl::fetch_over_xet(const RepoLayout& layout, const BlobFetch& f,
                                                                          const std::string& parts_base,
                                                                          ProgressTracker& progress) {
  using None = std::optional<transfer::Outcome>;
  HUBCACHE_TRY_ASSIGN(std::optional<XetFetched> fetched, fetch_xet_file(layout.repo(), f, parts_base, progress));
  if (!fetched) return None{};
  if (!fetched->xet.segments.empty()) {
    XetRecord record;
    record.size = f.size;
    if (auto h = xet::MerkleHash::from_hex(*f.xet_hash)) record.file_hash = *h;
    record.segments = fetched->xet.segments;
    if (write_xet_record(layout, f.etag, record)) xet_local->add(layout.blob_path(f.etag), record);
  }
  transfer::Outcome out = std::move(fetched->outcome);
  // huggingface_hub >= 1.32's default (research note shared-blobs.md 3.3): a verified Xet
  // download becomes the payload of the cache's shared blob store, and blobs/<etag> its link.
  if (!options.disable_shared_blobs && link_mode() == LinkMode::Symlink) {
    SharedBlobStore store(layout.cache_dir());
    auto shared = store.publish(layout, f.etag, *f.xet_hash, f.size, out.path, f.force);
    if (shared && *shared) {
      out.path.clear();  // published: blobs/<etag> is in place
    } else if (!shared && !fs::is_file(out.path)) {
      return fail(std::move(shared).error());  // the bytes moved but the link failed: say so
    }
  }
  return None{std::move(out)};
}

}  // namespace hubcache

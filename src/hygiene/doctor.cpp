// `hubcache doctor`: stores found, read, and checked (hygiene/doctor.hpp).
#include "hubcache/hygiene/doctor.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <set>
#include <utility>

#include "content_groups.hpp"
#include "deep_hash.hpp"
#include "hubcache/cache/layout.hpp"
#include "hubcache/cache/local_dir.hpp"
#include "hubcache/hygiene/locations.hpp"
#include "hubcache/manage/delete_plan.hpp"
#include "hubcache/manage/scan.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "settings_scan.hpp"
#include "walk_roots.hpp"

namespace hubcache::hygiene {

const char* to_string(FindingKind kind) {
  switch (kind) {
    case FindingKind::LocalDirInCache:
      return "local-dir-in-cache";
    case FindingKind::LocalDirCopy:
      return "local-dir-copy";
    case FindingKind::LocalDirUncached:
      return "local-dir-uncached";
    case FindingKind::ProjectCache:
      return "project-cache";
    case FindingKind::CacheSetting:
      return "cache-setting";
    case FindingKind::EnvConflict:
      return "env-conflict";
    case FindingKind::DuplicateContent:
      return "duplicate-content";
    case FindingKind::StalePartial:
      return "stale-partial";
    case FindingKind::DanglingPointer:
      return "dangling-pointer";
    case FindingKind::DetachedRevision:
      return "detached-revision";
    case FindingKind::UnreferencedSharedBlob:
      return "unreferenced-shared-blob";
    case FindingKind::ContentMismatch:
      return "content-mismatch";
    case FindingKind::StaleLock:
      return "stale-lock";
  }
  return "unknown";
}

namespace {

using InodeKey = std::pair<dev_t, ino_t>;
constexpr std::time_t k_stale_partial_seconds = 3600;  // a partial untouched this long is nobody's download

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string plural(std::size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

// Allocated bytes of `files`, each inode once.
std::uint64_t disk_bytes_of(const std::vector<const stores::StoredFile*>& files) {
  std::set<InodeKey> seen;
  std::uint64_t sum = 0;
  for (const auto* f : files)
    if (seen.emplace(f->device, f->inode).second) sum += f->disk_bytes;
  return sum;
}

// Allocated bytes of the files at `paths` (lstat: a link is its own few bytes), each inode once.
std::uint64_t allocated_bytes(const std::vector<std::string>& paths) {
  std::set<InodeKey> seen;
  std::uint64_t sum = 0;
  for (const auto& p : paths) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0 && seen.emplace(st.st_dev, st.st_ino).second)
      sum += static_cast<std::uint64_t>(st.st_blocks) * 512u;
  }
  return sum;
}

std::uint64_t listing_disk_bytes(const stores::StoreListing& l) {
  std::vector<const stores::StoredFile*> all;
  for (const auto& f : l.files) all.push_back(&f);
  return disk_bytes_of(all);
}

std::string repo_type_flag(RepoType type) {
  return type == RepoType::Model ? std::string() : " --repo-type " + std::string(to_string(type));
}

class Doctor {
 public:
  Doctor(const Environment& env, const DoctorOptions& options)
      : m_env(env), m_options(options), m_config(Config::from_env(env)) {}

  DoctorReport run() {
    read_stores();
    std::vector<stores::StoreListing> compared;  // what duplicate-content compares
    for (std::size_t i = 0; i < m_listings.size(); ++i)
      if (m_report.stores[i].kind == stores::StoreKind::HubCache) check_hub_cache(m_report.stores[i], m_listings[i]);
    index_hub_blobs();
    for (std::size_t i = 0; i < m_listings.size(); ++i) {
      const auto& s = m_report.stores[i];
      bool copy = false;
      if (s.kind != stores::StoreKind::HubCache) check_dangling(s, m_listings[i]);
      if (s.kind == stores::StoreKind::ModelFolder) copy = check_model_folder(m_listings[i]);
      if (s.kind == stores::StoreKind::HubCache && !s.configured && s.root != m_default_hub)
        check_project_cache(s, m_listings[i]);
      if (s.kind != stores::StoreKind::HubCache) check_partials(s, m_listings[i]);
      if (!copy) compared.push_back(m_listings[i]);
    }
    if (m_options.deep) {  // files whose names say nothing, hashed where sizes collide
      check_hardlinked_contents();
      auto deep = detail::hash_colliding_sizes(compared, 0);
      for (auto& w : deep.warnings) m_report.warnings.push_back(std::move(w));
      m_report.hashed_files = deep.files;
      m_report.hashed_bytes = deep.bytes;
    }
    check_duplicates(compared);
    check_environment();
    finish();
    return std::move(m_report);
  }

 private:
  void add(Finding f) { m_report.findings.push_back(std::move(f)); }

  void read_stores() {
    std::set<std::pair<stores::StoreKind, std::string>> seen;
    std::set<InodeKey> skip;
    std::vector<StoreLocation> locations;
    std::vector<bool> walked_flags;
    auto add_store = [&](stores::StoreKind kind, const std::string& path, bool configured, bool walked) {
      const std::string root = real_folder(path);
      if (!seen.emplace(kind, root).second) return;
      struct stat st {};
      if (::stat(root.c_str(), &st) == 0) skip.emplace(st.st_dev, st.st_ino);
      locations.push_back({kind, root, configured});
      walked_flags.push_back(walked);
    };
    m_default_hub = real_folder(m_config.hf_home.value + "/hub");
    for (const auto& l : tool_store_locations(m_env, m_config)) add_store(l.kind, l.root, l.configured, false);
    for (const auto& root : m_options.roots) {
      auto walked = detail::walk_for_stores(root, m_options.max_depth, m_options.cross_filesystems, skip);
      for (auto& w : walked.warnings) m_report.warnings.push_back(std::move(w));
      for (const auto& s : walked.stores) add_store(s.kind, s.root, false, true);
    }
    auto listed = list_stores(locations);
    for (std::size_t i = 0; i < locations.size(); ++i) {
      auto& listing = listed[i];
      if (!listing) {
        m_report.warnings.push_back("not read: " + listing.error().message);
        continue;
      }
      for (const auto& w : listing->warnings) m_report.warnings.push_back(w);
      m_report.stores.push_back({locations[i].kind, locations[i].root, locations[i].configured, walked_flags[i]});
      m_listings.push_back(std::move(*listing));
    }
  }

  // Every Hub cache blob's identity, by digest -> inodes.
  void index_hub_blobs() {
    for (std::size_t i = 0; i < m_listings.size(); ++i) {
      if (m_report.stores[i].kind != stores::StoreKind::HubCache) continue;
      m_hub_incomplete |= !m_listings[i].warnings.empty();
      for (const auto& f : m_listings[i].files)
        if (!f.partial && f.digest != DigestKind::None) m_hub_blobs[f.digest_hex].emplace(f.device, f.inode);
    }
  }

  // The files of `listing` whose bytes a Hub cache also holds on another inode.
  std::vector<const stores::StoredFile*> cached_copies(const stores::StoreListing& listing) const {
    std::vector<const stores::StoredFile*> out;
    for (const auto& f : listing.files) {
      if (f.partial || f.digest == DigestKind::None) continue;
      const auto it = m_hub_blobs.find(f.digest_hex);
      if (it != m_hub_blobs.end() && !it->second.count({f.device, f.inode})) out.push_back(&f);
    }
    return out;
  }

  void check_hub_cache(const FoundStore& store, const stores::StoreListing& listing) {
    ScanOptions blobs_only;  // the prune plan and the dangling pointers need no file lists
    blobs_only.collect_files = false;
    auto info = scan_cache(store.root, blobs_only);
    if (!info) {
      m_report.warnings.push_back("not checked: " + info.error().message);
      return;
    }
    const std::string cache_flag = " --cache-dir " + quote(store.root);
    // The trap: `hf download --local-dir <cache>/<name>`.
    std::set<std::string> blobs;  // the cache's blob digests, for the trap folders
    if (!info->local_dir_copies.empty())
      for (const auto& f : listing.files)
        if (f.digest != DigestKind::None) blobs.insert(f.digest_hex);
    for (const auto& copy : info->local_dir_copies) {
      auto folder = stores::open_model_folder(copy.path)->list();
      if (!folder) continue;
      std::uint64_t bytes = listing_disk_bytes(*folder);
      std::vector<const stores::StoredFile*> cached;
      for (const auto& f : folder->files)
        if (f.digest != DigestKind::None && blobs.count(f.digest_hex)) cached.push_back(&f);
      m_trap_reclaimable += disk_bytes_of(cached);
      const std::string repo = copy.repo ? copy.repo->id : "ORG/NAME";
      add({FindingKind::LocalDirInCache,
           "'" + copy.path + "' was downloaded with --local-dir into the Hub cache folder: lookups by repo id never read it, " +
               "so the model is downloaded again (" + plural(copy.files, "file", "files") + ", " +
               std::to_string(copy.already_cached) + " already cached)",
           {copy.path},
           bytes,
           "hubcache import " + quote(copy.path) + " --repo " + repo +
               (copy.commits.size() == 1 ? " --commit " + copy.commits.front() : std::string()) + " --move" + cache_flag});
    }
    // A repo some of whose folders could not be read may only look broken: its missing blobs are
    // unreadable ones (the warning says so), not a finding.
    std::set<std::string> unreadable_repos;
    for (const auto& w : listing.warnings)
      for (const auto& repo : info->repos)
        if (w.find(repo.path + "/") != std::string::npos) unreadable_repos.insert(repo.path);
    for (const auto& repo : info->repos)
      for (const auto& rev : repo.revisions) {
        if (rev.dangling.empty() || unreadable_repos.count(repo.path)) continue;
        std::vector<std::string> paths;
        for (const auto& d : rev.dangling) paths.push_back(rev.snapshot_path + "/" + d);
        add({FindingKind::DanglingPointer,
             repo.label() + " at " + rev.commit + ": " + plural(rev.dangling.size(), "file points", "files point") +
                 " at a missing blob and cannot be loaded",
             paths, 0,
             "hubcache download " + repo.repo.id + repo_type_flag(repo.repo.type) + " --revision " + rev.commit + cache_flag});
      }
    check_stale_locks(store);
    auto prune = plan_prune(*info);
    if (!prune) {
      m_report.warnings.push_back("not checked for prunable content: " + prune.error().message);
      return;
    }
    const std::string fix = "hubcache cache prune" + cache_flag;
    if (prune->total_revision_count()) {
      std::vector<std::string> paths;
      for (const auto& d : prune->snapshot_dirs()) paths.push_back(d);
      add({FindingKind::DetachedRevision,
           plural(prune->total_revision_count(), "cached revision", "cached revisions") + " in " + store.root +
               " that no ref points at",
           paths, allocated_bytes(prune->blob_files()), fix});
    }
    if (!prune->incomplete_files().empty()) {
      std::vector<std::string> paths, with_sidecars;
      for (const auto& p : prune->incomplete_files()) {
        paths.push_back(p.path);
        with_sidecars.push_back(p.path);
        with_sidecars.insert(with_sidecars.end(), p.sidecars.begin(), p.sidecars.end());
      }
      add({FindingKind::StalePartial,
           plural(paths.size(), "unfinished download", "unfinished downloads") + " in " + store.root + " that no download holds",
           paths, allocated_bytes(with_sidecars), fix});
    }
    if (prune->unreferenced_shared_count()) {
      std::vector<std::string> paths;
      for (const auto& b : prune->shared_blobs())
        if (b.unreferenced) paths.push_back(b.path);
      add({FindingKind::UnreferencedSharedBlob,
           plural(paths.size(), "payload", "payloads") + " of the shared blob store in " + store.root + " that no repo links to",
           paths, allocated_bytes(paths), fix});
    }
  }

  // Names another tool follows to missing bytes (a Hub cache's are scan's dangling pointers).
  void check_dangling(const FoundStore& store, const stores::StoreListing& listing) {
    if (listing.dangling.empty()) return;
    std::vector<std::string> paths;
    std::set<std::string> models;
    for (const auto& d : listing.dangling) {
      if (paths.empty() || paths.back() != d.path) paths.push_back(d.path);
      if (!d.model.empty()) models.insert(d.model);
    }
    std::string fix;
    if (store.kind == stores::StoreKind::Ollama) {
      for (const auto& m : models) fix += (fix.empty() ? "ollama pull " : "; ollama pull ") + quote(m);
    } else {
      fix = "rm";
      for (const auto& d : listing.dangling) fix += " " + quote(d.path);
      fix += " (links to bytes that are gone; a view of a cached repo is made again with hubcache link)";
    }
    add({FindingKind::DanglingPointer,
         std::string(stores::to_string(store.kind)) + " store " + store.root + ": " +
             plural(listing.dangling.size(), "name points", "names point") + " at missing bytes" +
             (models.empty() ? std::string() : " (" + plural(models.size(), "model", "models") + " cannot load)"),
         paths, 0, fix});
  }

  // `.locks/<repo folder>` of repos the cache no longer holds: `cache rm`, huggingface_hub's delete
  // and `rm -r` all leave them. Reported only when no process holds any of their locks (a shared
  // try-lock, released at once: a download's exclusive lock makes it fail); never removed here.
  void check_stale_locks(const FoundStore& store) {
    const std::string locks = store.root + "/.locks";
    std::vector<std::string> stale;
    std::uint64_t bytes = 0;
    // walk_folder hands folders to `enter`: each lock folder is judged there and not descended into.
    fs::walk_folder(
        locks,
        [&](const std::string&, const std::string& name) {
          const std::string folder = locks + "/" + name;
          struct stat st {};
          if (!parse_repo_folder_name(name) || ::lstat((store.root + "/" + name).c_str(), &st) == 0 ||
              ::lstat(folder.c_str(), &st) != 0)
            return false;
          bool held = false;
          std::uint64_t folder_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512u;
          fs::walk_folder(
              folder, nullptr,
              [&](const fs::FolderEntry& l) {
                folder_bytes += static_cast<std::uint64_t>(l.lst.st_blocks) * 512u;
                if (!S_ISREG(l.lst.st_mode) || held) return;
                fs::Fd fd(::open(l.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
                held = fd.valid() && ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
              },
              [](const std::string&, int, fs::WalkFailure) {});
          if (!held) {
            stale.push_back(folder);
            bytes += folder_bytes;
          }
          return false;
        },
        [](const fs::FolderEntry&) {}, [](const std::string&, int, fs::WalkFailure) {});
    if (stale.empty()) return;
    std::sort(stale.begin(), stale.end());
    std::string fix = "rm -r";
    for (const auto& p : stale) fix += " " + quote(p);
    add({FindingKind::StaleLock,
         plural(stale.size(), "lock folder", "lock folders") + " in " + store.root + " of repos it no longer holds, no lock held",
         stale, bytes, fix});
  }

  // A model folder: a copy of cached blobs, or a local-dir download no cache holds. True when its
  // copies are reported here (then they are not compared again).
  bool check_model_folder(const stores::StoreListing& listing) {
    const auto copies = cached_copies(listing);
    if (!copies.empty()) {
      add({FindingKind::LocalDirCopy,
           plural(copies.size(), "file", "files") + " of the model folder '" + listing.root + "' " +
               (copies.size() == 1 ? "is" : "are") + " also held as blobs of the Hub cache, not linked",
           {listing.root, m_config.hub_cache.value},
           disk_bytes_of(copies),
           "hubcache dedupe " + quote(listing.root) + " " + quote(m_config.hub_cache.value)});
      return true;
    }
    if (!fs::is_dir(LocalDirLayout(listing.root).download_dir())) return false;
    if (m_hub_incomplete) {  // the copy may be in what could not be read: not said to be uncached
      m_report.warnings.push_back("'" + listing.root +
                                  "' is a --local-dir download; whether a Hub cache holds it is unknown, since parts of "
                                  "the caches could not be read");
      return false;
    }
    std::size_t with_identity = 0;
    for (const auto& f : listing.files) with_identity += f.digest != DigestKind::None;
    if (with_identity == 0) return false;  // no current record: nothing says which files the Hub has
    add({FindingKind::LocalDirUncached,
         "'" + listing.root + "' is a --local-dir download that no Hub cache holds: from_pretrained by repo id would " +
             "download it again",
         {listing.root},
         listing_disk_bytes(listing),
         "hubcache import " + quote(listing.root) + " --repo ORG/NAME --link"});
    return false;
  }

  // --deep: a file with several names whose bytes are not what its name says: one of its names
  // was edited in place (a hardlink shares every edit). Each inode is hashed once.
  void check_hardlinked_contents() {
    std::set<InodeKey> seen;
    for (std::size_t i = 0; i < m_listings.size(); ++i)
      for (const auto& f : m_listings[i].files) {
        if (f.partial || f.links < 2 || f.digest == DigestKind::None || !seen.emplace(f.device, f.inode).second) continue;
        const bool git = f.digest == DigestKind::GitSha1;
        auto h = hash_file(f.path, git ? HashWhat::GitSha1 : HashWhat::Sha256);
        if (!h) {
          m_report.warnings.push_back("not checked: " + h.error().message);
          continue;
        }
        ++m_report.hashed_files;
        m_report.hashed_bytes += f.size;
        if ((git ? h->git_sha1 : h->sha256) == f.digest_hex) continue;
        std::string fix = "rm " + quote(f.path) + ", then fetch it again";
        if (m_report.stores[i].kind == stores::StoreKind::HubCache && !f.model.empty()) {
          const auto slash = f.model.find('/');
          const std::string type = f.model.substr(0, slash), id = f.model.substr(slash + 1);
          fix = "hubcache download " + id + (type == "model" ? "" : " --repo-type " + type) + " --force-download --cache-dir " +
                quote(m_report.stores[i].root);
        } else if (m_report.stores[i].kind == stores::StoreKind::Ollama && !f.model.empty()) {
          fix = "rm " + quote(f.path) + "; ollama pull " + f.model;
        }
        add({FindingKind::ContentMismatch,
             "'" + f.path + "' (" + std::to_string(f.links) + " names) does not hold the bytes its name says (" +
                 (git ? "git-sha1 " + h->git_sha1 : "sha256 " + h->sha256) +
                 "): one of its names was edited in place, which a hardlink shares with every name",
             {f.path},
             0,
             fix});
      }
  }

  void check_project_cache(const FoundStore& store, const stores::StoreListing& listing) {
    std::set<std::string> models;
    for (const auto& f : listing.files)
      if (!f.model.empty()) models.insert(f.model);
    const std::string project = store.root.substr(0, store.root.rfind('/'));
    // A cache found inside a project is migrated; one a tool is configured to use (LLAMA_CACHE)
    // stays that tool's: only the bytes both hold become one copy.
    const std::string fix =
        store.walked ? "hubcache migrate " + quote(project) + " --to " + quote(m_config.hub_cache.value) +
                           " --rewrite-config (merges it into the configured cache, points the project's settings there and "
                           "removes it; --dry-run shows the plan and the diff first)"
                     : "hubcache dedupe " + quote(store.root) + " " + quote(m_config.hub_cache.value) +
                           " (one copy of the bytes both caches hold), then point the tool at " + m_config.hub_cache.value;
    add({FindingKind::ProjectCache,
         "a Hub cache outside the configured one (" + m_config.hub_cache.value + "): " + plural(models.size(), "repo", "repos") +
             " only tools pointed at it will find",
         {store.root},
         listing_disk_bytes(listing),
         fix});
    if (!store.walked) return;
    const std::string folder = store.root.substr(store.root.rfind('/') + 1);
    for (const auto& s : detail::project_settings(project, store.root, folder))
      add({FindingKind::CacheSetting,
           "'" + s.text + "' points a tool at the project cache " + store.root,
           {s.file + ":" + std::to_string(s.line)},
           0,
           "hubcache migrate " + quote(project) + " --rewrite-config rewrites it, or point it at " + m_config.hub_cache.value});
  }

  void check_partials(const FoundStore& store, const stores::StoreListing& listing) {
    const std::time_t now = std::time(nullptr);
    std::vector<const stores::StoredFile*> stale;
    std::vector<std::string> paths;
    for (const auto& f : listing.files) {
      struct stat st {};
      if (!f.partial || ::lstat(f.path.c_str(), &st) != 0 || now - st.st_mtime < k_stale_partial_seconds) continue;
      stale.push_back(&f);
      paths.push_back(f.path);
    }
    if (stale.empty()) return;
    std::string fix = store.kind == stores::StoreKind::Ollama ? "`ollama pull` of the model resumes it; else rm" : "rm";
    for (const auto& p : paths) fix += " " + quote(p);
    add({FindingKind::StalePartial,
         plural(paths.size(), "unfinished download", "unfinished downloads") + " in " + store.root +
             " untouched for over an hour",
         paths, disk_bytes_of(stale), fix});
  }

  void check_duplicates(const std::vector<stores::StoreListing>& listings) {
    // One finding per set of (store, model) places holding the same contents.
    struct Aggregate {
      std::size_t files = 0;
      std::uint64_t bytes = 0;
      std::vector<std::string> roots;
    };
    // Keyed by the places, and whether the copies are each on another filesystem (no link can
    // join those: nothing a link frees, and the fix is a person's choice of copy).
    std::map<std::pair<std::vector<std::string>, bool>, Aggregate> by_places;
    for (const auto& g : detail::content_groups(listings)) {
      const bool apart = g.linkable_bytes == 0 && g.extra_bytes > 0;
      std::set<std::string> places;
      std::vector<std::string> roots;
      for (const auto& inode : g.inodes) {
        const auto& h = inode.front();
        places.insert(h.store->root + (h.file->model.empty() ? "" : " (" + h.file->model + ")"));
        if (std::find(roots.begin(), roots.end(), h.store->root) == roots.end()) roots.push_back(h.store->root);
      }
      auto& a = by_places[{{places.begin(), places.end()}, apart}];
      ++a.files;
      a.bytes += g.linkable_bytes;
      if (a.roots.empty()) a.roots = roots;
    }
    for (const auto& [key, a] : by_places) {
      const auto& [places, apart] = key;
      std::string where;
      for (const auto& p : places) where += (where.empty() ? "" : " and ") + p;
      std::string fix = std::string("hubcache dedupe") + (m_options.deep ? " --deep" : "");
      for (const auto& r : a.roots) fix += " " + quote(r);
      if (apart) fix = "remove the copy you do not need (a link cannot join files on different filesystems)";
      add({FindingKind::DuplicateContent,
           plural(a.files, "file is", "files are") + " held in " + where +
               (apart ? ", on different filesystems" : ", not linked"),
           a.roots, a.bytes, fix});
    }
  }

  void check_environment() {
    const auto home = m_env.get_nonempty("HOME");
    const auto profile = detail::profile_settings(home ? expand_path(*home, m_env) : std::string());
    auto lines_of = [&](std::string_view variable) {
      std::vector<std::string> out;
      for (const auto& s : profile)
        if (s.variable == variable) out.push_back(s.file + ":" + std::to_string(s.line));
      return out;
    };
    const std::string hub = m_config.hub_cache.value;
    auto var = [&](const char* name) {
      const auto v = m_env.get_nonempty(name);
      return v ? real_folder(expand_path(*v, m_env)) : std::string();
    };
    if (const auto tc = var("TRANSFORMERS_CACHE"); !tc.empty() && tc != hub) {
      auto paths = lines_of("TRANSFORMERS_CACHE");
      paths.insert(paths.begin(), tc);
      add({FindingKind::EnvConflict,
           "TRANSFORMERS_CACHE sends transformers v4 to " + tc + " while huggingface_hub, the hf CLI and other tools use " + hub,
           paths, 0,
           "unset TRANSFORMERS_CACHE (and remove it from the shell profile); set HF_HUB_CACHE instead if that is where "
           "the models should live"});
    }
    const auto new_name = var("HF_HUB_CACHE"), old_name = var("HUGGINGFACE_HUB_CACHE");
    if (!new_name.empty() && !old_name.empty() && new_name != old_name) {
      auto paths = lines_of("HUGGINGFACE_HUB_CACHE");
      paths.insert(paths.begin(), old_name);
      add({FindingKind::EnvConflict,
           "HUGGINGFACE_HUB_CACHE (" + old_name + ", read by older clients) and HF_HUB_CACHE (" + new_name +
               ") name different caches",
           paths, 0, "unset HUGGINGFACE_HUB_CACHE, or set it to the same folder as HF_HUB_CACHE"});
    }
    if (const auto ds = var("HF_DATASETS_CACHE"); !ds.empty() && ds == hub)
      add({FindingKind::EnvConflict,
           "HF_DATASETS_CACHE is the Hub cache itself: the datasets library's Arrow files land among the repo folders",
           {ds},
           0,
           "set HF_DATASETS_CACHE to its own folder (default: $HF_HOME/datasets)"});
    // A second cache at the default place: tools started without this environment (services,
    // IDEs, cron) still use it.
    for (std::size_t i = 0; i < m_listings.size(); ++i) {
      const auto& s = m_report.stores[i];
      if (s.kind != stores::StoreKind::HubCache || s.configured || s.root != m_default_hub) continue;
      auto paths = lines_of("HF_HUB_CACHE");
      paths.insert(paths.begin(), s.root);
      add({FindingKind::EnvConflict,
           "the default Hub cache " + s.root + " holds models too, but this environment uses " + hub +
               ": tools started without it (services, IDEs, cron) read and fill the default one",
           paths, listing_disk_bytes(m_listings[i]),
           "hubcache dedupe " + quote(s.root) + " " + quote(hub) +
               " (one copy of the bytes both hold), and set HF_HUB_CACHE where those tools start"});
    }
  }

  void finish() {
    auto& f = m_report.findings;
    std::stable_sort(f.begin(), f.end(), [](const Finding& a, const Finding& b) {
      if (a.kind != b.kind) return a.kind < b.kind;
      if (a.bytes != b.bytes) return a.bytes > b.bytes;
      return a.paths < b.paths;
    });
    m_report.reclaimable_bytes = m_trap_reclaimable;
    for (const auto& x : f)
      if (x.kind == FindingKind::LocalDirCopy || x.kind == FindingKind::DuplicateContent || x.kind == FindingKind::StalePartial ||
          x.kind == FindingKind::DetachedRevision || x.kind == FindingKind::UnreferencedSharedBlob)
        m_report.reclaimable_bytes += x.bytes;
  }

  const Environment& m_env;
  const DoctorOptions& m_options;
  Config m_config;
  std::string m_default_hub;
  DoctorReport m_report;
  std::vector<stores::StoreListing> m_listings;  // parallel to m_report.stores
  std::map<std::string, std::set<InodeKey>> m_hub_blobs;
  std::uint64_t m_trap_reclaimable = 0;
  bool m_hub_incomplete = false;  // some Hub cache could not be read whole
};

}  // namespace

Result<DoctorReport> run_doctor(const Environment& env, const DoctorOptions& options) {
  for (const auto& root : options.roots) {
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) return fail(errno_error(errno, "cannot search", root));
    if (!S_ISDIR(st.st_mode)) return fail(ErrorCode::InvalidArgument, "'" + root + "' is not a folder to search", root);
  }
  return Doctor(env, options).run();
}

}  // namespace hubcache::hygiene

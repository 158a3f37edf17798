// The mirror's HTML pages for people: `/` (the repos a request may read, their sizes and
// revisions, the mirror's facts, and the lines that point a client at it) and a repo's page at the
// Hub's URL of it (a revision's files, each linked to its resolve URL). Server-rendered, no script;
// every name from the cache is escaped as HTML and percent-encoded in links.
#include "html_page.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

#include "hubcache/cache/layout.hpp"
#include "hubcache/util/dir_walk.hpp"
#include "hubcache/util/human.hpp"
#include "router_impl.hpp"

namespace hubcache::server {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string code_string(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string shell_word(std::string_view s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-_.~/:@%+=,").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(s);
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string url_path(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  const std::size_t slash = url.find('/', scheme + 3);
  if (slash == std::string_view::npos) return "";
  std::string path(url.substr(slash));
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

namespace {

// What a page says about one repo folder.
struct RepoSummary {
  RepoTarget target;
  std::uint64_t bytes = 0;                                  // its blobs, each once
  std::vector<std::pair<std::string, std::string>> refs;    // name -> commit
  std::vector<std::pair<std::string, std::int64_t>> snaps;  // snapshot commit -> mtime, newest first
  std::int64_t last_modified = 0;                           // newest snapshot
};

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  const fs::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return names;
  DirReader reader(fd.get());
  const char* name = nullptr;
  unsigned char type = DT_UNKNOWN;
  while (reader.next(name, type)) names.emplace_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

RepoSummary summarize(const CacheView& view, const RepoTarget& t) {
  RepoSummary s;
  s.target = t;
  const auto layout = RepoLayout::of_folder(t.folder);
  if (!layout) return s;
  // Blob sizes as `cache ls` counts them: regular blobs, and entries of the shared blob store
  // (only one the mirror would serve); never a download in progress.
  for (const auto& name : names_in(layout->blobs_dir())) {
    if (name.front() == '.' || name.ends_with(k_incomplete_suffix)) continue;
    struct stat st {};
    if (::lstat(layout->blob_path(name).c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      const auto payload = view.shared_payload(t.folder, name);
      if (!payload || ::stat(payload->c_str(), &st) != 0) continue;
    }
    if (S_ISREG(st.st_mode)) s.bytes += static_cast<std::uint64_t>(st.st_size);
  }
  for (const auto& name : names_in(layout->snapshots_dir())) {
    struct stat st {};
    if (!is_commit_hash(name) || ::lstat(layout->snapshot_dir(name).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    s.snaps.emplace_back(name, st.st_mtim.tv_sec);
    s.last_modified = std::max<std::int64_t>(s.last_modified, st.st_mtim.tv_sec);
  }
  std::stable_sort(s.snaps.begin(), s.snaps.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  for (auto& [name, commit] : view.list_refs(t.folder))
    if (std::any_of(s.snaps.begin(), s.snaps.end(), [&](const auto& c) { return c.first == commit; }))
      s.refs.emplace_back(name, commit);
  return s;
}

std::string date_text(std::int64_t unix_seconds) {
  if (unix_seconds <= 0) return "-";
  const std::time_t t = unix_seconds;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  const auto ago = static_cast<double>(std::max<std::int64_t>(0, std::time(nullptr) - unix_seconds));
  return std::string(buf) + " (" + format_age(ago) + ")";
}

// "14.6KB" (huggingface_hub's sizes, powers of 1000, with the unit's B), exact in the title.
std::string size_text(std::uint64_t bytes) { return format_size(static_cast<double>(bytes)) + "B"; }

std::string size_cell(std::uint64_t bytes) {
  return "<td class=\"n\" title=\"" + std::to_string(bytes) + " bytes\">" + size_text(bytes) + "</td>";
}

// Links below the mirror's public URL: its path ("/hub") then the Hub's own paths.
struct Links {
  std::string prefix;
  std::string home() const { return prefix + "/"; }
  std::string repo(const RepoRef& r) const {
    return prefix + "/" + (r.type == RepoType::Model ? std::string() : std::string(plural(r.type)) + "/") +
           percent_encode(r.id, "/");
  }
  std::string revision(const RepoRef& r, std::string_view rev) const { return repo(r) + "?revision=" + percent_encode(rev); }
  std::string file(const RepoRef& r, std::string_view commit, std::string_view path) const {
    return repo(r) + "/resolve/" + percent_encode(commit) + "/" + percent_encode(path, "/");
  }
};

std::string a(const std::string& href, std::string_view text) {
  return "<a href=\"" + html_escape(href) + "\">" + html_escape(text) + "</a>";
}

constexpr const char* k_style =
    "body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:70rem;padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;width:100%;margin-bottom:1rem}"
    "th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}"
    "td.n{text-align:right;white-space:nowrap}pre{background:#f4f4f4;padding:.6rem .8rem;overflow-x:auto}"
    "code,pre{font:13px ui-monospace,monospace}.t{color:#666;font-size:.85em}h2{margin-top:1.6rem}";

std::string page(std::string_view title, const Links& links, const std::string& main) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
         html_escape(title) + "</title><style>" + k_style + "</style></head>\n<body><header>" +
         a(links.home(), "hubcache mirror") + "</header>\n<main>\n" + main + "</main></body></html>\n";
}

Response html_response(const Request& req, int status, std::string body) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", "text/html; charset=utf-8");
  // What a page lists depends on the request's token: never kept by a cache in between.
  r.set_header("Cache-Control", "no-store");
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Content-Security-Policy",
               "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  if (req.method == "HEAD") {
    r.head_length = body.size();
  } else {
    r.body = std::move(body);
  }
  return r;
}

// The lines that point each client at this mirror, for `repo` (a placeholder when none).
std::string usage_block(const std::string& url, const std::optional<RepoRef>& repo, const std::string& file,
                        const std::string& revision) {
  const std::string id = repo ? repo->id : "ORG/NAME";
  const RepoType type = repo ? repo->type : RepoType::Model;
  const bool typed = type != RepoType::Model;
  std::string py = "from huggingface_hub import snapshot_download\n\npath = snapshot_download(" + code_string(id);
  if (typed) py += ", repo_type=" + code_string(to_string(type));
  if (!revision.empty()) py += ", revision=" + code_string(revision);
  py += ", endpoint=" + code_string(url) + ")";
  std::string js = "import { downloadFile } from \"@huggingface/hub\";\n\nconst blob = await downloadFile({ repo: ";
  js += typed ? "{ type: " + code_string(to_string(type)) + ", name: " + code_string(id) + " }" : code_string(id);
  js += ", path: " + code_string(file.empty() ? "config.json" : file);
  if (!revision.empty()) js += ", revision: " + code_string(revision);
  js += ", hubUrl: " + code_string(url) + " });";
  std::string cli = "HF_ENDPOINT=" + shell_word(url) + " hubcache download " + shell_word(id);
  if (typed) cli += std::string(" --repo-type ") + to_string(type);
  if (!revision.empty()) cli += " --revision " + shell_word(revision);
  return "<h2 id=\"use\">Use this mirror</h2>\n"
         "<p>Point any Hub client at it (huggingface_hub, transformers, datasets, the JS client, hubcache):</p>\n"
         "<pre id=\"use-shell\">export HF_ENDPOINT=" +
         html_escape(shell_word(url)) + "</pre>\n<p>Python (huggingface_hub):</p>\n<pre id=\"use-python\">" + html_escape(py) +
         "</pre>\n<p>JavaScript (@huggingface/hub):</p>\n<pre id=\"use-js\">" + html_escape(js) +
         "</pre>\n<p>hubcache:</p>\n<pre id=\"use-hubcache\">" + html_escape(cli) + "</pre>\n";
}

std::string type_label(RepoType t) { return std::string("<span class=\"t\">") + to_string(t) + "</span>"; }

std::string short_commit(std::string_view c) { return std::string(c.substr(0, 12)); }

Response not_found_page(const Request& req, const Links& links, const std::string& what) {
  return html_response(
      req, 404,
      page("Not found - hubcache mirror", links,
           "<h1>Not found</h1>\n<p>" + html_escape(what) + "</p>\n<p>" + a(links.home(), "All repos") + "</p>\n"));
}

}  // namespace

bool Router::Impl::page_shows(const Request& req, const RepoTarget& t) const {
  if (t.folder.empty() || check_access(req, t)) return false;
  return !(options.page_hides && options.page_hides(req, t.repo));
}

Response Router::Impl::index_page(const Request& req) const {
  const std::string url = base_url(req);
  const Links links{url_path(url)};
  std::vector<RepoSummary> repos;
  for (const auto& name : names_in(root)) {
    const auto repo = parse_repo_folder_name(name);
    if (!repo || !validate_repo_id(repo->id) || repo_folder_name(*repo) != name) continue;
    const auto folder = view.repo_folder(*repo);
    if (!folder) continue;
    const RepoTarget t{*repo, *folder};
    if (page_shows(req, t)) repos.push_back(summarize(view, t));
  }
  std::sort(repos.begin(), repos.end(), [](const RepoSummary& x, const RepoSummary& y) {
    return std::pair(static_cast<int>(x.target.repo.type), x.target.repo.id) <
           std::pair(static_cast<int>(y.target.repo.type), y.target.repo.id);
  });
  std::uint64_t total = 0;
  for (const auto& s : repos) total += s.bytes;

  std::string m = "<h1>Hub mirror at " + html_escape(url) + "</h1>\n<table id=\"facts\">\n";
  const auto fact = [&m](std::string_view label, std::string_view value) {
    m += "<tr><th>" + html_escape(label) + "</th><td>" + html_escape(value) + "</td></tr>\n";
  };
  fact("Address", url);
  fact("Repos", std::to_string(repos.size()) + " (" + size_text(total) + " on disk)");
  if (options.page_facts)
    for (const auto& [label, value] : options.page_facts()) fact(label, value);
  m += "</table>\n";
  std::optional<RepoRef> example;
  if (!repos.empty()) example = repos.front().target.repo;
  m += usage_block(url, example, "", "");

  m += "<h2 id=\"repos\">Repos</h2>\n";
  if (repos.empty()) {
    m += "<p>This mirror's cache holds no repo you may read yet.</p>\n";
  } else {
    m += "<table id=\"repo-list\"><tr><th>Repo</th><th>Size</th><th>Revisions</th><th>Last modified</th></tr>\n";
    for (const auto& s : repos) {
      const RepoRef& r = s.target.repo;
      m += "<tr><td>" + type_label(r.type) + " " + a(links.repo(r), r.id) + "</td>" + size_cell(s.bytes) + "<td>";
      for (const auto& [ref, commit] : s.refs)
        m += a(links.revision(r, ref), ref) + " &rarr; <code>" + short_commit(commit) + "</code><br>";
      for (const auto& [commit, mtime] : s.snaps)
        if (std::none_of(s.refs.begin(), s.refs.end(), [&](const auto& x) { return x.second == commit; }))
          m += a(links.revision(r, commit), short_commit(commit)) + " <span class=\"t\">(no ref)</span><br>";
      m += "</td><td>" + html_escape(date_text(s.last_modified)) + "</td></tr>\n";
    }
    m += "</table>\n";
  }
  return html_response(req, 200, page("hubcache mirror", links, m));
}

Response Router::Impl::repo_page(const Request& req, const RepoRef& repo, const std::string& revision) const {
  const std::string url = base_url(req);
  const Links links{url_path(url)};
  RepoTarget t{repo, {}};
  if (auto folder = view.repo_folder(repo)) t.folder = *folder;
  // A repo the request may not read looks exactly like a missing one.
  if (!page_shows(req, t)) return not_found_page(req, links, "This mirror has no " + describe(repo) + " that you may read.");
  const RepoSummary s = summarize(view, t);
  std::string rev = revision;
  if (rev.empty()) {
    if (std::any_of(s.refs.begin(), s.refs.end(), [](const auto& x) { return x.first == "main"; }))
      rev = "main";
    else if (!s.refs.empty())
      rev = s.refs.front().first;
    else if (!s.snaps.empty())
      rev = s.snaps.front().first;
  }
  std::shared_ptr<const SnapshotListing> listing;
  std::string commit;
  if (!rev.empty()) {
    const auto r = view.resolve_revision(t.folder, rev);
    if (r.kind == CacheView::Revision::Kind::Found) {
      commit = r.commit;
      listing = view.listing(t.folder, commit);
    }
    if (!listing)
      return not_found_page(req, links, "No revision '" + rev + "' of " + describe(repo) + " in this mirror's cache.");
  }

  std::string m = "<p>" + a(links.home(), "All repos") + "</p>\n<h1>" + type_label(repo.type) + " " + html_escape(repo.id) +
                  "</h1>\n<table id=\"facts\">\n";
  m += "<tr><th>Size on disk</th>" + size_cell(s.bytes) + "</tr>\n";
  m += "<tr><th>Last modified</th><td>" + html_escape(date_text(s.last_modified)) + "</td></tr>\n</table>\n";
  m += "<h2 id=\"revisions\">Revisions</h2>\n<table id=\"revision-list\"><tr><th>Revision</th><th>Commit</th></tr>\n";
  const auto row = [&](const std::string& name, const std::string& c) {
    m += "<tr><td>" + a(links.revision(repo, name), name) + (c == commit && name == rev ? " <b>(shown)</b>" : "") +
         "</td><td><code>" + html_escape(c) + "</code></td></tr>\n";
  };
  for (const auto& [ref, c] : s.refs) row(ref, c);
  for (const auto& [c, mtime] : s.snaps)
    if (std::none_of(s.refs.begin(), s.refs.end(), [&](const auto& x) { return x.second == c; })) row(c, c);
  m += "</table>\n";

  std::string example_file;
  if (!listing) {
    m += "<p>No snapshot of this repo is cached.</p>\n";
  } else {
    m += "<h2 id=\"files\">Files at " + html_escape(rev) + " <code>" + html_escape(commit) + "</code></h2>\n";
    m += "<table id=\"file-list\"><tr><th>File</th><th>Size</th><th>Storage</th></tr>\n";
    for (const auto& f : listing->files) {
      if (f.held && (example_file.empty() || f.path == "config.json")) example_file = f.path;
      m += "<tr><td>" + (f.held ? a(links.file(repo, commit, f.path), f.path) : html_escape(f.path)) + "</td>" +
           size_cell(f.size) + "<td>" + (f.is_lfs() ? "LFS" : "git") +
           (f.held ? "" : " <span class=\"t\">(not in this mirror's cache)</span>") + "</td></tr>\n";
    }
    m += "</table>\n";
  }
  m += usage_block(url, repo, example_file, revision.empty() ? "" : rev);
  return html_response(req, 200, page(repo.id + " - hubcache mirror", links, m));
}

}  // namespace hubcache::server

// What the CLI tells a user to do about an error: the library names the remedy (Error::remedy),
// this file names the flags and commands that apply it. The library's messages never do.
#include <fmt/format.h>

#include "cli.hpp"
#include "hubcache/cache/hf_uri.hpp"
#include "hubcache/core/repo_id.hpp"

namespace hubcache::cli {
namespace {

struct HintRepo {
  std::string repo_id;
  RepoType type = RepoType::Model;
  std::string revision = "main";
  std::string cache_dir;  // the cache the command writes to ("" when it does not say)
};
HintRepo g_repo;  // the repo the command is about ("" when none)

std::string shell_quote(const std::string& s) {
  if (s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// `hubcache download <repo> [files] [--repo-type T] [--revision R]`, R defaulting to the hint
// repo's revision; at most five files named, more mean the whole repo at that revision.
std::string download_command(const std::vector<std::string>& files, const std::string& revision_or_empty) {
  std::string cmd = "hubcache download " + shell_quote(g_repo.repo_id);
  if (files.size() <= 5)
    for (const auto& f : files) cmd += " " + shell_quote(f);
  if (g_repo.type != RepoType::Model) cmd += std::string(" --repo-type ") + to_string(g_repo.type);
  const std::string revision = revision_or_empty.empty() ? g_repo.revision : revision_or_empty;
  if (revision != "main") cmd += " --revision " + shell_quote(revision);
  return cmd;
}

}  // namespace

std::string force_download_hint(const std::vector<std::string>& files, const std::string& revision) {
  std::string cmd = download_command(files, revision);
  if (!g_repo.cache_dir.empty()) cmd += " --cache-dir " + shell_quote(g_repo.cache_dir);
  return (files.size() > 1 ? "Download them again with: " : "Download it again with: ") + cmd + " --force-download";
}

void set_hint_repo(const std::string& repo_id, RepoType type, const std::string& revision, const std::string& cache_dir) {
  g_repo = HintRepo{repo_id, type, revision, cache_dir};
}

std::string hint_for(const Error& e) {
  switch (e.remedy) {
    case Remedy::None:
      return "";
    case Remedy::UseNetwork:
      return "Unset HF_HUB_OFFLINE / drop --offline to download it.";
    case Remedy::DropForceDownload:
      return "Drop --force-download, or go online (unset HF_HUB_OFFLINE / drop --offline).";
    case Remedy::UseCacheDir:
      return "Point --cache-dir (or HF_HUB_CACHE) at a Hub cache folder.";
    case Remedy::UseToken:
      return "Pass --token or set HF_TOKEN (or run `hubcache auth login`, which writes the token file `hf auth login` does).";
    case Remedy::CheckToken:
      return "Check --token / HF_TOKEN / the token file, or drop the token to access public repos anonymously.";
    case Remedy::Download:
      if (g_repo.repo_id.empty()) return "Download it first (hubcache download).";
      return (e.missing.size() > 1 ? "Fetch them with: " : "Fetch it with: ") + download_command(e.missing, e.remedy_value) +
             (e.code == ErrorCode::IncompleteSnapshot
                  ? ". A snapshot downloaded with --for holds only what that framework loads: `hubcache download " +
                        g_repo.repo_id + " --for TARGET --offline` resolves it as such."
                  : "");
    case Remedy::UseRevision:
      return e.remedy_value.empty() ? "Pass --revision." : "Use it with --revision " + e.remedy_value + ".";
    case Remedy::UseRepoType:
      return "Add --repo-type " + e.remedy_value + ".";
    case Remedy::DropLocalDir:
      return "Drop --local-dir (or copy the folder), or run from a directory where that folder does not exist.";
    case Remedy::UseLocalDir:
      return "Or pick another --local-dir, then rerun.";
    case Remedy::ForceDownload:
      return "Retry later or with --force-download.";
    case Remedy::TrustCa:
      return "For a LAN mirror started with `hubcache serve --tls-cert`, put its CA's PEM file in SSL_CERT_FILE; "
             "`hubcache env` shows which CA file is in effect.";
    case Remedy::FreeSpace:
      return "`hubcache cache prune` and `hubcache cache rm` free space in the cache.";
    case Remedy::IgnoreMetadata:
      return e.remedy_value == "untracked"
                 ? "Leave them out with --untracked skip, or import the folder as plain files with --ignore-metadata."
                 : "Import the folder as plain files with --ignore-metadata.";
    case Remedy::ForceRef:
      return "Import under another name (--revision imported) or by commit (--revision " + e.remedy_value +
             "), or pass --force to move the ref.";
    case Remedy::MirrorCache: {
      auto uri = parse_hf_uri(e.remedy_value);
      if (!uri) return "";
      std::string download = "hubcache download " + uri->repo_id;
      if (uri->type != RepoType::Model) download += std::string(" --repo-type ") + to_string(uri->type);
      if (!g_repo.cache_dir.empty()) download += " --cache-dir '" + g_repo.cache_dir + "'";
      if (uri->revision) download += " --revision " + *uri->revision;
      return "Copy it through a local mirror of that cache:\n  hubcache serve --cache-dir '" + e.path + "'" +
             " --port 8089 &\n  HF_ENDPOINT=http://127.0.0.1:8089 " + download +
             "\n(`hubcache migrate` will do this in one step.)";
    }
  }
  return "";
}

}  // namespace hubcache::cli

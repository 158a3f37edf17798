#include <cctype>

#include "hubcache/hub/hub.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache::hub {

std::string encode_revision(std::string_view revision) { return percent_encode(revision, ""); }
std::string encode_path(std::string_view path) { return percent_encode(path, "/"); }

std::string resolve_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision, std::string_view path) {
  return std::string(endpoint) + "/" + url_prefix(repo.type) + repo.id + "/resolve/" + encode_revision(revision) + "/" +
         encode_path(path);
}

std::string repo_info_url(std::string_view endpoint, const RepoRef& repo, std::optional<std::string_view> revision) {
  std::string url = std::string(endpoint) + "/api/" + plural(repo.type) + "/" + repo.id;
  if (revision) url += "/revision/" + encode_revision(*revision);
  return url;
}

std::string tree_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision, std::string_view path,
                     bool recursive, bool expand) {
  std::string url = std::string(endpoint) + "/api/" + plural(repo.type) + "/" + repo.id + "/tree/" + encode_revision(revision);
  if (!path.empty()) url += "/" + percent_encode(path, "");
  url += std::string("?recursive=") + (recursive ? "true" : "false") + "&expand=" + (expand ? "true" : "false");
  return url;
}

std::string paths_info_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision) {
  return std::string(endpoint) + "/api/" + plural(repo.type) + "/" + repo.id + "/paths-info/" + encode_revision(revision);
}

std::optional<std::string> parse_link_rel(std::string_view header, std::string_view rel) {
  // Link: <url1>; rel="next", <url2>; rel="prev"
  const std::string quoted = "rel=\"" + std::string(rel) + "\"", bare = "rel=" + std::string(rel);
  std::size_t pos = 0;
  while ((pos = header.find('<', pos)) != std::string_view::npos) {
    const auto close = header.find('>', pos);
    if (close == std::string_view::npos) break;
    const std::string_view url = header.substr(pos + 1, close - pos - 1);
    auto next = header.find('<', close);
    std::string_view params =
        header.substr(close + 1, next == std::string_view::npos ? std::string_view::npos : next - close - 1);
    while (!params.empty() && (params.back() == ',' || params.back() == ' ')) params.remove_suffix(1);
    for (std::size_t at = 0; (at = params.find("rel=", at)) != std::string_view::npos; ++at) {
      const std::string_view rest = params.substr(at);
      if (rest == bare || rest.starts_with(bare + ";") || rest.starts_with(bare + " ") || rest.starts_with(quoted))
        return std::string(url);
    }
    pos = close;
  }
  return std::nullopt;
}

std::string xet_token_url(std::string_view endpoint, const RepoRef& repo, std::string_view revision) {
  return std::string(endpoint) + "/api/" + plural(repo.type) + "/" + repo.id + "/xet-read-token/" + encode_revision(revision);
}

std::optional<std::string> parse_link_next(std::string_view header) { return parse_link_rel(header, "next"); }

}  // namespace hubcache::hub

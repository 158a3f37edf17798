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

std::optional<std::string> parse_link_next(std::string_view header) {
  // Link: <url1>; rel="next", <url2>; rel="prev"
  std::size_t pos = 0;
  while ((pos = header.find('<', pos)) != std::string_view::npos) {
    const auto close = header.find('>', pos);
    if (close == std::string_view::npos) break;
    const std::string_view url = header.substr(pos + 1, close - pos - 1);
    auto next = header.find('<', close);
    const std::string_view params =
        header.substr(close + 1, next == std::string_view::npos ? std::string_view::npos : next - close - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos || params.find("rel=next") != std::string_view::npos)
      return std::string(url);
    pos = close;
  }
  return std::nullopt;
}

}  // namespace hubcache::hub

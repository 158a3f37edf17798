#pragma once
// A test server with a small repo plus a Downloader pointed at it and a temp cache.
#include <gtest/gtest.h>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/resolve/download.hpp"
#include "hubcache/util/hash.hpp"
#include "retry_seams.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {

inline const RepoRef k_model{RepoType::Model, "org/model"};

inline FileRequest file_request(const std::string& name, const std::string& revision = "main", const RepoRef& repo = k_model) {
  FileRequest r;
  r.repo_id = repo.id;
  r.repo_type = repo.type;
  r.filename = name;
  r.revision = revision;
  return r;
}

struct DownloadFixture : ::testing::Test {
  HubServer server;
  TempDir dir;
  // Every retry waits 1 ms.
  http::detail::ScopedRetryDelayMap delay_map{[](std::chrono::milliseconds) { return std::chrono::milliseconds(1); }};
  std::string cache = dir / "cache";
  std::string c1 = commit_id(10);  // main, v1.0 ("aaaa...")
  std::string c2 = commit_id(11);  // refs/pr/1 ("bbbb...")
  std::string weights = std::string(300000, 'w') + "end";

  void SetUp() override {
    server.add_file(k_model, c1, "config.json", "{\"model\": 1}");
    server.add_file(k_model, c1, "model.safetensors", weights, /*lfs=*/true);
    server.add_file(k_model, c1, "sub/dir/notes.txt", "notes");
    server.add_file(k_model, c1, "empty.txt", "");
    server.set_ref(k_model, "main", c1);
    server.set_ref(k_model, "v1.0", c1);
    server.add_file(k_model, c2, "config.json", "{\"model\": 2}");
    server.set_ref(k_model, "refs/pr/1", c2);
  }
  DownloadOptions options(std::optional<std::string> token = std::nullopt) {
    DownloadOptions o;
    o.endpoint = server.endpoint();
    o.cache_dir = cache;
    o.token = std::move(token);
    o.download_timeout = std::chrono::seconds(2);
    return o;
  }
  RepoLayout layout(const RepoRef& r = k_model) const { return RepoLayout(cache, r); }
};

}  // namespace hubcache::test

#pragma once
// The mirror over a cache holding model org/tiny at commit_id(1) (refs/main) with config.json
// ("{}") and sub/a.txt ("a"): the starting point of the freshness and security tests.
#include "server_client.hpp"

namespace hubcache::test {

inline const RepoRef k_tiny{RepoType::Model, "org/tiny"};

class TinyRepoFixture : public ServerFixture {
 protected:
  std::string c1 = commit_id(1);
  void SetUp() override {
    ServerFixture::SetUp();
    cache.add_file(k_tiny, c1, "config.json", "{}");
    cache.add_file(k_tiny, c1, "sub/a.txt", "a");
    cache.add_ref(k_tiny, "main", c1);
  }
};

}  // namespace hubcache::test

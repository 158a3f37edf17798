#pragma once
// The transfer engine's test fixture: a fault-injecting hub with one small and one large file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <mutex>
#include <random>
#include <thread>

#include "cache_builder.hpp"
#include "hub_server.hpp"
#include "hubcache/transfer/engine.hpp"
#include "hubcache/util/hash.hpp"
#include "retry_seams.hpp"
#include "temp_dir.hpp"

namespace hubcache::test {

using namespace hubcache::transfer;
using namespace std::chrono_literals;

inline const RepoRef k_transfer_repo{RepoType::Model, "org/r"};

inline std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

struct Transfer : ::testing::Test {
  HubServer server;
  TempDir dir;
  std::string commit = commit_id(7);
  std::string small = random_bytes(1000, 1);
  std::string big = random_bytes(3u << 20, 2);
  std::vector<std::chrono::milliseconds> delays;
  std::mutex delays_mutex;
  // Every retry wait is recorded and shortened to 1 ms.
  http::detail::ScopedRetryDelayMap delay_map{[this](std::chrono::milliseconds d) {
    std::lock_guard lock(delays_mutex);
    delays.push_back(d);
    return 1ms;
  }};

  void SetUp() override {
    server.add_file(k_transfer_repo, commit, "small.bin", small);
    server.add_file(k_transfer_repo, commit, "big.bin", big, /*lfs=*/true);
    server.set_ref(k_transfer_repo, "main", commit);
  }
  EngineOptions options() {
    EngineOptions o;
    o.idle_timeout = 1000ms;
    o.split_threshold = 1u << 20;
    o.part_size = 256u << 10;
    o.parallel_below_rate = 0;  // parallel ranges from the start unless a test says otherwise
    return o;
  }
  Job job(const std::string& path, const std::string& content, bool lfs = false) {
    Job j;
    j.url = server.endpoint() + "/org/r/resolve/main/" + path;
    j.temp_path = dir / (path + ".incomplete");
    j.parts_path = dir / (path + ".parts.incomplete");
    j.parts_state_path = dir / (path + ".parts.state");
    j.size = content.size();
    j.hash = lfs ? DigestKind::Sha256 : DigestKind::GitSha1;
    j.digest = lfs ? sha256_hex(content) : git_blob_sha1_hex(content);
    j.label = path;
    return j;
  }
};

}  // namespace hubcache::test

// The names the transfer tests use, for the files that include this fixture (test code only).
using namespace hubcache;
using namespace hubcache::transfer;
using namespace hubcache::test;
using namespace std::chrono_literals;
inline const RepoRef& k_repo = k_transfer_repo;

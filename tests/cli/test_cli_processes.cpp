// Many processes and killed processes: concurrency (vector 23) and crash/resume.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "cli_env.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/hash.hpp"

extern char** environ;

using namespace hubcache;
using namespace hubcache::test;
using namespace std::chrono_literals;

namespace {

const RepoRef k_repo{RepoType::Model, "org/model"};

// Starts argv with env changes applied, stdout and stderr to the files given (discarded by
// default); returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& err_file = "/dev/null",
            const std::string& out_file = "/dev/null") {
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  for (const auto& kv : env) {
    const bool unset = kv[0] == '-';
    const auto key = unset ? kv.substr(1) + "=" : kv.substr(0, kv.find('=') + 1);
    std::erase_if(envs, [&](const std::string& s) { return s.rfind(key, 0) == 0; });
    if (!unset) envs.push_back(kv);
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> a, e;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    for (auto& s : envs) e.push_back(const_cast<char*>(s.c_str()));
    e.push_back(nullptr);
    ::execve(a[0], a.data(), e.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Every blob is named by its hash, every pointer resolves, nothing is half-written.
void verify_cache(const std::string& cache) {
  int blobs = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(cache)) {
    const std::string p = e.path().string();
    EXPECT_EQ(p.find(".incomplete"), std::string::npos) << p;
    if (p.find("/blobs/") == std::string::npos || !e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.find(".parts.") != std::string::npos) continue;
    const std::string content = read_file(p);
    EXPECT_EQ(name.size() == 64 ? sha256_hex(content) : git_blob_sha1_hex(content), name) << p;
    ++blobs;
  }
  EXPECT_GT(blobs, 0);
}

// Bytes recorded as written in a split-download state file (0 if absent or unreadable).
// Ranges of a split download's state record that are complete (pos == end): for a Xet download,
// the terms written in full, which a rerun does not fetch again.
std::size_t complete_ranges(const std::string& state) {
  std::ifstream in(state);
  if (!in) return 0;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("ranges")) return 0;
  std::size_t n = 0;
  for (const auto& r : j["ranges"]) n += r[1].get<std::uint64_t>() == r[2].get<std::uint64_t>() ? 1 : 0;
  return n;
}

std::uint64_t recorded_bytes(const std::string& state) {
  std::ifstream in(state);
  if (!in) return 0;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("ranges")) return 0;
  std::uint64_t n = 0;
  for (const auto& r : j["ranges"]) n += r[2].get<std::uint64_t>() - r[0].get<std::uint64_t>();
  return n;
}

}  // namespace

TEST(CliProcesses, EightProcessesShareOneCacheVector13_23) {
  HubServer server;
  TempDir dir;
  const std::string cache = dir / "cache";
  const std::string c1 = commit_id(10);
  std::mt19937 rng(7);
  std::map<std::string, std::string> files;
  for (int i = 0; i < 24; ++i) {
    std::string content(static_cast<std::size_t>(2000 + i * 977), '\0');
    for (auto& ch : content) ch = static_cast<char>(rng());
    files["f" + std::to_string(i) + ".bin"] = content;
  }
  std::string big(8u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(rng());
  for (const auto& [p, c] : files) server.add_file(k_repo, c1, p, c, p.size() % 2 == 0);
  server.add_file(k_repo, c1, "big.safetensors", big, true);
  server.set_ref(k_repo, "main", c1);
  const auto env = cli_env(server, dir, cache);

  std::vector<pid_t> pids;
  for (int i = 0; i < 8; ++i) pids.push_back(spawn(cmd({"download", "org/model", "-q"}), env));
  for (pid_t p : pids) EXPECT_EQ(wait_exit(p), 0);

  for (const auto& [p, c] : files) {
    const bool lfs = p.size() % 2 == 0;
    const std::string where = lfs ? "/cdn/" + sha256_hex(c) : "/resolve/" + c1 + "/" + p;
    EXPECT_EQ(server.count("GET", where), 1) << p;  // every blob transferred once
    EXPECT_EQ(read_file(cache + "/models--org--model/snapshots/" + c1 + "/" + p), c) << p;
  }
  EXPECT_EQ(server.body_bytes("/cdn/" + sha256_hex(big)), big.size());  // ranges, each byte once
  verify_cache(cache);
}

namespace {

// A sparse-ish file: random 4 KiB every 256 KiB, zeros elsewhere (cheap to make, hard to fake).
std::string make_source(const std::string& path, std::uint64_t size, unsigned seed) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  std::mt19937 rng(seed);
  std::string chunk(4096, '\0');
  for (std::uint64_t off = 0; off < size; off += 256 << 10) {
    for (auto& ch : chunk) ch = static_cast<char>(rng());
    EXPECT_EQ(::pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(off)), 4096);
  }
  ::close(fd);
  return hash_file(path, HashWhat::Sha256)->sha256;
}

std::uint64_t size_of(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// Bytes of the file itself that the CDN sent (error bodies aside).
std::uint64_t cdn_content_bytes(const HubServer& server) {
  std::uint64_t n = 0;
  for (const auto& r : server.requests())
    if (r.cdn && (r.status == 200 || r.status == 206)) n += r.body_bytes;
  return n;
}

// kill -9 at random points against the real-Hub mode (CDN on another origin with its own ETags,
// signed URLs that expire between the runs), then a last run: it must transfer less than the
// whole file, send the CDN no validator it did not issue, and publish a verified blob. Even
// trials use the single-file path, odd ones the snapshot path (tree listing first); both HEAD
// the file and fetch from the HEAD's Location.
void kill_and_resume(std::uint64_t size, std::uint64_t throttle, int trials, unsigned seed) {
  HubServer server;
  TempDir dir;
  const std::string c1 = commit_id(10);
  const std::string source = dir / "source.bin";
  const std::string sha = make_source(source, size, seed);
  server.add_disk_file(k_repo, c1, "model.bin", source, size, sha);
  server.set_ref(k_repo, "main", c1);
  server.set_real_hub(RealHubOptions{.url_expiry = std::chrono::seconds(60)});
  server.set_throttle(throttle);
  const std::string cdn_etag = "\"" + server.cdn_etag(sha) + "\"";
  std::mt19937 rng(seed);
  for (int trial = 0; trial < trials; ++trial) {
    const std::string cache = dir / ("cache" + std::to_string(trial));
    const auto env = cli_env(server, dir, cache);
    const std::string blob_dir = cache + "/models--org--model/blobs/";
    const std::string state = blob_dir + sha + ".parts.state";
    const std::string incomplete = blob_dir + sha + ".incomplete";
    auto progress = [&] { return std::max(recorded_bytes(state), size_of(incomplete)); };
    const auto args = trial % 2 == 0 ? cmd({"download", "org/model", "model.bin", "-q"}) : cmd({"download", "org/model", "-q"});
    const int kills = 1 + trial % 3;
    server.clear_requests();
    for (int k = 0; k < kills; ++k) {
      const std::uint64_t before = progress();
      const pid_t pid = spawn(args, env);
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      while (progress() < before + (512u << 10) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
      ::kill(pid, SIGKILL);
      wait_exit(pid);
      server.advance_clock(std::chrono::seconds(120));  // every URL signed so far has expired
    }
    ASSERT_FALSE(exists(blob_dir + sha)) << "trial " << trial << ": finished before the kill; slow the server down";
    const std::uint64_t kept = progress();
    EXPECT_GT(kept, 0u) << "trial " << trial;
    for (const auto& q : server.requests()) {
      if (q.cdn && !q.if_range.empty()) {
        EXPECT_EQ(q.if_range, cdn_etag) << "a validator the CDN did not issue";
      }
    }
    ASSERT_TRUE(server.wait_idle());  // the killed runs' last requests may still be answered
    server.clear_requests();
    server.set_throttle(0);  // the finishing run need not be slow
    auto r = run_process(args, env);
    server.set_throttle(throttle);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::uint64_t rerun = cdn_content_bytes(server);
    EXPECT_LT(rerun, size) << "trial " << trial << ": the rerun did not resume";
    EXPECT_LE(rerun, size - kept) << "trial " << trial << ": bytes kept on disk were fetched again";
    for (const auto& q : server.requests()) {
      if (q.cdn) {
        EXPECT_NE(q.status, 403) << "trial " << trial << ": an expired URL was reused";
        EXPECT_TRUE(q.if_range.empty() || q.if_range == cdn_etag);
      }
    }
    EXPECT_EQ(hash_file(blob_dir + sha, HashWhat::Sha256)->sha256, sha);
    EXPECT_EQ(read_link(cache + "/models--org--model/snapshots/" + c1 + "/model.bin"), "../../blobs/" + sha);
    EXPECT_FALSE(exists(blob_dir + sha + ".parts.incomplete"));
    EXPECT_FALSE(exists(state));
    EXPECT_FALSE(exists(incomplete));
  }
}

// The same over Xet (issue 14): kill -9 at random points of `download --xet on` from the test
// hub's CAS (on the CDN's origin, throttled), the token and signed xorb URLs expired between the
// runs; the rerun fetches fewer xorb bytes than a whole download and publishes a verified blob.
// Odd trials use the snapshot path (the listing's xetHash), even ones the HEAD's Xet headers.
void kill_and_resume_xet(std::uint64_t size, std::uint64_t throttle, int trials, unsigned seed) {
  HubServer server;
  TempDir dir;
  const std::string c1 = commit_id(10);
  // Random throughout (make_source's sparse file would deduplicate to a few chunks).
  std::mt19937_64 bytes(seed);
  std::string content(size, '\0');
  for (auto& ch : content) ch = static_cast<char>(bytes());
  const std::string sha = server.add_file(k_repo, c1, "model.bin", content, /*lfs=*/true);
  server.set_ref(k_repo, "main", c1);
  server.set_real_hub(RealHubOptions{.url_expiry = std::chrono::seconds(60)});
  server.set_xet(true);
  server.set_xet_options({16, std::chrono::seconds(60), std::chrono::seconds(60)});
  server.set_throttle(throttle);
  const std::uint64_t whole = server.xet_fetch_bytes(sha);
  ASSERT_GT(whole, size);
  std::mt19937 rng(seed);
  for (int trial = 0; trial < trials; ++trial) {
    const std::string cache = dir / ("xcache" + std::to_string(trial));
    const auto env = cli_env(server, dir, cache);
    const std::string blob_dir = cache + "/models--org--model/blobs/";
    const std::string state = blob_dir + sha + ".parts.state";
    const auto args = trial % 2 == 0 ? cmd({"download", "org/model", "model.bin", "-q", "--xet", "on"})
                                     : cmd({"download", "org/model", "-q", "--xet", "on"});
    const int kills = 1 + trial % 3;
    for (int k = 0; k < kills; ++k) {
      // Killed once a term more than before is complete (a term partly written is fetched again
      // whole: only whole terms are what a rerun may skip), then at a random point after.
      const std::size_t before = complete_ranges(state);
      const pid_t pid = spawn(args, env);
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      while (complete_ranges(state) <= before && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
      ::kill(pid, SIGKILL);
      wait_exit(pid);
      server.advance_clock(std::chrono::seconds(120));  // the read token and every xorb URL expired
    }
    ASSERT_FALSE(exists(blob_dir + sha)) << "trial " << trial << ": finished before the kill; slow the server down";
    EXPECT_GT(recorded_bytes(state), 0u) << "trial " << trial;
    ASSERT_TRUE(server.wait_idle());
    server.clear_requests();
    server.set_throttle(0);
    auto r = run_process(args, env);
    server.set_throttle(throttle);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::uint64_t rerun = server.body_bytes("/cas/xorbs/");
    EXPECT_LT(rerun, whole) << "trial " << trial << ": the rerun did not resume";
    EXPECT_EQ(server.body_bytes("/cdn/"), 0u) << "trial " << trial << ": fell back to the plain path";
    EXPECT_EQ(hash_file(blob_dir + sha, HashWhat::Sha256)->sha256, sha);
    EXPECT_EQ(read_link(cache + "/models--org--model/snapshots/" + c1 + "/model.bin"), "../../blobs/" + sha);
    EXPECT_FALSE(exists(blob_dir + sha + ".parts.incomplete"));
    EXPECT_FALSE(exists(state));
  }
}

}  // namespace

TEST(CliProcesses, KilledXetDownloadsResumeWithoutRefetchingFinishedTerms) { kill_and_resume_xet(24ull << 20, 3u << 20, 6, 17); }

// 64 MiB: split into ranges, resumed from the state record.
// 2 MiB/s per connection: the file runs 16 ranges of 4 MiB at once, so a faster CDN finishes it
// before a kill (the state record goes once the file is verified).
TEST(CliProcesses, KilledSplitDownloadsResumeThroughTheCdn) { kill_and_resume(64ull << 20, 2u << 20, 6, 11); }

// 12 MiB: one stream into <etag>.incomplete, resumed from its size.
TEST(CliProcesses, KilledSequentialDownloadsResumeThroughTheCdn) { kill_and_resume(12ull << 20, 2u << 20, 6, 5); }

// Ctrl-C during a download (single file, snapshot, --json): exit 1, "cancelled", and the message
// says the partial data is kept and that rerunning the same command resumes -- which the rerun
// then does (it fetches less than the whole file).
TEST(CliProcesses, InterruptCancelsCleanlyAndKeepsPartialData) {
  HubServer server;
  TempDir dir;
  const std::string c1 = commit_id(10);
  const std::string content(4u << 20, 'z');
  server.add_file(k_repo, c1, "weights.bin", content, true);
  server.set_ref(k_repo, "main", c1);
  const std::string sha = sha256_hex(content);
  const std::string resume = "What was already downloaded is kept: rerun the same command to resume.";
  struct Mode {
    std::string name;
    std::vector<std::string> args;
    int sig = SIGINT;
  };
  for (const Mode& m : {Mode{"file", {"download", "org/model", "weights.bin"}}, Mode{"snapshot", {"download", "org/model"}},
                        Mode{"json", {"download", "org/model", "weights.bin", "--json"}, SIGTERM}}) {
    SCOPED_TRACE(m.name);
    server.set_throttle(2u << 20);
    const std::string cache = dir / ("cache-" + m.name);
    const auto env = cli_env(server, dir, cache);
    const std::string blobs = cache + "/models--org--model/blobs/";
    const std::string partial = blobs + sha + ".incomplete";
    const std::string err_file = dir / (m.name + ".err"), out_file = dir / (m.name + ".out");
    const pid_t pid = spawn(cmd(m.args), env, err_file, out_file);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    std::error_code ec;
    while ((!exists(partial) || std::filesystem::file_size(partial, ec) < (256u << 10)) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    ::kill(pid, m.sig);
    // 130 for Ctrl-C, 143 for SIGTERM: 128 + the signal, as a shell reports it.
    EXPECT_EQ(wait_exit(pid), m.sig == SIGINT ? exit_code::interrupted : 128 + SIGTERM);
    const std::string err = read_file(err_file);
    EXPECT_NE(err.find("cancelled. " + resume), std::string::npos) << err;
    if (m.name == "json") {
      std::istringstream lines(read_file(out_file));
      std::string line, last;
      while (std::getline(lines, line))
        if (!line.empty()) last = line;
      const auto doc = nlohmann::json::parse(last);
      EXPECT_EQ(doc["error"]["code"], "cancelled");
      EXPECT_TRUE(doc["error"]["message"].get<std::string>().ends_with(resume)) << last;
    }
    EXPECT_FALSE(exists(blobs + sha));
    EXPECT_TRUE(exists(partial));
    server.set_throttle(0);
    ASSERT_TRUE(server.wait_idle());
    server.clear_requests();
    auto r = run_process(cmd({"download", "org/model", "weights.bin", "-q"}), env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_LT(server.body_bytes("/cdn/"), content.size());
    EXPECT_EQ(read_file(blobs + sha), content);
  }
}

namespace {

std::string read_if_any(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

// Issue 9 section 3: while another process holds a blob's lock (it downloads the same file), the
// download says it waits and for what, in file and snapshot mode, on the bar and in --json, and
// completes once the lock is released.
TEST(CliProcesses, WaitingForAnotherProcessesLockIsShownThenTheDownloadCompletes) {
  HubServer server;
  TempDir dir;
  const std::string c1 = commit_id(12);
  const std::string weights(300000, 'w');
  server.add_file(k_repo, c1, "config.json", "{\"model\": 1}");
  const std::string etag = server.add_file(k_repo, c1, "weights.bin", weights, true);
  server.set_ref(k_repo, "main", c1);
  struct Mode {
    std::string name;
    std::vector<std::string> args;
  };
  const std::vector<Mode> modes{{"file", {"download", "org/model", "weights.bin"}},
                                {"snapshot", {"download", "org/model"}},
                                {"json", {"download", "org/model", "weights.bin", "--json"}}};
  for (const auto& m : modes) {
    SCOPED_TRACE(m.name);
    const std::string cache = dir / ("cache-" + m.name);
    auto env = cli_env(server, dir, cache);
    env.push_back("HF_HUB_DISABLE_PROGRESS_BARS=0");  // the bar, though stderr is a file
    const RepoLayout layout(cache, k_repo);
    // Exactly the lock the library takes for that blob (what another hubcache process would hold).
    auto held = lock_blob(layout, etag);
    ASSERT_TRUE(held && held->held());
    const std::string out = dir / (m.name + ".out"), err = dir / (m.name + ".err");
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = spawn(cmd(m.args), env, err, out);
    const bool json = m.name == "json";
    const std::string watched = json ? out : err, needle = json ? "\"event\":\"lock_wait\"" : "Waiting for another process";
    while (read_if_any(watched).find(needle) == std::string::npos && std::chrono::steady_clock::now() < start + 20s)
      std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_until(start + 1500ms);
    EXPECT_FALSE(exists(layout.blob_path(etag)));  // it waited: nothing was written meanwhile
    held->release();
    EXPECT_EQ(wait_exit(pid), 0) << read_if_any(err);
    const std::string said = read_if_any(err), printed = read_if_any(out);
    if (json) {
      const auto at = printed.find("\"event\":\"lock_wait\"");
      ASSERT_NE(at, std::string::npos) << printed;
      const std::string line = printed.substr(printed.rfind('\n', at) + 1, printed.find('\n', at) - printed.rfind('\n', at) - 1);
      EXPECT_NE(line.find("\"file\":\"weights.bin\""), std::string::npos) << line;
      EXPECT_NE(line.find("\"lock_path\":\"" + layout.lock_path(etag) + "\""), std::string::npos) << line;
      EXPECT_EQ(said.find("Waiting for another process"), std::string::npos) << said;  // stdout carries it
    } else {
      EXPECT_NE(said.find("Waiting for another process that is downloading 'weights.bin' (it holds the lock " +
                          layout.lock_path(etag) + "); this download goes on once that one is done.\n"),
                std::string::npos)
          << said;
      // The bar line says what it waits for, instead of a frozen "active 0".
      EXPECT_NE(said.find("waiting for weights.bin (locked by another process"), std::string::npos) << said;
    }
    EXPECT_EQ(read_if_any(cache + "/models--org--model/snapshots/" + c1 + "/weights.bin"), weights);
    if (m.name == "snapshot") {
      EXPECT_EQ(read_if_any(cache + "/models--org--model/snapshots/" + c1 + "/config.json"), "{\"model\": 1}");
    }
  }
}

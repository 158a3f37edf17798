// `hubcache cache ls|rm|prune|verify` and `hubcache serve` on a cache with huggingface_hub's
// shared blob store (research note shared-blobs.md 6.2).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "cache_builder.hpp"
#include "hubcache/util/hash.hpp"
#include "serve_process.hpp"
#include "http_get.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_a{RepoType::Model, "o/a"};
const RepoRef k_b{RepoType::Model, "o/b"};
const std::string k_s = "ab" + std::string(62, '1');
const std::string k_o = "ef" + std::string(62, '3');

struct CliShared : ::testing::Test {
  test::TempDir dir;
  test::CacheBuilder cb{dir.path()};
  std::string ca = test::commit_id(1), cb_commit = test::commit_id(2);
  std::string etag;

  void SetUp() override {
    cb.mark_shared_store();
    etag = cb.add_shared_file(k_a, ca, "w.bin", "0123456789", k_s);
    cb.add_pointer(k_b, cb_commit, "w.bin", etag);
    cb.link_shared_blob(k_b, etag, k_s);
    cb.add_ref(k_a, "main", ca);
    cb.add_ref(k_b, "main", cb_commit);
    cb.add_shared_payload(k_o, "xyz");
    test::write_file(payload(k_o) + ".refs", "");
  }
  std::string payload(const std::string& h) const { return dir.path() + "/blobs/" + h.substr(0, 2) + "/" + h; }
  test::ProcessResult cache(std::vector<std::string> args) {
    args.insert(args.begin(), {test::hubcache_bin(), "cache"});
    args.insert(args.end(), {"--cache-dir", dir.path()});
    return test::run_process(args);
  }
};

TEST_F(CliShared, LsCountsEachPayloadOnceAndDoesNotWarn) {
  const auto r = cache({"ls", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // the marked top-level `blobs` is no inconsistency
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["size_bytes"], 10);
  EXPECT_EQ(j[1]["size_bytes"], 10);
  const auto table = cache({"ls"});
  EXPECT_NE(table.out.find("Found 2 repo(s) for a total of 2 revision(s) and 13.0 on disk."), std::string::npos) << table.out;
  const auto revisions = cache({"ls", "--revisions"});
  EXPECT_NE(revisions.out.find("Found 2 repo(s) for a total of 2 revision(s) and 13.0 on disk."), std::string::npos)
      << revisions.out;
}

TEST_F(CliShared, RmKeepsAPayloadStillUsedThenFreesIt) {
  const auto b = cache({"rm", "model/o/b", "--yes"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("Deleted 1 repo(s) and 1 revision(s); freed 0.0."), std::string::npos) << b.out;
  EXPECT_EQ(test::read_file(payload(k_s) + ".refs"), "models--o--a/blobs/" + etag + "\n");
  const auto a = cache({"rm", "model/o/a", "--yes"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.out.find("About to delete 1 repo(s) totalling 10.0."), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("Deleted 1 repo(s) and 1 revision(s); freed 10.0."), std::string::npos) << a.out;
  EXPECT_FALSE(test::exists(payload(k_s)));
  EXPECT_TRUE(test::exists(payload(k_s) + ".lock"));
}

TEST_F(CliShared, PruneShowsAndRemovesUnreferencedPayloads) {
  const std::string before = test::tree_fingerprint(dir.path());
  const auto dry = cache({"prune", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "About to delete 1 unreferenced shared blob(s) (3.0 total).\n"
            "  - shared blob " +
                payload(k_o) +
                " (3.0, unreferenced)\n"
                "Dry run: no files were deleted.\n");
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  const auto done = cache({"prune", "-y"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.out.find("1 shared blob(s); freed 3.0."), std::string::npos) << done.out;
  EXPECT_FALSE(test::exists(payload(k_o)));
  EXPECT_TRUE(test::exists(payload(k_s)));
}

TEST_F(CliShared, VerifyChecksTheEtagThroughTheLinks) {
  const auto ok = cache({"verify", "o/a"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("Verified 1 file(s)"), std::string::npos) << ok.out;
  stdfs::remove(payload(k_s));
  const auto gone = cache({"verify", "o/b"});
  EXPECT_EQ(gone.exit_code, exit_code::integrity);
  EXPECT_NE(gone.out.find("w.bin: blob missing: "), std::string::npos) << gone.out;
}

using test::http_get;

TEST_F(CliShared, ServeAnswersASharedFile) {
  const std::string before = test::tree_fingerprint(dir.path());
  test::ServeProcess p({"--cache-dir", dir.path()});
  const std::string url = p.url();
  ASSERT_FALSE(url.empty());
  // LFS: resolve redirects to the signed /_blobs/ URL, which serves the payload too.
  EXPECT_EQ(http_get(url + "/o/a/resolve/main/w.bin"), std::make_pair(200L, std::string("0123456789")));
  EXPECT_EQ(http_get(url + "/o/b/resolve/main/w.bin"), std::make_pair(200L, std::string("0123456789")));
  EXPECT_EQ(p.stop(SIGTERM), 0);
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
}

}  // namespace

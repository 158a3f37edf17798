// hubcache.lock: the canonical text, and every malformed field refused with its place named.
#include <gtest/gtest.h>

#include "hubcache/lock/lockfile.hpp"

namespace hubcache::lock {
namespace {

const std::string k_commit(40, 'c');
const std::string k_oid(40, 'a');
const std::string k_sha(64, 'b');

Lockfile sample() {
  Lockfile l;
  l.endpoint = "https://huggingface.co";
  LockedRepo r;
  r.repo = {RepoType::Model, "org/name"};
  r.revision = "main";
  r.commit = k_commit;
  r.include = {"*.json", "*.safetensors"};
  r.files = {{"model.safetensors", 9, k_oid, k_sha}, {"config.json", 12, k_oid, std::nullopt}};
  sort_files(r);
  l.repos.push_back(r);
  LockedRepo d;
  d.repo = {RepoType::Dataset, "org/data"};
  d.revision = k_commit;
  d.commit = k_commit;
  l.repos.push_back(d);
  return l;
}

TEST(Lockfile, TheTextIsCanonicalAndReadsBackTheSame) {
  const std::string text = serialize_lockfile(sample());
  const std::string want = R"({
  "lockfile_version": 1,
  "endpoint": "https://huggingface.co",
  "repos": [
    {
      "repo_type": "model",
      "repo_id": "org/name",
      "revision": "main",
      "commit": ")" + k_commit +
                           R"(",
      "include": [
        "*.json",
        "*.safetensors"
      ],
      "exclude": [],
      "files": [
        {
          "path": "config.json",
          "size": 12,
          "git_oid": ")" + k_oid +
                           R"("
        },
        {
          "path": "model.safetensors",
          "size": 9,
          "git_oid": ")" + k_oid +
                           R"(",
          "lfs_sha256": ")" +
                           k_sha + R"("
        }
      ]
    },
    {
      "repo_type": "dataset",
      "repo_id": "org/data",
      "revision": ")" + k_commit +
                           R"(",
      "commit": ")" + k_commit +
                           R"(",
      "include": [],
      "exclude": [],
      "files": []
    }
  ]
}
)";
  EXPECT_EQ(text, want);
  auto back = parse_lockfile(text, "x.lock");
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(serialize_lockfile(*back), text);
  ASSERT_EQ(back->repos.size(), 2u);
  EXPECT_EQ(back->repos[0].files[1].blob_name(), k_sha);
  EXPECT_EQ(back->repos[0].files[0].blob_name(), k_oid);
  EXPECT_EQ(back->repos[1].repo.type, RepoType::Dataset);
}

// Replaces the first `from` in the sample's text and expects a refusal naming `where`.
void expect_refused(const std::string& from, const std::string& to, const std::string& where) {
  std::string text = serialize_lockfile(sample());
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  auto r = parse_lockfile(text, "proj/hubcache.lock");
  ASSERT_FALSE(r.has_value()) << "accepted: " << to;
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message.find("lockfile 'proj/hubcache.lock': " + where), std::string::npos) << r.error().message;
}

TEST(Lockfile, MalformedFieldsAreRefusedNamingTheirPlace) {
  expect_refused("\"lockfile_version\": 1", "\"lockfile_version\": 2", "lockfile_version: 2 is not a version");
  expect_refused("\"lockfile_version\": 1", "\"version\": 1", "lockfile_version: missing");
  expect_refused("https://huggingface.co", "file:///etc", "endpoint:");
  expect_refused("\"model\"", "\"modle\"", "repos[0].repo_type:");
  expect_refused("org/name", "../etc", "repos[0].repo_id:");
  expect_refused("\"main\"", "\"\"", "repos[0].revision:");
  expect_refused("\"commit\": \"" + k_commit, "\"commit\": \"" + std::string(40, 'C'), "repos[0].commit:");
  expect_refused("config.json", "../config.json", "repos[0].files[0].path:");
  expect_refused("config.json", "/etc/passwd", "repos[0].files[0].path:");
  expect_refused("config.json", "model.safetensors", "repos[0].files[1].path: 'model.safetensors' is listed twice");
  expect_refused("\"size\": 12", "\"size\": -12", "repos[0].files[0].size:");
  expect_refused("\"size\": 12", "\"size\": \"12\"", "repos[0].files[0].size:");
  expect_refused("\"git_oid\": \"" + k_oid, "\"git_oid\": \"" + std::string(39, 'a'), "repos[0].files[0].git_oid:");
  expect_refused("\"lfs_sha256\": \"" + k_sha, "\"lfs_sha256\": \"" + std::string(64, 'g'), "repos[0].files[1].lfs_sha256:");
  expect_refused("\"include\": [\n        \"*.json\"", "\"include\": [\n        7", "repos[0].include:");
  expect_refused("{\n  \"lockfile_version\"", "[{\n  \"lockfile_version\"", "the whole file: not a JSON object");
}

TEST(Lockfile, TheSameRepoAndRevisionTwiceIsRefused) {
  Lockfile l = sample();
  l.repos.push_back(l.repos[0]);
  auto r = parse_lockfile(serialize_lockfile(l), "p.lock");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("repos[2]: model org/name@main is locked twice"), std::string::npos) << r.error().message;
}

TEST(Lockfile, AMissingFileIsAnIoErrorThatSaysHowToMakeOne) {
  auto r = read_lockfile("/nonexistent/hubcache.lock");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::Io);
  EXPECT_NE(r.error().message.find("hubcache lock ORG/NAME"), std::string::npos);
}

}  // namespace
}  // namespace hubcache::lock

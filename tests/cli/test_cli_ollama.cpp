// `hubcache ollama link`: a cached GGUF in Ollama's store as a link of the cache's blob, with the
// config blob and manifest Ollama's own pull writes; refusals that change nothing.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cache_builder.hpp"
#include "exit_codes.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace sfs = std::filesystem;

namespace {

struct CliOllama : ::testing::Test {
  test::TempDir dir;
  std::string hub = dir / "hub", models = dir / "ollama";
  const RepoRef repo{RepoType::Model, "org/g-GGUF"};
  const std::string weights = std::string(30000, 'q') + "Q4", projector = std::string(7000, 'p');
  std::string weights_blob, projector_blob;

  void SetUp() override {
    test::CacheBuilder cb(hub);
    weights_blob = hub + "/models--org--g-GGUF/blobs/" + cb.add_file(repo, test::commit_id(1), "g.Q4_K_M.gguf", weights, true);
    projector_blob =
        hub + "/models--org--g-GGUF/blobs/" + cb.add_file(repo, test::commit_id(1), "mmproj-f16.gguf", projector, true);
    cb.add_file(repo, test::commit_id(1), "README.md", "# g");
    cb.add_ref(repo, "main", test::commit_id(1));
    sfs::create_directories(models + "/blobs");
    sfs::create_directories(models + "/manifests");
  }
  test::ProcessResult ollama(std::vector<std::string> args) {
    args.insert(args.begin(), {test::hubcache_bin(), "ollama"});
    return test::run_process(args, {"HOME=" + dir / "home", "HF_HUB_CACHE=" + hub, "OLLAMA_MODELS=" + models, "-HF_HOME"});
  }
  static struct stat stat_of(const std::string& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st;
  }
  std::map<std::string, std::int64_t> tree(const std::string& root) {
    std::map<std::string, std::int64_t> out;
    for (auto it = sfs::recursive_directory_iterator(root); it != sfs::recursive_directory_iterator(); ++it) {
      struct stat st {};
      ::lstat(it->path().c_str(), &st);
      out[it->path().string()] = fs::mtime_ns(st);
    }
    return out;
  }
};

TEST_F(CliOllama, RegistersTheGgufAsALinkWithTheManifestAPullWrites) {
  auto r = ollama({"link", "org/g-GGUF", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"], "hf.co/org/g-GGUF:latest");
  EXPECT_EQ(j["blobs_linked"], 2);
  const std::string w = sha256_hex(weights), p = sha256_hex(projector);
  EXPECT_EQ(stat_of(models + "/blobs/sha256-" + w).st_ino, stat_of(weights_blob).st_ino) << "no copy";
  EXPECT_EQ(stat_of(models + "/blobs/sha256-" + p).st_ino, stat_of(projector_blob).st_ino);
  const auto manifest = nlohmann::json::parse(*fs::read_file(models + "/manifests/hf.co/org/g-GGUF/latest"));
  EXPECT_EQ(manifest["schemaVersion"], 2);
  ASSERT_EQ(manifest["layers"].size(), 2u);
  EXPECT_EQ(manifest["layers"][0]["mediaType"], "application/vnd.ollama.image.model");
  EXPECT_EQ(manifest["layers"][0]["digest"], "sha256:" + w);
  EXPECT_EQ(manifest["layers"][0]["size"], weights.size());
  EXPECT_EQ(manifest["layers"][1]["mediaType"], "application/vnd.ollama.image.projector");
  const std::string config_digest = manifest["config"]["digest"].get<std::string>().substr(7);
  const auto config = fs::read_file(models + "/blobs/sha256-" + config_digest);
  ASSERT_TRUE(config);
  EXPECT_EQ(sha256_hex(*config), config_digest) << "the config blob is named by its digest";
  EXPECT_EQ(nlohmann::json::parse(*config)["model_format"], "gguf");
  EXPECT_EQ(manifest["config"]["size"], config->size());
  for (const auto& e : sfs::directory_iterator(models + "/blobs"))
    EXPECT_EQ(e.path().filename().string().rfind("sha256-", 0), 0u) << "only digest names in blobs/: " << e.path();

  // Ollama's own listing rule (the stores reader) sees the model; du counts the bytes once.
  auto du = test::run_process({test::hubcache_bin(), "du", hub, models, "--json"});
  ASSERT_EQ(du.exit_code, 0) << du.err;
  const auto u = nlohmann::json::parse(du.out);
  EXPECT_EQ(u["stores"][1]["models"][0]["model"], "hf.co/org/g-GGUF:latest");
  EXPECT_EQ(u["duplicate_groups"], 0);

  // Again: nothing to do.
  auto again = ollama({"link", "org/g-GGUF", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const auto a = nlohmann::json::parse(again.out);
  EXPECT_FALSE(a["manifest_written"].get<bool>());
  EXPECT_EQ(a["blobs_present"], 2);
}

TEST_F(CliOllama, ANameInUseIsRefusedUnlessForced) {
  sfs::create_directories(models + "/manifests/registry.ollama.ai/library/mine");
  ASSERT_TRUE(fs::write_file_atomic(models + "/manifests/registry.ollama.ai/library/mine/latest",
                                    R"({"schemaVersion":2,"layers":[]})"
                                    "\n"));
  const auto before = tree(models);
  auto r = ollama({"link", "org/g-GGUF", "--name", "mine"});
  EXPECT_EQ(r.exit_code, exit_code::failure) << r.err;
  EXPECT_NE(r.err.find("already has a model named mine:latest"), std::string::npos) << r.err;
  EXPECT_EQ(tree(models), before) << "nothing written";
  auto forced = ollama({"link", "org/g-GGUF", "--name", "mine", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(fs::read_file(models + "/manifests/registry.ollama.ai/library/mine/latest")->find(sha256_hex(weights)),
            std::string::npos);
}

TEST_F(CliOllama, RefusalsChangeNothing) {
  // Several weights files and no FILE.
  test::CacheBuilder(hub).add_file(repo, test::commit_id(1), "g.Q8_0.gguf", "q8", true);
  auto several = ollama({"link", "org/g-GGUF"});
  EXPECT_EQ(several.exit_code, exit_code::usage);
  EXPECT_NE(several.err.find("g.Q8_0.gguf"), std::string::npos) << several.err;
  // A bad name.
  EXPECT_EQ(ollama({"link", "org/g-GGUF", "g.Q4_K_M.gguf", "--name", "a/b/c/d"}).exit_code, exit_code::usage);
  // A manifest format this does not know.
  sfs::create_directories(models + "/manifests/registry.ollama.ai/library/old");
  ASSERT_TRUE(fs::write_file_atomic(models + "/manifests/registry.ollama.ai/library/old/latest", R"({"schemaVersion":1})"));
  auto unknown = ollama({"link", "org/g-GGUF", "g.Q4_K_M.gguf"});
  EXPECT_EQ(unknown.exit_code, exit_code::usage) << unknown.err;
  EXPECT_NE(unknown.err.find("manifest format"), std::string::npos) << unknown.err;
  sfs::remove(models + "/manifests/registry.ollama.ai/library/old/latest");
  // A cached blob whose bytes are not what its name says.
  {
    fs::Fd fd(::open(weights_blob.c_str(), O_WRONLY));
    ASSERT_EQ(::pwrite(fd.get(), "X", 1, 0), 1);
  }
  auto corrupt = ollama({"link", "org/g-GGUF", "g.Q4_K_M.gguf"});
  EXPECT_EQ(corrupt.exit_code, exit_code::integrity) << corrupt.err;
  // Not an Ollama store.
  auto none =
      test::run_process({test::hubcache_bin(), "ollama", "link", "org/g-GGUF", "g.Q4_K_M.gguf", "--ollama-models", dir / "empty"},
                        {"HF_HUB_CACHE=" + hub});
  EXPECT_EQ(none.exit_code, exit_code::not_found) << none.err;
  EXPECT_TRUE(sfs::is_empty(models + "/blobs")) << "no blob written";
  for (auto it = sfs::recursive_directory_iterator(models + "/manifests"); it != sfs::recursive_directory_iterator(); ++it)
    EXPECT_FALSE(it->is_regular_file()) << "no manifest written: " << it->path();
}

TEST_F(CliOllama, AnotherFilesystemIsRefused) {
  const std::string mnt = dir / "tmpfs";
  sfs::create_directories(mnt);
  ASSERT_EQ(::mount("none", mnt.c_str(), "tmpfs", 0, "size=8m"), 0) << "the tests run as root";
  sfs::create_directories(mnt + "/blobs");
  sfs::create_directories(mnt + "/manifests");
  auto r = ollama({"link", "org/g-GGUF", "--ollama-models", mnt});
  EXPECT_EQ(r.exit_code, exit_code::usage) << r.err;
  EXPECT_NE(r.err.find("another filesystem"), std::string::npos) << r.err;
  EXPECT_TRUE(sfs::is_empty(mnt + "/blobs"));
  EXPECT_TRUE(sfs::is_empty(mnt + "/manifests"));
  ::umount2(mnt.c_str(), MNT_DETACH);
}

}  // namespace

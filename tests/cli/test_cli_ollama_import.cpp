// `hubcache import --from-ollama NAME:TAG --repo ORG/NAME`: an Ollama model's GGUF becomes a Hub cache
// entry whose blob is Ollama's blob (same inode), which every reader of the cache takes as cached;
// Ollama's files stay exactly as they were; bad stores and bad blobs are refused, changing nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "cache_builder.hpp"
#include "exit_codes.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace sfs = std::filesystem;

namespace {

struct CliOllamaImport : ::testing::Test {
  test::TempDir dir;
  std::string hub = dir / "hub", models = dir / "ollama";
  // Over 10 MiB is LFS whatever the name; these are LFS by the Hub's *.gguf pattern.
  const std::string weights = std::string(40000, 'w') + "Q4_K_M", projector = std::string(9000, 'p');
  const std::string manifest_path = models + "/manifests/registry.ollama.ai/library/tiny/q4";

  std::string blob(const std::string& bytes) const { return models + "/blobs/sha256-" + sha256_hex(bytes); }

  // An Ollama store as `ollama pull tiny:q4` leaves it: config, weights, projector, template.
  void SetUp() override {
    sfs::create_directories(models + "/blobs");
    sfs::create_directories(fs::parent(manifest_path));
    const std::string config = R"({"model_format":"gguf","model_family":"llama"})", tmpl = "{{ .Prompt }}";
    for (const auto* b : {&config, &weights, &projector, &tmpl}) {
      ASSERT_TRUE(fs::write_file_atomic(blob(*b), *b));
      ::chmod(blob(*b).c_str(), 0644);
    }
    auto layer = [](const char* type, const std::string& bytes) {
      return nlohmann::json{{"mediaType", type}, {"digest", "sha256:" + sha256_hex(bytes)}, {"size", bytes.size()}};
    };
    const nlohmann::json m = {
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
        {"config", layer("application/vnd.docker.container.image.v1+json", config)},
        {"layers",
         {layer("application/vnd.ollama.image.model", weights), layer("application/vnd.ollama.image.projector", projector),
          layer("application/vnd.ollama.image.template", tmpl)}}};
    ASSERT_TRUE(fs::write_file_atomic(manifest_path, m.dump()));
  }
  std::vector<std::string> env() const {
    return {"HOME=" + dir / "home", "HF_HUB_CACHE=" + hub, "OLLAMA_MODELS=" + models, "-HF_HOME", "-HF_HUB_OFFLINE"};
  }
  test::ProcessResult hubcache(std::vector<std::string> args) const {
    args.insert(args.begin(), test::hubcache_bin());
    return test::run_process(args, env());
  }
  test::ProcessResult import(std::vector<std::string> extra) const {
    std::vector<std::string> args = {"import", "--from-ollama", "tiny:q4", "--repo", "org/tiny-GGUF"};
    args.insert(args.end(), extra.begin(), extra.end());
    return hubcache(args);
  }
  static struct stat stat_of(const std::string& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st;
  }
  // Every entry of a tree with its mode, owner, size, inode and mtime: what "unchanged" means.
  static std::map<std::string, std::tuple<mode_t, uid_t, off_t, ino_t, std::int64_t>> tree(const std::string& root) {
    std::map<std::string, std::tuple<mode_t, uid_t, off_t, ino_t, std::int64_t>> out;
    if (!sfs::exists(root)) return out;
    for (auto it = sfs::recursive_directory_iterator(root); it != sfs::recursive_directory_iterator(); ++it) {
      struct stat st {};
      ::lstat(it->path().c_str(), &st);
      out[it->path().string()] = {st.st_mode, st.st_uid, st.st_size, st.st_ino, fs::mtime_ns(st)};
    }
    return out;
  }
};

TEST_F(CliOllamaImport, TheGgufBecomesACacheEntryWhoseBlobIsOllamasOwn) {
  const auto ollama_before = tree(models);
  auto r = import({"--file", "tiny.Q4_K_M.gguf", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["mode"], "link");
  EXPECT_EQ(j["blobs_written"], 2);
  EXPECT_EQ(j["blobs_copied"], 0) << "no copy";
  EXPECT_EQ(j["ollama"]["model"], "tiny:q4");
  EXPECT_EQ(j["ollama"]["left_out"], nlohmann::json::array({"application/vnd.ollama.image.template"}));
  const std::string commit = j["commit"];
  const std::string snap = hub + "/models--org--tiny-GGUF/snapshots/" + commit;

  // The blobs are Ollama's files (same inode), named by SHA-256 as the Hub names LFS blobs.
  const std::string repo_blobs = hub + "/models--org--tiny-GGUF/blobs/";
  EXPECT_EQ(stat_of(repo_blobs + sha256_hex(weights)).st_ino, stat_of(blob(weights)).st_ino);
  EXPECT_EQ(stat_of(repo_blobs + sha256_hex(projector)).st_ino, stat_of(blob(projector)).st_ino);
  EXPECT_EQ(sfs::read_symlink(snap + "/tiny.Q4_K_M.gguf").string(), "../../blobs/" + sha256_hex(weights));
  EXPECT_EQ(sfs::read_symlink(snap + "/mmproj-tiny.Q4_K_M.gguf").string(), "../../blobs/" + sha256_hex(projector));
  EXPECT_FALSE(sfs::exists(snap + "/template")) << "Ollama's own layers are not repo files";
  EXPECT_EQ(*fs::read_file(hub + "/models--org--tiny-GGUF/refs/main"), commit);
  // Ollama's store: every name, mode, owner, size and time as before (only the link count grew).
  EXPECT_EQ(tree(models), ollama_before);

  // Offline resolution finds it, verify passes, and the JS client's scan reads the entry.
  auto res = test::run_process({test::hubcache_bin(), "resolve", "org/tiny-GGUF", "tiny.Q4_K_M.gguf"},
                               {"HF_HUB_CACHE=" + hub, "HF_HUB_OFFLINE=1", "-HF_HOME"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(*fs::read_file(res.out.substr(0, res.out.find('\n'))), weights);
  auto v = hubcache({"cache", "verify", "org/tiny-GGUF"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  const std::string hub_js = test::source_dir() + "/tests/interop/node_modules/@huggingface/hub/dist/index.mjs";
  if (sfs::exists(hub_js)) {
    const std::string script = "import { scanCacheDir } from '" + hub_js + "'; const r = await scanCacheDir('" + hub +
                               "'); console.log(JSON.stringify(r.repos.map(x => [x.id.name, x.size])));";
    auto js = test::run_process({"/usr/bin/env", "node", "--input-type=module", "-e", script});
    ASSERT_EQ(js.exit_code, 0) << js.err;
    EXPECT_EQ(nlohmann::json::parse(js.out),
              nlohmann::json::parse("[[\"org/tiny-GGUF\"," + std::to_string(weights.size() + projector.size()) + "]]"));
  }
  // Counted once by du.
  auto du = hubcache({"du", hub, models, "--json"});
  ASSERT_EQ(du.exit_code, 0) << du.err;
  EXPECT_EQ(nlohmann::json::parse(du.out)["duplicate_groups"], 0);

  // Again: already cached, nothing changes.
  const auto hub_before = tree(hub);
  auto again = import({"--file", "tiny.Q4_K_M.gguf"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already in the cache"), std::string::npos) << again.out;
  EXPECT_EQ(tree(hub), hub_before);
}

TEST_F(CliOllamaImport, ARoundTripThroughOllamaLinkFindsTheBlobAlreadyCached) {
  test::CacheBuilder cb(hub);
  cb.add_file(RepoRef{RepoType::Model, "org/g-GGUF"}, test::commit_id(1), "g.gguf", weights, true);
  cb.add_ref(RepoRef{RepoType::Model, "org/g-GGUF"}, "main", test::commit_id(1));
  sfs::remove_all(models);
  sfs::create_directories(models + "/manifests");
  sfs::create_directories(models + "/blobs");
  auto link = hubcache({"ollama", "link", "org/g-GGUF", "g.gguf"});
  ASSERT_EQ(link.exit_code, 0) << link.err;
  auto back = hubcache({"import", "--from-ollama", "hf.co/org/g-GGUF", "--repo", "org/g-GGUF", "--json"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  const auto j = nlohmann::json::parse(back.out);
  EXPECT_EQ(j["ollama"]["already_cached"], nlohmann::json::array({test::commit_id(1) + "/g.gguf"}));
  EXPECT_EQ(*fs::read_file(hub + "/models--org--g-GGUF/refs/main"), test::commit_id(1)) << "the ref stays";
}

TEST_F(CliOllamaImport, ANameOrRefNotYetCachedIsImportedEvenWhenTheBlobIsAndAnyNameIsNamedBySha256) {
  ASSERT_EQ(import({}).exit_code, 0);
  // The blob is cached, but not under this name and ref: imported, not "already in the cache".
  auto other = import({"--file", "x.gguf", "--revision", "v2"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_EQ(other.out.find("already in the cache"), std::string::npos) << other.out;
  auto res = test::run_process({test::hubcache_bin(), "resolve", "org/tiny-GGUF", "x.gguf", "--revision", "v2"},
                               {"HF_HUB_CACHE=" + hub, "HF_HUB_OFFLINE=1", "-HF_HOME"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(*fs::read_file(res.out.substr(0, res.out.find('\n'))), weights);
  // A name no LFS pattern matches, under 10 MiB: still Ollama's SHA-256 blob, not a git blob.
  auto plain = hubcache({"import", "--from-ollama", "tiny:q4", "--repo", "org/plain", "--file", "model.q4", "--json"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const auto j = nlohmann::json::parse(plain.out);
  std::map<std::string, std::string> blob_of;
  for (const auto& f : j["files"]) blob_of[f["path"]] = f["blob"];
  EXPECT_EQ(blob_of["model.q4"], sha256_hex(weights)) << plain.out;
  EXPECT_EQ(blob_of["mmproj-model.q4"], sha256_hex(projector)) << plain.out;
  EXPECT_EQ(stat_of(hub + "/models--org--plain/blobs/" + sha256_hex(weights)).st_ino, stat_of(blob(weights)).st_ino);
}

TEST_F(CliOllamaImport, BadStoresAndBadBlobsAreRefusedChangingNothing) {
  auto nothing_changed = [&](const char* what) { EXPECT_FALSE(sfs::exists(hub + "/models--org--tiny-GGUF")) << what; };
  // No such model.
  auto missing = hubcache({"import", "--from-ollama", "nope", "--repo", "org/tiny-GGUF"});
  EXPECT_EQ(missing.exit_code, exit_code::not_found) << missing.err;
  EXPECT_NE(missing.err.find("no model named nope:latest"), std::string::npos) << missing.err;
  // A bad name; flags that make no sense here.
  EXPECT_EQ(hubcache({"import", "--from-ollama", "a/b/c/d", "--repo", "org/tiny-GGUF"}).exit_code, exit_code::usage);
  EXPECT_EQ(import({"--move"}).exit_code, exit_code::usage);
  EXPECT_EQ(hubcache({"import", "--repo", "org/tiny-GGUF"}).exit_code, exit_code::usage);
  // Not an Ollama store.
  auto none = import({"--ollama-models", dir / "empty"});
  EXPECT_EQ(none.exit_code, exit_code::not_found) << none.err;
  nothing_changed("not a store");

  // A blob whose bytes are not what the manifest's digest says (same size): Integrity.
  const auto ollama_before = tree(models);
  {
    fs::Fd fd(::open(blob(weights).c_str(), O_WRONLY));
    ASSERT_EQ(::pwrite(fd.get(), "X", 1, 0), 1);
  }
  auto corrupt = import({});
  EXPECT_EQ(corrupt.exit_code, exit_code::integrity) << corrupt.err;
  EXPECT_NE(corrupt.err.find("ollama pull"), std::string::npos) << corrupt.err;
  nothing_changed("corrupt blob");
  // Truncated: refused by size before any hashing.
  ASSERT_EQ(::truncate(blob(weights).c_str(), 100), 0);
  auto truncated = import({});
  EXPECT_EQ(truncated.exit_code, exit_code::integrity) << truncated.err;
  nothing_changed("truncated blob");
  ASSERT_TRUE(fs::write_file_atomic(blob(weights), weights));
  // A missing blob.
  sfs::remove(blob(projector));
  auto gone = import({});
  EXPECT_EQ(gone.exit_code, exit_code::not_found) << gone.err;
  nothing_changed("missing blob");
  ASSERT_TRUE(fs::write_file_atomic(blob(projector), projector));
  // A manifest format this does not know.
  const std::string manifest = *fs::read_file(manifest_path);
  ASSERT_TRUE(fs::write_file_atomic(manifest_path, R"({"schemaVersion":1,"layers":[]})"));
  auto unknown = import({});
  EXPECT_EQ(unknown.exit_code, exit_code::usage) << unknown.err;
  EXPECT_NE(unknown.err.find("not a manifest format this version knows"), std::string::npos) << unknown.err;
  nothing_changed("unknown manifest");
  ASSERT_TRUE(fs::write_file_atomic(manifest_path, manifest));

  // A cache that cannot be written (a read-only filesystem).
  const std::string ro = dir / "ro";
  sfs::create_directories(ro);
  ASSERT_EQ(::mount("none", ro.c_str(), "tmpfs", MS_RDONLY, "size=1m"), 0) << "the tests run as root";
  auto readonly =
      hubcache({"import", "--from-ollama", "tiny:q4", "--repo", "org/tiny-GGUF", "--cache-dir", ro + "/hub", "--copy"});
  EXPECT_NE(readonly.exit_code, 0);
  EXPECT_NE(readonly.err.find("cannot write into the cache"), std::string::npos) << readonly.err;
  ::umount2(ro.c_str(), MNT_DETACH);
  EXPECT_EQ(sfs::file_size(blob(weights)), weights.size());
}

TEST_F(CliOllamaImport, ABlobTheKernelWouldNotLetThisUserHardlinkIsRefusedUnlessCopyIsAsked) {
  // Ollama's service owns its blobs (here root, 0644); nobody may read them but not hardlink them.
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  sfs::create_directories(hub);
  ASSERT_EQ(::chown(hub.c_str(), test::k_nobody_uid, test::k_nobody_uid), 0);
  auto as_nobody = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {test::hubcache_bin(), "import", "--from-ollama", "tiny:q4", "--repo", "org/tiny-GGUF"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_process(args, env(), {}, test::k_nobody_uid);
  };
  auto refused = as_nobody({});
  EXPECT_EQ(refused.exit_code, exit_code::failure) << refused.err;
  EXPECT_NE(refused.err.find("fs.protected_hardlinks"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--copy"), std::string::npos) << refused.err;
  EXPECT_FALSE(sfs::exists(hub + "/models--org--tiny-GGUF"));
  auto copied = as_nobody({"--copy", "--json"});
  ASSERT_EQ(copied.exit_code, 0) << copied.err;
  EXPECT_EQ(nlohmann::json::parse(copied.out)["blobs_copied"], 2);
}

TEST_F(CliOllamaImport, ABlobUnderOllamasOldNameIsFound) {
  sfs::rename(blob(weights), models + "/blobs/sha256:" + sha256_hex(weights));  // Ollama before 0.1.30
  auto r = import({"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(stat_of(hub + "/models--org--tiny-GGUF/blobs/" + sha256_hex(weights)).st_ino,
            stat_of(models + "/blobs/sha256:" + sha256_hex(weights)).st_ino);
}

TEST_F(CliOllamaImport, AnotherFilesystemIsRefusedUnlessCopyIsAsked) {
  const std::string mnt = dir / "tmpfs";
  sfs::create_directories(mnt);
  ASSERT_EQ(::mount("none", mnt.c_str(), "tmpfs", 0, "size=8m"), 0) << "the tests run as root";
  const std::string cache = mnt + "/hub";
  auto r = hubcache({"import", "--from-ollama", "tiny:q4", "--repo", "org/tiny-GGUF", "--cache-dir", cache});
  EXPECT_EQ(r.exit_code, exit_code::usage) << r.err;
  EXPECT_NE(r.err.find("another filesystem"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--copy"), std::string::npos) << r.err;
  EXPECT_FALSE(sfs::exists(cache));
  auto copied =
      hubcache({"import", "--from-ollama", "tiny:q4", "--repo", "org/tiny-GGUF", "--cache-dir", cache, "--copy", "--json"});
  ASSERT_EQ(copied.exit_code, 0) << copied.err;
  EXPECT_EQ(nlohmann::json::parse(copied.out)["blobs_copied"], 2);
  EXPECT_EQ(*fs::read_file(cache + "/models--org--tiny-GGUF/blobs/" + sha256_hex(weights)), weights);
  EXPECT_EQ(*fs::read_file(blob(weights)), weights) << "Ollama keeps its copy";
  ::umount2(mnt.c_str(), MNT_DETACH);
}

}  // namespace

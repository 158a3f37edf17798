// `hubcache doctor` on the messy workstation: every planted finding with its exact bytes, and
// nothing else; read-only; roots and options checked.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <set>

#include <sys/mount.h>

#include "cache_builder.hpp"
#include "exit_codes.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "messy_workstation.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace sfs = std::filesystem;

namespace {

struct CliDoctor : ::testing::Test {
  test::TempDir dir;
  test::MessyWorkstation w = test::build_messy_workstation(dir.path());

  test::ProcessResult doctor(std::vector<std::string> args) {
    args.insert(args.begin(), {test::hubcache_bin(), "doctor"});
    return test::run_process(args, w.environment);
  }
};

// Every entry below `root` with its size and mtime.
std::map<std::string, std::pair<std::int64_t, std::int64_t>> tree_state(const std::string& root) {
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> out;
  for (auto it = sfs::recursive_directory_iterator(root); it != sfs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    out[it->path().string()] = {st.st_size, fs::mtime_ns(st)};
  }
  return out;
}

TEST_F(CliDoctor, FindsEveryPlantedFindingWithItsBytesAndNothingElse) {
  const auto before = tree_state(w.home);
  auto r = doctor({"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  std::multiset<std::tuple<std::string, std::string, std::uint64_t>> got, want;
  for (const auto& f : j["findings"]) {
    got.emplace(f["kind"].get<std::string>(), f["paths"][0].get<std::string>(), f["bytes"].get<std::uint64_t>());
    EXPECT_FALSE(f["fix"].get<std::string>().empty()) << f.dump();
  }
  for (const auto& p : w.planted) want.emplace(p.kind, p.path, p.bytes);
  EXPECT_EQ(got, want) << r.out;
  EXPECT_TRUE(j["warnings"].empty()) << j["warnings"].dump();
  EXPECT_EQ(tree_state(w.home), before) << "doctor only reads";

  std::set<std::string> kinds;
  for (const auto& s : j["stores"]) kinds.insert(s["kind"].get<std::string>() + " " + s["root"].get<std::string>());
  EXPECT_TRUE(kinds.count("lm-studio " + w.lmstudio_models)) << j["stores"].dump();
  EXPECT_TRUE(kinds.count("llama-cpp " + w.llama_cache)) << j["stores"].dump();
  EXPECT_TRUE(kinds.count("ollama " + w.ollama)) << j["stores"].dump();
}

TEST_F(CliDoctor, CopiesOnDifferentFilesystemsAreReportedButNotCountedAsReclaimable) {
  const auto baseline = nlohmann::json::parse(doctor({"--json"}).out);
  const std::string mnt = dir / "tmpfs";
  std::filesystem::create_directories(mnt);
  ASSERT_EQ(::mount("none", mnt.c_str(), "tmpfs", 0, "size=8m"), 0) << "the tests run as root";
  // The vision project's only blob, copied onto the other filesystem.
  test::CacheBuilder(mnt + "/model_cache")
      .add_file(RepoRef{RepoType::Model, "org/vit"}, test::commit_id(1), "w.bin", std::string(30000, 'v'), true);
  auto r = doctor({w.home, mnt, "--json"});
  ::umount2(mnt.c_str(), MNT_DETACH);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  int apart = 0;
  for (const auto& f : j["findings"]) {
    if (f["kind"] != "duplicate-content" || f["summary"].get<std::string>().find(mnt) == std::string::npos) continue;
    ++apart;
    EXPECT_EQ(f["bytes"], 0) << f.dump();
    EXPECT_EQ(f["fix"].get<std::string>().rfind("remove the copy you do not need", 0), 0u) << f.dump();
  }
  EXPECT_EQ(apart, 1) << r.out;
  EXPECT_EQ(j["reclaimable_bytes"], baseline["reclaimable_bytes"]) << "a link cannot free a copy on another filesystem";
}

TEST_F(CliDoctor, EachFixNamesTheCommandAndTheTextReportShowsIt) {
  auto r = doctor({"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  std::map<std::string, std::string> fix_of;
  for (const auto& f : j["findings"]) fix_of.emplace(f["kind"], f["fix"]);
  EXPECT_EQ(fix_of["local-dir-in-cache"], "hubcache import '" + w.hub + "/gguf' --repo ORG/NAME --commit " +
                                              std::string(40, '1') + " --move --cache-dir '" + w.hub + "'");
  EXPECT_EQ(fix_of["detached-revision"], "hubcache cache prune --cache-dir '" + w.hub + "'");
  // The project cache's fix is a command that exists and works: run it, and the project's cache
  // is merged into the configured one and gone.
  const std::string project_fix = fix_of["project-cache"];
  ASSERT_EQ(project_fix.rfind("hubcache migrate '" + w.home + "/projects/", 0), 0u) << project_fix;
  ASSERT_NE(project_fix.find("' --to '" + w.hub + "' --rewrite-config ("), std::string::npos) << project_fix;
  const std::string command = test::hubcache_bin() + project_fix.substr(8, project_fix.find(" (") - 8) + " --yes";
  auto fixed = test::run_process({"/bin/sh", "-c", command}, w.environment);
  ASSERT_EQ(fixed.exit_code, 0) << command << "\n" << fixed.out << fixed.err;
  EXPECT_NE(fixed.out.find("Verified: "), std::string::npos) << fixed.out;
  auto after = doctor({"--json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  const auto after_json = nlohmann::json::parse(after.out);
  const std::string migrated = project_fix.substr(18, project_fix.find("' --to") - 18);
  for (const auto& f : after_json["findings"])
    if (f["kind"] == "project-cache") {
      EXPECT_NE(f["paths"][0].get<std::string>().rfind(migrated + "/", 0), 0u) << f.dump();
    }
  EXPECT_EQ(fix_of["dangling-pointer"],
            "hubcache download org/broken --revision " + std::string(40, '3') + " --cache-dir '" + w.hub + "'");

  auto text = doctor({});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("[local-dir-in-cache]"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("fix: hubcache cache prune"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("can be freed"), std::string::npos) << text.out;
}

TEST_F(CliDoctor, ALockFolderOfAGoneRepoIsStaleOnlyWhileNoProcessHoldsItsLocks) {
  const std::string busy = w.hub + "/.locks/models--org--busy";
  std::filesystem::create_directories(busy);
  ASSERT_TRUE(fs::write_file_atomic(busy + "/" + std::string(64, 'b') + ".lock", ""));
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {  // a download in another process, holding its blob lock as huggingface_hub does
    const int fd = ::open((busy + "/" + std::string(64, 'b') + ".lock").c_str(), O_RDWR);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
    if (::write(ready[1], "k", 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  char k = 0;
  ASSERT_EQ(::read(ready[0], &k, 1), 1);
  auto stale_paths = [&] {
    auto r = doctor({"--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::set<std::string> out;
    const auto j = nlohmann::json::parse(r.out);
    for (const auto& f : j["findings"])
      if (f["kind"] == "stale-lock")
        for (const auto& p : f["paths"]) out.insert(p.get<std::string>());
    return out;
  };
  EXPECT_EQ(stale_paths(), std::set<std::string>{w.hub + "/.locks/models--org--gone"}) << "a held lock is a live download";
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  EXPECT_EQ(stale_paths(), (std::set<std::string>{w.hub + "/.locks/models--org--busy", w.hub + "/.locks/models--org--gone"}))
      << "its holder is gone: the lock is stale";
}

TEST_F(CliDoctor, DeepHashingFindsTheCopyWhoseNameSaysNothing) {
  auto r = doctor({"--deep", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["hashed_files"], 1) << "LM Studio's GGUF, the one same-size file without a name that says its content";
  std::uint64_t planted = 0;
  for (const auto& p : w.planted)
    if (p.kind == "duplicate-content") planted = p.bytes;
  int found = 0;
  for (const auto& f : j["findings"]) {
    if (f["kind"] != "duplicate-content") continue;
    ++found;
    EXPECT_EQ(f["bytes"], planted + test::allocated_bytes(w.lmstudio_models + "/org/gguf-GGUF/m.gguf")) << f.dump();
    EXPECT_NE(f["summary"].get<std::string>().find(w.lmstudio_models), std::string::npos) << f.dump();
    EXPECT_EQ(f["fix"].get<std::string>().rfind("hubcache dedupe --deep ", 0), 0u) << f.dump();
  }
  EXPECT_EQ(found, 1);
}

TEST_F(CliDoctor, DeepFindsAHardlinkedFileEditedInPlace) {
  // The GGUF hardlinked into Ollama, then written to through Ollama's name.
  const std::string hub_blob = w.hub + "/models--org--gguf/blobs/" + sha256_hex(w.weights);
  const std::string ollama_blob = w.ollama + "/blobs/sha256-" + sha256_hex(w.weights);
  ASSERT_EQ(::unlink(ollama_blob.c_str()), 0);
  ASSERT_EQ(::link(hub_blob.c_str(), ollama_blob.c_str()), 0);
  {
    std::FILE* f = std::fopen(ollama_blob.c_str(), "r+");
    ASSERT_NE(f, nullptr);
    std::fputc('X', f);
    std::fclose(f);
  }
  auto plain = doctor({"--json"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const auto plain_json = nlohmann::json::parse(plain.out);  // kept: a range-for over parse(...)["findings"] dangles
  for (const auto& f : plain_json["findings"]) EXPECT_NE(f["kind"], "content-mismatch") << "nothing hashed";
  auto r = doctor({"--deep", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int found = 0;
  const auto deep_json = nlohmann::json::parse(r.out);
  for (const auto& f : deep_json["findings"]) {
    if (f["kind"] != "content-mismatch") continue;
    ++found;
    EXPECT_EQ(f["fix"], "hubcache download org/gguf --force-download --cache-dir '" + w.hub + "'") << f.dump();
  }
  EXPECT_EQ(found, 1) << "one inode, reported once" << r.out;
}

TEST_F(CliDoctor, FoldersItCannotReadAreWarningsNotFalseFindings) {
  // Run as an unprivileged user who cannot read one repo's blobs (root reads everything).
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const std::string blobs = w.hub + "/models--org--gguf/blobs";
  ASSERT_EQ(::chmod(blobs.c_str(), 0), 0);
  auto env = w.environment;
  auto r = test::run_process({test::hubcache_bin(), "doctor", "--json"}, env, {}, test::k_nobody_uid);
  ::chmod(blobs.c_str(), 0755);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["warnings"].empty()) << "the unreadable folder is said";
  for (const auto& f : j["findings"]) {
    EXPECT_NE(f["kind"], "local-dir-uncached") << "the copy may be what could not be read: " << f.dump();
    if (f["kind"] == "dangling-pointer") {
      EXPECT_EQ(f["paths"][0].get<std::string>().find("models--org--gguf"), std::string::npos)
          << "an unreadable blob is not a missing one: " << f.dump();
    }
  }
}

TEST_F(CliDoctor, AShallowWalkFindsOnlyTheToolsStores) {
  auto r = doctor({w.home, "--max-depth", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const auto& s : j["stores"]) EXPECT_FALSE(s["walked"].get<bool>()) << s.dump();
}

TEST_F(CliDoctor, ABadRootIsAClearError) {
  auto missing = doctor({dir / "nope"});
  EXPECT_EQ(missing.exit_code, exit_code::not_found) << "as du and dedupe say of a missing path";
  EXPECT_NE(missing.err.find("nope"), std::string::npos) << missing.err;
  EXPECT_EQ(doctor({w.home, "--max-depth", "-1"}).exit_code, exit_code::usage);
}

}  // namespace

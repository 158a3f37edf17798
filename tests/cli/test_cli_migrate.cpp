// `hubcache migrate PROJECT_DIR...` on a fixture lab: three projects whose caches overlap each
// other and the central cache, one ref in conflict, an HF_HOME-style cache, a `--local-dir` folder
// of a commit the central cache holds, a plain model folder, configuration lines of every kind. The plan and its exact diff, the
// merge (each blob once, every project file resolving from the central cache), kill -9 at random points with reruns, and bad
// input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "cache_builder.hpp"
#include "hubcache/cache/use_records.hpp"
#include "hubcache/util/hash.hpp"
#include "exit_codes.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace stdfs = std::filesystem;

namespace {

const RepoRef k_shared{RepoType::Model, "org/shared"}, k_a{RepoType::Model, "org/a"}, k_b{RepoType::Dataset, "org/b"};

std::string read_or_empty(const std::string& p) {
  try {
    return test::read_file(p);
  } catch (const std::exception&) {
    return {};
  }
}

std::string bytes(std::size_t n, int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

/// One file of a `--local-dir` download in a project: its repo path and bytes.
struct LocalFile {
  std::string path, content;
};

/// One file a project cache held: where, and its bytes.
struct Held {
  std::string cache;  // the project cache folder
  RepoRef repo;
  std::string commit, path, content;
};

struct Lab {
  std::string root, central, a, b, c;
  std::vector<Held> held;
  std::string local_dir, plain_dir;  // in projC: `hf download org/shared --local-dir models/shared`, a plain folder
  std::vector<LocalFile> local_files{{"config.json", "{\"shared\": 1}"}, {"tokenizer/tokenizer.json", "{\"tok\": 1}"}};
  std::string c1 = test::commit_id(1), c2 = test::commit_id(2), c3 = test::commit_id(3);

  Lab(const std::string& r, const std::string& central_dir, std::size_t scale) : root(r), central(central_dir) {
    a = root + "/projA";
    b = root + "/projB";
    c = root + "/projC";
    test::CacheBuilder hub(central);
    hub.add_file(k_shared, c1, "config.json", "{\"shared\": 1}");
    hub.add_file(k_shared, c1, "model.safetensors", bytes(scale * 2, 1), true);
    hub.add_ref(k_shared, "main", c1);

    add(a + "/model_cache", k_shared, c1, "config.json", "{\"shared\": 1}", false);
    add(a + "/model_cache", k_shared, c1, "model.safetensors", bytes(scale * 2, 1), true);
    add(a + "/model_cache", k_a, c2, "weights.safetensors", bytes(scale * 3, 2), true);
    add(a + "/model_cache", k_a, c2, "config.json", "{\"a\": 1}", false);
    test::CacheBuilder(a + "/model_cache").add_ref(k_a, "main", c2);
    test::write_file(a + "/.env", "HF_HUB_CACHE=./model_cache\nOTHER=1\n");
    test::write_file(a + "/.env.example", "# copy to .env\nHF_HUB_CACHE=./model_cache\n");
    test::write_file(a + "/config.py",
                     "import os\n\nCACHE_DIR = os.getenv(\"HF_HUB_CACHE\", \"./model_cache\")\nMODEL = \"org/a\"\n");

    add(b + "/model_cache", k_shared, c3, "config.json", "{\"shared\": 1}", false);
    add(b + "/model_cache", k_shared, c3, "model.safetensors", bytes(scale * 2, 3), true);
    add(b + "/model_cache", k_b, c2, "data/train.parquet", bytes(scale, 4), true);
    test::CacheBuilder pb(b + "/model_cache");
    pb.add_ref(k_shared, "main", c3);  // the central cache's main is c1
    pb.add_ref(k_b, "main", c2);
    pb.write_raw("models--org--shared/.no_exist/" + c3 + "/tokenizer.json", "");
    test::write_file(b + "/train.yaml", "model: org/b\ncache_dir: ./model_cache\nepochs: 3\n");
    test::write_file(b + "/util.py",
                     "import os\nROOT = os.path.dirname(__file__)\nCACHE = os.path.join(ROOT, \"model_cache\")\n");

    add(c + "/hf_home/hub", k_a, c2, "weights.safetensors", bytes(scale * 3, 2), true);
    add(c + "/hf_home/hub", k_a, c2, "config.json", "{\"a\": 1}", false);
    test::CacheBuilder(c + "/hf_home/hub").add_ref(k_a, "main", c2);
    test::write_file(c + "/.env", "HF_HOME=./hf_home\n");
    local_dir = c + "/models/shared";
    for (const auto& f : local_files) {
      test::write_file(local_dir + "/" + f.path, f.content);
      test::write_file(local_dir + "/.cache/huggingface/download/" + f.path + ".metadata",
                       c1 + "\n" + git_blob_sha1_hex(f.content) + "\n1700000000.0\n");
    }
    test::write_file(c + "/run.py", "MODEL_DIR = \"./models/shared\"\n");
    plain_dir = c + "/models/plain";
    test::write_file(plain_dir + "/config.json", "{\"plain\": true}");
    test::write_file(plain_dir + "/model.safetensors", bytes(scale, 5));
  }

  void add(const std::string& cache, const RepoRef& repo, const std::string& commit, const std::string& path,
           const std::string& content, bool lfs) {
    test::CacheBuilder(cache).add_file(repo, commit, path, content, lfs);
    held.push_back({cache, repo, commit, path, content});
  }

  static std::string file_in(const std::string& cache, const Held& h) {
    return RepoLayout(cache, h.repo).pointer_path(h.commit, h.path);
  }
  /// Where the file can be read now outside the central cache: its project cache, or the
  /// folder a migrate moved it aside to.
  static bool in_project(const Held& h) {
    const std::string aside =
        stdfs::path(h.cache).parent_path().string() + "/." + stdfs::path(h.cache).filename().string() + ".hubcache-merged";
    struct stat st {};
    const bool cache_is_real = ::lstat(h.cache.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    return (cache_is_real && read_or_empty(file_in(h.cache, h)) == h.content) || read_or_empty(file_in(aside, h)) == h.content;
  }
  bool in_central(const Held& h) const { return read_or_empty(file_in(central, h)) == h.content; }
  /// A file of the --local-dir folder, read from the central cache's snapshot of its commit.
  bool in_central(const LocalFile& f) const {
    return read_or_empty(RepoLayout(central, k_shared).pointer_path(c1, f.path)) == f.content;
  }
  bool in_local_dir(const LocalFile& f) const { return read_or_empty(local_dir + "/" + f.path) == f.content; }

  std::vector<std::string> projects() const { return {a, b, c}; }
};

test::ProcessResult migrate(const std::vector<std::string>& args, const std::vector<std::string>& env = {}, int uid = -1) {
  std::vector<std::string> argv{test::hubcache_bin(), "migrate"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_process(argv, env, {}, uid);
}

std::size_t files_in(const std::string& d) {
  std::size_t n = 0;
  for (const auto& e : stdfs::directory_iterator(d)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

struct CliMigrate : ::testing::Test {
  test::TempDir dir;
  std::string central = dir.path() + "/hf/hub";

  std::string expected_diff() const {
    return "--- a/projA/.env\n+++ b/projA/.env\n@@ -1,2 +1,2 @@\n-HF_HUB_CACHE=./model_cache\n+HF_HUB_CACHE=" + central +
           "\n OTHER=1\n"
           "--- a/projA/.env.example\n+++ b/projA/.env.example\n@@ -1,2 +1,2 @@\n # copy to .env\n-HF_HUB_CACHE=./model_cache\n"
           "+HF_HUB_CACHE=" +
           central +
           "\n"
           "--- a/projA/config.py\n+++ b/projA/config.py\n@@ -1,4 +1,4 @@\n import os\n \n"
           "-CACHE_DIR = os.getenv(\"HF_HUB_CACHE\", \"./model_cache\")\n+CACHE_DIR = os.getenv(\"HF_HUB_CACHE\", \"" +
           central +
           "\")\n MODEL = \"org/a\"\n"
           "--- a/projB/train.yaml\n+++ b/projB/train.yaml\n@@ -1,3 +1,3 @@\n model: org/b\n-cache_dir: ./model_cache\n"
           "+cache_dir: " +
           central +
           "\n epochs: 3\n"
           "--- a/projC/.env\n+++ b/projC/.env\n@@ -1 +1 @@\n-HF_HOME=./hf_home\n+HF_HOME=" +
           dir.path() + "/hf\n";
  }
};

TEST_F(CliMigrate, DryRunShowsThePlanAndTheExactDiffAndChangesNothing) {
  Lab lab(dir.path(), central, 1000);
  const std::string before = test::tree_fingerprint(dir.path());
  auto r = migrate({lab.a, lab.b, lab.c, "--to", central, "--dry-run", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["diff"].get<std::string>(), expected_diff());
  ASSERT_EQ(j["caches"].size(), 3u);
  ASSERT_EQ(j["manual"].size(), 2u) << j["manual"].dump();
  EXPECT_EQ(j["manual"][0]["file"], lab.b + "/util.py");
  EXPECT_EQ(j["manual"][0]["line"], 3);
  EXPECT_EQ(j["manual"][1]["file"], lab.c + "/run.py");
  EXPECT_NE(j["manual"][1]["why"].get<std::string>().find("a copy of org/shared that migrate removes"), std::string::npos);
  ASSERT_EQ(j["model_folders"].size(), 1u);
  EXPECT_EQ(j["model_folders"][0]["path"], lab.plain_dir);
  EXPECT_NE(j["model_folders"][0]["why"].get<std::string>().find("no `--local-dir` metadata names its commit"),
            std::string::npos);
  ASSERT_EQ(j["folders"].size(), 1u);
  const auto& folder = j["folders"][0];
  EXPECT_EQ(folder["path"], lab.local_dir);
  EXPECT_EQ(folder["repo_id"], "org/shared");
  EXPECT_EQ(folder["commit"], lab.c1);
  EXPECT_EQ(folder["files"], 2);
  EXPECT_EQ(folder["mode"], "link");
  EXPECT_NE(folder["identified_by"].get<std::string>().find("is a snapshot of model/org/shared"), std::string::npos);
  const auto& projb = j["caches"][1];
  EXPECT_EQ(projb["path"], lab.b + "/model_cache");
  const auto& conflicts = projb["repos"][1]["ref_conflicts"];  // datasets--org--b, models--org--shared
  ASSERT_EQ(conflicts.size(), 1u) << projb.dump();
  EXPECT_EQ(conflicts[0]["central_commit"], lab.c1);
  EXPECT_EQ(conflicts[0]["project_commit"], lab.c3);

  auto text = migrate({lab.a, lab.b, lab.c, "--to", central, "--dry-run"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find(expected_diff()), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("ref 'main' of model/org/shared: the central cache's " + lab.c1.substr(0, 12) + " stays"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("To change by hand: " + lab.b + "/util.py:3"), std::string::npos) << text.out;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
}

// The whole migration: each blob once in the central cache, every file every project cache held
// resolving from it to the same bytes, refs merged (the conflict keeps the central one, the other
// revision pinned), the configuration rewritten exactly with backups, the project caches gone, the
// --local-dir folder imported into its commit's snapshot and gone, the plain folder untouched.
TEST_F(CliMigrate, MigratesTheLabIntoTheCentralCache) {
  Lab lab(dir.path(), central, 1000);
  const std::string plain = test::tree_fingerprint(lab.plain_dir);
  const std::map<std::string, std::string> originals{{lab.a + "/.env", test::read_file(lab.a + "/.env")},
                                                     {lab.a + "/config.py", test::read_file(lab.a + "/config.py")},
                                                     {lab.b + "/util.py", test::read_file(lab.b + "/util.py")}};
  auto r = migrate({lab.a, lab.b, lab.c, "--to", central, "--yes", "--rewrite-config"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Verified: 11 file(s) resolve from " + central), std::string::npos) << r.out;
  for (const auto& h : lab.held) EXPECT_TRUE(lab.in_central(h)) << h.repo.id << " " << h.commit << " " << h.path;
  for (const auto& f : lab.local_files) EXPECT_TRUE(lab.in_central(f)) << f.path;
  EXPECT_FALSE(test::exists(lab.local_dir));
  EXPECT_EQ(test::tree_fingerprint(lab.plain_dir), plain);
  EXPECT_EQ(files_in(RepoLayout(central, k_shared).blobs_dir()), 4u);  // config.json once, two weights, the tokenizer
  EXPECT_EQ(files_in(RepoLayout(central, k_a).blobs_dir()), 2u);       // held by two projects, once here
  EXPECT_EQ(files_in(RepoLayout(central, k_b).blobs_dir()), 1u);
  const RepoLayout shared(central, k_shared);
  EXPECT_EQ(test::read_file(shared.ref_path("main")), lab.c1);
  EXPECT_EQ(test::read_file(shared.pins_path()), lab.c3 + "\n");
  EXPECT_TRUE(test::exists(shared.no_exist_path(lab.c3, "tokenizer.json")));
  EXPECT_EQ(test::read_file(RepoLayout(central, k_b).ref_path("main")), lab.c2);

  for (const auto& p : {lab.a + "/model_cache", lab.b + "/model_cache", lab.c + "/hf_home/hub"}) {
    EXPECT_FALSE(test::exists(p)) << p;
    EXPECT_TRUE(stdfs::is_empty(stdfs::path(p).parent_path()) || stdfs::path(p).parent_path() == lab.a ||
                stdfs::path(p).parent_path() == lab.b)
        << "nothing left beside " << p;
  }
  EXPECT_FALSE(test::exists(lab.a + "/.model_cache.hubcache-merged"));
  EXPECT_EQ(test::read_file(lab.a + "/.env"), "HF_HUB_CACHE=" + central + "\nOTHER=1\n");
  EXPECT_EQ(test::read_file(lab.a + "/config.py"),
            "import os\n\nCACHE_DIR = os.getenv(\"HF_HUB_CACHE\", \"" + central + "\")\nMODEL = \"org/a\"\n");
  EXPECT_EQ(test::read_file(lab.c + "/.env"), "HF_HOME=" + dir.path() + "/hf\n");
  EXPECT_EQ(test::read_file(lab.a + "/.env.hubcache-bak"), originals.at(lab.a + "/.env"));
  EXPECT_EQ(test::read_file(lab.a + "/config.py.hubcache-bak"), originals.at(lab.a + "/config.py"));
  EXPECT_EQ(test::read_file(lab.b + "/util.py"), originals.at(lab.b + "/util.py")) << "a line for a person is not rewritten";

  // Every file resolves through hubcache's own offline lookup too.
  auto look = test::run_process(
      {test::hubcache_bin(), "resolve", "org/shared", "model.safetensors", "--revision", lab.c3, "--cache-dir", central});
  EXPECT_EQ(look.exit_code, 0) << look.err;
  // A rerun finds nothing to do.
  auto again = migrate({lab.a, lab.b, lab.c, "--to", central, "--yes", "--rewrite-config"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("Nothing to migrate."), std::string::npos) << again.out;
}

TEST_F(CliMigrate, LeaveLinkKeepsHardCodedPathsWorking) {
  Lab lab(dir.path(), central, 100);
  auto r = migrate({lab.a, "--to", central, "--yes", "--leave-link"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(test::read_link(lab.a + "/model_cache"), central);
  for (const auto& h : lab.held)
    if (h.cache == lab.a + "/model_cache") {
      EXPECT_EQ(read_or_empty(Lab::file_in(lab.a + "/model_cache", h)), h.content);
    }
  EXPECT_EQ(test::read_file(lab.a + "/.env"), "HF_HUB_CACHE=./model_cache\nOTHER=1\n") << "no --rewrite-config";
  EXPECT_NE(r.out.find("still name the project caches"), std::string::npos) << r.out;
}

// kill -9 at random points (central cache on another filesystem, so blobs are copied): after each,
// every file every project cache held resolves from the project, the central cache, or both; a
// rerun completes and leaves it in the central cache only.
TEST_F(CliMigrate, KilledAtRandomPointsEveryFileStaysAndARerunFinishes) {
  const std::string disk2 = dir.path() + "/disk2";
  stdfs::create_directories(disk2);
  ASSERT_EQ(::mount("none", disk2.c_str(), "tmpfs", 0, "size=512m"), 0) << "tests run as root";
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{disk2};
  std::mt19937 rng(2026);
  std::chrono::duration<double> full{0};
  int killed_mid = 0;
  // A kill after migrate ended (the timed run was slowed by a loaded machine) shrinks the window;
  // trials go on (at most 30) until 5 kills landed mid-way.
  for (int trial = 0; trial < 30 && (trial < 14 || killed_mid < 5); ++trial) {
    const std::string root = dir.path() + "/t" + std::to_string(trial);
    const std::string hub = disk2 + "/t" + std::to_string(trial) + "/hub";
    Lab lab(root, hub, 2u << 20);  // 22 MB of files
    const bool link = trial % 2 == 1;
    std::vector<std::string> args{test::hubcache_bin(), "migrate", lab.a, lab.b, lab.c, "--to", hub, "--yes", "--rewrite-config"};
    if (link) args.push_back("--leave-link");
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::vector<char*> av;
      for (auto& s : args) av.push_back(s.data());
      av.push_back(nullptr);
      ::execv(av[0], av.data());
      ::_exit(127);
    }
    int status = 0;
    if (trial == 0) {  // one whole run sets the time scale
      ::waitpid(pid, &status, 0);
      full = std::chrono::steady_clock::now() - t0;
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      for (const auto& h : lab.held) EXPECT_TRUE(lab.in_central(h) && !Lab::in_project(h));
      continue;
    }
    std::this_thread::sleep_for(full * (static_cast<double>(rng() % 1000) / 1000.0));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    killed_mid += WIFSIGNALED(status) ? 1 : 0;
    if (!WIFSIGNALED(status)) full *= 0.7;
    for (const auto& h : lab.held)
      EXPECT_TRUE(lab.in_central(h) || Lab::in_project(h))
          << "trial " << trial << ": " << h.cache << " " << h.repo.id << " " << h.path << " is lost";
    for (const auto& f : lab.local_files)
      EXPECT_TRUE(lab.in_central(f) || lab.in_local_dir(f)) << "trial " << trial << ": " << f.path << " is lost";
    args.erase(args.begin(), args.begin() + 2);
    auto rerun = migrate(args);
    ASSERT_EQ(rerun.exit_code, 0) << "trial " << trial << ": " << rerun.out << rerun.err;
    for (const auto& h : lab.held) {
      EXPECT_TRUE(lab.in_central(h)) << "trial " << trial << ": " << h.path;
      if (!link) {
        EXPECT_FALSE(Lab::in_project(h)) << "trial " << trial << ": " << h.path;
      }
    }
    for (const auto& f : lab.local_files) {
      EXPECT_TRUE(lab.in_central(f)) << "trial " << trial << ": " << f.path;
      if (link) {  // across filesystems: a symlink to the blob
        EXPECT_TRUE(lab.in_local_dir(f)) << "trial " << trial << ": " << f.path;
        EXPECT_TRUE(stdfs::is_symlink(lab.local_dir + "/" + f.path)) << "trial " << trial << ": " << f.path;
      }
    }
    if (link) {  // recorded, so that `cache move` points them at the cache's next place
      EXPECT_EQ(read_linked_folders(RepoLayout(hub, k_shared)), std::vector<std::string>{lab.local_dir}) << "trial " << trial;
    }
    if (!link) {
      EXPECT_FALSE(test::exists(lab.local_dir)) << "trial " << trial;
    }
    EXPECT_EQ(test::read_file(lab.a + "/.env"), "HF_HUB_CACHE=" + hub + "\nOTHER=1\n") << "trial " << trial;
    if (link) {
      EXPECT_EQ(test::read_link(lab.a + "/model_cache"), hub) << "trial " << trial;
    }
    EXPECT_FALSE(test::exists(lab.a + "/.model_cache.hubcache-merged")) << "trial " << trial;
    stdfs::remove_all(root);
    stdfs::remove_all(stdfs::path(hub).parent_path());
  }
  EXPECT_GE(killed_mid, 5) << "most kills should land while migrate runs";
}

// The kill point the random trials hit only now and then: the project cache was merged, moved
// aside and its removal cut short after its last repo folder went (only .locks/ and the cache tag
// left, no models--*). A rerun still finds it and finishes the removal.
TEST_F(CliMigrate, ARetiredCacheLeftWithoutRepoFoldersIsRemovedByTheRerun) {
  Lab lab(dir.path(), central, 1000);
  auto first = migrate({lab.a, "--to", central, "--yes"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::string aside = lab.a + "/.model_cache.hubcache-merged";
  ASSERT_FALSE(test::exists(aside));
  test::write_file(aside + "/.locks/models--org--a/abc.lock", "");
  test::write_file(aside + "/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
  auto rerun = migrate({lab.a, "--to", central, "--yes"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.out << rerun.err;
  EXPECT_FALSE(test::exists(aside)) << rerun.out;
  // Project a's files are still in the central cache.
  for (const auto& h : lab.held)
    if (h.cache == lab.a + "/model_cache") {
      EXPECT_TRUE(lab.in_central(h)) << h.path;
    }
}

// Model folders: a --local-dir download found and identified by its commit, a plain folder named
// with --model. --leave-link makes each file a hardlink of its blob (one filesystem); a rerun finds
// nothing to do; a run without --leave-link then removes the folders, every file still resolving.
TEST_F(CliMigrate, ModelFoldersAreImportedLinkedAndRemoved) {
  Lab lab(dir.path(), central, 1000);
  const std::string plain_config = test::read_file(lab.plain_dir + "/config.json");
  const std::vector<std::string> named{"--model", lab.plain_dir + "=org/plain@v1"};
  std::vector<std::string> args{lab.c, "--to", central, "--yes", "--leave-link"};
  args.insert(args.end(), named.begin(), named.end());
  auto r = migrate(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Model folder " + lab.local_dir + ": identified (its commit " + lab.c1.substr(0, 12) +
                       " is a snapshot of model/org/shared), 2 file(s)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Model folder " + lab.plain_dir + ": named by --model (model/org/plain)"), std::string::npos) << r.out;
  const RepoLayout shared(central, k_shared), plain(central, RepoRef{RepoType::Model, "org/plain"});
  for (const auto& f : lab.local_files) {
    struct stat in_dir {
    }, in_cache{};
    ASSERT_EQ(::lstat((lab.local_dir + "/" + f.path).c_str(), &in_dir), 0) << f.path;
    ASSERT_EQ(::stat(shared.pointer_path(lab.c1, f.path).c_str(), &in_cache), 0) << f.path;
    EXPECT_EQ(in_dir.st_ino, in_cache.st_ino) << f.path << " is a hardlink of its blob";
  }
  EXPECT_EQ(test::read_file(shared.ref_path("main")), lab.c1) << "the local-dir's commit moves no ref";
  const std::string plain_commit = test::read_file(plain.ref_path("v1"));
  EXPECT_EQ(test::read_file(plain.pointer_path(plain_commit, "config.json")), plain_config);
  auto look = test::run_process(
      {test::hubcache_bin(), "resolve", "org/plain", "config.json", "--revision", "v1", "--cache-dir", central});
  EXPECT_EQ(look.exit_code, 0) << look.err;

  auto again = migrate(args);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("Nothing to migrate."), std::string::npos) << again.out;

  auto remove = migrate({lab.c, "--to", central, "--yes", "--model", lab.plain_dir + "=org/plain@v1"});
  ASSERT_EQ(remove.exit_code, 0) << remove.out << remove.err;
  EXPECT_FALSE(test::exists(lab.local_dir));
  EXPECT_FALSE(test::exists(lab.plain_dir));
  EXPECT_TRUE(stdfs::is_empty(lab.c + "/models"));
  for (const auto& f : lab.local_files) EXPECT_TRUE(lab.in_central(f)) << f.path;
  EXPECT_EQ(test::read_file(plain.pointer_path(plain_commit, "config.json")), plain_config);
}

// A --local-dir folder holding a file without metadata (a user's note): the imported files go,
// the note and the folder stay.
TEST_F(CliMigrate, ModelFolderWithUntrackedFilesKeepsThem) {
  Lab lab(dir.path(), central, 100);
  test::write_file(lab.local_dir + "/NOTES.md", "mine");
  auto r = migrate({lab.c, "--to", central, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 file(s) without local-dir metadata stay"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Kept " + lab.local_dir), std::string::npos) << r.out;
  EXPECT_EQ(test::read_file(lab.local_dir + "/NOTES.md"), "mine");
  for (const auto& f : lab.local_files) {
    EXPECT_TRUE(lab.in_central(f)) << f.path;
    EXPECT_FALSE(test::exists(lab.local_dir + "/" + f.path)) << f.path;
  }
}

/// `hf download org/shared --revision <commit> --local-dir <dir>` of `files`.
void local_dir_download(const std::string& dir, const std::string& commit, const std::vector<LocalFile>& files) {
  for (const auto& f : files) {
    test::write_file(dir + "/" + f.path, f.content);
    test::write_file(dir + "/.cache/huggingface/download/" + f.path + ".metadata",
                     commit + "\n" + git_blob_sha1_hex(f.content) + "\n1700000000.0\n");
  }
}

// A folder of a revision no ref names (in the central cache, detached) is pinned, so a prune after
// the folder went keeps its only copy; a file also hardlinked elsewhere is copied, so writing that
// other name later cannot change the blob.
TEST_F(CliMigrate, DetachedRevisionIsPinnedAndSharedInodesAreCopied) {
  Lab lab(dir.path(), central, 100);
  const std::string c4 = test::commit_id(4), old_dir = lab.c + "/models/old";
  test::CacheBuilder(central).add_file(k_shared, c4, "config.json", "{\"shared\": 0}");
  const std::vector<LocalFile> files{{"config.json", "{\"shared\": 0}"}, {"extra.txt", "only here"}};
  local_dir_download(old_dir, c4, files);
  ASSERT_EQ(::link((old_dir + "/extra.txt").c_str(), (lab.c + "/scratch.txt").c_str()), 0);
  auto r = migrate({lab.c, "--to", central, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no ref of model/org/shared names " + c4.substr(0, 12) + ": it is pinned"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Removed " + old_dir + " (load \"org/shared\" with revision=\"" + c4 + "\""), std::string::npos) << r.out;
  EXPECT_FALSE(test::exists(old_dir));
  const RepoLayout shared(central, k_shared);
  EXPECT_NE(test::read_file(shared.pins_path()).find(c4), std::string::npos);
  auto prune = test::run_process({test::hubcache_bin(), "cache", "prune", "--yes", "--cache-dir", central});
  EXPECT_EQ(prune.exit_code, 0) << prune.out << prune.err;
  EXPECT_EQ(read_or_empty(shared.pointer_path(c4, "extra.txt")), "only here");
  struct stat blob {
  }, scratch{};
  ASSERT_EQ(::stat(shared.pointer_path(c4, "extra.txt").c_str(), &blob), 0);
  ASSERT_EQ(::stat((lab.c + "/scratch.txt").c_str(), &scratch), 0);
  EXPECT_NE(blob.st_ino, scratch.st_ino);
  test::write_file(lab.c + "/scratch.txt", "changed later");
  EXPECT_EQ(read_or_empty(shared.pointer_path(c4, "extra.txt")), "only here");
}

// A model folder whose untracked file is a symlink to a tracked one: the target stays (no dangling
// link), the removed files' records and emptied folders go, the rest stays. A project that is
// itself a --local-dir download is planned (its own files stay).
TEST_F(CliMigrate, WhatStaysInAModelFolderStillWorks) {
  Lab lab(dir.path(), central, 100);
  test::write_file(lab.local_dir + "/NOTES.md", "mine");
  ASSERT_EQ(::symlink("config.json", (lab.local_dir + "/cfg.json").c_str()), 0);
  auto r = migrate({lab.c, "--to", central, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(test::read_file(lab.local_dir + "/cfg.json"), "{\"shared\": 1}") << "the link's target stays";
  EXPECT_FALSE(test::exists(lab.local_dir + "/tokenizer"));
  EXPECT_FALSE(test::exists(lab.local_dir + "/.cache/huggingface/download/tokenizer"));
  EXPECT_TRUE(test::exists(lab.local_dir + "/.cache/huggingface/download/config.json.metadata"));
  for (const auto& f : lab.local_files) EXPECT_TRUE(lab.in_central(f)) << f.path;

  const std::string whole = dir.path() + "/whole";
  local_dir_download(whole, lab.c1, {{"config.json", "{\"shared\": 1}"}});
  test::write_file(whole + "/train.py", "print(1)\n");
  auto dry = migrate({whole, "--to", central, "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_EQ(nlohmann::json::parse(dry.out)["folders"].size(), 1u) << dry.out;
}

TEST_F(CliMigrate, BadInputIsRefusedBeforeAnythingChanges) {
  Lab lab(dir.path(), central, 100);
  const std::string before = test::tree_fingerprint(dir.path());
  // A project path that is a file, or missing.
  auto file = migrate({lab.a + "/.env", "--to", central, "--yes"});
  EXPECT_EQ(file.exit_code, exit_code::usage);
  EXPECT_NE(file.err.find(lab.a + "/.env' is a file, not a project folder"), std::string::npos) << file.err;
  auto missing = migrate({dir.path() + "/nope", "--to", central, "--yes"});
  EXPECT_EQ(missing.exit_code, exit_code::not_found);
  EXPECT_NE(missing.err.find(dir.path() + "/nope"), std::string::npos) << missing.err;
  // The central cache inside a project cache; a project inside the central cache.
  auto inside = migrate({lab.a, "--to", lab.a + "/model_cache/inner", "--yes"});
  EXPECT_EQ(inside.exit_code, exit_code::usage) << inside.err;
  auto within = migrate({central + "/models--org--shared", "--to", central, "--yes"});
  EXPECT_EQ(within.exit_code, exit_code::usage) << within.err;
  // --model: malformed, not a folder, a project, a project cache, a folder whose files do not
  // match their local-dir metadata.
  for (const auto& [spec, says] : std::vector<std::pair<std::string, std::string>>{
           {lab.plain_dir, "expected DIR=ORG/NAME[@REVISION]"},
           {lab.plain_dir + "=", "expected DIR=ORG/NAME[@REVISION]"},
           {lab.plain_dir + "=org/plain@", "the revision after '@' is empty"},
           {lab.plain_dir + "=org//plain", "org//plain"},
           {dir.path() + "/nope=org/plain", "is not a folder"},
           {lab.c + "=org/plain", "name the folder that holds the model's files"},
           {lab.a + "/model_cache=org/plain", "holds a Hub cache at " + lab.a + "/model_cache"},
           {lab.c + "/hf_home=org/plain", "holds a Hub cache at " + lab.c + "/hf_home/hub"}}) {
    auto bad = migrate({lab.a, lab.c, "--to", central, "--yes", "--model", spec});
    EXPECT_EQ(bad.exit_code, exit_code::usage) << spec << ": " << bad.err;
    EXPECT_NE(bad.err.find(says), std::string::npos) << spec << ": " << bad.err;
  }
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
  auto twice =
      migrate({lab.c, "--to", central, "--yes", "--model", lab.plain_dir + "=org/one", "--model", lab.plain_dir + "=org/two"});
  EXPECT_EQ(twice.exit_code, exit_code::usage) << twice.err;
  EXPECT_NE(twice.err.find("named by another --model"), std::string::npos) << twice.err;
  auto file_to = migrate({lab.c, "--to", lab.a + "/.env", "--yes"});
  EXPECT_EQ(file_to.exit_code, exit_code::usage) << file_to.err;
  EXPECT_NE(file_to.err.find("is not a folder"), std::string::npos) << file_to.err;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);

  // Two caches with different bytes under one blob name: refused, naming both.
  const RepoLayout pa(lab.a + "/model_cache", k_shared), hub(central, k_shared);
  std::string blob;
  for (const auto& e : stdfs::directory_iterator(pa.blobs_dir()))
    if (stdfs::file_size(e.path()) > 100) blob = e.path().filename().string();
  ASSERT_FALSE(blob.empty());
  std::string other = test::read_file(pa.blob_path(blob));
  other[0] = static_cast<char>(other[0] ^ 1);
  test::write_file(pa.blob_path(blob), other);
  const std::string tampered = test::tree_fingerprint(dir.path());
  auto differ = migrate({lab.a, "--to", central, "--yes"});
  EXPECT_NE(differ.exit_code, 0);
  EXPECT_NE(differ.err.find(pa.blob_path(blob)), std::string::npos) << differ.err;
  EXPECT_NE(differ.err.find(hub.blob_path(blob)), std::string::npos) << differ.err;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), tampered);
}

// A project the user may not change: refused before the merge (as nobody; root ignores modes).
TEST_F(CliMigrate, ReadOnlyProjectIsRefusedBeforeTheMerge) {
  Lab lab(dir.path(), central, 100);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  for (const auto& e : stdfs::recursive_directory_iterator(central)) ::lchown(e.path().c_str(), test::k_nobody_uid, 65534);
  ::lchown(central.c_str(), test::k_nobody_uid, 65534);
  for (const auto& p : {dir.path(), dir.path() + "/hf"}) ::chmod(p.c_str(), 0755);
  const std::string before = test::tree_fingerprint(dir.path());
  auto r = migrate({lab.a, "--to", central, "--yes"}, {}, test::k_nobody_uid);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(lab.a + " is not writable"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Nothing was changed"), std::string::npos) << r.err;
  EXPECT_EQ(test::tree_fingerprint(dir.path()), before);
}

}  // namespace

// `hubcache dedupe` on the messy workstation: the plan, the bytes freed (st_blocks before and
// after), every file still read through each store's own path with its hash, `cache verify` and the
// JS client's scanCacheDir still happy; kill -9 at random instants never loses a byte and a rerun
// completes the plan.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "cache_builder.hpp"
#include "hubcache/cache/local_dir.hpp"
#include "exit_codes.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "messy_workstation.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
namespace exit_code = hubcache::test::exit_code;
namespace sfs = std::filesystem;

namespace {

// Every regular file (links followed: what each tool reads) below `roots`, with its content's hash.
std::map<std::string, std::string> contents(const std::vector<std::string>& roots) {
  std::map<std::string, std::string> out;
  for (const auto& root : roots)
    for (auto it = sfs::recursive_directory_iterator(root); it != sfs::recursive_directory_iterator(); ++it) {
      std::error_code ec;
      if (!sfs::is_regular_file(it->path(), ec)) continue;  // follows links (a loop is no file)
      // A --local-dir record is bookkeeping dedupe refreshes (checked on its own), not content.
      if (it->path().string().find("/.cache/huggingface/download/") != std::string::npos) continue;
      auto bytes = fs::read_file(it->path().string(), 64u << 20);
      out[it->path().string()] = bytes ? sha256_hex(*bytes) : "<unreadable>";
    }
  return out;
}

// Allocated bytes of every inode below `roots`, each once.
std::uint64_t allocated(const std::vector<std::string>& roots) {
  std::set<std::pair<dev_t, ino_t>> seen;
  std::uint64_t sum = 0;
  for (const auto& root : roots)
    for (auto it = sfs::recursive_directory_iterator(root); it != sfs::recursive_directory_iterator(); ++it) {
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && seen.emplace(st.st_dev, st.st_ino).second)
        sum += static_cast<std::uint64_t>(st.st_blocks) * 512u;
    }
  return sum;
}

struct CliDedupe : ::testing::Test {
  test::TempDir dir;
  test::MessyWorkstation w = test::build_messy_workstation(dir.path());
  std::vector<std::string> roots{w.hub, w.ollama, w.lmstudio_models, w.home + "/projects/chat/model_cache",
                                 w.home + "/work/gguf-local"};

  test::ProcessResult dedupe(std::vector<std::string> args) {
    args.insert(args.begin(), {test::hubcache_bin(), "dedupe"});
    return test::run_process(args, w.environment);
  }
  std::vector<std::string> with_roots(std::vector<std::string> args) {
    args.insert(args.begin(), roots.begin(), roots.end());
    return args;
  }
};

TEST_F(CliDedupe, PlansTheGgufHeldFiveTimesAndADryRunChangesNothing) {
  const auto before = contents(roots);
  const auto blocks = allocated(roots);
  auto r = dedupe(with_roots({"--deep", "--dry-run", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["groups"].size(), 1u) << r.out;
  const auto& g = j["groups"][0];
  EXPECT_EQ(g["digest"], "sha256:" + sha256_hex(w.weights));
  EXPECT_EQ(g["keep"], w.hub + "/models--org--gguf/blobs/" + sha256_hex(w.weights));
  std::set<std::string> replaced;
  for (const auto& x : g["replace"]) replaced.insert(x["path"].get<std::string>());
  const std::set<std::string> want{
      w.ollama + "/blobs/sha256-" + sha256_hex(w.weights), w.lmstudio_models + "/org/gguf-GGUF/m.gguf",
      w.home + "/projects/chat/model_cache/models--org--gguf/blobs/" + sha256_hex(w.weights), w.home + "/work/gguf-local/m.gguf"};
  EXPECT_EQ(replaced, want);
  EXPECT_EQ(j["freed_bytes"], 4 * test::allocated_bytes(w.home + "/work/gguf-local/m.gguf"));
  EXPECT_EQ(j["hashed_files"], 1) << "only LM Studio's copy has no name that says its content";
  EXPECT_EQ(contents(roots), before);
  EXPECT_EQ(allocated(roots), blocks);

  auto text = dedupe(with_roots({"--deep", "--dry-run"}));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Dry run: nothing was changed"), std::string::npos) << text.out;
  // Without --yes and without a terminal: refused, nothing changed.
  auto refused = dedupe(with_roots({"--deep"}));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("--yes"), std::string::npos) << refused.err;
  EXPECT_EQ(allocated(roots), blocks);
}

TEST_F(CliDedupe, FreesExactlyThePlantedBytesAndEveryToolStillReadsItsFiles) {
  const auto before = contents(roots);
  const auto blocks = allocated(roots);
  auto r = dedupe(with_roots({"--deep", "--yes", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["result"]["linked"], 4);
  EXPECT_TRUE(j["result"]["skipped"].empty()) << j["result"].dump();
  const std::uint64_t planted = 4 * test::allocated_bytes(w.home + "/work/gguf-local/m.gguf");
  EXPECT_EQ(j["result"]["freed_bytes"], planted);
  EXPECT_EQ(blocks - allocated(roots), planted) << "measured by st_blocks";
  EXPECT_EQ(contents(roots), before) << "every name reads the same bytes";
  // The --local-dir file now has the blob's mtime: its record was moved so huggingface_hub still
  // takes it as current (mtime at most one second after the record's time).
  {
    const std::string local = w.home + "/work/gguf-local/m.gguf";
    auto record = parse_local_metadata(*fs::read_file(LocalDirLayout(w.home + "/work/gguf-local").metadata_path("m.gguf")));
    ASSERT_TRUE(record);
    struct stat st {};
    ASSERT_EQ(::stat(local.c_str(), &st), 0);
    EXPECT_TRUE(local_metadata_is_current(
        *record, static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9));
    EXPECT_EQ(record->etag, sha256_hex(w.weights));
  }
  // Each store's own names are kept: Ollama's sha256-<hex> blob, the Hub's blobs/ and snapshots/.
  EXPECT_TRUE(sfs::is_regular_file(sfs::symlink_status(w.ollama + "/blobs/sha256-" + sha256_hex(w.weights))));
  EXPECT_TRUE(sfs::is_symlink(w.hub + "/models--org--gguf/snapshots/" + test::commit_id(1) + "/m.gguf"));

  for (const auto& cache : {w.hub, w.home + "/projects/chat/model_cache"}) {
    auto v = test::run_process({test::hubcache_bin(), "cache", "verify", "org/gguf", "--cache-dir", cache}, w.environment);
    EXPECT_EQ(v.exit_code, 0) << cache << "\n" << v.out << v.err;
  }
  const std::string hub_js = test::source_dir() + "/tests/interop/node_modules/@huggingface/hub/dist/index.mjs";
  if (sfs::exists(hub_js)) {
    const std::string script = "import { scanCacheDir } from '" + hub_js + "'; const r = await scanCacheDir('" + w.hub +
                               "'); console.log(JSON.stringify(r.repos.map(x => x.id.name).sort()));";
    auto js = test::run_process({"/usr/bin/env", "node", "--input-type=module", "-e", script});
    ASSERT_EQ(js.exit_code, 0) << js.err;
    EXPECT_NE(js.out.find("org/gguf"), std::string::npos) << js.out;
  }
  // A second run finds nothing left to do.
  auto again = dedupe(with_roots({"--deep", "--dry-run", "--json"}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(nlohmann::json::parse(again.out)["groups"].empty()) << again.out;
}

TEST_F(CliDedupe, ARootThatIsNoStoreIsSearchedForStoresAndItsOtherFilesAreNeverTouched) {
  // A home-like folder: two model folders holding the same GGUF, and a document with its backup.
  sfs::create_directories(dir / "plain/a");
  sfs::create_directories(dir / "plain/b");
  sfs::create_directories(dir / "plain/docs");
  ASSERT_TRUE(fs::write_file_atomic(dir / "plain/a/x.gguf", "same weights"));
  ASSERT_TRUE(fs::write_file_atomic(dir / "plain/b/y.gguf", "same weights"));
  ASSERT_TRUE(fs::write_file_atomic(dir / "plain/docs/report.txt", "my text"));
  ASSERT_TRUE(fs::write_file_atomic(dir / "plain/docs/report-backup.txt", "my text"));
  auto r = dedupe({dir / "plain", "--deep", "--dry-run", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["groups"].size(), 1u) << r.out;
  EXPECT_EQ(j["groups"][0]["replace"].size(), 1u);
  EXPECT_NE(j["groups"][0]["keep"].get<std::string>().find(".gguf"), std::string::npos) << "the backup is no model file";
  sfs::create_directories(dir / "nomodels");
  ASSERT_TRUE(fs::write_file_atomic(dir / "nomodels/notes.txt", "x"));
  auto none = dedupe({dir / "nomodels", "--dry-run"});
  EXPECT_EQ(none.exit_code, exit_code::usage);
  EXPECT_NE(none.err.find("no model store"), std::string::npos) << none.err;
  auto missing = dedupe({dir / "nope", "--dry-run"});
  EXPECT_EQ(missing.exit_code, exit_code::not_found) << missing.err;
  EXPECT_EQ(dedupe({dir / "plain", "--link", "copy"}).exit_code, exit_code::usage);
  // --json with neither --yes nor --dry-run: a JSON error, not a question in the middle of JSON.
  auto asks = dedupe({dir / "plain", "--json"});
  EXPECT_EQ(asks.exit_code, exit_code::usage);
  EXPECT_EQ(nlohmann::json::parse(asks.out)["error"]["code"], "invalid_argument") << asks.out;
  EXPECT_TRUE(sfs::exists(dir / "plain/b/y.gguf"));
}

TEST_F(CliDedupe, LoopsUnreadableFoldersAndForeignFilesAreNamedAndLoseNothing) {
  const std::string plain = dir / "plain";
  for (const char* d : {"/a", "/b", "/c/secret"}) sfs::create_directories(plain + d);
  ASSERT_TRUE(fs::write_file_atomic(plain + "/a/x.gguf", "same weights"));
  ASSERT_TRUE(fs::write_file_atomic(plain + "/b/y.gguf", "same weights"));
  sfs::create_directory_symlink(plain + "/a", plain + "/a/again");  // a folder loop: never entered
  sfs::create_symlink(plain + "/a/l2.gguf", plain + "/a/l1.gguf");  // a file loop: ELOOP
  sfs::create_symlink(plain + "/a/l1.gguf", plain + "/a/l2.gguf");
  ASSERT_TRUE(fs::write_file_atomic(plain + "/c/secret/s.gguf", "same weights"));
  ASSERT_TRUE(fs::write_file_atomic(plain + "/c/model.gguf", "other"));
  // A file Ollama does not know in its store (Ollama prunes such names at start; dedupe leaves it).
  const std::string foreign = w.ollama + "/blobs/notes.txt";
  ASSERT_TRUE(fs::write_file_atomic(foreign, "same weights"));
  const auto before = contents({plain, w.ollama});

  // As a user who cannot read one folder (root reads everything).
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  for (const auto& d : {plain, plain + "/a", plain + "/b", plain + "/c"}) ::chmod(d.c_str(), 0777);
  ASSERT_EQ(::chmod((plain + "/c/secret").c_str(), 0), 0);
  auto as_nobody = test::run_process({test::hubcache_bin(), "dedupe", plain, w.ollama, "--deep", "--dry-run", "--json"},
                                     w.environment, {}, test::k_nobody_uid);
  ::chmod((plain + "/c/secret").c_str(), 0755);
  ASSERT_EQ(as_nobody.exit_code, 0) << as_nobody.err;
  EXPECT_NE(as_nobody.err.find(plain + "/c/secret"), std::string::npos) << "the unreadable folder is named: " << as_nobody.err;
  EXPECT_NE(as_nobody.err.find(plain + "/a/l1.gguf"), std::string::npos) << "the looping link is named: " << as_nobody.err;
  const auto j = nlohmann::json::parse(as_nobody.out);
  EXPECT_NE(j["warnings"].dump().find("left alone: '" + foreign + "'"), std::string::npos) << j["warnings"].dump();
  ASSERT_EQ(j["groups"].size(), 1u) << as_nobody.out;
  EXPECT_EQ(j["groups"][0]["replace"].size(), 1u) << "x and y; the foreign file is no model: " << as_nobody.out;

  auto done = dedupe({plain, w.ollama, "--deep", "--yes"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(contents({plain, w.ollama}), before) << "every file reads as before";
  EXPECT_TRUE(sfs::is_symlink(plain + "/a/l1.gguf")) << "the loop is left as it was";
  EXPECT_TRUE(sfs::is_symlink(plain + "/a/again"));
  struct stat x {
  }, y{}, f{};
  ::stat((plain + "/a/x.gguf").c_str(), &x);
  ::stat((plain + "/b/y.gguf").c_str(), &y);
  ::stat(foreign.c_str(), &f);
  EXPECT_EQ(x.st_ino, y.st_ino) << "the copies are one";
  EXPECT_NE(f.st_ino, x.st_ino) << "a file the store's tool does not know is never touched";
}

TEST_F(CliDedupe, AFileWhoseWritersCannotBeToldIsLeftAlone) {
  // Files of another owner in a shared, writable folder: a read lease (the writers check) needs the
  // owner, so as nobody it cannot be told whether a process is writing them: never linked then.
  const std::string shared = dir / "shared";
  for (const char* d : {"/a", "/b"}) sfs::create_directories(shared + d);
  ASSERT_TRUE(fs::write_file_atomic(shared + "/a/m.gguf", std::string(50000, 'm')));
  ASSERT_TRUE(fs::write_file_atomic(shared + "/b/m.gguf", std::string(50000, 'm')));
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  for (const auto& p : {shared, shared + "/a", shared + "/b"}) ::chmod(p.c_str(), 0777);
  for (const auto& p : {shared + "/a/m.gguf", shared + "/b/m.gguf"}) ::chmod(p.c_str(), 0666);
  auto r = test::run_process({test::hubcache_bin(), "dedupe", shared + "/a", shared + "/b", "--deep", "--yes"}, w.environment, {},
                             test::k_nobody_uid);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot be told"), std::string::npos) << r.err;
  struct stat a {
  }, b{};
  ::stat((shared + "/a/m.gguf").c_str(), &a);
  ::stat((shared + "/b/m.gguf").c_str(), &b);
  EXPECT_NE(a.st_ino, b.st_ino) << "not linked";
}

TEST_F(CliDedupe, NamesThatWouldDriveTheTerminalArePrintedEscaped) {
  // A folder and file named with terminal controls and a byte that is not UTF-8.
  const std::string evil = dir / "evil\x1b]0;PWNED\x07\x1b[31m";
  sfs::create_directories(evil + "/a");
  sfs::create_directories(evil + "/b");
  ASSERT_TRUE(fs::write_file_atomic(evil + "/a/x\x1b[2K\rfake\xff.gguf", "same weights"));
  ASSERT_TRUE(fs::write_file_atomic(evil + "/b/y.gguf", "same weights"));
  auto r = dedupe({evil, "--deep", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "no raw escape byte reaches the terminal";
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
  EXPECT_EQ(r.out.find('\xff'), std::string::npos);
  EXPECT_NE(r.out.find("evil\\x1b]0;PWNED\\x07\\x1b[31m/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("x\\x1b[2K\\x0dfake\\xff.gguf"), std::string::npos) << r.out;
  auto doctor = test::run_process({test::hubcache_bin(), "doctor", evil, "--deep"}, w.environment);
  ASSERT_EQ(doctor.exit_code, 0) << doctor.err;
  EXPECT_EQ(doctor.out.find('\x1b'), std::string::npos) << doctor.out;
}

TEST(CliDedupeCrash, KillNineAtAnyInstantLosesNothingAndARerunCompletes) {
  test::TempDir dir;
  // 150 contents, each in two folders as separate files: 150 replacements to interrupt.
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 150; ++i) {
    const std::string bytes = std::string(20000 + i, static_cast<char>('a' + i % 26)) + std::to_string(i);
    for (const char* side : {"a", "b"}) {
      const std::string path = dir / side + "/f" + std::to_string(i) + ".gguf";
      sfs::create_directories(sfs::path(path).parent_path());
      ASSERT_TRUE(fs::write_file_atomic(path, bytes));
      expected[path] = sha256_hex(bytes);
    }
  }
  const std::vector<std::string> args{test::hubcache_bin(), "dedupe", dir / "a", dir / "b", "--deep", "--yes"};
  auto linked_pairs = [&] {
    int n = 0;
    for (int i = 0; i < 150; ++i) {
      struct stat a {
      }, b{};
      ::stat((dir / "a/f" + std::to_string(i) + ".gguf").c_str(), &a);
      ::stat((dir / "b/f" + std::to_string(i) + ".gguf").c_str(), &b);
      n += a.st_ino == b.st_ino;
    }
    return n;
  };
  // Each trial starts from separate copies again, so that every kill lands in a run with work to do.
  auto unlink_pairs = [&] {
    for (int i = 0; i < 150; ++i) {
      const std::string b = dir / "b/f" + std::to_string(i) + ".gguf";
      auto bytes = fs::read_file(b);
      ASSERT_TRUE(bytes && fs::write_file_atomic(b, *bytes));
    }
  };
  // How long a whole run takes here: kills are spread over that span.
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(test::run_process(args).exit_code, 0);
  const auto span = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(linked_pairs(), 150);
  std::mt19937 rng(12345);
  int mid_run = 0;  // trials killed with part of the plan done
  for (int trial = 0; trial < 25; ++trial) {
    unlink_pairs();
    const pid_t child = ::fork();
    if (child == 0) {
      ::freopen("/dev/null", "w", stdout);
      ::freopen("/dev/null", "w", stderr);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<long>(0, span)(rng)));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    const int linked = linked_pairs();
    mid_run += linked > 0 && linked < 150;
    // Every name still holds its full content.
    for (const auto& [path, sha] : expected) {
      auto bytes = fs::read_file(path);
      ASSERT_TRUE(bytes) << "trial " << trial << ": " << path << " is gone";
      ASSERT_EQ(sha256_hex(*bytes), sha) << "trial " << trial << ": " << path;
    }
  }
  RecordProperty("killed_mid_run", mid_run);
  EXPECT_GT(mid_run, 0) << "no kill landed while links were being made: the trials proved nothing";
  auto last = test::run_process(args);
  ASSERT_EQ(last.exit_code, 0) << last.out << last.err;
  for (int i = 0; i < 150; ++i) {
    struct stat a {
    }, b{};
    ASSERT_EQ(::stat((dir / "a/f" + std::to_string(i) + ".gguf").c_str(), &a), 0);
    ASSERT_EQ(::stat((dir / "b/f" + std::to_string(i) + ".gguf").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino) << i << ": the rerun completes the plan";
  }
  for (const auto& side : {dir / "a", dir / "b"})
    for (const auto& e : sfs::directory_iterator(side))
      EXPECT_EQ(e.path().filename().string().find(".hubcache-dedupe-"), std::string::npos) << e.path();
}

}  // namespace

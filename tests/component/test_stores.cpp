// The store readers, one conformance suite: every reader runs the same checks on a store the test
// builds the way its tool writes it (two models sharing a file's bytes without a link, a partial
// download, a file outside the store reached through a symlinked folder), then each reader's own
// cases.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include <filesystem>
#include <functional>
#include <map>
#include <tuple>
#include <string>
#include <vector>

#include "cache_builder.hpp"
#include "hubcache/cache/local_dir.hpp"
#include "hubcache/stores/store.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"
#include "temp_dir.hpp"

namespace hubcache::stores {
namespace {

namespace sfs = std::filesystem;

void write(const std::string& path, const std::string& content) {
  sfs::create_directories(sfs::path(path).parent_path());
  ASSERT_TRUE(fs::write_file_atomic(path, content)) << path;
}

// What a listing is expected to hold, per file (path relative to the root).
struct Expected {
  std::string model, name;
  std::uint64_t size;
  bool partial;
  std::string digest_hex;  // "" = no free identity
};

struct StoreCase {
  const char* label;
  // Builds the store under `root` (which does not exist yet) and returns what its listing holds.
  std::function<std::map<std::string, Expected>(const std::string& root, const std::string& outside)> build;
  std::function<std::unique_ptr<StoreReader>(std::string root)> open;
  StoreKind kind;
};

const std::string k_weights(3000, 'w');  // in both models, not linked
const std::string k_partial(700, 'p');

std::map<std::string, Expected> build_hub_cache(const std::string& root, const std::string& outside) {
  test::CacheBuilder cb(root);
  const RepoRef a{RepoType::Model, "org/a"}, b{RepoType::Dataset, "org/b"};
  const std::string c = test::commit_id(1);
  const std::string w = cb.add_file(a, c, "model.safetensors", k_weights, /*lfs=*/true);
  const std::string cfg = cb.add_file(a, c, "config.json", "{}");
  cb.add_ref(a, "main", c);
  cb.add_file(b, c, "data/w.bin", k_weights, /*lfs=*/true);
  cb.add_ref(b, "main", c);
  cb.write_raw("models--org--a/blobs/" + std::string(64, 'e') + ".incomplete", k_partial);
  // A symlinked folder inside a snapshot, pointing out of the cache: never entered.
  sfs::create_directory_symlink(outside, root + "/models--org--a/snapshots/" + c + "/linked");
  return {
      {"models--org--a/blobs/" + w, {"model/org/a", "model.safetensors", k_weights.size(), false, w}},
      {"models--org--a/blobs/" + cfg, {"model/org/a", "config.json", 2, false, cfg}},  // a git blob SHA-1
      {"models--org--a/blobs/" + std::string(64, 'e') + ".incomplete", {"model/org/a", "", k_partial.size(), true, ""}},
      {"datasets--org--b/blobs/" + w, {"dataset/org/b", "data/w.bin", k_weights.size(), false, w}},
  };
}

std::string ollama_manifest(const std::vector<std::pair<std::string, std::string>>& layers, const std::string& config) {
  std::string s = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)";
  s += R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:)" + config +
       R"(","size":2},"layers":[)";
  for (std::size_t i = 0; i < layers.size(); ++i)
    s += (i ? "," : "") + std::string(R"({"mediaType":")") + layers[i].first + R"(","digest":"sha256:)" + layers[i].second +
         R"(","size":1})";
  return s + "]}\n";
}

std::map<std::string, Expected> build_ollama(const std::string& root, const std::string& outside) {
  const std::string w = sha256_hex(k_weights), t = sha256_hex("{{ .Prompt }}"), cfg = sha256_hex("{}");
  write(root + "/blobs/sha256-" + w, k_weights);
  write(root + "/blobs/sha256-" + t, "{{ .Prompt }}");
  write(root + "/blobs/sha256-" + cfg, "{}");
  write(root + "/blobs/sha256-" + std::string(64, 'e') + "-partial", k_partial);
  write(root + "/manifests/registry.ollama.ai/library/llama3/latest",
        ollama_manifest({{"application/vnd.ollama.image.model", w}, {"application/vnd.ollama.image.template", t}}, cfg));
  write(root + "/manifests/hf.co/org/a-GGUF/Q4_K_M", ollama_manifest({{"application/vnd.ollama.image.model", w}}, cfg));
  sfs::create_directory_symlink(outside, root + "/manifests/linked");
  return {
      // The same blob under two manifests: named by the first model in name order.
      {"blobs/sha256-" + w, {"hf.co/org/a-GGUF:Q4_K_M", "model", k_weights.size(), false, w}},
      {"blobs/sha256-" + t, {"llama3:latest", "template", 13, false, t}},
      {"blobs/sha256-" + cfg, {"hf.co/org/a-GGUF:Q4_K_M", "config", 2, false, cfg}},
      {"blobs/sha256-" + std::string(64, 'e') + "-partial", {"", "", k_partial.size(), true, ""}},
  };
}

// A `--local-dir` record as huggingface_hub writes it, `fresh` or older than the file.
void write_record(const std::string& root, const std::string& path, const std::string& etag, bool fresh) {
  const double now = static_cast<double>(::time(nullptr));
  write(LocalDirLayout(root).metadata_path(path),
        format_local_metadata({test::commit_id(4), etag, fresh ? now + 10 : now - 3600}));
}

std::map<std::string, Expected> build_model_folder(const std::string& root, const std::string& outside) {
  const std::string w = sha256_hex(k_weights), cfg = git_blob_sha1_hex("{}");
  write(root + "/model.safetensors", k_weights);
  write_record(root, "model.safetensors", w, true);
  write(root + "/config.json", "{}");
  write_record(root, "config.json", cfg, true);
  write(root + "/sub/copy.bin", k_weights);               // the same bytes, no record
  write(root + "/edited.txt", "changed after download");  // its record is older than the file: no identity
  write_record(root, "edited.txt", sha256_hex("as downloaded"), false);
  write(LocalDirLayout(root).temp_path("big.gguf", std::string(64, 'e')), k_partial);
  write(root + "/.cache/huggingface/.gitignore", "*");
  write(root + "/.git/HEAD", "ref: refs/heads/main\n");  // git's internals are not model files...
  write(root + "/.git/lfs/objects/" + w.substr(0, 2) + "/" + w.substr(2, 2) + "/" + w, k_weights);  // ...its LFS copies are
  sfs::create_directory_symlink(outside, root + "/linked");
  const std::string partial_rel = LocalDirLayout(root).temp_path("big.gguf", std::string(64, 'e')).substr(root.size() + 1);
  return {
      {"model.safetensors", {"store", "model.safetensors", k_weights.size(), false, w}},
      {"config.json", {"store", "config.json", 2, false, cfg}},
      {"sub/copy.bin", {"store", "sub/copy.bin", k_weights.size(), false, ""}},
      {"edited.txt", {"store", "edited.txt", 22, false, ""}},
      {partial_rel, {"store", "", k_partial.size(), true, ""}},
      {".git/lfs/objects/" + w.substr(0, 2) + "/" + w.substr(2, 2) + "/" + w, {"store", "", k_weights.size(), false, w}},
  };
}

std::map<std::string, Expected> build_lm_studio(const std::string& root, const std::string& outside) {
  write(root + "/lmstudio-community/a-GGUF/a-Q4_K_M.gguf", k_weights);
  write(root + "/me/b-GGUF/b.gguf", k_weights);  // the same bytes, copied
  write(root + "/mlx-community/m-4bit/sub/model.safetensors", "mlx");
  write(root + "/loose.gguf", k_partial);         // LM Studio indexes files two folders deep only
  write(root + "/me/one-level.gguf", "shallow");  // ditto
  sfs::create_directory_symlink(outside, root + "/me/linked");
  return {
      {"lmstudio-community/a-GGUF/a-Q4_K_M.gguf", {"lmstudio-community/a-GGUF", "a-Q4_K_M.gguf", k_weights.size(), false, ""}},
      {"me/b-GGUF/b.gguf", {"me/b-GGUF", "b.gguf", k_weights.size(), false, ""}},
      {"mlx-community/m-4bit/sub/model.safetensors", {"mlx-community/m-4bit", "sub/model.safetensors", 3, false, ""}},
      {"loose.gguf", {"", "", k_partial.size(), false, ""}},
      {"me/one-level.gguf", {"", "", 7, false, ""}},
  };
}

std::map<std::string, Expected> build_llama_cpp(const std::string& root, const std::string& outside) {
  const std::string w = sha256_hex(k_weights), mm = sha256_hex("projector");
  write(root + "/manifest=org=a-GGUF=latest.json",
        R"({"ggufFile":{"rfilename":"a-Q4.gguf","lfs":{"sha256":")" + w + R"(","size":3000}},)" +
            R"("mmprojFile":{"rfilename":"sub/mmproj.gguf","lfs":{"sha256":")" + mm + R"("}}})");
  write(root + "/org_a-GGUF_a-Q4.gguf", k_weights);
  write(root + "/org_a-GGUF_a-Q4.gguf.etag", "\"" + w + "\"");
  write(root + "/org_a-GGUF_sub_mmproj.gguf", "projector");
  write(root + "/org_a-GGUF_sub_mmproj.gguf.json", R"({"etag":"x","lastModified":"y","url":"z"})");
  write(root + "/ggml-org_docker_latest.gguf", k_weights);  // a -dr model: no manifest names it
  write(root + "/org_b_x.gguf.downloadInProgress", k_partial);
  write(root + "/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
  test::CacheBuilder(root).add_file({RepoType::Model, "org/c"}, test::commit_id(5), "c.gguf", "hub layout", true);
  sfs::create_directory_symlink(outside, root + "/linked");
  return {
      {"org_a-GGUF_a-Q4.gguf", {"org/a-GGUF:latest", "a-Q4.gguf", k_weights.size(), false, w}},
      {"org_a-GGUF_sub_mmproj.gguf", {"org/a-GGUF:latest", "sub/mmproj.gguf", 9, false, mm}},
      {"ggml-org_docker_latest.gguf", {"", "", k_weights.size(), false, ""}},
      {"org_b_x.gguf.downloadInProgress", {"", "", k_partial.size(), true, ""}},
  };
}

std::map<std::string, Expected> build_datasets_downloads(const std::string& root, const std::string& outside) {
  const std::string hub =
      sha256_hex("https://huggingface.co/datasets/org/b/resolve/main/data/train%20a.parquet") + "." + sha256_hex("\"etag\"");
  write(root + "/" + hub, k_weights);
  write(root + "/" + hub + ".json",
        R"({"url": "https://huggingface.co/datasets/org/b/resolve/main/data/train%20a.parquet", "etag": "\"etag\""})");
  write(root + "/" + hub + ".lock", "");
  const std::string other = sha256_hex("https://example.com/w.bin");
  write(root + "/" + other, k_weights);  // the same bytes from elsewhere
  write(root + "/" + other + ".json", R"({"url": "https://example.com/w.bin", "etag": null})");
  const std::string part = sha256_hex("https://example.com/big.zip");
  write(root + "/" + part + ".incomplete", k_partial);
  write(root + "/" + part + ".json", R"({"url": "https://example.com/big.zip", "etag": null})");
  write(root + "/" + part + ".lock", "");
  write(root + "/extracted/" + other + "/file.txt", "unpacked");
  sfs::create_directory_symlink(outside, root + "/extracted/linked");
  return {
      {hub, {"dataset/org/b", "data/train a.parquet", k_weights.size(), false, ""}},
      {other, {"", "https://example.com/w.bin", k_weights.size(), false, ""}},
      {part + ".incomplete", {"", "https://example.com/big.zip", k_partial.size(), true, ""}},
      {"extracted/" + other + "/file.txt", {"", "extracted/" + other + "/file.txt", 8, false, ""}},
  };
}

void PrintTo(const StoreCase& c, std::ostream* os) { *os << c.label; }

const StoreCase k_cases[] = {
    {"HubCache", build_hub_cache, open_hub_cache, StoreKind::HubCache},
    {"Ollama", build_ollama, open_ollama, StoreKind::Ollama},
    {"ModelFolder", build_model_folder, open_model_folder, StoreKind::ModelFolder},
    {"LmStudio", build_lm_studio, open_lm_studio, StoreKind::LmStudio},
    {"LlamaCpp", build_llama_cpp, open_llama_cpp, StoreKind::LlamaCpp},
    {"DatasetsDownloads", build_datasets_downloads, open_datasets_downloads, StoreKind::DatasetsDownloads},
};

// Every entry below `root` with its mtime: a reader must leave all of it as it was.
std::map<std::string, std::int64_t> tree_state(const std::string& root) {
  std::map<std::string, std::int64_t> out;
  for (auto it = sfs::recursive_directory_iterator(root); it != sfs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    out[it->path().string()] = fs::mtime_ns(st);
  }
  return out;
}

class StoreConformance : public ::testing::TestWithParam<StoreCase> {
 protected:
  test::TempDir dir;
  std::string root = dir / "store";
  std::string outside = dir / "outside";
  void SetUp() override { write(outside + "/secret.gguf", "not part of the store"); }
};

TEST_P(StoreConformance, ListsExactlyTheFilesTheToolHoldsWithTheirFigures) {
  const auto expected = GetParam().build(root, outside);
  const auto before = tree_state(root);
  auto reader = GetParam().open(root);
  ASSERT_EQ(reader->kind(), GetParam().kind);
  EXPECT_EQ(reader->root(), root);
  auto listing = reader->list();
  ASSERT_TRUE(listing) << listing.error().message;
  EXPECT_EQ(listing->kind, GetParam().kind);
  EXPECT_EQ(listing->root, root);
  EXPECT_TRUE(listing->warnings.empty()) << listing->warnings.front();

  std::map<std::string, Expected> got;
  std::string previous;
  for (const auto& f : listing->files) {
    EXPECT_LT(previous, f.path) << "files are in path order";
    previous = f.path;
    ASSERT_EQ(f.path.rfind(root + "/", 0), 0u) << f.path << " is outside the store";
    got[f.path.substr(root.size() + 1)] = {f.model, f.name, f.size, f.partial, f.digest_hex};
    // The figures are the content's own.
    struct stat st {};
    ASSERT_EQ(::stat(f.path.c_str(), &st), 0) << f.path;
    EXPECT_EQ(f.size, static_cast<std::uint64_t>(st.st_size)) << f.path;
    EXPECT_EQ(f.disk_bytes, static_cast<std::uint64_t>(st.st_blocks) * 512u) << f.path;
    EXPECT_EQ(f.device, st.st_dev) << f.path;
    EXPECT_EQ(f.inode, st.st_ino) << f.path;
    EXPECT_EQ(f.links, st.st_nlink) << f.path;
    // A free identity is the truth about the bytes.
    if (f.digest == DigestKind::None) {
      EXPECT_EQ(f.digest_hex, "") << f.path;
    } else {
      auto bytes = fs::read_file(f.path);
      ASSERT_TRUE(bytes);
      EXPECT_EQ(f.digest_hex, f.digest == DigestKind::Sha256 ? sha256_hex(*bytes) : git_blob_sha1_hex(*bytes)) << f.path;
    }
  }
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [rel, e] : expected) {
    auto it = got.find(rel);
    ASSERT_NE(it, got.end()) << rel << " is not listed";
    EXPECT_EQ(it->second.model, e.model) << rel;
    EXPECT_EQ(it->second.name, e.name) << rel;
    EXPECT_EQ(it->second.size, e.size) << rel;
    EXPECT_EQ(it->second.partial, e.partial) << rel;
    EXPECT_EQ(it->second.digest_hex, e.digest_hex) << rel;
  }
  EXPECT_EQ(tree_state(root), before) << "a reader only reads";
}

TEST_P(StoreConformance, ABadRootIsAClearErrorNamingIt) {
  auto missing = GetParam().open(root)->list();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_NE(missing.error().message.find(root), std::string::npos) << missing.error().message;

  write(root, "a file");
  auto file = GetParam().open(root)->list();
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(file.error().message.find("not a folder"), std::string::npos) << file.error().message;

  const std::string link = dir / "link";
  sfs::create_directory_symlink(outside, link);
  auto linked = GetParam().open(link)->list();
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(linked.error().message.find("symlink"), std::string::npos) << linked.error().message;
}

INSTANTIATE_TEST_SUITE_P(Readers, StoreConformance, ::testing::ValuesIn(k_cases),
                         [](const auto& param_info) { return std::string(param_info.param.label); });

// ---- the Hub cache reader's own cases ----

TEST(HubCacheReader, FollowsTheSharedStoreAndListsCopiesAndLlamaCppPartials) {
  test::TempDir dir;
  const std::string root = dir / "hub";
  test::CacheBuilder cb(root);
  const RepoRef r{RepoType::Model, "org/x"};
  const std::string c = test::commit_id(2);
  cb.mark_shared_store();
  const std::string hash(64, 'a');
  const std::string etag = cb.add_shared_file(r, c, "w.gguf", "shared weights", hash);
  cb.write_raw("models--org--x/snapshots/" + c + "/copied.txt", "stored without symlinks");
  cb.write_raw("models--org--x/blobs/" + std::string(40, 'f') + ".downloadInProgress", "half");
  ::symlink("../../blobs/nowhere", (root + "/models--org--x/blobs/" + std::string(64, 'd')).c_str());
  ASSERT_EQ(::mkfifo((root + "/models--org--x/blobs/" + std::string(64, 'b')).c_str(), 0600), 0);  // never a model file
  auto listing = open_hub_cache(root)->list();
  ASSERT_TRUE(listing) << listing.error().message;
  std::map<std::string, StoredFile> by_rel;
  for (const auto& f : listing->files) by_rel[f.path.substr(root.size() + 1)] = f;
  ASSERT_EQ(by_rel.size(), 3u);
  const StoredFile& shared = by_rel.at("models--org--x/blobs/" + etag);
  EXPECT_TRUE(shared.linked);
  EXPECT_EQ(shared.name, "w.gguf");
  EXPECT_EQ(shared.size, 14u);
  struct stat payload {};
  ASSERT_EQ(::stat((root + "/blobs/aa/" + hash).c_str(), &payload), 0);
  EXPECT_EQ(shared.inode, payload.st_ino) << "the bytes are counted where they live";
  EXPECT_EQ(shared.digest, DigestKind::Sha256);
  const StoredFile& copy = by_rel.at("models--org--x/snapshots/" + c + "/copied.txt");
  EXPECT_EQ(copy.name, "copied.txt");
  EXPECT_EQ(copy.model, "model/org/x");
  EXPECT_EQ(copy.digest, DigestKind::None);
  EXPECT_TRUE(by_rel.at("models--org--x/blobs/" + std::string(40, 'f') + ".downloadInProgress").partial);
  ASSERT_EQ(listing->warnings.size(), 2u);
  EXPECT_NE(listing->warnings[0].find(std::string(64, 'b')), std::string::npos) << listing->warnings[0];
  EXPECT_NE(listing->warnings[0].find("not a regular file"), std::string::npos) << listing->warnings[0];
  EXPECT_NE(listing->warnings[1].find(std::string(64, 'd')), std::string::npos) << listing->warnings[1];
}

// ---- the Ollama reader's own cases ----

TEST(OllamaReader, ModelNamesAreThoseOllamaListShows) {
  EXPECT_EQ(ollama_model_name("registry.ollama.ai", "library", "llama3", "latest"), "llama3:latest");
  EXPECT_EQ(ollama_model_name("registry.ollama.ai", "me", "mine", "v1"), "me/mine:v1");
  EXPECT_EQ(ollama_model_name("hf.co", "org", "repo-GGUF", "Q4_K_M"), "hf.co/org/repo-GGUF:Q4_K_M");
}

TEST(OllamaReader, OddManifestsAndBlobNamesAreHandledAsOllamaDoes) {
  test::TempDir dir;
  const std::string root = dir / "models";
  const std::string w = sha256_hex("weights");
  // An old-style "sha256:" name (before v0.1.30), upper-case hex: still a digest, reported lower-case.
  std::string upper = w;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  write(root + "/blobs/sha256:" + upper, "weights");
  write(root + "/blobs/notes.gguf", "dropped here by hand");  // Ollama would prune it at start
  write(root + "/manifests/registry.ollama.ai/library/m/latest", "not json");
  write(root + "/manifests/registry.ollama.ai/library/too-shallow", ollama_manifest({{"x", w}}, w));
  auto listing = open_ollama(root)->list();
  ASSERT_TRUE(listing) << listing.error().message;
  ASSERT_EQ(listing->files.size(), 2u);
  const StoredFile& junk = listing->files[0];
  EXPECT_EQ(junk.path, root + "/blobs/notes.gguf");
  EXPECT_EQ(junk.digest, DigestKind::None);
  EXPECT_EQ(junk.model, "");
  const StoredFile& old = listing->files[1];
  EXPECT_EQ(old.digest_hex, w);
  EXPECT_EQ(old.model, "") << "the only manifest naming it is at the wrong depth";
  ASSERT_EQ(listing->warnings.size(), 1u);
  EXPECT_NE(listing->warnings[0].find("manifests/registry.ollama.ai/library/m/latest"), std::string::npos);
  EXPECT_NE(listing->warnings[0].find("not Ollama's manifest JSON"), std::string::npos) << listing->warnings[0];
}

TEST(OllamaReader, LayersWithoutTheirBlobAreDanglingNamesOfTheirModel) {
  test::TempDir dir;
  const std::string root = dir / "models";
  const std::string w = sha256_hex("weights"), gone = std::string(64, 'a'), linked = std::string(64, 'b');
  write(root + "/blobs/sha256-" + w, "weights");
  sfs::create_directories(root + "/blobs");
  sfs::create_symlink(dir / "deleted", root + "/blobs/sha256-" + linked);  // a link to a blob someone removed
  const std::string ok = root + "/manifests/registry.ollama.ai/library/ok/latest";
  const std::string broken = root + "/manifests/registry.ollama.ai/library/broken/latest";
  write(ok, ollama_manifest({{"application/vnd.ollama.image.model", w}}, w));
  write(broken,
        ollama_manifest({{"application/vnd.ollama.image.model", gone}, {"application/vnd.ollama.image.projector", linked}}, w));
  auto listing = open_ollama(root)->list();
  ASSERT_TRUE(listing) << listing.error().message;
  EXPECT_TRUE(listing->warnings.empty()) << listing->warnings.front();
  std::vector<std::tuple<std::string, std::string, std::string>> got;
  for (const auto& d : listing->dangling) got.emplace_back(d.path, d.model, d.missing);
  const std::vector<std::tuple<std::string, std::string, std::string>> want = {
      {root + "/blobs/sha256-" + linked, "broken:latest", dir / "deleted"},
      {broken, "broken:latest", root + "/blobs/sha256-" + gone},
      {broken, "broken:latest", root + "/blobs/sha256-" + linked},
  };
  EXPECT_EQ(got, want);
}

TEST(LmStudioReader, ALinkToRemovedBytesIsADanglingNameOfItsModel) {
  test::TempDir dir;
  const std::string root = dir / "models";
  write(root + "/org/ok-GGUF/m.gguf", "weights");
  sfs::create_directories(root + "/org/view-GGUF");
  sfs::create_symlink(dir / "hub/blobs/gone", root + "/org/view-GGUF/m.gguf");
  auto listing = open_lm_studio(root)->list();
  ASSERT_TRUE(listing) << listing.error().message;
  EXPECT_TRUE(listing->warnings.empty()) << listing->warnings.front();
  ASSERT_EQ(listing->files.size(), 1u);
  ASSERT_EQ(listing->dangling.size(), 1u);
  EXPECT_EQ(listing->dangling[0].path, root + "/org/view-GGUF/m.gguf");
  EXPECT_EQ(listing->dangling[0].model, "org/view-GGUF");
  EXPECT_EQ(listing->dangling[0].missing, dir / "hub/blobs/gone");
}

TEST(OllamaReader, AHardlinkedBlobSharesTheHubBlobsInode) {
  test::TempDir dir;
  const std::string hub = dir / "hub", models = dir / "models";
  test::CacheBuilder cb(hub);
  const std::string etag = cb.add_file({RepoType::Model, "org/g"}, test::commit_id(3), "m.gguf", "gguf bytes", true);
  sfs::create_directories(models + "/blobs");
  ASSERT_EQ(::link((hub + "/models--org--g/blobs/" + etag).c_str(), (models + "/blobs/sha256-" + etag).c_str()), 0);
  auto h = open_hub_cache(hub)->list();
  auto o = open_ollama(models)->list();
  ASSERT_TRUE(h && o);
  ASSERT_EQ(h->files.size(), 1u);
  ASSERT_EQ(o->files.size(), 1u);
  EXPECT_EQ(h->files[0].inode, o->files[0].inode);
  EXPECT_EQ(o->files[0].links, 2u);
  EXPECT_FALSE(o->files[0].linked) << "a hardlink is the file itself";
  EXPECT_EQ(h->files[0].digest_hex, o->files[0].digest_hex);
}

// ---- the Hub cache reader: payloads of the shared store nothing links to ----

TEST(HubCacheReader, ASharedPayloadNoRepoLinksToIsListedWithoutAModel) {
  test::TempDir dir;
  const std::string root = dir / "hub";
  test::CacheBuilder cb(root);
  cb.mark_shared_store();
  const std::string used(64, 'a'), orphan(64, 'c');
  cb.add_shared_file({RepoType::Model, "org/x"}, test::commit_id(2), "w.gguf", "shared weights", used);
  cb.write_raw("blobs/cc/" + orphan, "left behind by a deleted repo");
  cb.write_raw("blobs/cc/" + orphan + ".refs", "");
  auto listing = open_hub_cache(root)->list();
  ASSERT_TRUE(listing) << listing.error().message;
  ASSERT_EQ(listing->files.size(), 2u) << "the used payload is counted through its repo's link only";
  const StoredFile& left = listing->files[0];
  EXPECT_EQ(left.path, root + "/blobs/cc/" + orphan);
  EXPECT_EQ(left.model, "");
  EXPECT_EQ(left.size, 29u);
  EXPECT_EQ(left.digest, DigestKind::None) << "a Xet hash is not the SHA-256 of the bytes";
  EXPECT_EQ(listing->files[1].model, "model/org/x");
}

// ---- the model folder reader ----

TEST(ModelFolderReader, AnOldLocalDirSymlinkIntoTheCacheIsTheCacheBlob) {
  // huggingface_hub <= 0.22 left large files of a --local-dir as symlinks to the cache's blobs.
  test::TempDir dir;
  const std::string hub = dir / "hub", local = dir / "local";
  test::CacheBuilder cb(hub);
  const std::string etag = cb.add_file({RepoType::Model, "org/m"}, test::commit_id(3), "w.bin", k_weights, true);
  sfs::create_directories(local);
  sfs::create_symlink(hub + "/models--org--m/blobs/" + etag, local + "/w.bin");
  write_record(local, "w.bin", etag, true);
  auto listing = open_model_folder(local)->list();
  ASSERT_TRUE(listing) << listing.error().message;
  ASSERT_EQ(listing->files.size(), 1u);
  EXPECT_TRUE(listing->files[0].linked);
  struct stat st {};
  ASSERT_EQ(::stat((hub + "/models--org--m/blobs/" + etag).c_str(), &st), 0);
  EXPECT_EQ(listing->files[0].inode, st.st_ino);
  EXPECT_EQ(listing->files[0].digest_hex, etag) << "the record is judged by the target's mtime, as Python's stat() does";
}

TEST(ModelFolderReader, AnUnparseableRecordGivesNoIdentityAndIsLeftAlone) {
  test::TempDir dir;
  const std::string local = dir / "local";
  write(local + "/w.bin", "bytes");
  write(LocalDirLayout(local).metadata_path("w.bin"), "not a record");
  auto listing = open_model_folder(local)->list();
  ASSERT_TRUE(listing) << listing.error().message;
  ASSERT_EQ(listing->files.size(), 1u);
  EXPECT_EQ(listing->files[0].digest, DigestKind::None);
  EXPECT_TRUE(sfs::exists(LocalDirLayout(local).metadata_path("w.bin"))) << "Python deletes it; a reader does not";
}

// ---- the llama.cpp reader ----

TEST(LlamaCppReader, AManifestThatIsNotJsonIsAWarningAndItsFilesAreStillListed) {
  test::TempDir dir;
  const std::string root = dir / "llama";
  write(root + "/manifest=org=a=latest.json", "{ truncated");
  write(root + "/org_a_a.gguf", "gguf");
  auto listing = open_llama_cpp(root)->list();
  ASSERT_TRUE(listing) << listing.error().message;
  ASSERT_EQ(listing->files.size(), 1u);
  EXPECT_EQ(listing->files[0].model, "");
  ASSERT_EQ(listing->warnings.size(), 1u);
  EXPECT_NE(listing->warnings[0].find("manifest=org=a=latest.json"), std::string::npos) << listing->warnings[0];
}

// ---- the datasets downloads reader ----

TEST(DatasetsReader, HubUrlsOfEveryShapeNameTheirRepo) {
  test::TempDir dir;
  const std::string root = dir / "downloads";
  const std::vector<std::pair<std::string, std::pair<std::string, std::string>>> urls = {
      {"https://huggingface.co/datasets/squad/resolve/main/plain_text/train.json", {"dataset/squad", "plain_text/train.json"}},
      {"https://hf-mirror.com/org/m/resolve/0123abc/w.bin?download=true", {"model/org/m", "w.bin"}},
      {"https://huggingface.co/datasets/org/d/resolve/refs%2Fconvert%2Fparquet/default/0.parquet",
       {"dataset/org/d", "default/0.parquet"}},
      {"https://huggingface.co/org/m/blob/main/w.bin", {"", "https://huggingface.co/org/m/blob/main/w.bin"}},
  };
  std::map<std::string, std::pair<std::string, std::string>> expected;
  for (const auto& [url, want] : urls) {
    const std::string name = sha256_hex(url);
    write(root + "/" + name, url);
    write(root + "/" + name + ".json", nlohmann::json{{"url", url}, {"etag", nullptr}}.dump());
    expected[root + "/" + name] = want;
  }
  auto listing = open_datasets_downloads(root)->list();
  ASSERT_TRUE(listing) << listing.error().message;
  ASSERT_EQ(listing->files.size(), urls.size());
  for (const auto& f : listing->files) EXPECT_EQ(std::make_pair(f.model, f.name), expected.at(f.path)) << f.path;
}

// ---- where the stores are, and what a folder is ----

TEST(StoreLocations, LmStudioHomeFollowsThePointerThenTheLegacyThenTheDefault) {
  test::TempDir dir;
  const std::string home = dir / "home";
  sfs::create_directories(home);
  EXPECT_EQ(lm_studio_models_folder(home), home + "/.lmstudio/models");
  sfs::create_directories(home + "/.cache/lm-studio");
  EXPECT_EQ(lm_studio_models_folder(home), home + "/.cache/lm-studio/models");
  write(home + "/.lmstudio-home-pointer", dir / "elsewhere" + "\n");
  EXPECT_EQ(lm_studio_models_folder(home), dir / "elsewhere" + "/models");
  write(dir / "elsewhere" + "/settings.json", R"({"downloadsFolder":"/mnt/big/models"})");
  EXPECT_EQ(lm_studio_models_folder(home), "/mnt/big/models");
  EXPECT_EQ(lm_studio_models_folder(""), "");
}

TEST(StoreLocations, LlamaCppAndDatasetsFollowTheirToolsVariables) {
  EXPECT_EQ(llama_cpp_cache_folder("/l", "/x", "/h"), "/l");
  EXPECT_EQ(llama_cpp_cache_folder("", "/x", "/h"), "/x/llama.cpp");
  EXPECT_EQ(llama_cpp_cache_folder("", "", "/h"), "/h/.cache/llama.cpp");
  EXPECT_EQ(llama_cpp_cache_folder("", "", ""), "");
  EXPECT_EQ(datasets_downloads_folder("/d", "/hf"), "/d/downloads");
  EXPECT_EQ(datasets_downloads_folder("", "/hf"), "/hf/datasets/downloads");
  EXPECT_EQ(datasets_downloads_folder("", ""), "");
}

TEST(DetectStores, EachLayoutIsKnownAndAFolderCanBeTwo) {
  test::TempDir dir;
  const std::string outside = dir / "outside";
  write(outside + "/x", "x");
  auto kinds_of = [](const std::string& path) {
    auto k = detect_stores(path);
    return k ? *k : std::vector<StoreKind>{};
  };
  build_hub_cache(dir / "hub", outside);
  EXPECT_EQ(kinds_of(dir / "hub"), std::vector{StoreKind::HubCache});
  build_ollama(dir / "ollama", outside);
  EXPECT_EQ(kinds_of(dir / "ollama"), std::vector{StoreKind::Ollama});
  build_llama_cpp(dir / "llama", outside);  // legacy files beside the Hub layout
  EXPECT_EQ(kinds_of(dir / "llama"), (std::vector{StoreKind::HubCache, StoreKind::LlamaCpp}));
  build_datasets_downloads(dir / "downloads", outside);
  EXPECT_EQ(kinds_of(dir / "downloads"), std::vector{StoreKind::DatasetsDownloads});
  build_lm_studio(dir / "lms/models", outside);
  sfs::create_directories(dir / "lms/.internal");
  EXPECT_EQ(kinds_of(dir / "lms/models"), std::vector{StoreKind::LmStudio});
  build_model_folder(dir / "local", outside);
  EXPECT_EQ(kinds_of(dir / "local"), std::vector{StoreKind::ModelFolder});
  write(dir / "clone/config.json", "{}");
  EXPECT_EQ(kinds_of(dir / "clone"), std::vector{StoreKind::ModelFolder});

  sfs::create_directories(dir / "plain");
  write(dir / "plain/notes.txt", "x");
  auto none = detect_stores(dir / "plain");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(none.error().message.find(dir / "plain"), std::string::npos);
  EXPECT_NE(none.error().message.find("not a model store"), std::string::npos) << none.error().message;
  auto missing = detect_stores(dir / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
}

}  // namespace
}  // namespace hubcache::stores

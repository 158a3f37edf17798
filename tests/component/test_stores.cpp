// The store readers, one conformance suite: every reader runs the same checks on a store the test
// builds the way its tool writes it (two models sharing a file's bytes without a link, a partial
// download, a file outside the store reached through a symlinked folder), then each reader's own
// cases.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cache_builder.hpp"
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

void PrintTo(const StoreCase& c, std::ostream* os) { *os << c.label; }

const StoreCase k_cases[] = {
    {"HubCache", build_hub_cache, open_hub_cache, StoreKind::HubCache},
    {"Ollama", build_ollama, open_ollama, StoreKind::Ollama},
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

}  // namespace
}  // namespace hubcache::stores

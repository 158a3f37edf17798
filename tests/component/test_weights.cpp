// Tensor views (weights/weights.hpp) over real files on disk: a sharded safetensors folder, a
// GGUF file, a model in a Hub cache resolved offline, and files that must be refused.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "cache_builder.hpp"
#include "hubcache/cache/store.hpp"
#include "hubcache/util/hash.hpp"
#include "hubcache/weights/weights.hpp"
#include "model_writer.hpp"
#include "temp_dir.hpp"

namespace hubcache::weights {
namespace {

using test::FakeTensor;

const std::vector<FakeTensor> k_shard1 = {{"model.embed.weight", "BF16", {16, 8}}, {"model.norm.weight", "F32", {8}}};
const std::vector<FakeTensor> k_shard2 = {{"lm_head.weight", "F16", {16, 8}}, {"model.layers.0.q.weight", "BF16", {8, 8}}};

void write_sharded(const std::string& dir) {
  test::write_safetensors(dir + "/model-00001-of-00002.safetensors", k_shard1);
  test::write_safetensors(dir + "/model-00002-of-00002.safetensors", k_shard2);
  std::string map;
  for (const auto& t : k_shard1) map += (map.empty() ? "" : ",") + ("\"" + t.name + "\":\"model-00001-of-00002.safetensors\"");
  for (const auto& t : k_shard2) map += "," + ("\"" + t.name + "\":\"model-00002-of-00002.safetensors\"");
  test::write_file(dir + "/model.safetensors.index.json", "{\"metadata\":{},\"weight_map\":{" + map + "}}");
  test::write_file(dir + "/config.json", "{\"model_type\":\"llama\"}");
}

void expect_bytes(const TensorView& v, const FakeTensor& t) {
  ASSERT_EQ(v.bytes().size(), test::fake_tensor_bytes(t)) << t.name;
  for (std::size_t i = 0; i < v.bytes().size(); ++i)
    ASSERT_EQ(static_cast<std::uint8_t>(v.bytes()[i]), test::fake_tensor_byte(t.name, i)) << t.name << " byte " << i;
}

TEST(Weights, ShardedFolderGivesViewsOfTheRightBytes) {
  test::TempDir tmp;
  write_sharded(tmp.path());
  auto w = Weights::open_folder(tmp.path());
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->files().size(), 2u);
  EXPECT_EQ(w->tensors().size(), 4u);
  std::uint64_t params = 0, bytes = 0;
  for (const auto& group : {k_shard1, k_shard2})
    for (const auto& t : group) {
      const TensorView* v = w->find(t.name);
      ASSERT_NE(v, nullptr) << t.name;
      EXPECT_EQ(v->dtype(), t.dtype);
      EXPECT_EQ(v->shape(), t.shape);
      expect_bytes(*v, t);
      v->prefetch();
      params += v->info->elements();
      bytes += v->info->length;
    }
  EXPECT_EQ(w->parameter_count(), params);
  EXPECT_EQ(w->tensor_bytes(), bytes);
  EXPECT_EQ(w->find("nope"), nullptr);
  // The copying path reads the same bytes, from any offset; a range outside the tensor is refused.
  const TensorView* q = w->find("model.layers.0.q.weight");
  std::vector<std::byte> copy(q->info->length - 3);
  ASSERT_TRUE(q->read(3, copy));
  EXPECT_EQ(std::memcmp(copy.data(), q->data + 3, copy.size()), 0);
  std::vector<std::byte> too_long(q->info->length);
  auto outside = q->read(1, too_long);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, ErrorCode::InvalidArgument);
  // Views survive a move of the Weights.
  Weights moved = std::move(*w);
  expect_bytes(*moved.find("lm_head.weight"), k_shard2[0]);
}

TEST(Weights, GgufFileGivesViewsAndItsHeader) {
  test::TempDir tmp;
  const std::vector<FakeTensor> tensors = {{"token_embd.weight", "Q4_K", {256, 2}}, {"output_norm.weight", "F32", {16}}};
  test::write_gguf(tmp / "m-Q4_K_M.gguf", {{"general.architecture", std::string("llama")}}, tensors);
  auto w = Weights::open_folder(tmp.path());
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_EQ(w->files().size(), 1u);
  EXPECT_EQ(w->files()[0].format, FileFormat::Gguf);
  ASSERT_TRUE(w->files()[0].gguf);
  EXPECT_EQ(w->files()[0].gguf->string_value("general.architecture"), "llama");
  for (const auto& t : tensors) expect_bytes(*w->find(t.name), t);
}

TEST(Weights, OpensAModelFromTheCacheOfflineByRepoId) {
  test::TempDir tmp;
  const std::string src = tmp / "src";
  write_sharded(src);
  test::CacheBuilder cache(tmp / "hub");
  const RepoRef repo{RepoType::Model, "org/tiny"};
  const std::string commit = test::commit_id(1);
  for (const auto& entry : std::filesystem::directory_iterator(src)) {
    const std::string name = entry.path().filename().string();
    cache.add_file(repo, commit, name, test::read_file(entry.path().string()), name.ends_with(".safetensors"));
  }
  cache.add_ref(repo, "main", commit);
  ModelOpenOptions options;
  options.cache_dir = cache.root();
  auto w = Weights::open_model("org/tiny", options);
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->tensors().size(), 4u);
  expect_bytes(*w->find("model.norm.weight"), k_shard1[1]);
  EXPECT_NE(w->files()[0].path.find("/snapshots/" + commit + "/"), std::string::npos);

  auto missing = Weights::open_model("org/absent", options);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::LocalEntryNotFound);
}

TEST(Weights, RefusesWhatCannotBeLoadedAndNamesIt) {
  test::TempDir tmp;
  // A shard the index names is missing.
  write_sharded(tmp / "a");
  std::filesystem::remove(tmp / "a/model-00002-of-00002.safetensors");
  auto a = Weights::open_folder(tmp / "a");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, ErrorCode::NotFound);
  EXPECT_EQ(a.error().missing, std::vector<std::string>{"model-00002-of-00002.safetensors"});

  // Two files holding a tensor of one name (two GGUF variants side by side).
  test::write_gguf(tmp / "b/m-Q8_0.gguf", {}, {{"t", "Q8_0", {32}}});
  test::write_gguf(tmp / "b/m-Q4_0.gguf", {}, {{"t", "Q4_0", {32}}});
  auto b = Weights::open_folder(tmp / "b");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::Integrity);
  EXPECT_NE(b.error().message.find("in both"), std::string::npos);
  EXPECT_TRUE(Weights::open_files({tmp / "b/m-Q8_0.gguf"}));

  // A hostile header: a tensor claims bytes past the end of the file.
  std::string evil = test::safetensors_bytes({{"x", "F32", {4}}});
  evil.resize(evil.size() - 4);
  test::write_file(tmp / "c/model.safetensors", evil);
  auto c = Weights::open_folder(tmp / "c");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::Integrity);
  EXPECT_NE(c.error().message.find(tmp / "c/model.safetensors"), std::string::npos);
  EXPECT_NE(c.error().message.find("at byte"), std::string::npos);

  // No weights at all; not a folder.
  test::write_file(tmp / "d/config.json", "{}");
  auto d = Weights::open_folder(tmp / "d");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, ErrorCode::NotFound);
  EXPECT_EQ(Weights::open_folder(tmp / "d/config.json").error().code, ErrorCode::NotADirectory);
  EXPECT_EQ(Weights::open_files({tmp / "none.safetensors"}).error().code, ErrorCode::NotFound);
  EXPECT_EQ(Weights::open_files({}).error().code, ErrorCode::InvalidArgument);
}

TEST(Weights, NamesWhatIsWrongWithOneFileWithoutBlocking) {
  test::TempDir tmp;
  // A FIFO named like a weight file is refused at once (an open without O_NONBLOCK would wait).
  std::filesystem::create_directories(tmp / "fifo");
  ASSERT_EQ(::mkfifo((tmp / "fifo/model.safetensors").c_str(), 0600), 0);
  auto fifo = Weights::open_folder(tmp / "fifo");
  ASSERT_FALSE(fifo);
  EXPECT_NE(fifo.error().message.find("not a regular file"), std::string::npos) << fifo.error().message;

  // A damaged .gguf file gets the GGUF reader's error, not the safetensors one.
  test::write_file(tmp / "g/m.gguf", "GGML and more bytes than eight");
  auto g = Weights::open_folder(tmp / "g");
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find("not a valid GGUF file"), std::string::npos) << g.error().message;

  // A dangling link is named, not blamed on the folder.
  std::filesystem::create_directories(tmp / "d");
  std::filesystem::create_symlink("../blobs/gone", tmp / "d/model-00001-of-00001.safetensors");
  auto d = Weights::open_folder(tmp / "d");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, ErrorCode::NotFound);
  EXPECT_NE(d.error().message.find("model-00001-of-00001.safetensors: a link to a missing file"), std::string::npos)
      << d.error().message;
}

TEST(Weights, OpensASnapshotDownloadedInPartWhenItsWeightsAreThere) {
  test::TempDir tmp;
  test::CacheBuilder cache(tmp / "hub");
  const RepoRef repo{RepoType::Model, "org/partial"};
  const std::string commit = test::commit_id(2);
  const std::string weights = test::safetensors_bytes(k_shard1);
  cache.add_file(repo, commit, "model.safetensors", weights, true);
  cache.add_file(repo, commit, "config.json", "{}");
  cache.add_ref(repo, "main", commit);
  // The commit's tree also holds files a `download --for transformers` leaves out.
  std::vector<TreeFileEntry> tree;
  for (const char* p : {"model.safetensors", "config.json", "pytorch_model.bin", "onnx/model.onnx"})
    tree.push_back(TreeFileEntry{p, 1, std::string(40, 'a'), std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(write_tree_file(cache.layout(repo), commit, tree));
  ModelOpenOptions options;
  options.cache_dir = cache.root();
  auto w = Weights::open_model("org/partial", options);
  ASSERT_TRUE(w) << w.error().message;
  expect_bytes(*w->find("model.norm.weight"), k_shard1[1]);

  // Without its weights, the snapshot's own error says what is missing.
  std::filesystem::remove(cache.layout(repo).pointer_path(commit, "model.safetensors"));
  auto none = Weights::open_model("org/partial", options);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::IncompleteSnapshot);
  EXPECT_NE(std::find(none.error().missing.begin(), none.error().missing.end(), "model.safetensors"), none.error().missing.end());
}

TEST(Weights, SubfolderOpensADiffusersComponent) {
  test::TempDir tmp;
  test::write_safetensors(tmp / "unet/diffusion_pytorch_model.safetensors", k_shard1);
  test::write_safetensors(tmp / "unet/diffusion_pytorch_model.fp16.safetensors", k_shard1);
  OpenOptions options;
  options.subfolder = "unet";
  auto w = Weights::open_folder(tmp.path(), options);
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_EQ(w->files().size(), 1u);  // the default variant only, as diffusers loads it
  EXPECT_TRUE(w->files()[0].path.ends_with("unet/diffusion_pytorch_model.safetensors"));
}

}  // namespace
}  // namespace hubcache::weights

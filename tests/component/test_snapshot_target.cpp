// SnapshotRequest::target and with_base (model-aware downloads) through the C++ API, against the
// test server: the target's selection and left_out, the patterns on top, offline reuse, bases.
#include "download_fixture.hpp"
#include "hubcache/cache/store.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const RepoRef k_multi{RepoType::Model, "org/multi"};
const RepoRef k_lora{RepoType::Model, "org/lora"};

struct TargetFixture : DownloadFixture {
  void SetUp() override {
    DownloadFixture::SetUp();
    server.add_file(k_multi, c1, "config.json", "{}");
    server.add_file(k_multi, c1, "tokenizer.json", "{}");
    server.add_file(k_multi, c1, "model.safetensors.index.json",
                    R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})");
    server.add_file(k_multi, c1, "model-00001-of-00002.safetensors", std::string(2000, 'a'), true);
    server.add_file(k_multi, c1, "model-00002-of-00002.safetensors", std::string(1000, 'b'), true);
    server.add_file(k_multi, c1, "pytorch_model.bin", std::string(3000, 'p'), true);
    server.add_file(k_multi, c1, "tf_model.h5", std::string(3000, 't'), true);
    server.add_file(k_multi, c1, "onnx/model.onnx", std::string(3000, 'o'), true);
    server.set_ref(k_multi, "main", c1);
    server.add_file(k_lora, c2, "adapter_config.json", R"({"base_model_name_or_path": "org/multi"})");
    server.add_file(k_lora, c2, "adapter_model.safetensors", std::string(500, 'l'), true);
    server.set_ref(k_lora, "main", c2);
  }
  SnapshotRequest request(const RepoRef& repo, std::string_view target) {
    SnapshotRequest r;
    r.repo_id = repo.id;
    r.target = *model::ModelTarget::parse(target);
    return r;
  }
};

std::vector<std::string> paths(const SnapshotResult& r) {
  std::vector<std::string> out;
  for (const auto& f : r.files) out.push_back(f.path);
  return out;
}
std::vector<std::string> left_paths(const SnapshotResult& r) {
  std::vector<std::string> out;
  for (const auto& f : r.left_out) out.push_back(f.path);
  return out;
}

}  // namespace

TEST_F(TargetFixture, TargetSelectsAndReportsLeftOutWithSizes) {
  std::vector<DownloadEvent> plans;
  auto o = options();
  o.progress = [&](const DownloadEvent& e) {
    if (e.kind == DownloadEvent::Kind::Plan) plans.push_back(e);
  };
  Downloader d(o);
  auto r = d.snapshot_download(request(k_multi, "transformers"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(paths(*r),
            (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                      "model.safetensors.index.json", "tokenizer.json"}));
  EXPECT_EQ(left_paths(*r), (std::vector<std::string>{"onnx/model.onnx", "pytorch_model.bin", "tf_model.h5"}));
  EXPECT_EQ(r->left_out[1].size, 3000u);
  EXPECT_NE(r->left_out[1].reason.find("loads the model.safetensors shards"), std::string::npos) << r->left_out[1].reason;
  EXPECT_EQ(r->repo_files, 8u);
  EXPECT_FALSE(exists(r->path + "/pytorch_model.bin"));
  EXPECT_TRUE(exists(r->path + "/model-00002-of-00002.safetensors"));
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].left_out.size(), 3u);
  EXPECT_EQ(plans[0].files_total, 5u);

  // Offline afterwards: the trees record decides, and only the target's files must be cached.
  auto off = options();
  off.offline = true;
  Downloader offline(off);
  auto cached = offline.snapshot_download(request(k_multi, "transformers"));
  ASSERT_TRUE(cached) << cached.error().message;
  EXPECT_TRUE(cached->from_cache_only);
  EXPECT_EQ(paths(*cached), paths(*r));
  EXPECT_EQ(left_paths(*cached), left_paths(*r));
}

TEST_F(TargetFixture, PatternsApplyOnTopOfTheTarget) {
  Downloader d(options());
  auto req = request(k_multi, "transformers");
  req.ignore_patterns = {"tokenizer*", "onnx/*"};
  req.dry_run = true;
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                                 "model-00002-of-00002.safetensors", "model.safetensors.index.json"}));
  // What the patterns exclude is theirs to explain: left_out holds the target's verdicts only.
  EXPECT_EQ(left_paths(*r), (std::vector<std::string>{"pytorch_model.bin", "tf_model.h5"}));
  EXPECT_FALSE(exists(cache + "/models--org--multi"));
}

TEST_F(TargetFixture, PatternsLeavingOutEveryChosenWeightFileWarn) {
  Downloader d(options());
  auto req = request(k_multi, "transformers");
  req.ignore_patterns = {"*.safetensors"};
  req.dry_run = true;
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0],
            "no weights will be downloaded: the include/exclude patterns leave out every weight file the target transformers "
            "chose (model-00001-of-00002.safetensors, model-00002-of-00002.safetensors)");
  req.ignore_patterns = {"model-00002*"};
  auto some = d.snapshot_download(req);
  ASSERT_TRUE(some) << some.error().message;
  EXPECT_TRUE(some->warnings.empty());
}

TEST_F(TargetFixture, NothingToLoadIsNotFoundNamingTheRepo) {
  Downloader d(options());
  auto r = d.snapshot_download(request(k_multi, "gguf"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().message.find("--for gguf: model 'org/multi'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("no .gguf file"), std::string::npos) << r.error().message;
}

TEST_F(TargetFixture, WithBaseDownloadsTheBaseWithTheSameTarget) {
  Downloader d(options());
  auto req = request(k_lora, "transformers");
  req.with_base = true;
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{"adapter_config.json", "adapter_model.safetensors"}));
  ASSERT_EQ(r->bases.size(), 1u);
  EXPECT_EQ(r->bases[0].repo_id, "org/multi");
  EXPECT_EQ(r->bases[0].adapter_repo_id, "org/lora");
  EXPECT_EQ(r->bases[0].snapshot.path, layout(k_multi).snapshot_dir(c1));
  EXPECT_EQ(r->bases[0].snapshot.files.size(), 5u);
  EXPECT_EQ(r->bases[0].snapshot.left_out.size(), 3u);
  EXPECT_TRUE(exists(layout(k_multi).snapshot_dir(c1) + "/model-00001-of-00002.safetensors"));
  EXPECT_FALSE(exists(layout(k_multi).snapshot_dir(c1) + "/pytorch_model.bin"));
}

TEST_F(TargetFixture, DiffusersReadsModelIndexJsonForItsComponents) {
  const RepoRef sd{RepoType::Model, "org/pipe"};
  const std::string c3 = commit_id(12);
  server.add_file(sd, c3, "model_index.json",
                  R"({"_class_name": "P", "unet": ["diffusers", "UNet2DConditionModel"], "safety_checker": [null, null]})");
  server.add_file(sd, c3, "unet/config.json", "{}");
  server.add_file(sd, c3, "unet/diffusion_pytorch_model.safetensors", std::string(100, 'u'), true);
  server.add_file(sd, c3, "safety_checker/config.json", "{}");
  server.add_file(sd, c3, "safety_checker/model.safetensors", std::string(100, 's'), true);
  server.set_ref(sd, "main", c3);
  Downloader d(options());
  auto req = request(sd, "diffusers");
  req.dry_run = true;
  auto r = d.snapshot_download(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(paths(*r),
            (std::vector<std::string>{"model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors"}));
  EXPECT_EQ(left_paths(*r), (std::vector<std::string>{"safety_checker/config.json", "safety_checker/model.safetensors"}));
  EXPECT_FALSE(exists(cache + "/models--org--pipe"));
  // Downloaded, then offline: model_index.json is read from the snapshot.
  req.dry_run = false;
  ASSERT_TRUE(d.snapshot_download(req));
  req.local_files_only = true;
  auto off = d.snapshot_download(req);
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(left_paths(*off), (std::vector<std::string>{"safety_checker/config.json", "safety_checker/model.safetensors"}));
}

// A re-sharded checkpoint: the index names new, irregularly named shards (one in a folder) and the
// old ones are still in the repo. The index decides, online and offline; a wrong name-based guess
// would fetch the stale 3000 bytes and miss the new ones.
TEST_F(TargetFixture, TheIndexNamesTheShardsOnlineAndOffline) {
  const RepoRef re{RepoType::Model, "org/resharded"};
  const std::string c3 = commit_id(13);
  server.add_file(re, c3, "config.json", "{}");
  server.add_file(re, c3, "model.safetensors.index.json",
                  R"({"metadata": {"total_size": 900}, "weight_map": {"a": "part-a.safetensors", "b": "w/part-b.safetensors",
                      "c": "part-a.safetensors"}})");
  server.add_file(re, c3, "model-00001-of-00002.safetensors", std::string(2000, 'o'), true);
  server.add_file(re, c3, "model-00002-of-00002.safetensors", std::string(1000, 'o'), true);
  server.add_file(re, c3, "part-a.safetensors", std::string(600, 'a'), true);
  server.add_file(re, c3, "w/part-b.safetensors", std::string(300, 'b'), true);
  server.set_ref(re, "main", c3);
  const std::vector<std::string> want{"config.json", "model.safetensors.index.json", "part-a.safetensors",
                                      "w/part-b.safetensors"};
  Downloader d(options());
  auto r = d.snapshot_download(request(re, "transformers"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(paths(*r), want);
  EXPECT_EQ(left_paths(*r), (std::vector<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}));
  EXPECT_EQ(r->left_out[0].reason, "shard not named by model.safetensors.index.json: from_pretrained does not load it");
  EXPECT_TRUE(r->warnings.empty()) << r->warnings.front();
  EXPECT_EQ(read_file(r->path + "/w/part-b.safetensors"), std::string(300, 'b'));
  EXPECT_FALSE(exists(r->path + "/model-00001-of-00002.safetensors"));

  // Offline: the cached index decides, and the stale shards, never fetched, are not missed.
  auto off = options();
  off.offline = true;
  Downloader offline(off);
  auto cached = offline.snapshot_download(request(re, "transformers"));
  ASSERT_TRUE(cached) << cached.error().message;
  EXPECT_TRUE(cached->from_cache_only);
  EXPECT_EQ(paths(*cached), want);
  EXPECT_TRUE(cached->warnings.empty()) << cached->warnings.front();
}

// An index naming a shard the repo lacks: nothing is written and the error names the repo, the
// index and the missing shard (from_pretrained would fail on it after fetching the rest).
TEST_F(TargetFixture, AnIndexNamingAMissingShardFailsBeforeAnyDownload) {
  const RepoRef broken{RepoType::Model, "org/broken"};
  const std::string c3 = commit_id(14);
  server.add_file(broken, c3, "config.json", "{}");
  server.add_file(broken, c3, "model.safetensors.index.json",
                  R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})");
  server.add_file(broken, c3, "model-00001-of-00002.safetensors", std::string(2000, 'a'), true);
  server.set_ref(broken, "main", c3);
  Downloader d(options());
  auto r = d.snapshot_download(request(broken, "transformers"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().message.find("org/broken"), std::string::npos) << r.error().message;
  EXPECT_NE(
      r.error().message.find("model.safetensors.index.json names a shard the repo lacks (model-00002-of-00002.safetensors)"),
      std::string::npos)
      << r.error().message;
  EXPECT_FALSE(exists(cache + "/models--org--broken/snapshots/" + c3 + "/model-00001-of-00002.safetensors"));
}

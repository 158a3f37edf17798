// inspect: generated models in a folder, in a cache, and on the test hub in real-Hub mode (LFS
// files behind a 302 to a CDN on another origin): the same answers everywhere, and over HTTP
// only header bytes, counted at the server.
#include "hubcache/inspect/inspect.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>

#include "inspect_models.hpp"
#include "temp_dir.hpp"

using namespace hubcache;
using namespace hubcache::test;

namespace {

const std::string k_commit = commit_id(7);

struct Repo {
  TempDir dir;
  RepoFiles files;
  RepoRef ref{RepoType::Model, "org/model"};
  HubServer hub;

  explicit Repo(RepoFiles f) : files(std::move(f)) {
    CacheBuilder cache(dir / "cache");
    for (const auto& [path, bytes] : files) {
      write_file(dir / ("folder/" + path), bytes);
      cache.add_file(ref, k_commit, path, bytes, is_lfs(path));
      hub.add_file(ref, k_commit, path, bytes, is_lfs(path));
    }
    cache.add_ref(ref, "main", k_commit);
    hub.set_ref(ref, "main", k_commit);
    hub.set_real_hub({});
  }
  std::string folder() { return dir / "folder"; }
  inspect::ModelReport local() {
    auto r = inspect::inspect_local(folder(), {});
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : inspect::ModelReport{};
  }
  inspect::ModelReport cached() {
    inspect::LocalOptions o;
    o.cache_dir = dir / "cache";
    auto r = inspect::inspect_local(ref.id, o);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : inspect::ModelReport{};
  }
  inspect::ModelReport remote() {
    hub::HubOptions o;
    o.endpoint = hub.endpoint();
    hub::HubApi api(o, std::make_shared<http::Client>());
    auto r = inspect::inspect_remote(api, ref, "main");
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : inspect::ModelReport{};
  }
  // Body bytes the server sent in answers (200, 206) to everything but the API (repo info, tree
  // listing); redirects' short bodies ("Found. Redirecting to ...") are left out.
  std::uint64_t served_file_bytes() {
    std::uint64_t n = 0;
    for (const auto& q : hub.requests())
      if (q.path.find("/api/models/") != 0 && (q.status == 200 || q.status == 206)) n += q.body_bytes;
    return n;
  }
};

void expect_same(const inspect::ModelReport& a, const inspect::ModelReport& b) {
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.parameters_by_dtype, b.parameters_by_dtype);
  EXPECT_EQ(a.tensor_count, b.tensor_count);
  EXPECT_EQ(a.memory.as_stored, b.memory.as_stored);
  EXPECT_EQ(a.context_length, b.context_length);
  EXPECT_EQ(a.file_bytes, b.file_bytes);
  EXPECT_EQ(a.basis, b.basis);
  EXPECT_EQ(a.tokenizer_files, b.tokenizer_files);
  EXPECT_EQ(a.chat_template, b.chat_template);
  EXPECT_EQ(a.license, b.license);
  EXPECT_EQ(a.needs_trust_remote_code, b.needs_trust_remote_code);
  EXPECT_EQ(a.transformers_loads, b.transformers_loads);
  EXPECT_EQ(a.needless_bytes, b.needless_bytes);
  EXPECT_EQ(a.needless_for, b.needless_for);
  EXPECT_EQ(a.generation_defaults, b.generation_defaults);
  ASSERT_EQ(a.weights.size(), b.weights.size());
  for (std::size_t i = 0; i < a.weights.size(); ++i) {
    EXPECT_EQ(a.weights[i].path, b.weights[i].path);
    EXPECT_EQ(a.weights[i].header_bytes, b.weights[i].header_bytes);
    ASSERT_EQ(a.weights[i].tensors.size(), b.weights[i].tensors.size());
    for (std::size_t t = 0; t < a.weights[i].tensors.size(); ++t) {
      EXPECT_EQ(a.weights[i].tensors[t].name, b.weights[i].tensors[t].name);
      EXPECT_EQ(a.weights[i].tensors[t].dtype, b.weights[i].tensors[t].dtype);
      EXPECT_EQ(a.weights[i].tensors[t].shape, b.weights[i].tensors[t].shape);
      EXPECT_EQ(a.weights[i].tensors[t].offset, b.weights[i].tensors[t].offset);
    }
  }
  ASSERT_EQ(a.findings.size(), b.findings.size());
  for (std::size_t i = 0; i < a.findings.size(); ++i) EXPECT_EQ(a.findings[i].file, b.findings[i].file);
}

// The JSON files a remote inspect reads whole.
std::uint64_t json_bytes(const RepoFiles& files) {
  std::uint64_t n = 0;
  for (const auto& [p, b] : files)
    if (p == "config.json" || p == "generation_config.json" || p == "tokenizer_config.json" || p == "adapter_config.json" ||
        p == "chat_template.json" || p == "README.md" || p.ends_with(".safetensors.index.json"))
      n += b.size();
  return n;
}

// 8 + N of a safetensors file's bytes.
std::uint64_t st_header(const std::string& bytes) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  return 8 + n;
}

}  // namespace

TEST(Inspect, SingleSafetensorsEverywhereTheSame) {
  Repo repo(single_model());
  const auto r = repo.local();
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->model_type, "llama");
  EXPECT_EQ(r.config->architectures, std::vector<std::string>{"LlamaForCausalLM"});
  EXPECT_EQ(r.context_length, 4096u);
  // embed 64x32 BF16, q 32x32 F16, norm 32 F32.
  EXPECT_EQ(r.parameters, 64u * 32 + 32 * 32 + 32);
  EXPECT_EQ(r.parameters_by_dtype, (std::map<std::string, std::uint64_t>{{"BF16", 2048}, {"F16", 1024}, {"F32", 32}}));
  EXPECT_EQ(r.tensor_count, 3u);
  EXPECT_EQ(r.memory.as_stored, 2048u * 2 + 1024 * 2 + 32 * 4);
  EXPECT_EQ(r.memory.bf16, r.parameters * 2);
  EXPECT_EQ(r.memory.fp32, r.parameters * 4);
  EXPECT_EQ(r.memory.int8, r.parameters);
  EXPECT_EQ(r.memory.int4, (r.parameters + 1) / 2);
  EXPECT_EQ(r.tokenizer_files, (std::vector<std::string>{"tokenizer.json", "tokenizer_config.json"}));
  EXPECT_TRUE(r.chat_template);
  EXPECT_EQ(r.license, "apache-2.0");
  EXPECT_FALSE(r.needs_trust_remote_code);
  EXPECT_EQ(r.generation_defaults.size(), 3u);
  EXPECT_EQ(r.transformers_loads, "safetensors");
  EXPECT_TRUE(r.findings.empty());
  ASSERT_EQ(r.weights.size(), 1u);
  EXPECT_EQ(r.weights[0].header_bytes, st_header(repo.files["model.safetensors"]));

  expect_same(r, repo.cached());
  const auto remote = repo.remote();
  expect_same(r, remote);
  EXPECT_EQ(remote.commit, k_commit);
  // Only the header of the weights (8 + N) and the JSON files moved, as counted by the server.
  const std::uint64_t expected = st_header(repo.files["model.safetensors"]) + json_bytes(repo.files);
  EXPECT_EQ(repo.served_file_bytes(), expected);
  EXPECT_EQ(remote.bytes_transferred, expected);
  EXPECT_LT(expected, repo.files["model.safetensors"].size() + json_bytes(repo.files));
  // The weights came through the CDN, as ranges.
  int cdn_ranges = 0;
  for (const auto& q : repo.hub.requests())
    if (q.cdn) {
      EXPECT_FALSE(q.range.empty()) << q.path;
      ++cdn_ranges;
    }
  EXPECT_EQ(cdn_ranges, 2);
  // The header's range went straight to the CDN URL the first one was redirected to.
  EXPECT_EQ(repo.hub.count("GET", "/resolve/" + k_commit + "/model.safetensors"), 1);
}

TEST(Inspect, ShardedWithIndex) {
  Repo repo(sharded_model());
  const auto r = repo.local();
  ASSERT_EQ(r.shard_sets.size(), 1u);
  EXPECT_EQ(r.shard_sets[0].index, "model.safetensors.index.json");
  EXPECT_EQ(r.shard_sets[0].shards.size(), 3u);
  EXPECT_TRUE(r.shard_sets[0].missing.empty());
  std::uint64_t shard_bytes = 0, headers = 0;
  for (const auto& [p, b] : repo.files)
    if (p.ends_with(".safetensors")) {
      shard_bytes += b.size();
      headers += st_header(b);
    }
  EXPECT_EQ(r.shard_sets[0].bytes, shard_bytes);
  EXPECT_EQ(r.tensor_count, 12u);
  EXPECT_EQ(r.basis.size(), 3u);
  // Per shard s, tensors t=0..3: 16 x (8 + t), BF16 for even t, F32 for odd.
  EXPECT_EQ(r.parameters_by_dtype.at("BF16"), 3u * (16 * 8 + 16 * 10));
  EXPECT_EQ(r.parameters_by_dtype.at("F32"), 3u * (16 * 9 + 16 * 11));
  expect_same(r, repo.cached());
  const auto remote = repo.remote();
  expect_same(r, remote);
  EXPECT_EQ(repo.served_file_bytes(), headers + json_bytes(repo.files));
}

TEST(Inspect, GgufSeveralQuantTypes) {
  Repo repo(gguf_model());
  const auto r = repo.local();
  ASSERT_EQ(r.weights.size(), 1u);
  const auto& w = r.weights[0];
  EXPECT_EQ(w.format, "gguf");
  EXPECT_EQ(w.gguf_version, 3u);
  EXPECT_EQ(w.gguf_architecture, "llama");
  EXPECT_EQ(w.gguf_file_type, "Q4_K_M");
  EXPECT_EQ(r.context_length, 8192u);
  EXPECT_EQ(r.parameters_by_dtype,
            (std::map<std::string, std::uint64_t>{{"Q4_K", 256u * 64}, {"Q8_0", 256u * 32}, {"F16", 1024u * 512}, {"F32", 256}}));
  EXPECT_EQ(r.memory.as_stored, 256u * 64 / 256 * 144 + 256u * 32 / 32 * 34 + 1024u * 512 * 2 + 256 * 4);
  EXPECT_EQ(r.license, "mit");
  const std::uint64_t size = repo.files["model-Q4_K_M.gguf"].size();
  ASSERT_GT(size, inspect::k_gguf_first_read);
  EXPECT_EQ(w.header_bytes, inspect::k_gguf_first_read);
  expect_same(r, repo.cached());
  const auto remote = repo.remote();
  expect_same(r, remote);
  // The first read (1 MiB) held the whole header: nothing more was fetched.
  EXPECT_EQ(repo.served_file_bytes(), inspect::k_gguf_first_read + json_bytes(repo.files));
}

TEST(Inspect, GgufVariantsEachWithItsFileTypeTotalsOfTheDefaultOne) {
  auto files = gguf_model();
  files["model-IQ2_XS.gguf"] =
      gguf_bytes({{"general.architecture", std::string("llama")}, {"general.file_type", std::uint64_t{20}}},
                 {{"token_embd.weight", "Q8_0", {256, 64}}});
  Repo repo(files);
  const auto r = repo.local();
  ASSERT_EQ(r.weights.size(), 2u);
  EXPECT_EQ(r.weights[0].path, "model-IQ2_XS.gguf");
  EXPECT_EQ(r.weights[0].gguf_file_type, "IQ2_XS");
  EXPECT_EQ(r.weights[1].gguf_file_type, "Q4_K_M");
  // llama.cpp's default variant, not the first by name.
  EXPECT_EQ(r.basis, std::vector<std::string>{"model-Q4_K_M.gguf"});
  EXPECT_EQ(r.tensor_count, 4u);
  expect_same(r, repo.remote());
}

TEST(Inspect, PeftAdapter) {
  Repo repo(adapter_model());
  const auto r = repo.local();
  ASSERT_TRUE(r.adapter);
  EXPECT_EQ(r.adapter->peft_type, "LORA");
  EXPECT_EQ(r.adapter->base_model_name_or_path, "org/base");
  EXPECT_EQ(r.adapter->r, 8u);
  EXPECT_EQ(r.adapter->lora_alpha, 16.0);
  EXPECT_EQ(r.adapter->target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(r.parameters, 2u * 8 * 32);
  EXPECT_FALSE(r.config);
  expect_same(r, repo.remote());
}

TEST(Inspect, WeightFormatsAndWhatTransformersLoads) {
  Repo repo(multi_format_model());
  const auto r = repo.local();
  EXPECT_EQ(r.transformers_loads, "safetensors");
  std::map<std::string, std::uint64_t> by_format;
  for (const auto& g : r.weight_formats) by_format[std::string(model::to_string(g.format))] = g.bytes;
  EXPECT_EQ(by_format.at("safetensors"), repo.files["model.safetensors"].size());
  EXPECT_EQ(by_format.at("pytorch"), 70000u);
  EXPECT_EQ(by_format.at("onnx"), 66000u);
  // from_pretrained takes config.json and model.safetensors; the copies are needless.
  ASSERT_TRUE(r.needless_bytes);
  EXPECT_EQ(*r.needless_bytes, 70000u + 66000u);
  std::set<std::string> left;
  for (const auto& l : r.left_out) {
    left.insert(l.path);
    EXPECT_FALSE(l.reason.empty());
  }
  EXPECT_EQ(left, (std::set<std::string>{"onnx/model.onnx", "pytorch_model.bin"}));
  expect_same(r, repo.remote());
  // The .bin and .onnx copies were never read over HTTP.
  for (const auto& q : repo.hub.requests()) {
    EXPECT_EQ(q.path.find("pytorch_model.bin"), std::string::npos);
    EXPECT_EQ(q.path.find("model.onnx"), std::string::npos);
  }
}

TEST(Inspect, DiffusersPipelineComponentsAndTheirIndex) {
  Repo repo(diffusers_model());
  const auto r = repo.local();
  ASSERT_EQ(r.shard_sets.size(), 1u);
  EXPECT_EQ(r.shard_sets[0].index, "unet/diffusion_pytorch_model.safetensors.index.json");
  EXPECT_EQ(r.shard_sets[0].shards, (std::vector<std::string>{"unet/diffusion_pytorch_model-00001-of-00002.safetensors",
                                                              "unet/diffusion_pytorch_model-00002-of-00002.safetensors"}));
  // Every weight file's header is read, but the totals count what the pipeline loads: not the
  // unet's fp16 variant copy.
  EXPECT_EQ(r.weights.size(), 5u);
  EXPECT_EQ(r.basis, (std::vector<std::string>{
                         "text_encoder/model.safetensors", "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
                         "unet/diffusion_pytorch_model-00002-of-00002.safetensors", "vae/diffusion_pytorch_model.safetensors"}));
  EXPECT_EQ(r.parameters, 1024u + 1024 + 800 + 64);
  EXPECT_EQ(r.parameters_by_dtype, (std::map<std::string, std::uint64_t>{{"F32", 2848}, {"BF16", 64}}));
  EXPECT_EQ(r.needless_for, "diffusers");
  ASSERT_TRUE(r.needless_bytes);
  EXPECT_EQ(*r.needless_bytes, repo.files["unet/diffusion_pytorch_model.fp16.safetensors"].size());
  EXPECT_EQ(r.transformers_loads, "");
  ASSERT_TRUE(r.pipeline);
  EXPECT_EQ(r.pipeline->class_name, "StableDiffusionPipeline");
  EXPECT_EQ(r.pipeline->components, (std::vector<std::string>{"text_encoder", "unet", "vae"}));
  expect_same(r, repo.remote());
}

TEST(Inspect, CustomCodeAndMalformedJsonIsAFinding) {
  Repo repo(custom_code_model());
  const auto r = repo.local();
  EXPECT_TRUE(r.needs_trust_remote_code);
  EXPECT_EQ(r.code_files, std::vector<std::string>{"modeling_x.py"});
  ASSERT_TRUE(r.config);
  ASSERT_EQ(r.config->auto_map.size(), 1u);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].file, "generation_config.json");
  EXPECT_NE(r.findings[0].reason.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(r.parameters, 64u);
  expect_same(r, repo.remote());
}

TEST(Inspect, HostileHeaderIsAFindingNamingFileAndOffset) {
  // A header length past the end of the file, and a GGUF with a bad magic.
  RepoFiles files{{"config.json", config_json()},
                  {"model.safetensors", le64(1ull << 40) + "{}"},
                  {"bad.gguf", "GGUX" + le32(3) + le64(0) + le64(0)}};
  Repo repo(files);
  const auto r = repo.local();
  ASSERT_EQ(r.findings.size(), 2u);
  for (const auto& f : r.findings) EXPECT_NE(f.reason.find(f.file), std::string::npos) << f.reason;
  EXPECT_EQ(r.parameters, 0u);
  const auto remote = repo.remote();
  expect_same(r, remote);
  // The huge length was refused before any range past the first 8 bytes was asked for.
  for (const auto& q : repo.hub.requests()) EXPECT_NE(q.range, "bytes=8-" + std::to_string(8 + (1ull << 40) - 1));
}

TEST(Inspect, AServerThatIgnoresOrMovesTheRangeGivesAFindingNotADownload) {
  RepoFiles files{{"config.json", config_json()},
                  {"model.safetensors", safetensors_bytes({{"big.weight", "F32", {1024, 1024}}})}};
  for (const FaultKind kind : {FaultKind::IgnoreRange, FaultKind::RangeElsewhere}) {
    Repo repo(files);
    repo.hub.add_fault(Fault::body(kind, "GET", "/cdn/", 0, -1));
    const auto r = repo.remote();
    ASSERT_EQ(r.findings.size(), 1u);
    EXPECT_EQ(r.findings[0].file, "model.safetensors");
    if (kind == FaultKind::IgnoreRange) {  // the finding says what the server did
      EXPECT_NE(r.findings[0].reason.find("the server ignored the Range request for bytes 0-7"), std::string::npos)
          << r.findings[0].reason;
    }
    EXPECT_EQ(r.parameters, 0u);
    // What inspect took in stayed within the ranges it asked for (the 8 bytes, then at most the
    // header's length from the wrong place twice: from the followed CDN URL, then once more
    // through /resolve), never the 4 MiB file.
    EXPECT_LE(r.bytes_transferred, config_json().size() + 2 * st_header(files["model.safetensors"]));
  }
}

TEST(Inspect, MissingFolderOrUncachedRepoFails) {
  TempDir dir;
  inspect::LocalOptions o;
  o.cache_dir = dir / "cache";
  auto r = inspect::inspect_local("org/absent", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::LocalEntryNotFound);
}

// Entries that hold no file are findings, not silently missing files: a dangling link (its blob
// deleted), a FIFO (never opened, so never blocking), a directory named like a weight file.
TEST(Inspect, EntriesThatHoldNoFileAreFindings) {
  Repo repo(single_model());
  const auto before = repo.local().parameters;
  std::filesystem::create_symlink("../gone/blob", repo.folder() + "/extra.safetensors");
  ASSERT_EQ(::mkfifo((repo.folder() + "/pipe.safetensors").c_str(), 0600), 0);
  std::filesystem::create_directories(repo.folder() + "/dir.gguf");
  const auto r = repo.local();
  std::map<std::string, std::string> found;
  for (const auto& f : r.findings) found[f.file] = f.reason;
  EXPECT_EQ(found["extra.safetensors"], "dangling symlink (what it points to is gone, e.g. a deleted blob): not read");
  EXPECT_EQ(found["pipe.safetensors"], "not a regular file (a FIFO, socket or device): not read");
  EXPECT_EQ(found["dir.gguf"], "a directory named like a weight file: not read");
  EXPECT_EQ(found.size(), 3u);
  // The real model is still reported in full.
  EXPECT_EQ(r.parameters, before);
  EXPECT_GT(r.parameters, 0u);
}

TEST(Inspect, AFolderWithNothingToLoadSaysSo) {
  TempDir dir;
  std::filesystem::create_directories(dir / "empty");
  auto r = inspect::inspect_local(dir / "empty", {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].file, "");
  EXPECT_NE(r->findings[0].reason.find("nothing transformers' from_pretrained loads"), std::string::npos)
      << r->findings[0].reason;
}

#include "messy_workstation.hpp"

#include <sys/stat.h>
#include <utime.h>

#include <ctime>
#include <filesystem>

#include "cache_builder.hpp"
#include "hubcache/cache/local_dir.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/hash.hpp"

namespace hubcache::test {
namespace {

namespace sfs = std::filesystem;

void put(const std::string& path, const std::string& content) {
  sfs::create_directories(sfs::path(path).parent_path());
  if (!fs::write_file_atomic(path, content)) throw std::runtime_error("cannot write " + path);
}

void age(const std::string& path, std::time_t seconds) {
  const std::time_t t = std::time(nullptr) - seconds;
  struct utimbuf times {
    t, t
  };
  ::utime(path.c_str(), &times);
}

// A --local-dir download of `files` (path -> content) as huggingface_hub writes it.
void local_dir(const std::string& root, const std::map<std::string, std::string>& files) {
  for (const auto& [path, content] : files) {
    put(root + "/" + path, content);
    const std::string etag = path.ends_with(".gguf") ? sha256_hex(content) : git_blob_sha1_hex(content);
    put(LocalDirLayout(root).metadata_path(path),
        format_local_metadata({commit_id(1), etag, static_cast<double>(std::time(nullptr)) + 5}));
  }
  put(root + "/.cache/huggingface/.gitignore", "*");
}

}  // namespace

std::uint64_t allocated_bytes(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path);
  return static_cast<std::uint64_t>(st.st_blocks) * 512u;
}

MessyWorkstation build_messy_workstation(const std::string& dir) {
  MessyWorkstation w;
  w.home = dir + "/home";
  w.hf_home = w.home + "/.cache/huggingface";
  w.hub = w.hf_home + "/hub";
  w.ollama = w.home + "/.ollama/models";
  w.lmstudio_models = w.home + "/.lmstudio/models";
  w.llama_cache = w.home + "/.cache/llama.cpp";
  w.tc = w.home + "/transformers-cache";
  w.weights = std::string(256 * 1024, 'g');
  const std::string sha = sha256_hex(w.weights);
  const RepoRef gguf{RepoType::Model, "org/gguf"};

  // The central cache: the GGUF with its config, a stale partial, a detached revision, a dangling pointer.
  CacheBuilder hub(w.hub);
  hub.add_file(gguf, commit_id(1), "m.gguf", w.weights, true);
  hub.add_file(gguf, commit_id(1), "config.json", "{}");
  hub.add_ref(gguf, "main", commit_id(1));
  const std::string partial = w.hub + "/models--org--gguf/blobs/" + std::string(64, 'e') + ".incomplete";
  put(partial, std::string(40000, 'p'));
  age(partial, 7200);
  const std::string old_blob = hub.add_file(gguf, commit_id(2), "old.bin", std::string(50000, 'o'), true);
  const RepoRef broken{RepoType::Model, "org/broken"};
  hub.add_pointer(broken, commit_id(3), "gone.bin", std::string(64, 'd'));
  hub.add_ref(broken, "main", commit_id(3));
  // The trap: `hf download org/gguf --local-dir ~/.cache/huggingface/hub/gguf`.
  local_dir(w.hub + "/gguf", {{"m.gguf", w.weights}, {"config.json", "{}"}});

  // Project 1 keeps its own cache, holding the same GGUF, and says so in three places.
  CacheBuilder p1(w.home + "/projects/chat/model_cache");
  p1.add_file(gguf, commit_id(1), "m.gguf", w.weights, true);
  p1.add_ref(gguf, "main", commit_id(1));
  put(w.home + "/projects/chat/.env", "OPENAI_KEY=x\nHF_CACHE_DIR=./model_cache\n");
  put(w.home + "/projects/chat/app.py", "import os\n# a comment about cache_dir\nmodel = load(cache_dir=\"./model_cache\")\n");
  put(w.home + "/projects/chat/README.md", "cache_dir is documented here, not configured\n");
  // Project 2 keeps a cache with a model no one else has.
  CacheBuilder p2(w.home + "/projects/vision/model_cache");
  p2.add_file({RepoType::Model, "org/vit"}, commit_id(4), "w.safetensors", std::string(30000, 'v'), true);
  p2.add_ref({RepoType::Model, "org/vit"}, "main", commit_id(4));

  // A --local-dir copy of the cached GGUF, and a --local-dir download no cache holds.
  local_dir(w.home + "/work/gguf-local", {{"m.gguf", w.weights}});
  local_dir(w.home + "/work/other-local", {{"other.gguf", std::string(20000, 'u')}});

  // Ollama holds the same GGUF (copied) and an abandoned partial pull.
  put(w.ollama + "/blobs/sha256-" + sha, w.weights);
  put(w.ollama + "/manifests/registry.ollama.ai/library/gguf/latest",
      R"({"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" + sha +
          R"(","size":262144}]})");
  const std::string ollama_partial = w.ollama + "/blobs/sha256-" + std::string(64, 'f') + "-partial";
  put(ollama_partial, std::string(10000, 'q'));
  age(ollama_partial, 7200);
  // LM Studio holds it too (no free identity: found only by hashing) and llama.cpp a legacy file.
  put(w.lmstudio_models + "/org/gguf-GGUF/m.gguf", w.weights);
  put(w.home + "/.lmstudio/settings.json", "{}");
  put(w.llama_cache + "/org_gguf_m.gguf", std::string(12000, 'l'));
  const std::string llama_partial = w.llama_cache + "/org_gguf_n.gguf.downloadInProgress";
  put(llama_partial, std::string(9000, 'n'));
  age(llama_partial, 7200);

  // Places a walk must not report: a node_modules and a virtualenv holding model-like files.
  put(w.home + "/projects/web/node_modules/pkg/config.json", "{}");
  put(w.home + "/projects/web/node_modules/pkg/model.bin", "x");
  put(w.home + "/projects/env/.venv/pyvenv.cfg", "home = /usr\n");
  put(w.home + "/projects/env/.venv/lib/m.safetensors", "x");

  // A variable that splits the cache, set in the shell profile.
  sfs::create_directories(w.tc);
  put(w.home + "/.bashrc", "alias ll='ls -l'\nexport TRANSFORMERS_CACHE=~/transformers-cache\n");
  w.environment = {"HOME=" + w.home, "HF_HOME=" + w.hf_home, "-HF_HUB_CACHE",      "-HUGGINGFACE_HUB_CACHE",    "-XDG_CACHE_HOME",
                   "-OLLAMA_MODELS", "-LLAMA_CACHE",         "-HF_DATASETS_CACHE", "TRANSFORMERS_CACHE=" + w.tc};

  // Names that lead nowhere: an Ollama model whose blob was deleted, an LM Studio link to a removed blob.
  const std::string gone_manifest = w.ollama + "/manifests/registry.ollama.ai/library/gone/latest";
  put(gone_manifest, R"({"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" +
                         std::string(64, 'a') + R"(","size":5}]})");
  const std::string lms_dangling = w.lmstudio_models + "/org/gone-GGUF/m.gguf";
  sfs::create_directories(w.lmstudio_models + "/org/gone-GGUF");
  sfs::create_symlink(w.hub + "/models--org--gone/blobs/" + std::string(64, 'c'), lms_dangling);

  // Lock files: a repo's that is still cached (fine), and those `cache rm` left of a gone repo.
  put(w.hub + "/.locks/models--org--gguf/" + sha + ".lock", "");
  const std::string gone_locks = w.hub + "/.locks/models--org--gone";
  put(gone_locks + "/" + std::string(64, 'e') + ".lock", "");

  const std::string hub_blob = w.hub + "/models--org--gguf/blobs/" + sha;
  const std::string p1_blob = w.home + "/projects/chat/model_cache/models--org--gguf/blobs/" + sha;
  w.planted = {
      {"local-dir-in-cache", w.hub + "/gguf",
       allocated_bytes(w.hub + "/gguf/m.gguf") + allocated_bytes(w.hub + "/gguf/config.json")},
      {"local-dir-copy", w.home + "/work/gguf-local", allocated_bytes(w.home + "/work/gguf-local/m.gguf")},
      {"local-dir-uncached", w.home + "/work/other-local", allocated_bytes(w.home + "/work/other-local/other.gguf")},
      {"project-cache", w.home + "/projects/chat/model_cache", allocated_bytes(p1_blob)},
      {"project-cache", w.home + "/projects/vision/model_cache",
       allocated_bytes(w.home + "/projects/vision/model_cache/models--org--vit/blobs/" + sha256_hex(std::string(30000, 'v')))},
      {"cache-setting", w.home + "/projects/chat/.env:2", 0},
      {"cache-setting", w.home + "/projects/chat/app.py:3", 0},
      {"env-conflict", w.tc, 0},
      {"duplicate-content", w.hub, allocated_bytes(p1_blob) + allocated_bytes(w.ollama + "/blobs/sha256-" + sha)},
      {"stale-partial", partial, allocated_bytes(partial)},
      {"stale-partial", ollama_partial, allocated_bytes(ollama_partial)},
      {"stale-partial", llama_partial, allocated_bytes(llama_partial)},
      {"dangling-pointer", w.hub + "/models--org--broken/snapshots/" + commit_id(3) + "/gone.bin", 0},
      {"dangling-pointer", gone_manifest, 0},
      {"dangling-pointer", lms_dangling, 0},
      {"stale-lock", gone_locks,
       allocated_bytes(gone_locks) + allocated_bytes(gone_locks + "/" + std::string(64, 'e') + ".lock")},
      {"detached-revision", w.hub + "/models--org--gguf/snapshots/" + commit_id(2),
       allocated_bytes(w.hub + "/models--org--gguf/blobs/" + old_blob)},
  };
  return w;
}

}  // namespace hubcache::test

// Which of a repo's files each framework loads (docs/inspect.md#which-files-each-framework-loads).
// Pure: file names and sizes in, a selection with a reason for every file left out.
#include "hubcache/model/model_files.hpp"

#include "hubcache/model/model_config.hpp"
#include "hubcache/model/safetensors.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <regex>
#include <set>

namespace hubcache::model {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
std::string_view basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}
// "a/b/c" -> "a"; "c" -> "".
std::string_view top_folder(std::string_view path) {
  const auto slash = path.find('/');
  return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}
std::size_t depth(std::string_view path) { return static_cast<std::size_t>(std::count(path.begin(), path.end(), '/')); }

// `<stem>-00001-of-00002<ext>`: the shard naming of transformers, diffusers and llama.cpp's gguf-split.
bool is_shard_of(std::string_view name, std::string_view stem, std::string_view ext) {
  static const std::regex k_shard(R"(-[0-9]{5}-of-[0-9]{5})");
  if (!starts_with(name, stem) || !ends_with(name, ext) || name.size() < stem.size() + ext.size()) return false;
  const std::string middle(name.substr(stem.size(), name.size() - stem.size() - ext.size()));
  return std::regex_match(middle, k_shard);
}

bool is_docs(std::string_view path) {
  const std::string name = lower(basename(path));
  return ends_with(name, ".md") || name == "license" || starts_with(name, "license.") || ends_with(name, ".png") ||
         ends_with(name, ".jpg") || ends_with(name, ".jpeg") || ends_with(name, ".gif") || ends_with(name, ".svg") ||
         ends_with(name, ".webp") || ends_with(name, ".pdf") || name == "notice" || name == "citation.cff";
}
bool is_git_meta(std::string_view path) {
  const auto name = basename(path);
  return name == ".gitattributes" || name == ".gitignore" || name == ".gitmodules";
}

// Reasons shared by the rules.
constexpr std::string_view k_docs = "README/docs: not loaded";
constexpr std::string_view k_git = "git metadata: not loaded";

struct Builder {
  Selection out;
  void take(const RepoFile& f) {
    out.files.push_back(f.path);
    out.bytes += f.size;
  }
  void leave(const RepoFile& f, std::string reason) {
    out.left_out.push_back(LeftOut{f.path, f.size, std::move(reason)});
    out.left_out_bytes += f.size;
  }
  Selection done() && {
    std::sort(out.files.begin(), out.files.end());
    std::sort(out.left_out.begin(), out.left_out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    return std::move(out);
  }
};

// ---------------------------------------------------------------------------------------------
// Weight files of one folder in a loader's order of preference. transformers (modeling_utils,
// use_safetensors unset) asks for model.safetensors, then model.safetensors.index.json and its
// shards, then pytorch_model.bin, then its index and shards; tf_model.h5 and flax_model.msgpack
// come last (loaded only through from_tf / from_flax, but still what it looks for). diffusers
// (ModelMixin.from_pretrained) looks for a component's index first (`index_first`), then the
// single file. A sharded checkpoint is the files its index's weight_map names
// (get_checkpoint_shard_files), whatever their names; without the index's text, the files named
// `<stem>-NNNNN-of-NNNNN<ext>` beside it.
struct WeightChoice {
  std::vector<std::string> files;  // repo paths
  std::string label;               // e.g. "model.safetensors" or "the model.safetensors shards"
  WeightFormat format = WeightFormat::Other;
  std::string index;                 // the index's repo path when sharded
  bool by_index = false;             // `files` are the ones the index's weight_map names
  std::vector<std::string> missing;  // shards the index names that the repo lacks
};

// What choose_weights looks at: one folder's file names, and the whole repo for an index's shards.
struct Folder {
  const std::set<std::string>& names;  // file names directly in the folder
  std::string prefix;                  // "" or "unet/"
  const std::set<std::string>& all;    // every repo path
  const ReadRepoText& read;            // may be empty: shards by name
  std::vector<std::string>& warnings;
};

std::optional<WeightChoice> sharded(const Folder& d, const std::string& stem, const std::string& ext, WeightFormat format) {
  const std::string index = stem + ext + ".index.json";
  if (!d.names.count(index)) return std::nullopt;
  WeightChoice c{{d.prefix + index}, "the " + d.prefix + stem + ext + " shards", format, d.prefix + index, false, {}};
  if (d.read) {
    if (const auto text = d.read(d.prefix + index)) {
      if (auto parsed = parse_safetensors_index(*text, d.prefix + index)) {
        c.by_index = true;
        for (const auto& shard : parsed->shards) {
          c.files.push_back(d.prefix + shard);
          if (!d.all.count(d.prefix + shard)) c.missing.push_back(d.prefix + shard);
        }
        return c;
      } else {
        d.warnings.push_back(parsed.error().message + "; its shards are taken by their names (" + stem + "-NNNNN-of-NNNNN" + ext +
                             ")");
      }
    } else {
      d.warnings.push_back("could not read " + d.prefix + index + "; its shards are taken by their names (" + stem +
                           "-NNNNN-of-NNNNN" + ext + ")");
    }
  }
  for (const auto& n : d.names)
    if (is_shard_of(n, stem, ext)) c.files.push_back(d.prefix + n);
  return c;
}

std::optional<WeightChoice> single(const Folder& d, const std::string& stem, const std::string& ext, WeightFormat format) {
  if (!d.names.count(stem + ext)) return std::nullopt;
  return WeightChoice{{d.prefix + stem + ext}, d.prefix + stem + ext, format, {}, false, {}};
}

std::optional<WeightChoice> choose_weights(const Folder& d, const std::vector<std::string>& st_stems,
                                           const std::vector<std::string>& bin_stems, bool tf_flax, bool index_first) {
  const auto pick = [&](const std::vector<std::string>& stems, const std::string& ext, WeightFormat format) {
    for (const bool index : {index_first, !index_first})
      for (const auto& s : stems)
        if (auto c = index ? sharded(d, s, ext, format) : single(d, s, ext, format)) return c;
    return std::optional<WeightChoice>();
  };
  if (auto c = pick(st_stems, ".safetensors", WeightFormat::Safetensors)) return c;
  if (auto c = pick(bin_stems, ".bin", WeightFormat::PytorchBin)) return c;
  if (tf_flax) {
    if (auto c = single(d, "tf_model", ".h5", WeightFormat::TensorFlow)) return c;
    if (auto c = single(d, "flax_model", ".msgpack", WeightFormat::Flax)) return c;
  }
  return std::nullopt;
}

// A checkpoint whose index names shards the repo lacks cannot be loaded: from_pretrained fails
// fetching the first missing one.
Result<void> check_shards(const WeightChoice& c, std::string_view loader) {
  if (c.missing.empty()) return {};
  std::string list;
  for (const auto& m : c.missing) list += (list.empty() ? "" : ", ") + m;
  return fail(ErrorCode::NotFound, c.index + " names " + (c.missing.size() == 1 ? "a shard" : "shards") + " the repo lacks (" +
                                       list + "): " + std::string(loader) +
                                       " cannot load this checkpoint; the repo is incomplete at this revision");
}

const std::regex k_shard_part(R"(-[0-9]{5}-of-[0-9]{5}\.)");

// A file beside a checkpoint loaded by its index, in the shards' naming, that the index does not name.
bool stale_shard(const WeightChoice* w, std::string_view path) {
  return w && w->by_index && std::find(w->files.begin(), w->files.end(), path) == w->files.end() &&
         weight_format_of(path) == w->format && std::regex_search(std::string(basename(path)), k_shard_part);
}

// Why a weight file that is not the chosen one is left out; `loads` names what is loaded instead.
std::string weight_reason(std::string_view path, std::string_view loader, const std::string& loads) {
  const std::string name = lower(basename(path));
  const std::string instead = loads.empty() ? std::string() : ": " + std::string(loader) + " loads " + loads;
  const std::string fallback = loads.empty() ? ", and no preferred format is present" : "";
  if (starts_with(name, "consolidated") && (ends_with(name, ".safetensors") || ends_with(name, ".pth")))
    return "consolidated" + std::string(ends_with(name, ".pth") ? ".pth" : ".safetensors") +
           ": Mistral's original format, not loaded by " + std::string(loader);
  switch (weight_format_of(path)) {
    case WeightFormat::Safetensors:
      return "another safetensors file: not one " + std::string(loader) + " looks for" + instead;
    case WeightFormat::PytorchBin:
      return "PyTorch " + std::string(ends_with(name, ".bin") ? ".bin" : "checkpoint") + " copy of the weights" + instead +
             fallback;
    case WeightFormat::Onnx:
      return "ONNX export: not loaded by " + std::string(loader);
    case WeightFormat::TensorFlow:
      return "TensorFlow copy of the weights" + instead + fallback;
    case WeightFormat::Flax:
      return "Flax copy of the weights" + instead + fallback;
    case WeightFormat::Gguf:
      return "GGUF file: for llama.cpp (--for gguf), not loaded by " + std::string(loader);
    case WeightFormat::Other:
      break;
  }
  return "other checkpoint format: not loaded by " + std::string(loader);
}

// ---------------------------------------------------------------------------------------------
// transformers: `AutoModel*.from_pretrained` + `AutoTokenizer` / `AutoProcessor` /
// `GenerationConfig` .from_pretrained, all reading the repo root (no subfolder argument).
bool is_transformers_config(std::string_view name) {
  static const std::set<std::string, std::less<>> k_names = {
      "config.json",
      "generation_config.json",
      // tokenizers (tokenization_utils_base: tokenizer_file, tokenizer_config, special tokens, added tokens,
      // the chat template files) and the vocabularies of the slow tokenizers
      "tokenizer.json",
      "tokenizer_config.json",
      "special_tokens_map.json",
      "added_tokens.json",
      "chat_template.jinja",
      "chat_template.json",
      "vocab.json",
      "vocab.txt",
      "merges.txt",
      "bpe.codes",
      // processors: feature extractor / image processor (preprocessor_config.json), processor, video processor
      "preprocessor_config.json",
      "processor_config.json",
      "video_preprocessor_config.json",
      // PEFT adapters (peft's PeftModel.from_pretrained, also transformers' load_adapter)
      "adapter_config.json",
  };
  if (k_names.count(name)) return true;
  // sentencepiece and tiktoken models: tokenizer.model, spiece.model, sentencepiece.bpe.model, source.spm, ...
  return ends_with(name, ".model") || ends_with(name, ".spm") || ends_with(name, ".tiktoken");
}

Result<Selection> select_transformers(const std::vector<RepoFile>& files, const ReadRepoText& read) {
  std::set<std::string> root, all;
  for (const auto& f : files) {
    all.insert(f.path);
    if (depth(f.path) == 0) root.insert(f.path);
  }
  std::vector<std::string> warnings;
  const auto weights = choose_weights(Folder{root, "", all, read, warnings}, {"model"}, {"pytorch_model"}, true, false);
  constexpr std::string_view loader = "from_pretrained";
  if (weights) HUBCACHE_TRY(check_shards(*weights, loader));
  std::optional<WeightChoice> adapter;
  if (root.count("adapter_model.safetensors"))
    adapter = WeightChoice{{"adapter_model.safetensors"}, "adapter_model.safetensors", WeightFormat::Safetensors, {}, false, {}};
  else if (root.count("adapter_model.bin"))
    adapter = WeightChoice{{"adapter_model.bin"}, "adapter_model.bin", WeightFormat::PytorchBin, {}, false, {}};
  std::set<std::string> chosen;
  if (weights) chosen.insert(weights->files.begin(), weights->files.end());
  if (adapter) chosen.insert(adapter->files.begin(), adapter->files.end());
  const std::string loads = weights ? weights->label : "";

  Builder b;
  b.out.warnings = std::move(warnings);
  for (const auto& f : files) {
    const std::string_view name = f.path;
    if (chosen.count(f.path)) {  // the index may name shards in a subfolder
      b.take(f);
      continue;
    }
    if (depth(name) > 0) {
      // The chat templates beyond the default one (tokenization_utils_base, CHAT_TEMPLATE_DIR).
      if (top_folder(name) == "additional_chat_templates" && depth(name) == 1 && ends_with(name, ".jinja")) {
        b.take(f);
        continue;
      }
      if (weight_format_of(name) == WeightFormat::Onnx) {
        b.leave(f, "ONNX export: not loaded by from_pretrained");
        continue;
      }
      b.leave(f, "in subfolder " + std::string(top_folder(name)) + "/: from_pretrained reads the repo root");
      continue;
    }
    if (is_transformers_config(name) || ends_with(name, ".py")) {
      b.take(f);
      continue;
    }
    if (is_git_meta(name)) {
      b.leave(f, std::string(k_git));
    } else if (is_docs(name)) {
      b.leave(f, std::string(k_docs));
    } else if (starts_with(name, "adapter_model.")) {
      b.leave(f, "PyTorch .bin copy of the adapter: from_pretrained loads " + (adapter ? adapter->label : std::string("-")));
    } else if (stale_shard(weights ? &*weights : nullptr, name)) {
      b.leave(f, "shard not named by " + weights->index + ": from_pretrained does not load it");
    } else if (ends_with(name, ".index.json")) {
      b.leave(f, "index of weights not loaded" + (loads.empty() ? std::string() : ": from_pretrained loads " + loads));
    } else if (name == "training_args.bin" || starts_with(name, "optimizer.") || starts_with(name, "scheduler.") ||
               starts_with(name, "rng_state") || name == "trainer_state.json") {
      b.leave(f, "training state: not loaded by from_pretrained");
    } else if (is_weight_file(name)) {
      b.leave(f, weight_reason(name, loader, loads));
    } else {
      b.leave(f, "not read by from_pretrained");
    }
  }
  Selection s = std::move(b).done();
  // A tokenizer-only repo is loadable (AutoTokenizer); a repo with none of these is not.
  if (!weights && !adapter &&
      std::none_of(s.files.begin(), s.files.end(), [](const auto& p) { return is_transformers_config(p); }))
    return fail(ErrorCode::NotFound,
                "the repo holds nothing transformers' from_pretrained loads: no config.json, tokenizer files or weights "
                "(model.safetensors, pytorch_model.bin, tf_model.h5, flax_model.msgpack) at its root");
  return s;
}

// ---------------------------------------------------------------------------------------------
// GGUF: llama.cpp's `-hf repo[:QUANT]`. A variant is the quantization tag in a file's name
// (`Model-Q4_K_M.gguf`, split parts `Model-Q4_K_M-00001-of-00003.gguf`) or, when the name has none,
// in its folder's (`Q4_K_M/part-00001-of-00002.gguf`); a file with no tag anywhere is a variant
// named by its own stem. Matching is case-insensitive and whole-tag (Q4_K never matches Q4_K_M).
bool is_mmproj(std::string_view path) { return lower(basename(path)).find("mmproj") != std::string::npos; }

std::optional<std::string> quant_tag(std::string_view text) {
  // A tag starts after a separator (or at the start) and ends before one (or at the end);
  // '_' is part of a tag, so it ends one only on the left.
  static const std::regex k_tag(
      R"((?:^|[-._ /])((?:UD-)?(?:I?Q[1-8](?:_[A-Z0-9]+)*|TQ[12]_0|BF16|F16|F32|FP16|FP32|MXFP4(?:_MOE)?))(?=$|[-. /]))",
      std::regex::icase);
  std::optional<std::string> last;
  const std::string s(text);
  for (auto it = std::sregex_iterator(s.begin(), s.end(), k_tag); it != std::sregex_iterator(); ++it)
    last = upper((*it)[1].str());
  return last;
}

std::string gguf_variant(std::string_view path) {
  std::string name(basename(path));
  name.resize(name.size() - 5);  // ".gguf"
  static const std::regex k_split(R"(-[0-9]{5}-of-[0-9]{5}$)");
  name = std::regex_replace(name, k_split, "");
  if (auto t = quant_tag(name)) return *t;
  const std::string_view folders = path.substr(0, path.size() - basename(path).size());
  if (auto t = quant_tag(folders)) return *t;
  return name;
}

std::string list_variants(const std::map<std::string, std::vector<const RepoFile*>>& variants) {
  std::string out;
  for (const auto& [v, fs] : variants) out += (out.empty() ? "" : ", ") + v;
  return out;
}

Result<Selection> select_gguf(const std::string& quant, const std::vector<RepoFile>& files) {
  std::map<std::string, std::vector<const RepoFile*>> variants;  // upper-case tag -> files
  std::vector<const RepoFile*> projectors;
  for (const auto& f : files) {
    if (!ends_with(lower(f.path), ".gguf")) continue;
    if (is_mmproj(f.path))
      projectors.push_back(&f);
    else
      variants[upper(gguf_variant(f.path))].push_back(&f);
  }
  if (variants.empty())
    return fail(ErrorCode::NotFound, projectors.empty()
                                         ? "the repo holds no .gguf file"
                                         : "the repo holds only multimodal projectors (mmproj*.gguf), no model .gguf");
  std::string chosen;
  if (!quant.empty()) {
    if (!variants.count(upper(quant)))
      return fail(ErrorCode::NotFound, "no GGUF variant '" + quant + "' in the repo; variants present: " +
                                           list_variants(variants) + ". Pick one with gguf:QUANT");
    chosen = upper(quant);
  } else if (variants.count("Q4_K_M")) {
    chosen = "Q4_K_M";  // llama.cpp's default tag
  } else if (variants.size() == 1) {
    chosen = variants.begin()->first;
  } else {
    return fail(ErrorCode::NotFound, "the repo has several GGUF variants and no Q4_K_M (llama.cpp's default): " +
                                         list_variants(variants) + ". Pick one with gguf:QUANT");
  }
  // One projector, as llama.cpp fetches one: the one of the chosen variant, else F16, BF16, F32,
  // else the first by name.
  const RepoFile* projector = nullptr;
  for (const std::string& want : {chosen, std::string("F16"), std::string("BF16"), std::string("F32")}) {
    for (const auto* p : projectors)
      if (!projector && quant_tag(std::string_view(p->path).substr(0, p->path.size() - 5)) == want) projector = p;
  }
  if (!projector && !projectors.empty())
    projector = *std::min_element(projectors.begin(), projectors.end(), [](auto* a, auto* b) { return a->path < b->path; });

  // One location of the variant: a repo may hold a copy at its root and another in a folder
  // (`Model-Q4_K_M.gguf`, `Q4_K_M/Model-Q4_K_M.gguf`). The root's, else the shallowest folder's.
  auto dir_of = [](const std::string& path) { return path.substr(0, path.size() - basename(path).size()); };
  std::string where;
  const auto depth = [](const std::string& x) { return std::count(x.begin(), x.end(), '/'); };
  bool first = true;
  for (const auto* f : variants[chosen]) {
    const std::string d = dir_of(f->path);
    if (first || depth(d) < depth(where) || (depth(d) == depth(where) && d < where)) where = d;
    first = false;
  }
  std::set<std::string> take;
  std::set<std::string> copies;  // the variant's files elsewhere
  for (const auto* f : variants[chosen]) (dir_of(f->path) == where ? take : copies).insert(f->path);
  // Every part of a split file: llama.cpp loads parts 1..N, and one missing fails the load.
  static const std::regex k_part(R"(^(.*)-([0-9]{5})-of-([0-9]{5})\.gguf$)", std::regex::icase);
  std::map<std::pair<std::string, std::string>, std::set<int>> parts;  // (stem, count) -> part numbers present
  for (const auto& t : take) {
    std::smatch m;
    if (std::regex_match(t, m, k_part)) parts[{m[1].str(), m[3].str()}].insert(std::stoi(m[2].str()));
  }
  std::vector<std::string> missing;
  for (const auto& [key, present] : parts) {
    const int n = std::stoi(key.second);
    for (int i = 1; i <= n; ++i)
      if (!present.count(i)) {
        char num[16];
        std::snprintf(num, sizeof num, "%05d", i);
        missing.push_back(key.first + "-" + num + "-of-" + key.second + ".gguf");
      }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return fail(ErrorCode::NotFound, "GGUF variant " + chosen + " is split into parts and the repo lacks " +
                                         (missing.size() == 1 ? "part " : "parts ") + list +
                                         ": llama.cpp cannot load it without every part");
  }
  if (projector) take.insert(projector->path);
  Builder b;
  for (const auto& f : files) {
    if (take.count(f.path)) {
      b.take(f);
    } else if (copies.count(f.path)) {
      b.leave(f, "another copy of the chosen variant " + chosen + ": --for gguf takes the one " +
                     (where.empty() ? std::string("at the repo's root") : "in " + where));
    } else if (ends_with(lower(f.path), ".gguf")) {
      if (is_mmproj(f.path))
        b.leave(f, "another multimodal projector: llama.cpp loads one (" + projector->path + ")");
      else
        b.leave(f, "GGUF variant " + upper(gguf_variant(f.path)) + ": --for gguf takes " + chosen);
    } else if (is_git_meta(f.path)) {
      b.leave(f, std::string(k_git));
    } else if (is_docs(f.path)) {
      b.leave(f, std::string(k_docs));
    } else {
      b.leave(f, "not a GGUF file: llama.cpp -hf loads only the .gguf files of one variant");
    }
  }
  return std::move(b).done();
}

// ---------------------------------------------------------------------------------------------
// diffusers: `DiffusionPipeline.from_pretrained` reads model_index.json, then each component from
// its folder (`subfolder=`): its config and tokenizer files and its weights in the same order of
// preference as transformers (diffusion_pytorch_model.* for diffusers models, model.* for the
// transformers text encoders); files of a `variant` (`*.fp16.safetensors`) only with variant=.

// The variant of a weight file or index in diffusers' naming: `name.fp16.safetensors`,
// `name.fp16-00001-of-00002.safetensors`, `name.safetensors.index.fp16.json`; "" when none.
std::string diffusers_variant(std::string_view name) {
  static const std::regex k_weight(
      R"(^(?:diffusion_pytorch_model|model|pytorch_model)\.([A-Za-z0-9_]+)(?:-[0-9]{5}-of-[0-9]{5})?\.(?:safetensors|bin)$)");
  static const std::regex k_index(R"(^.*\.(?:safetensors|bin)\.index\.([A-Za-z0-9_]+)\.json$)");
  std::smatch m;
  const std::string s(name);
  if (std::regex_match(s, m, k_weight) || std::regex_match(s, m, k_index)) return m[1].str();
  return {};
}

Result<Selection> select_diffusers(const std::vector<RepoFile>& files, const ReadRepoText& read) {
  const bool has_index = std::any_of(files.begin(), files.end(), [](const auto& f) { return f.path == "model_index.json"; });
  if (!has_index)
    return fail(ErrorCode::NotFound,
                "the repo has no model_index.json at its root: not a diffusers pipeline (DiffusionPipeline.from_pretrained "
                "reads it first)");
  std::map<std::string, std::set<std::string>, std::less<>> folders;  // component folder -> file names in it
  std::set<std::string> all;
  for (const auto& f : files) {
    all.insert(f.path);
    if (depth(f.path) == 1) folders[std::string(top_folder(f.path))].insert(std::string(basename(f.path)));
  }
  constexpr std::string_view loader = "DiffusionPipeline.from_pretrained";
  std::optional<std::set<std::string, std::less<>>> components;
  Builder b;
  if (const auto model_index_json = read ? read("model_index.json") : std::nullopt) {
    if (auto index = parse_model_index(*model_index_json))
      components.emplace(index->components.begin(), index->components.end());
    else
      b.out.warnings.push_back("model_index.json is not a JSON object: every folder is taken as a component");
  }
  // Only the components' indexes are read: a folder the pipeline skips costs nothing.
  std::map<std::string, std::optional<WeightChoice>, std::less<>> weights;
  std::set<std::string> chosen;
  const ReadRepoText none;
  for (const auto& [folder, names] : folders) {
    const bool component = !components || components->count(folder) > 0;
    auto& w = weights[folder] =
        choose_weights(Folder{names, folder + "/", all, component ? read : none, b.out.warnings},
                       {"diffusion_pytorch_model", "model"}, {"diffusion_pytorch_model", "pytorch_model"}, false, true);
    if (!w || !component) continue;
    HUBCACHE_TRY(check_shards(*w, loader));
    chosen.insert(w->files.begin(), w->files.end());
  }
  // A component with only variant weights (`*.fp16.safetensors`) has nothing to load without variant=.
  for (const auto& [folder, names] : folders) {
    if (weights[folder] || (components && !components->count(folder))) continue;
    std::set<std::string> variants;
    for (const auto& n : names)
      if (const std::string v = diffusers_variant(n); !v.empty()) variants.insert(v);
    if (variants.empty()) continue;
    std::string list;
    for (const auto& v : variants) list += (list.empty() ? "" : ", ") + v;
    b.out.warnings.push_back("component " + folder + " holds only variant weights (" + list + "), no default-variant weights: " +
                             std::string(loader) + " without variant= finds no weights for it");
  }
  for (const auto& f : files) {
    const std::string_view path = f.path;
    const std::string_view name = basename(path);
    if (depth(path) == 0) {
      if (path == "model_index.json")
        b.take(f);
      else if (is_git_meta(path))
        b.leave(f, std::string(k_git));
      else if (is_docs(path))
        b.leave(f, std::string(k_docs));
      else if (is_weight_file(path))
        b.leave(f, "single-file checkpoint; from_pretrained loads the component folders");
      else
        b.leave(f, "not read by " + std::string(loader));
      continue;
    }
    if (chosen.count(f.path)) {  // a component's weights (an index may name shards deeper in its folder)
      b.take(f);
      continue;
    }
    const std::string folder(top_folder(path));
    if (depth(path) > 1 || starts_with(folder, ".")) {
      b.leave(f, "not in a component folder: " + std::string(loader) + " reads model_index.json's folders");
      continue;
    }
    if (components && !components->count(folder)) {
      b.leave(f, "folder " + folder + " is no component of model_index.json: " + std::string(loader) + " does not load it");
      continue;
    }
    const auto& w = weights[folder];
    if (const std::string v = diffusers_variant(name); !v.empty()) {
      b.leave(f, "variant " + v + ": loaded only with variant=\"" + v + "\"");
    } else if (stale_shard(w ? &*w : nullptr, path)) {
      b.leave(f, "shard not named by " + w->index + ": " + std::string(loader) + " does not load it");
    } else if (ends_with(name, ".index.json")) {
      b.leave(f, "index of weights not loaded" + (w ? ": " + std::string(loader) + " loads " + w->label : ""));
    } else if (is_weight_file(name)) {
      b.leave(f, weight_reason(name, loader, w ? w->label : ""));
    } else if (is_docs(name) || is_git_meta(name)) {
      b.leave(f, std::string(k_docs));
    } else if (ends_with(name, ".json") || ends_with(name, ".txt") || ends_with(name, ".model") || ends_with(name, ".jinja") ||
               ends_with(name, ".spm") || ends_with(name, ".py")) {
      b.take(f);  // the component's config, scheduler, tokenizer and custom code files
    } else {
      b.leave(f, "not read by " + std::string(loader));
    }
  }
  return std::move(b).done();
}

}  // namespace

std::string_view to_string(WeightFormat f) {
  switch (f) {
    case WeightFormat::Safetensors:
      return "safetensors";
    case WeightFormat::PytorchBin:
      return "pytorch";
    case WeightFormat::Onnx:
      return "onnx";
    case WeightFormat::TensorFlow:
      return "tensorflow";
    case WeightFormat::Flax:
      return "flax";
    case WeightFormat::Gguf:
      return "gguf";
    case WeightFormat::Other:
      break;
  }
  return "other";
}

WeightFormat weight_format_of(std::string_view path) {
  const std::string name = lower(basename(path));
  if (ends_with(name, ".safetensors")) return WeightFormat::Safetensors;
  if (ends_with(name, ".gguf")) return WeightFormat::Gguf;
  if (ends_with(name, ".onnx") || ends_with(name, ".onnx_data") || ends_with(name, ".onnx.data")) return WeightFormat::Onnx;
  if (ends_with(name, ".h5") || ends_with(name, ".tflite") || ends_with(name, ".keras")) return WeightFormat::TensorFlow;
  if (ends_with(name, ".msgpack")) return WeightFormat::Flax;
  if (ends_with(name, ".bin") || ends_with(name, ".pt") || ends_with(name, ".pth")) {
    // The Trainer's state is no weights.
    if (name == "training_args.bin" || starts_with(name, "optimizer.") || starts_with(name, "scheduler.") ||
        starts_with(name, "rng_state"))
      return WeightFormat::Other;
    return WeightFormat::PytorchBin;
  }
  return WeightFormat::Other;
}

bool is_weight_file(std::string_view path) {
  if (weight_format_of(path) != WeightFormat::Other) return true;
  const std::string name = lower(basename(path));
  return ends_with(name, ".ckpt") || ends_with(name, ".ggml") || ends_with(name, ".llamafile") || ends_with(name, ".npz") ||
         ends_with(name, ".mlmodel") || ends_with(name, ".pkl");
}

std::vector<WeightGroup> weight_formats(const std::vector<RepoFile>& files) {
  std::map<WeightFormat, WeightGroup> groups;
  for (const auto& f : files) {
    if (!is_weight_file(f.path)) continue;
    auto& g = groups[weight_format_of(f.path)];
    g.format = weight_format_of(f.path);
    g.files.push_back(f.path);
    g.bytes += f.size;
  }
  std::vector<WeightGroup> out;
  for (auto& [k, g] : groups) {
    std::sort(g.files.begin(), g.files.end());
    out.push_back(std::move(g));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  return out;
}

std::string_view to_string(Framework f) {
  switch (f) {
    case Framework::Transformers:
      return "transformers";
    case Framework::Gguf:
      return "gguf";
    case Framework::Diffusers:
      return "diffusers";
  }
  return "transformers";
}

Result<ModelTarget> ModelTarget::parse(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidArgument, "invalid target '" + std::string(text) + "'" + why +
                                                ": expected transformers, diffusers, gguf or gguf:QUANT (e.g. gguf:Q4_K_M)");
  };
  const auto colon = text.find(':');
  const std::string fw = lower(text.substr(0, colon));
  ModelTarget t;
  if (fw == "transformers")
    t.framework = Framework::Transformers;
  else if (fw == "diffusers")
    t.framework = Framework::Diffusers;
  else if (fw == "gguf")
    t.framework = Framework::Gguf;
  else
    return bad("");
  if (colon == std::string_view::npos) return t;
  if (t.framework != Framework::Gguf) return bad(" (only gguf takes a :QUANT)");
  const std::string_view quant = text.substr(colon + 1);
  if (quant.empty() || quant.size() > 64 || !std::all_of(quant.begin(), quant.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      }))
    return bad(" (QUANT is a tag such as Q4_K_M: letters, digits, '_' and '-')");
  t.quant = std::string(quant);
  return t;
}

std::string ModelTarget::to_string() const {
  std::string out(model::to_string(framework));
  if (!quant.empty()) out += ":" + quant;
  return out;
}

Result<Selection> select_for(const ModelTarget& target, const std::vector<RepoFile>& files) {
  return select_for(target, files, ReadRepoText{});
}

Result<Selection> select_for(const ModelTarget& target, const std::vector<RepoFile>& files, const ReadRepoText& read) {
  switch (target.framework) {
    case Framework::Transformers:
      return select_transformers(files, read);
    case Framework::Gguf:
      return select_gguf(target.quant, files);
    case Framework::Diffusers:
      return select_diffusers(files, read);
  }
  return select_transformers(files, read);
}

}  // namespace hubcache::model

#include "hubcache/inspect/inspect.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "hubcache/model/gguf.hpp"
#include "hubcache/model/safetensors.hpp"
#include "hubcache/resolve/offline.hpp"
#include "hubcache/util/fs.hpp"
#include "hubcache/util/parallel.hpp"
#include "hubcache/util/read_range.hpp"

namespace hubcache::inspect {
namespace {

// How the facts are read: bytes [offset, offset + length) of a repo file. Thread-safe.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual Result<std::string> read(const std::string& path, std::uint64_t offset, std::uint64_t length,
                                   std::uint64_t file_size) = 0;
};

class LocalReader final : public Reader {
 public:
  explicit LocalReader(std::string root) : m_root(std::move(root)) {}
  Result<std::string> read(const std::string& path, std::uint64_t offset, std::uint64_t length,
                           std::uint64_t /*file_size*/) override {
    const std::string full = m_root + "/" + path;
    struct ::stat st {};
    auto fd = fs::open_regular_file(full, st);  // a FIFO named like a weight file never blocks
    if (!fd) return fail(std::move(fd).error());
    std::string out(length, '\0');
    auto have = fs::pread_full(fd->get(), out.data(), out.size(), offset, full);
    if (!have) return fail(std::move(have).error());
    out.resize(*have);
    return out;
  }

 private:
  std::string m_root;
};

class RemoteReader final : public Reader {
 public:
  RemoteReader(hub::HubApi& api, RepoRef repo, std::string commit)
      : m_api(api), m_repo(std::move(repo)), m_commit(std::move(commit)) {}

  Result<std::string> read(const std::string& path, std::uint64_t offset, std::uint64_t length,
                           std::uint64_t file_size) override {
    // A file's next range goes straight to where its last one was redirected (the CDN's signed
    // URL), as the transfer engine does, and back to the resolve URL when that target refuses.
    std::string target;
    {
      std::lock_guard lock(m_mutex);
      if (const auto it = m_followed.find(path); it != m_followed.end()) target = it->second;
    }
    if (!target.empty()) {
      auto r = read_from(target, path, offset, length, file_size);
      if (r) return r;
      std::lock_guard lock(m_mutex);
      m_followed.erase(path);
    }
    return read_from(hub::resolve_url(m_api.options().endpoint, m_repo, m_commit, path), path, offset, length, file_size);
  }

  std::uint64_t bytes() const { return m_bytes; }
  std::uint64_t requests() const { return m_requests; }

 private:
  Result<std::string> read_from(const std::string& url, const std::string& path, std::uint64_t offset, std::uint64_t length,
                                std::uint64_t file_size) {
    http::Request req;
    req.url = url;
    req.headers = m_api.headers_for(req.url);
    const bool whole = offset == 0 && length >= file_size;
    if (!whole) req.headers.set("Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
    req.redirects = http::Redirects::Follow;
    req.max_redirects = m_api.options().limits.max_redirects;
    req.connect_timeout = m_api.options().connect_timeout;
    req.idle_timeout = m_api.options().download_timeout;
    // A server that ignores the Range cannot make this call receive more than it asked for.
    req.max_body = static_cast<std::size_t>(length);
    req.receive_buffer = static_cast<std::size_t>(std::min<std::uint64_t>(length, 1u << 20));
    auto resp = m_api.client().perform(req, m_api.options().cancel);
    if (!resp) {
      Error e = std::move(resp).error();
      // More than asked for with a 200: the Range header was ignored (the whole file was coming).
      if (!whole && e.http && e.http->status == 200 && e.http->error_code == "ResponseTooLarge")
        e.message = path + ": the server ignored the Range request for bytes " + std::to_string(offset) + "-" +
                    std::to_string(offset + length - 1) +
                    " and began sending the whole file (HTTP 200); inspect reads only headers, so it stopped. Use an "
                    "endpoint that honours Range (the Hub and `hubcache serve` do). " +
                    e.message;
      return fail(std::move(e));
    }
    {
      std::lock_guard lock(m_mutex);
      m_bytes += resp->body.size();
      ++m_requests;
    }
    if (resp->status >= 400) return fail(hub::map_http_error(*resp, req.url, m_repo, m_api.options().endpoint));
    if (!whole && resp->status != 206)
      return fail(ErrorCode::Http, path + ": the server answered " + std::to_string(resp->status) +
                                       " to a Range request for bytes " + std::to_string(offset) + "-" +
                                       std::to_string(offset + length - 1) + " (206 expected)");
    if (resp->status == 206) {
      // The range must be the one asked for: "bytes <first>-<last>/<size>".
      const auto cr = resp->headers.get("Content-Range");
      const std::string want = "bytes " + std::to_string(offset) + "-" + std::to_string(offset + length - 1) + "/";
      if (!cr || cr->compare(0, want.size(), want) != 0)
        return fail(ErrorCode::Http, path + ": asked for bytes " + std::to_string(offset) + "-" +
                                         std::to_string(offset + length - 1) + ", the server answered Content-Range '" +
                                         cr.value_or("") + "'");
    }
    if (resp->status != 200 && resp->status != 206)
      return fail(ErrorCode::Http, path + ": unexpected status " + std::to_string(resp->status));
    if (resp->body.size() != length)
      return fail(ErrorCode::Http, path + ": asked for " + std::to_string(length) + " bytes at offset " + std::to_string(offset) +
                                       ", got " + std::to_string(resp->body.size()));
    if (!resp->url.empty() && resp->url != url) {
      std::lock_guard lock(m_mutex);
      m_followed[path] = resp->url;
    }
    return std::move(resp->body);
  }

  hub::HubApi& m_api;
  RepoRef m_repo;
  std::string m_commit;
  std::mutex m_mutex;
  std::map<std::string, std::string> m_followed;  // path -> where its last read was redirected
  std::uint64_t m_bytes = 0;
  std::uint64_t m_requests = 0;
};

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}
std::string dir_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

bool is_tokenizer_file(std::string_view path) {
  static const std::set<std::string_view> names = {
      "tokenizer.json", "tokenizer_config.json",   "tokenizer.model",   "vocab.json",   "merges.txt",
      "vocab.txt",      "special_tokens_map.json", "added_tokens.json", "spiece.model", "sentencepiece.bpe.model"};
  return path.find('/') == std::string_view::npos && names.count(path) > 0;
}

// `license:` of a README's YAML front matter (the block between the first two `---` lines).
std::string front_matter_license(std::string_view text) {
  if (text.substr(0, 3) != "---") return {};
  std::size_t pos = text.find('\n');
  while (pos != std::string_view::npos && pos + 1 < text.size()) {
    const std::size_t start = pos + 1;
    std::size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == "---") return {};
    if (line.substr(0, 8) == "license:") {
      std::string_view v = line.substr(8);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    pos = end;
  }
  return {};
}

void add_tensor_totals(WeightFile& w) {
  for (const auto& t : w.tensors) {
    const auto n = t.elements();
    w.parameters += n;
    w.parameters_by_dtype[t.dtype] += n;
    w.tensor_bytes += t.length;
  }
}

Result<WeightFile> read_safetensors(Reader& reader, const model::RepoFile& f) {
  WeightFile w;
  w.path = f.path;
  w.format = "safetensors";
  w.size = f.size;
  if (f.size < 8)
    return fail(ErrorCode::Integrity, f.path + ": " + std::to_string(f.size) + " bytes, too short for a safetensors file");
  auto first = reader.read(f.path, 0, 8, f.size);
  if (!first) return fail(std::move(first).error());
  auto n = model::safetensors_header_length(*first, f.size, f.path);
  if (!n) return fail(std::move(n).error());
  auto json = reader.read(f.path, 8, *n, f.size);
  if (!json) return fail(std::move(json).error());
  if (json->size() != *n)
    return fail(ErrorCode::Integrity, f.path + ": the header is " + std::to_string(*n) + " bytes but only " +
                                          std::to_string(json->size()) + " could be read from offset 8");
  auto header = model::parse_safetensors_header(*json, f.size, f.path);
  if (!header) return fail(std::move(header).error());
  w.header_bytes = 8 + *n;
  w.tensors = std::move(header->tensors);
  add_tensor_totals(w);
  return w;
}

Result<WeightFile> read_gguf(Reader& reader, const model::RepoFile& f) {
  WeightFile w;
  w.path = f.path;
  w.format = "gguf";
  w.size = f.size;
  if (f.size == 0) return fail(ErrorCode::Integrity, f.path + ": empty file, not GGUF");
  std::string prefix;
  std::uint64_t want = std::min(f.size, k_gguf_first_read);
  for (;;) {
    const std::uint64_t asked = want - prefix.size();
    auto more = reader.read(f.path, prefix.size(), asked, f.size);
    if (!more) return fail(std::move(more).error());
    // A file shorter than its listed size (changed, truncated) ends the reading here.
    if (more->size() != asked)
      return fail(ErrorCode::Integrity, f.path + ": " + std::to_string(more->size()) + " bytes at offset " +
                                            std::to_string(prefix.size()) + " where " + std::to_string(asked) +
                                            " were expected (the file is shorter than its size " + std::to_string(f.size) + ")");
    prefix += *more;
    auto parsed = model::parse_gguf(prefix, f.size, f.path);
    if (!parsed) return fail(std::move(parsed).error());
    if (parsed->file) {
      w.header_bytes = prefix.size();
      auto& g = *parsed->file;
      w.gguf_version = g.version;
      w.tensors = std::move(g.tensors);
      if (auto a = g.string_value("general.architecture")) {
        w.gguf_architecture = *a;
        w.gguf_context_length = g.uint_value(*a + ".context_length");
      }
      if (auto ft = g.uint_value("general.file_type")) w.gguf_file_type = model::gguf_file_type_name(*ft);
      add_tensor_totals(w);
      return w;
    }
    // Fetch at least what the parser needs, doubling so a long header takes few requests.
    const std::uint64_t next = std::min(f.size, std::max<std::uint64_t>(parsed->need, prefix.size() * 2));
    if (next <= prefix.size() || next > k_max_gguf_header)
      return fail(ErrorCode::Integrity, f.path + ": the GGUF header needs " + std::to_string(parsed->need) +
                                            " bytes, over the limit of " + std::to_string(k_max_gguf_header));
    want = next;
  }
}

// GGUF split parts ("name-00001-of-00003.gguf") belong to one variant: the name without the suffix.
std::string gguf_variant(std::string_view path) {
  std::string p(path.substr(0, path.size() - 5));  // without ".gguf"
  const auto of = p.rfind("-of-");
  if (of != std::string::npos && of >= 6 && p[of - 6] == '-') return p.substr(0, of - 6);
  return p;
}

// Everything but the listing: the shared part of inspect_local and inspect_remote.
void analyze(Reader& reader, ModelReport& r, bool parallel) {
  std::map<std::string, std::uint64_t> size_of;
  for (const auto& f : r.files) {
    size_of[f.path] = f.size;
    r.file_bytes += f.size;
  }
  // Each JSON file is read once: an index serves the shard sets and select_for below.
  std::map<std::string, std::optional<std::string>> json_read;
  auto read_json = [&](const std::string& path) -> std::optional<std::string> {
    if (const auto done = json_read.find(path); done != json_read.end()) return done->second;
    auto& out = json_read[path];
    const auto it = size_of.find(path);
    if (it == size_of.end()) return out;
    if (it->second > k_max_json_bytes) {
      r.findings.push_back({path, "larger than " + std::to_string(k_max_json_bytes) + " bytes: not read"});
      return out;
    }
    if (it->second == 0) return out = std::string();
    auto text = reader.read(path, 0, it->second, it->second);
    if (!text) {
      r.findings.push_back({path, text.error().message});
      return out;
    }
    return out = std::move(*text);
  };

  if (auto text = read_json("config.json")) {
    if (auto c = model::parse_model_config(*text, "config.json"))
      r.config = std::move(*c);
    else
      r.findings.push_back({"config.json", c.error().message});
  }
  if (auto text = read_json("generation_config.json")) {
    if (auto g = model::parse_generation_config(*text, "generation_config.json"))
      r.generation_defaults = std::move(*g);
    else
      r.findings.push_back({"generation_config.json", g.error().message});
  }
  if (auto text = read_json("tokenizer_config.json")) {
    if (auto t = model::parse_tokenizer_config(*text, "tokenizer_config.json")) {
      if (t->chat_template) r.chat_template_sources.push_back("tokenizer_config.json");
    } else {
      r.findings.push_back({"tokenizer_config.json", t.error().message});
    }
  }
  if (size_of.count("chat_template.jinja") && size_of["chat_template.jinja"] > 0)
    r.chat_template_sources.push_back("chat_template.jinja");
  if (auto text = read_json("chat_template.json")) {
    if (auto t = model::parse_chat_template_json(*text, "chat_template.json")) {
      if (*t) r.chat_template_sources.push_back("chat_template.json");
    } else {
      r.findings.push_back({"chat_template.json", t.error().message});
    }
  }
  r.chat_template = !r.chat_template_sources.empty();
  if (auto text = read_json("adapter_config.json")) {
    if (auto a = model::parse_adapter_config(*text, "adapter_config.json"))
      r.adapter = std::move(*a);
    else
      r.findings.push_back({"adapter_config.json", a.error().message});
  }
  if (auto text = read_json("model_index.json")) {
    if (auto p = model::parse_model_index(*text, "model_index.json"))
      r.pipeline = std::move(*p);
    else
      r.findings.push_back({"model_index.json", p.error().message});
  }
  if (const auto it = size_of.find("README.md"); it != size_of.end() && it->second > 0) {
    const auto n = std::min(it->second, k_max_readme_bytes);
    if (auto text = reader.read("README.md", 0, n, it->second))
      r.license = front_matter_license(*text);
    else
      r.findings.push_back({"README.md", text.error().message});
  }

  std::vector<model::RepoFile> weight_reads;
  for (const auto& f : r.files) {
    if (is_tokenizer_file(f.path)) r.tokenizer_files.push_back(f.path);
    if (ends_with(f.path, ".py")) r.code_files.push_back(f.path);
    if (ends_with(f.path, ".safetensors.index.json")) {
      ShardSet set;
      set.index = f.path;
      if (auto text = read_json(f.path)) {
        if (auto idx = model::parse_safetensors_index(*text, f.path)) {
          const std::string dir = dir_name(f.path);
          for (const auto& s : idx->shards) {
            const std::string p = dir.empty() ? s : dir + "/" + s;
            set.shards.push_back(p);
            if (const auto sz = size_of.find(p); sz != size_of.end())
              set.bytes += sz->second;
            else
              set.missing.push_back(p);
          }
          for (const auto& m : set.missing) r.findings.push_back({f.path, "names shard " + m + ", which the repo lacks"});
          r.shard_sets.push_back(std::move(set));
        } else {
          r.findings.push_back({f.path, idx.error().message});
        }
      }
    }
    if (ends_with(f.path, ".safetensors") || ends_with(f.path, ".gguf")) weight_reads.push_back(f);
  }
  r.needs_trust_remote_code = !r.code_files.empty() || (r.config && !r.config->auto_map.empty());

  // Headers, several files at once when they come over the network.
  std::vector<std::optional<WeightFile>> read(weight_reads.size());
  std::vector<std::optional<Finding>> faults(weight_reads.size());
  auto one = [&](std::size_t i) {
    const auto& f = weight_reads[i];
    auto w = ends_with(f.path, ".gguf") ? read_gguf(reader, f) : read_safetensors(reader, f);
    if (w)
      read[i] = std::move(*w);
    else
      faults[i] = Finding{f.path, w.error().message};
  };
  if (parallel && weight_reads.size() > 1)
    parallel_for(weight_reads.size(), 8, one);
  else
    for (std::size_t i = 0; i < weight_reads.size(); ++i) one(i);
  for (std::size_t i = 0; i < weight_reads.size(); ++i) {
    if (read[i]) r.weights.push_back(std::move(*read[i]));
    if (faults[i]) r.findings.push_back(std::move(*faults[i]));
  }

  // What the loader takes (model_files.hpp's select_for): diffusers' pipeline when the repo has a
  // model_index.json, else transformers' from_pretrained. A default `hf download` fetches every
  // file, so the rest is needless for it.
  const bool pipeline = size_of.count("model_index.json") > 0;
  model::ModelTarget target;
  target.framework = pipeline ? model::Framework::Diffusers : model::Framework::Transformers;
  std::set<std::string> loaded;
  auto sel = model::select_for(target, r.files, read_json);
  // Nothing a loader takes and no weights at all (an empty folder, a repo of docs): say so. A
  // failed selection beside weights (GGUF only, an index naming missing shards) is reported by
  // the weights' own lines.
  if (!sel && model::weight_formats(r.files).empty()) r.findings.push_back({"", sel.error().message});
  if (sel) {
    r.needless_for = std::string(model::to_string(target.framework));
    r.needless_bytes = r.file_bytes - std::min(r.file_bytes, sel->bytes);
    r.left_out = std::move(sel->left_out);
    loaded.insert(sel->files.begin(), sel->files.end());
    for (const auto& p : sel->files)
      if (!pipeline && model::is_weight_file(p)) {
        r.transformers_loads = std::string(model::to_string(model::weight_format_of(p)));
        break;
      }
  }

  // The totals' basis: the safetensors files the loader takes (a checkpoint's shards, a
  // pipeline's components; not the copies beside them: consolidated.safetensors, fp16 variants);
  // when it takes none, every safetensors file; without any, the first GGUF variant (its split
  // parts together): GGUF variants are copies of one model.
  for (const auto& w : r.weights)
    if (w.format == "safetensors" && loaded.count(w.path)) r.basis.push_back(w.path);
  if (r.basis.empty())
    for (const auto& w : r.weights)
      if (w.format == "safetensors") r.basis.push_back(w.path);
  if (r.basis.empty()) {
    // The variant llama.cpp's -hf takes (Q4_K_M among several), without the vision projector.
    model::ModelTarget gguf;
    gguf.framework = model::Framework::Gguf;
    if (auto variant = model::select_for(gguf, r.files))
      for (const auto& w : r.weights)
        if (w.format == "gguf" && std::count(variant->files.begin(), variant->files.end(), w.path) &&
            w.path.find("mmproj") == std::string::npos)
          r.basis.push_back(w.path);
  }
  if (r.basis.empty()) {
    std::string variant;
    for (const auto& w : r.weights) {
      if (variant.empty()) variant = gguf_variant(w.path);
      if (gguf_variant(w.path) == variant) r.basis.push_back(w.path);
    }
  }
  for (const auto& w : r.weights) {
    if (std::find(r.basis.begin(), r.basis.end(), w.path) == r.basis.end()) continue;
    r.parameters += w.parameters;
    for (const auto& [d, n] : w.parameters_by_dtype) r.parameters_by_dtype[d] += n;
    r.tensor_count += w.tensors.size();
    r.memory.as_stored += w.tensor_bytes;
    if (!r.context_length && w.gguf_context_length) r.context_length = w.gguf_context_length;
  }
  if (r.config && r.config->context_length) r.context_length = r.config->context_length;
  r.memory.bf16 = r.parameters * 2;
  r.memory.fp32 = r.parameters * 4;
  r.memory.int8 = r.parameters;
  r.memory.int4 = (r.parameters + 1) / 2;

  r.weight_formats = model::weight_formats(r.files);
}

}  // namespace

namespace {

// The entries of `dir` that hold no readable file: a dangling link (its blob gone), a FIFO, a
// device, a directory named like a weight file. Symlinked folders are not followed.
std::vector<Finding> unreadable_entries(const std::string& dir) {
  std::vector<Finding> out;
  std::error_code ec;
  namespace stdfs = std::filesystem;
  for (auto it = stdfs::recursive_directory_iterator(dir, stdfs::directory_options::skip_permission_denied, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string rel = it->path().lexically_relative(dir).string();
    std::error_code e;
    const auto link = it->symlink_status(e);
    if (it->path().filename() == ".git" || it->path().filename() == ".cache") {
      if (link.type() == stdfs::file_type::directory) it.disable_recursion_pending();
      continue;
    }
    const auto target = it->status(e);
    if (stdfs::is_symlink(link) && !stdfs::exists(target)) {
      out.push_back({rel, "dangling symlink (what it points to is gone, e.g. a deleted blob): not read"});
    } else if (stdfs::is_directory(target)) {
      if (model::is_weight_file(rel)) out.push_back({rel, "a directory named like a weight file: not read"});
    } else if (!stdfs::is_regular_file(target)) {
      out.push_back({rel, "not a regular file (a FIFO, socket or device): not read"});
    }
  }
  return out;
}

}  // namespace

Result<ModelReport> inspect_local(const std::string& path_or_repo_id, const LocalOptions& options) {
  SnapshotLookupOptions lo;
  lo.revision = options.revision;
  lo.repo_type = options.repo_type;
  lo.cache_dir = options.cache_dir;
  auto snap = resolve_snapshot(path_or_repo_id, lo);
  std::vector<Finding> partial;
  if (!snap && snap.error().code == ErrorCode::IncompleteSnapshot && !snap.error().path.empty()) {
    // A snapshot downloaded in part (download --for, --include): the files that are there are
    // inspected, and a finding names what its commit has that is not cached.
    const Error e = snap.error();
    const std::string dir = e.path;
    SnapshotLookupOptions folder_lo;
    folder_lo.repo_type = options.repo_type;
    folder_lo.cache_dir = options.cache_dir;
    snap = resolve_snapshot(dir, folder_lo);
    if (!snap) return fail(e);
    snap->commit = std::string(std::filesystem::path(dir).filename().string());
    std::string list;
    for (std::size_t i = 0; i < e.missing.size() && i < 5; ++i) list += (i ? ", " : "") + e.missing[i];
    if (e.missing.size() > 5) list += ", ...";
    partial.push_back({"", "the snapshot is partial: " + std::to_string(e.missing.size()) + " file" +
                               (e.missing.size() == 1 ? "" : "s") + " of its commit are not cached (" + list +
                               "); the report covers the cached files"});
  }
  if (!snap) return fail(std::move(snap).error());
  ModelReport r;
  r.source = path_or_repo_id;
  r.revision = options.revision;
  r.commit = snap->commit;
  r.findings = std::move(partial);
  for (const auto& p : snap->files) {
    struct stat st {};
    const std::string full = snap->snapshot_dir + "/" + p;
    if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // unreadable_entries names it
    r.files.push_back({p, static_cast<std::uint64_t>(st.st_size)});
  }
  for (auto& f : unreadable_entries(snap->snapshot_dir)) r.findings.push_back(std::move(f));
  std::sort(r.files.begin(), r.files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  LocalReader reader(snap->snapshot_dir);
  analyze(reader, r, false);
  return r;
}

Result<ModelReport> inspect_remote(hub::HubApi& api, const RepoRef& repo, const std::string& revision) {
  auto info = api.repo_info(repo, revision);
  if (!info) return fail(std::move(info).error());
  auto tree = api.list_tree(repo, info->sha, "", true);
  if (!tree) return fail(std::move(tree).error());
  ModelReport r;
  r.source = repo.id;
  r.remote = true;
  r.revision = revision;
  r.commit = info->sha;
  r.gated = info->gated;
  for (const auto& e : *tree)
    if (e.type == "file") r.files.push_back({e.path, e.size});
  std::sort(r.files.begin(), r.files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  RemoteReader reader(api, repo, info->sha);
  analyze(reader, r, true);
  r.bytes_transferred = reader.bytes();
  r.requests = reader.requests();
  return r;
}

}  // namespace hubcache::inspect

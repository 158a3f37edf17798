#include "hubcache/weights/weights.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hubcache/resolve/offline.hpp"
#include "hubcache/util/read_range.hpp"

namespace hubcache::weights {
namespace {

namespace stdfs = std::filesystem;

// A read-only mapping of a whole file and its descriptor, both released on destruction.
struct Mapping {
  const std::byte* base = nullptr;
  std::size_t size = 0;
  fs::Fd fd;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (base) ::munmap(const_cast<std::byte*>(base), size);
  }
};

Result<std::unique_ptr<Mapping>> map_file(const std::string& path) {
  struct ::stat st {};
  auto fd = fs::open_regular_file(path, st);  // a FIFO or device named like a weight file is refused, never waited on
  if (!fd) return fail(std::move(fd).error());
  auto m = std::make_unique<Mapping>();
  m->fd = std::move(*fd);
  m->size = static_cast<std::size_t>(st.st_size);
  if (m->size > 0) {
    void* p = ::mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, m->fd.get(), 0);
    if (p == MAP_FAILED) return fail(errno_error(errno, "cannot map the weight file", path));
    m->base = static_cast<const std::byte*>(p);
  }
  return m;
}

// A `.gguf` name, or else the "GGUF" magic, makes a file GGUF; anything else is read as
// safetensors. The name wins, so a damaged GGUF file gets the GGUF reader's error.
bool is_gguf(const std::string& path, const Mapping& m) {
  std::string lower = stdfs::path(path).extension().string();
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == ".gguf") return true;
  if (lower == ".safetensors") return false;
  return m.size >= 4 && std::memcmp(m.base, "GGUF", 4) == 0;
}

std::string_view view_of(const Mapping& m, std::size_t n) { return {reinterpret_cast<const char*>(m.base), std::min(n, m.size)}; }

}  // namespace

void TensorView::prefetch() const {
  if (!data || info->length == 0) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<std::uintptr_t>(data) & ~(page - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(data) + info->length;
  ::madvise(reinterpret_cast<void*>(start), end - start, MADV_WILLNEED);
}

Result<void> TensorView::read(std::uint64_t offset, std::span<std::byte> out) const {
  if (offset > info->length || out.size() > info->length - offset)
    return fail(ErrorCode::InvalidArgument, fmt::format("{} bytes from byte {} are not inside tensor '{}' ({} bytes)", out.size(),
                                                        offset, info->name, info->length));
  auto got = fs::pread_full(file->fd, out.data(), out.size(), info->offset + offset, file->path);
  if (!got) return fail(std::move(got).error());
  if (*got != out.size())
    return fail(ErrorCode::Io,
                fmt::format("{}: cannot read tensor '{}' at byte {}: the file ends there (it got shorter)", file->path,
                            info->name, info->offset + offset + *got),
                file->path);
  return {};
}

struct Weights::State {
  std::vector<std::unique_ptr<Mapping>> mappings;  // one per file, in the order of `files`
  std::vector<WeightFile> files;                   // not resized once views point into it
  std::vector<TensorView> tensors;
  std::unordered_map<std::string_view, std::size_t> by_name;
};

Weights::Weights(std::unique_ptr<State> state) : m_state(std::move(state)) {}
Weights::Weights(Weights&&) noexcept = default;
Weights& Weights::operator=(Weights&&) noexcept = default;
Weights::~Weights() = default;

const std::vector<TensorView>& Weights::tensors() const { return m_state->tensors; }
const std::vector<WeightFile>& Weights::files() const { return m_state->files; }

const TensorView* Weights::find(std::string_view name) const {
  const auto it = m_state->by_name.find(name);
  return it == m_state->by_name.end() ? nullptr : &m_state->tensors[it->second];
}

std::uint64_t Weights::parameter_count() const {
  std::uint64_t n = 0;
  for (const auto& t : m_state->tensors) n += t.info->elements();
  return n;
}

std::uint64_t Weights::tensor_bytes() const {
  std::uint64_t n = 0;
  for (const auto& t : m_state->tensors) n += t.info->length;
  return n;
}

Result<Weights> Weights::open_files(const std::vector<std::string>& paths) {
  if (paths.empty()) return fail(ErrorCode::InvalidArgument, "no weight file to open");
  auto state = std::make_unique<State>();
  state->files.reserve(paths.size());
  for (const auto& path : paths) {
    auto mapped = map_file(path);
    if (!mapped) return fail(mapped.error());
    const Mapping& m = **mapped;
    WeightFile file;
    file.path = path;
    file.size = m.size;
    file.fd = m.fd.get();
    if (is_gguf(path, m)) {
      file.format = FileFormat::Gguf;
      auto parsed = model::parse_gguf(view_of(m, m.size), m.size, path);
      if (!parsed) return fail(parsed.error());
      // The whole file is the prefix, so the parse cannot ask for more bytes.
      file.tensors = std::move(parsed->file->tensors);
      parsed->file->tensors.clear();
      file.gguf = std::move(parsed->file);
    } else {
      file.format = FileFormat::Safetensors;
      auto n = model::safetensors_header_length(view_of(m, 8), m.size, path);
      if (!n) return fail(n.error());
      auto header = model::parse_safetensors_header(view_of(m, 8 + *n).substr(8), m.size, path);
      if (!header) return fail(header.error());
      file.tensors = std::move(header->tensors);
      file.metadata = std::move(header->metadata);
    }
    state->files.push_back(std::move(file));
    state->mappings.push_back(std::move(*mapped));
  }
  // The files are in place: views may point into them now.
  for (std::size_t i = 0; i < state->files.size(); ++i) {
    const WeightFile& file = state->files[i];
    for (const auto& info : file.tensors) {
      const auto [it, fresh] = state->by_name.emplace(info.name, state->tensors.size());
      if (!fresh)
        return fail(ErrorCode::Integrity,
                    fmt::format("tensor '{}' is in both {} and {}: open one of them (a folder with several GGUF "
                                "variants or weight copies needs the files named)",
                                info.name, state->tensors[it->second].file->path, file.path),
                    file.path);
      state->tensors.push_back(TensorView{&info, &file, state->mappings[i]->base + info.offset});
    }
  }
  return Weights(std::move(state));
}

Result<Weights> Weights::open_folder(const std::string& folder, const OpenOptions& options) {
  const std::string dir = options.subfolder.empty() ? folder : folder + "/" + options.subfolder;
  std::error_code ec;
  if (!stdfs::is_directory(dir, ec)) {
    if (!stdfs::exists(dir, ec)) return fail(ErrorCode::NotFound, fmt::format("{}: no such model folder", dir), dir);
    return fail(ErrorCode::NotADirectory, fmt::format("{}: not a folder", dir), dir);
  }
  for (const char* index_name : {"model.safetensors.index.json", "diffusion_pytorch_model.safetensors.index.json"}) {
    const std::string index_path = dir + "/" + index_name;
    if (!stdfs::exists(index_path, ec)) continue;
    auto mapped = map_file(index_path);
    if (!mapped) return fail(mapped.error());
    auto index = model::parse_safetensors_index(view_of(**mapped, (*mapped)->size), index_path);
    if (!index) return fail(index.error());
    std::vector<std::string> paths;
    std::vector<std::string> missing;
    for (const auto& shard : index->shards) {
      const std::string p = dir + "/" + shard;
      if (stdfs::exists(p, ec))
        paths.push_back(p);
      else
        missing.push_back(shard);
    }
    if (!missing.empty())
      return fail(
          Error(ErrorCode::NotFound,
                fmt::format("{} names {} shard(s) the folder lacks: {}", index_path, missing.size(), fmt::join(missing, ", ")),
                dir, std::nullopt, missing));
    return open_files(paths);
  }
  for (const char* single : {"model.safetensors", "diffusion_pytorch_model.safetensors"})
    if (stdfs::is_symlink(dir + "/" + single, ec) || stdfs::exists(dir + "/" + single, ec))
      return open_files({dir + "/" + single});  // a dangling link fails there, named
  std::vector<std::string> safetensors, gguf;
  for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool weight_name = name.ends_with(".safetensors") || name.ends_with(".gguf");
    if (!weight_name) continue;
    std::error_code entry_ec;
    if (entry.is_symlink(entry_ec) && !stdfs::exists(entry.path(), entry_ec))
      return fail(ErrorCode::NotFound,
                  fmt::format("{}: a link to a missing file ({}): in a Hub cache its blob is gone; download the file again",
                              entry.path().string(), entry_ec ? entry_ec.message() : "dangling"),
                  entry.path().string());
    if (!entry.is_regular_file(entry_ec)) continue;  // follows snapshot symlinks to their blobs
    if (name.ends_with(".safetensors"))
      safetensors.push_back(entry.path().string());
    else
      gguf.push_back(entry.path().string());
  }
  if (ec) return fail(ErrorCode::Io, fmt::format("{}: cannot list the folder: {}", dir, ec.message()), dir);
  auto& chosen = safetensors.empty() ? gguf : safetensors;
  if (chosen.empty())
    return fail(ErrorCode::NotFound, fmt::format("{}: no safetensors or GGUF weight file in the folder", dir), dir);
  std::sort(chosen.begin(), chosen.end());
  return open_files(chosen);
}

Result<Weights> Weights::open_model(const std::string& repo_id_or_folder, const ModelOpenOptions& options) {
  SnapshotLookupOptions lookup;
  lookup.revision = options.revision;
  lookup.cache_dir = options.cache_dir;
  auto snapshot = resolve_snapshot(repo_id_or_folder, lookup);
  if (!snapshot) {
    // A snapshot downloaded in part (download --for, allow patterns) lacks files of its commit's
    // tree; the weights may all be there: open_folder decides, and only if they are not is the
    // snapshot's own error (naming the missing files and how to fetch them) the answer.
    if (snapshot.error().code == ErrorCode::IncompleteSnapshot && !snapshot.error().path.empty()) {
      auto opened = open_folder(snapshot.error().path, options.open);
      if (opened || opened.error().code != ErrorCode::NotFound) return opened;
    }
    return fail(snapshot.error());
  }
  return open_folder(snapshot->snapshot_dir, options.open);
}

}  // namespace hubcache::weights

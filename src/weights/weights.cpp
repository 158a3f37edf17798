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

namespace hubcache::weights {
namespace {

namespace stdfs = std::filesystem;

// A read-only mapping of a whole file and its descriptor, both released on destruction.
struct Mapping {
  const std::byte* base = nullptr;
  std::size_t size = 0;
  int fd = -1;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (base) ::munmap(const_cast<std::byte*>(base), size);
    if (fd >= 0) ::close(fd);
  }
};

Unexpected os_error(const std::string& path, const char* what, int err) {
  const ErrorCode code = err == ENOENT                     ? ErrorCode::NotFound
                         : (err == EACCES || err == EPERM) ? ErrorCode::PermissionDenied
                                                           : ErrorCode::Io;
  return fail(code, fmt::format("{}: cannot {} the weight file: {}", path, what, std::strerror(err)), path);
}

Result<std::unique_ptr<Mapping>> map_file(const std::string& path) {
  // O_NONBLOCK: a FIFO or device named like a weight file must not block the open; it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return os_error(path, "open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return os_error(path, "stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(ErrorCode::InvalidArgument, fmt::format("{}: not a regular file, so no weight file", path), path);
  }
  auto m = std::make_unique<Mapping>();
  m->fd = fd;  // closed by the Mapping from here on
  m->size = static_cast<std::size_t>(st.st_size);
  if (m->size > 0) {
    void* p = ::mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return os_error(path, "map", errno);
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
  std::uint64_t at = info->offset + offset;
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(file->fd, out.data() + done, out.size() - done, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return fail(ErrorCode::Io,
                  fmt::format("{}: cannot read tensor '{}' at byte {}: {}", file->path, info->name, at,
                              n == 0 ? "the file ends there (it got shorter)" : std::strerror(errno)),
                  file->path);
    done += static_cast<std::size_t>(n);
    at += static_cast<std::uint64_t>(n);
  }
  return {};
}

struct Weights::State {
  std::vector<std::unique_ptr<Mapping>> mappings;
  std::vector<std::unique_ptr<WeightFile>> owned_files;  // stable addresses for views
  std::vector<WeightFile> files;                         // copies for files(); views point at owned_files
  std::vector<std::unique_ptr<std::vector<model::TensorInfo>>> infos;
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
  for (const auto& path : paths) {
    auto mapped = map_file(path);
    if (!mapped) return fail(mapped.error());
    const Mapping& m = **mapped;
    auto file = std::make_unique<WeightFile>();
    file->path = path;
    file->size = m.size;
    file->fd = m.fd;
    auto infos = std::make_unique<std::vector<model::TensorInfo>>();
    if (is_gguf(path, m)) {
      file->format = FileFormat::Gguf;
      auto parsed = model::parse_gguf(view_of(m, m.size), m.size, path);
      if (!parsed) return fail(parsed.error());
      // The whole file is the prefix, so the parse cannot ask for more bytes.
      *infos = std::move(parsed->file->tensors);
      parsed->file->tensors.clear();
      file->gguf = std::move(parsed->file);
    } else {
      file->format = FileFormat::Safetensors;
      auto n = model::safetensors_header_length(view_of(m, 8), m.size, path);
      if (!n) return fail(n.error());
      auto header = model::parse_safetensors_header(view_of(m, 8 + *n).substr(8), m.size, path);
      if (!header) return fail(header.error());
      *infos = std::move(header->tensors);
      file->metadata = std::move(header->metadata);
    }
    for (const auto& info : *infos) {
      TensorView v;
      v.info = &info;
      v.file = file.get();
      v.data = m.base + info.offset;
      const auto [it, fresh] = state->by_name.emplace(info.name, state->tensors.size());
      if (!fresh) {
        const auto& other = state->tensors[it->second];
        return fail(ErrorCode::Integrity,
                    fmt::format("tensor '{}' is in both {} and {}: open one of them (a folder with several GGUF "
                                "variants or weight copies needs the files named)",
                                info.name, other.file->path, path),
                    path);
      }
      state->tensors.push_back(v);
    }
    state->infos.push_back(std::move(infos));
    state->files.push_back(*file);
    state->owned_files.push_back(std::move(file));
    state->mappings.push_back(std::move(*mapped));
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

#pragma once
// Zero-copy tensor views over a model's weight files: every safetensors and GGUF header parsed
// and validated (model/safetensors.hpp, model/gguf.hpp), each file mapped read-only with mmap,
// and a view per tensor that points into the mapping. Opening reads the headers only; a tensor's
// bytes are read from disk (or the page cache) when first touched. The C++ counterpart of
// safetensors' `safe_open(..., framework="pt")` and llama.cpp's mmap loading.
//
// A view stays valid while its Weights lives (moving a Weights keeps them valid). A header that
// passed validation cannot make a view reach outside its file's mapping. As with every mmap
// loader, a file truncated by another process while mapped raises SIGBUS on touch: hubcache's
// blobs are never rewritten in place, so files opened from the cache are safe.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hubcache/core/repo_id.hpp"
#include "hubcache/core/result.hpp"
#include "hubcache/model/gguf.hpp"
#include "hubcache/model/safetensors.hpp"
#include "hubcache/model/tensor.hpp"

namespace hubcache::weights {

enum class FileFormat { Safetensors, Gguf };

/// One mapped weight file and what its header says.
struct WeightFile {
  std::string path;  // as opened (a snapshot path stays a snapshot path, the symlink followed)
  FileFormat format = FileFormat::Safetensors;
  std::uint64_t size = 0;                       // bytes
  std::map<std::string, std::string> metadata;  // safetensors "__metadata__"
  std::vector<model::TensorInfo> tensors;       // in offset order (GGUF: file order); views point here
  std::optional<model::GgufFile> gguf;          // the GGUF header (metadata, alignment, ...; its tensors are `tensors`)
  int fd = -1;                                  // open read-only while the Weights lives (TensorView::read)
};

/// A tensor in a mapped file. `data` points at `info.length` bytes of the mapping; nothing is read
/// until they are touched.
struct TensorView {
  const model::TensorInfo* info = nullptr;
  const WeightFile* file = nullptr;
  const std::byte* data = nullptr;

  const std::string& name() const { return info->name; }
  const std::string& dtype() const { return info->dtype; }
  const std::vector<std::uint64_t>& shape() const { return info->shape; }
  std::span<const std::byte> bytes() const { return {data, static_cast<std::size_t>(info->length)}; }
  /// madvise(MADV_WILLNEED) on the tensor's pages: the kernel starts reading them ahead.
  void prefetch() const;
  /// Copies `out.size()` bytes of the tensor, from byte `offset` of it, into `out` with pread:
  /// the path for a caller that needs its own copy (a staging buffer for a GPU upload). It costs
  /// what `cat` costs, whereas the first touch of mapped pages costs a page fault per 4 KiB page
  /// (far more under hypervisors with shadow page tables). Errors: InvalidArgument when the range
  /// is not inside the tensor, Io (naming the file) when the read fails or the file got shorter.
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) const;
};

struct OpenOptions {
  /// A folder inside the model folder to open instead of its root (diffusers' "unet", ...).
  std::string subfolder;
};

/// How a model is named for open_model: a repo id (resolved offline in the cache, like
/// from_pretrained with local_files_only) or a local folder (used directly, from_pretrained's first rule).
struct ModelOpenOptions {
  std::string revision = "main";
  std::string cache_dir;  // the hub cache (Config::hub_cache)
  OpenOptions open;
};

class Weights {
 public:
  /// Opens the weights of a model folder (or `options.subfolder` of it), the files
  /// from_pretrained would load: the shards a `model.safetensors.index.json` (or
  /// `diffusion_pytorch_model.safetensors.index.json`) names; else `model.safetensors` (or
  /// `diffusion_pytorch_model.safetensors`) alone when present; else every `*.safetensors` of
  /// the folder; and every `*.gguf` when there is no safetensors file. Errors: NotFound (no
  /// weight file, or a shard the index names is missing: named), NotADirectory, Integrity (a
  /// malformed header, an index shard outside the folder, or two files holding a tensor of one
  /// name: names the file(s) and byte offset), Io / PermissionDenied from open and mmap.
  static Result<Weights> open_folder(const std::string& folder, const OpenOptions& options = {});
  /// Opens exactly these files; each one's format by its name (`.gguf`, `.safetensors`), else by
  /// its magic ("GGUF") or else as safetensors. A FIFO or device is refused without blocking.
  /// Errors as open_folder.
  static Result<Weights> open_files(const std::vector<std::string>& paths);
  /// Resolves `repo_id_or_folder` offline (resolve_snapshot: never the network) and opens its
  /// snapshot folder. A snapshot downloaded in part (other files of its commit missing) opens when
  /// the weight files open_folder needs are there. Errors: resolve_snapshot's (LocalEntryNotFound
  /// naming the command that downloads it, IncompleteSnapshot when weight files are missing too,
  /// InvalidRepoId, ...) and open_folder's.
  static Result<Weights> open_model(const std::string& repo_id_or_folder, const ModelOpenOptions& options);

  Weights(Weights&&) noexcept;
  Weights& operator=(Weights&&) noexcept;
  ~Weights();

  /// Every tensor, file by file in the order opened, each file's tensors in offset order.
  const std::vector<TensorView>& tensors() const;
  /// The tensor called `name`, or nullptr.
  const TensorView* find(std::string_view name) const;
  const std::vector<WeightFile>& files() const;
  /// Sum of elements over all tensors.
  std::uint64_t parameter_count() const;
  /// Sum of tensor bytes.
  std::uint64_t tensor_bytes() const;

 private:
  struct State;
  explicit Weights(std::unique_ptr<State> state);
  std::unique_ptr<State> m_state;
};

}  // namespace hubcache::weights

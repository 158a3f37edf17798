#pragma once
// One tensor as a weight file's header describes it: the vocabulary shared by the safetensors and
// GGUF readers (safetensors.hpp, gguf.hpp), inspect and the tensor views (weights/weights.hpp).
#include <cstdint>
#include <string>
#include <vector>

namespace hubcache::model {

struct TensorInfo {
  std::string name;
  /// The format's own type name: safetensors' dtype ("BF16", "F8_E4M3", ...) or GGML's ("Q4_K",
  /// "F16", ...), as @huggingface/hub and @huggingface/gguf report them.
  std::string dtype;
  /// Dimensions as the file stores them: safetensors row-major (outermost first); GGUF in ggml's
  /// `ne` order (innermost first), as @huggingface/gguf reports `shape`.
  std::vector<std::uint64_t> shape;
  std::uint64_t offset = 0;  // absolute byte offset of the first byte in the file
  std::uint64_t length = 0;  // bytes

  /// Product of the dimensions (1 for a scalar, shape {}); saturates at UINT64_MAX.
  std::uint64_t elements() const;
};

}  // namespace hubcache::model

#include "hubcache/model/tensor.hpp"

#include <limits>

namespace hubcache::model {

std::uint64_t TensorInfo::elements() const {
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d) return std::numeric_limits<std::uint64_t>::max();
    n *= d;
  }
  return n;
}

}  // namespace hubcache::model

// libFuzzer target: the safetensors header reader (model/safetensors.hpp) on arbitrary bytes as a
// whole file. Invariants beyond "no crash / no sanitizer report": an accepted header's tensors all
// lie inside the file, after the header, without overlapping; the index reader never accepts a
// shard path that leaves the index's folder.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "hubcache/model/safetensors.hpp"

using namespace hubcache::model;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  if (auto n = safetensors_header_length(file.substr(0, 8), size, "fuzz")) {
    if (auto h = parse_safetensors_header(file.substr(8, *n), size, "fuzz")) {
      std::uint64_t end = h->data_start;
      for (const auto& t : h->tensors) {
        if (t.offset < h->data_start || t.offset > size || t.length > size - t.offset) std::abort();
        if (t.length != 0 && t.offset < end) std::abort();  // sorted, no overlap
        if (t.length != 0) end = t.offset + t.length;
      }
    }
  }
  if (auto idx = parse_safetensors_index(file, "fuzz.json")) {
    for (const auto& s : idx->shards) {
      if (s.empty() || s.front() == '/') std::abort();
      const std::string wrapped = "/" + s + "/";
      if (wrapped.find("/../") != std::string::npos || wrapped.find("/./") != std::string::npos) std::abort();
    }
  }
  return 0;
}

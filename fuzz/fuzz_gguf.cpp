// libFuzzer target: the GGUF header reader (model/gguf.hpp) on arbitrary bytes, as a whole file
// and as every prefix a range reader would hand it. Invariants beyond "no crash / no sanitizer
// report": accepted tensors lie inside the file, aligned, after the header; a prefix either
// parses, fails, or asks for more bytes than it has and no more than the file holds.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hubcache/model/gguf.hpp"

using namespace hubcache::model;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  GgufLimits limits;
  limits.max_string = 1 << 16;  // keep the fuzzer's allocations small
  limits.max_kv = 1 << 12;
  limits.max_tensors = 1 << 12;
  auto whole = parse_gguf(file, size, "fuzz", limits);
  if (whole) {
    if (!whole->file) std::abort();  // the whole file can never ask for more
    const auto& f = *whole->file;
    for (const auto& t : f.tensors)
      if (t.offset < f.data_start || t.offset > size || t.length > size - t.offset || (t.offset - f.data_start) % f.alignment)
        std::abort();
  }
  // A range reader's view: a prefix of a file twice as long.
  const std::uint64_t claimed = std::uint64_t{size} * 2 + 1;
  auto part = parse_gguf(file, claimed, "fuzz", limits);
  if (part && !part->file && (part->need <= size || part->need > claimed)) std::abort();
  return 0;
}

// Pure helpers of the transfer module.
#include <optional>
#include <string>

#include "hubcache/transfer/engine.hpp"
#include "hubcache/util/text.hpp"
#include "hubcache/util/hash.hpp"

namespace hubcache::transfer {

Result<std::string> adjust_range_header(std::string_view header, std::uint64_t n) {
  auto bad = [&](const char* why) {
    return fail(ErrorCode::InvalidArgument, "cannot resume with Range '" + std::string(header) + "': " + why);
  };
  if (header.substr(0, 6) != "bytes=") return bad("not a byte range");
  const std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return bad("multiple ranges");
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return bad("no '-'");
  const auto start = spec.substr(0, dash), end = spec.substr(dash + 1);
  if (start.empty()) {
    const auto len = parse_u64(end);
    if (!len) return bad("malformed suffix length");
    if (*len <= n) return bad("the range is already complete");
    return "bytes=-" + std::to_string(*len - n);
  }
  const auto s = parse_u64(start);
  if (!s) return bad("malformed start");
  if (end.empty()) return "bytes=" + std::to_string(*s + n) + "-";
  const auto e = parse_u64(end);
  if (!e || *e < *s) return bad("malformed end");
  if (*s + n > *e) return bad("the range is already complete");
  return "bytes=" + std::to_string(*s + n) + "-" + std::to_string(*e);
}

}  // namespace hubcache::transfer

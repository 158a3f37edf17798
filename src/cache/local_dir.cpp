#include "hubcache/cache/local_dir.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "hubcache/util/hash.hpp"
#include "hubcache/util/text.hpp"

namespace hubcache {
namespace {

std::string base64_urlsafe(const std::string& bytes) {
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += k_alphabet[(v >> shift) & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? k_alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    unsigned v = 0;
    std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    out += static_cast<char>(v);
  }
  return out;
}

// time.time() as Python's float repr: the shortest digits that round-trip, in fixed notation
// for 1e-4 <= |t| < 1e16 (with ".0" on whole numbers), else in scientific ("1e+16").
std::string python_float_repr(double t) {
  if (!std::isfinite(t)) return std::isnan(t) ? "nan" : (t > 0 ? "inf" : "-inf");
  const double a = std::fabs(t);
  const bool scientific = a != 0 && (a < 1e-4 || a >= 1e16);
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, t, scientific ? std::chars_format::scientific : std::chars_format::fixed);
  std::string s(buf, r.ptr);
  if (!scientific && s.find('.') == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string LocalDirLayout::meta_dir() const { return m_root + "/" + std::string(k_local_meta_dir); }
std::string LocalDirLayout::download_dir() const { return m_root + "/" + std::string(k_local_download_dir); }
std::string LocalDirLayout::trees_dir() const { return meta_dir() + "/trees"; }
std::string LocalDirLayout::metadata_path(std::string_view path) const {
  return download_dir() + "/" + std::string(path) + std::string(k_local_metadata_suffix);
}
std::string LocalDirLayout::lock_path(std::string_view path) const {
  return download_dir() + "/" + std::string(path) + std::string(k_local_lock_suffix);
}
std::string LocalDirLayout::temp_path(std::string_view path, std::string_view etag) const {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string_view::npos ? "" : std::string(path.substr(0, slash + 1));
  const std::string name =
      std::string(slash == std::string_view::npos ? path : path.substr(slash + 1)) + std::string(k_local_metadata_suffix);
  Hasher sha1(Hasher::Kind::Sha1);
  sha1.update(name);
  return download_dir() + "/" + dir + base64_urlsafe(hex_to_bytes(sha1.hex_digest())) + "." + std::string(etag) + ".incomplete";
}

std::string format_local_metadata(const LocalDownloadFileMetadata& m) {
  return m.commit + "\n" + m.etag + "\n" + python_float_repr(m.timestamp) + "\n";
}

std::optional<LocalDownloadFileMetadata> parse_local_metadata(std::string_view text) {
  std::string lines[3];
  std::size_t pos = 0;
  for (auto& line : lines) {
    if (pos > text.size()) return std::nullopt;
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    line = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (lines[2].empty()) return std::nullopt;
  char* end = nullptr;
  const double timestamp = std::strtod(lines[2].c_str(), &end);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return LocalDownloadFileMetadata{lines[0], lines[1], timestamp};
}

bool local_metadata_is_current(const LocalDownloadFileMetadata& m, double file_mtime_seconds) {
  return file_mtime_seconds - 1 <= m.timestamp;
}

}  // namespace hubcache

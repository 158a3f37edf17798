// Reconstruction and token JSON (include/hubcache/xet/reconstruction.hpp).
#include "hubcache/xet/reconstruction.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <limits>

namespace hubcache::xet {
namespace {

using nlohmann::json;

// A decoded term is at most a xorb's chunk count times the chunk size.
constexpr std::uint64_t k_max_unpacked = 8192ull * 128 * 1024;

Unexpected bad(std::string what) {
  return fail(ErrorCode::Integrity, fmt::format("the Xet reconstruction answer is malformed: {}", what));
}

Result<std::uint64_t> get_u64(const json& obj, const char* key, const std::string& where) {
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_unsigned())
    return bad(fmt::format("{}.{} is missing or not a non-negative integer", where, key));
  return it->get<std::uint64_t>();
}

Result<ChunkRange> get_chunks(const json& obj, const std::string& where) {
  if (!obj.is_object()) return bad(where + " is not an object");
  HUBCACHE_TRY_ASSIGN(auto start, get_u64(obj, "start", where));
  HUBCACHE_TRY_ASSIGN(auto end, get_u64(obj, "end", where));
  if (end > std::numeric_limits<std::uint32_t>::max() || start >= end)
    return bad(fmt::format("{} [{}, {}) is not a chunk range", where, start, end));
  return ChunkRange{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end)};
}

Result<ByteRange> get_bytes(const json& obj, const std::string& where) {
  if (!obj.is_object()) return bad(where + " is not an object");
  HUBCACHE_TRY_ASSIGN(auto start, get_u64(obj, "start", where));
  HUBCACHE_TRY_ASSIGN(auto end, get_u64(obj, "end", where));
  if (start > end) return bad(fmt::format("{} {}-{} is reversed", where, start, end));
  return ByteRange{start, end};
}

Result<MerkleHash> get_hash(std::string_view text, const std::string& where) {
  auto h = MerkleHash::from_hex(text);
  if (!h) return bad(fmt::format("{} is not a Xet hash: {}", where, h.error().message));
  return *h;
}

Result<std::string> get_url(const json& obj, const std::string& where, const ReconstructionLimits& limits) {
  const auto it = obj.find("url");
  if (it == obj.end() || !it->is_string()) return bad(where + ".url is missing or not a string");
  const auto& url = it->get_ref<const std::string&>();
  if (url.empty() || url.size() > limits.max_url_bytes)
    return bad(fmt::format("{}.url has {} bytes (1..{})", where, url.size(), limits.max_url_bytes));
  return url;
}

}  // namespace

Result<Reconstruction> parse_reconstruction(std::string_view text, int version, const ReconstructionLimits& limits) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  Reconstruction r;
  HUBCACHE_TRY_ASSIGN(r.offset_into_first_range, get_u64(doc, "offset_into_first_range", "answer"));
  const auto terms = doc.find("terms");
  if (terms == doc.end() || !terms->is_array()) return bad("terms is missing or not a list");
  if (terms->size() > limits.max_terms) return bad(fmt::format("{} terms (at most {})", terms->size(), limits.max_terms));
  r.terms.reserve(terms->size());
  for (std::size_t i = 0; i < terms->size(); ++i) {
    const auto& t = (*terms)[i];
    const std::string where = fmt::format("terms[{}]", i);
    if (!t.is_object() || !t.contains("hash") || !t["hash"].is_string()) return bad(where + ".hash is missing");
    Term term;
    HUBCACHE_TRY_ASSIGN(term.xorb, get_hash(t["hash"].get_ref<const std::string&>(), where + ".hash"));
    HUBCACHE_TRY_ASSIGN(auto unpacked, get_u64(t, "unpacked_length", where));
    if (unpacked == 0 || unpacked > k_max_unpacked)
      return bad(fmt::format("{}.unpacked_length {} is outside 1..{}", where, unpacked, k_max_unpacked));
    term.unpacked_length = static_cast<std::uint32_t>(unpacked);
    if (!t.contains("range")) return bad(where + ".range is missing");
    HUBCACHE_TRY_ASSIGN(term.range, get_chunks(t["range"], where + ".range"));
    r.terms.push_back(term);
  }
  if (!r.terms.empty() && r.offset_into_first_range >= r.terms.front().unpacked_length)
    return bad(fmt::format("offset_into_first_range {} is not inside the first term ({} bytes)", r.offset_into_first_range,
                           r.terms.front().unpacked_length));

  const char* map_key = version == 1 ? "fetch_info" : "xorbs";
  const auto fetch = doc.find(map_key);
  if (fetch == doc.end() || !fetch->is_object()) {
    if (r.terms.empty()) return r;
    return bad(fmt::format("{} is missing or not an object", map_key));
  }
  std::size_t ranges = 0;
  for (const auto& [key, entries] : fetch->items()) {
    const std::string where = fmt::format("{}[{}]", map_key, key);
    HUBCACHE_TRY_ASSIGN(auto xorb, get_hash(key, where));
    if (!entries.is_array()) return bad(where + " is not a list");
    auto& list = r.xorbs[xorb];
    for (std::size_t j = 0; j < entries.size(); ++j) {
      const auto& e = entries[j];
      const std::string at = fmt::format("{}[{}]", where, j);
      if (!e.is_object()) return bad(at + " is not an object");
      XorbFetch f;
      HUBCACHE_TRY_ASSIGN(f.url, get_url(e, at, limits));
      if (version == 1) {
        if (!e.contains("range") || !e.contains("url_range")) return bad(at + " lacks range or url_range");
        FetchRange fr;
        HUBCACHE_TRY_ASSIGN(fr.chunks, get_chunks(e["range"], at + ".range"));
        HUBCACHE_TRY_ASSIGN(fr.bytes, get_bytes(e["url_range"], at + ".url_range"));
        f.ranges.push_back(fr);
      } else {
        const auto rs = e.find("ranges");
        if (rs == e.end() || !rs->is_array() || rs->empty()) return bad(at + ".ranges is missing or empty");
        for (std::size_t k = 0; k < rs->size(); ++k) {
          const auto& item = (*rs)[k];
          const std::string rat = fmt::format("{}.ranges[{}]", at, k);
          if (!item.is_object() || !item.contains("chunks") || !item.contains("bytes"))
            return bad(rat + " lacks chunks or bytes");
          FetchRange fr;
          HUBCACHE_TRY_ASSIGN(fr.chunks, get_chunks(item["chunks"], rat + ".chunks"));
          HUBCACHE_TRY_ASSIGN(fr.bytes, get_bytes(item["bytes"], rat + ".bytes"));
          f.ranges.push_back(fr);
        }
      }
      ranges += f.ranges.size();
      if (ranges > limits.max_ranges) return bad(fmt::format("more than {} fetch ranges", limits.max_ranges));
      list.push_back(std::move(f));
    }
  }
  for (std::size_t i = 0; i < r.terms.size(); ++i)
    if (!find_fetch_range(r, r.terms[i]))
      return bad(fmt::format("terms[{}] (xorb {}, chunks {}..{}) has no fetch entry holding its chunks", i, r.terms[i].xorb.hex(),
                             r.terms[i].range.start, r.terms[i].range.end));
  return r;
}

const FetchRange* find_fetch_range(const Reconstruction& r, const Term& term, const XorbFetch** url_of) {
  const auto it = r.xorbs.find(term.xorb);
  if (it == r.xorbs.end()) return nullptr;
  for (const auto& f : it->second)
    for (const auto& fr : f.ranges)
      if (fr.chunks.start <= term.range.start && term.range.end <= fr.chunks.end) {
        if (url_of) *url_of = &f;
        return &fr;
      }
  return nullptr;
}

std::string reconstruction_json(const Reconstruction& r, int version) {
  json doc = json::object();
  doc["offset_into_first_range"] = r.offset_into_first_range;
  json terms = json::array();
  for (const auto& t : r.terms)
    terms.push_back({{"hash", t.xorb.hex()},
                     {"unpacked_length", t.unpacked_length},
                     {"range", {{"start", t.range.start}, {"end", t.range.end}}}});
  doc["terms"] = std::move(terms);
  json fetch = json::object();
  for (const auto& [xorb, entries] : r.xorbs) {
    json list = json::array();
    for (const auto& f : entries) {
      if (version == 1) {
        for (const auto& fr : f.ranges)
          list.push_back({{"range", {{"start", fr.chunks.start}, {"end", fr.chunks.end}}},
                          {"url", f.url},
                          {"url_range", {{"start", fr.bytes.start}, {"end", fr.bytes.end}}}});
      } else {
        json ranges = json::array();
        for (const auto& fr : f.ranges)
          ranges.push_back({{"chunks", {{"start", fr.chunks.start}, {"end", fr.chunks.end}}},
                            {"bytes", {{"start", fr.bytes.start}, {"end", fr.bytes.end}}}});
        list.push_back({{"url", f.url}, {"ranges", std::move(ranges)}});
      }
    }
    fetch[xorb.hex()] = std::move(list);
  }
  doc[version == 1 ? "fetch_info" : "xorbs"] = std::move(fetch);
  return doc.dump();
}

Result<XetToken> parse_xet_token(std::string_view text) {
  const json doc = json::parse(text, nullptr, false);
  auto token_bad = [](std::string what) {
    return fail(ErrorCode::Integrity, fmt::format("the Xet token answer is malformed: {}", what));
  };
  if (doc.is_discarded() || !doc.is_object()) return token_bad("not a JSON object");
  XetToken t;
  for (auto [key, field] : {std::pair{"accessToken", &t.access_token}, std::pair{"casUrl", &t.cas_url}}) {
    const auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) return token_bad(fmt::format("{} is missing or not a string", key));
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 64000) return token_bad(fmt::format("{} has {} bytes (1..64000)", key, s.size()));
    *field = s;
  }
  const auto exp = doc.find("exp");
  // An unsigned value past int64's range would wrap to a time in the past.
  if (exp == doc.end() || !exp->is_number_integer() ||
      (exp->is_number_unsigned() &&
       exp->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())))
    return token_bad("exp is missing or not a signed 64-bit integer");
  t.exp = exp->get<std::int64_t>();
  return t;
}

std::string xet_token_json(const XetToken& t) {
  return json{{"accessToken", t.access_token}, {"exp", t.exp}, {"casUrl", t.cas_url}}.dump();
}

}  // namespace hubcache::xet

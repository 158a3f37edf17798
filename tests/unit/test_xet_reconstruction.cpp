// The CAS reconstruction answer and the read-token answer (include/hubcache/xet/reconstruction.hpp;
// ../shared/research/xet.md 2.2): v2 and v1 samples shaped like the spec's, round trips through
// reconstruction_json, and hostile answers that must be refused before anything is fetched.
#include <gtest/gtest.h>

#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hubcache/xet/reconstruction.hpp"

namespace hubcache::xet {
namespace {

using nlohmann::json;

const std::string k_x1 = "f1aa7b8b2d0b3b4c0b1f8b51e3d8c5d7d4e0c3b0a9a8f7e6d5c4b3a291807f6e";
const std::string k_x2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string k_x3 = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

std::string signed_url(const std::string& xorb, const std::string& range) {
  return "https://transfer.xethub.hf.co/xorb/default/" + xorb + "?X-Xet-Signed-Range=bytes%3D" + range +
         "&Expires=1764633600&Policy=eyJTdGF0ZW1lbnQiOlt7fV19&Signature=abc~def_&Key-Pair-Id=K2L8F4GPSG1IFC";
}

MerkleHash hash_of(const std::string& text) {
  auto h = MerkleHash::from_hex(text);
  EXPECT_TRUE(h) << text;
  return h ? *h : MerkleHash{};
}

// A v2 answer for a file of three terms over two xorbs: x1 chunks 0..4 (one range), x2 chunks
// 10..12 (the second of two ranges on one URL), then x1 chunks 2..3 again (dedupe inside a file),
// and a third xorb entry split over two URLs.
json v2_sample() {
  return json::parse(R"({
    "offset_into_first_range": 0,
    "terms": [
      {"hash": ")" + k_x1 +
                     R"(", "unpacked_length": 263873, "range": {"start": 0, "end": 4}},
      {"hash": ")" + k_x2 +
                     R"(", "unpacked_length": 100000, "range": {"start": 10, "end": 12}},
      {"hash": ")" + k_x1 +
                     R"(", "unpacked_length": 65536, "range": {"start": 2, "end": 3}},
      {"hash": ")" + k_x3 +
                     R"(", "unpacked_length": 131072, "range": {"start": 700, "end": 701}}
    ],
    "xorbs": {
      ")" + k_x1 + R"(": [{"url": ")" +
                     signed_url(k_x1, "0-99999") + R"(",
                          "ranges": [{"chunks": {"start": 0, "end": 4}, "bytes": {"start": 0, "end": 99999}}]}],
      ")" + k_x2 + R"(": [{"url": ")" +
                     signed_url(k_x2, "0-4095,200000-260000") + R"(",
                          "ranges": [{"chunks": {"start": 0, "end": 1}, "bytes": {"start": 0, "end": 4095}},
                                     {"chunks": {"start": 10, "end": 12}, "bytes": {"start": 200000, "end": 260000}}]}],
      ")" + k_x3 + R"(": [{"url": ")" +
                     signed_url(k_x3, "0-9") + R"(",
                          "ranges": [{"chunks": {"start": 0, "end": 1}, "bytes": {"start": 0, "end": 9}}]},
                         {"url": ")" +
                     signed_url(k_x3, "5000000-5131079") + R"(",
                          "ranges": [{"chunks": {"start": 700, "end": 701}, "bytes": {"start": 5000000, "end": 5131079}}]}]
    }
  })");
}

// The same file as a v1 answer: fetch_info lists one entry per range.
json v1_sample() {
  return json::parse(R"({
    "offset_into_first_range": 0,
    "terms": [
      {"hash": ")" + k_x1 +
                     R"(", "unpacked_length": 263873, "range": {"start": 0, "end": 4}},
      {"hash": ")" + k_x2 +
                     R"(", "unpacked_length": 100000, "range": {"start": 10, "end": 12}},
      {"hash": ")" + k_x1 +
                     R"(", "unpacked_length": 65536, "range": {"start": 2, "end": 3}}
    ],
    "fetch_info": {
      ")" + k_x1 + R"(": [{"range": {"start": 0, "end": 4}, "url": ")" +
                     signed_url(k_x1, "0-99999") + R"(",
                          "url_range": {"start": 0, "end": 99999}}],
      ")" + k_x2 + R"(": [{"range": {"start": 0, "end": 1}, "url": ")" +
                     signed_url(k_x2, "0-4095") + R"(",
                          "url_range": {"start": 0, "end": 4095}},
                         {"range": {"start": 9, "end": 13}, "url": ")" +
                     signed_url(k_x2, "150000-260000") + R"(",
                          "url_range": {"start": 150000, "end": 260000}}]
    }
  })");
}

Result<Reconstruction> parse(const json& j, int version, const ReconstructionLimits& limits = {}) {
  return parse_reconstruction(j.dump(), version, limits);
}

// Every (xorb, url, range) a reconstruction lists, in order, as text: v1 and v2 group them
// differently.
std::vector<std::string> flat(const Reconstruction& r) {
  std::vector<std::string> out;
  for (const auto& [xorb, entries] : r.xorbs)
    for (const auto& f : entries)
      for (const auto& fr : f.ranges)
        out.push_back(xorb.hex() + " " + f.url + " chunks " + std::to_string(fr.chunks.start) + ".." +
                      std::to_string(fr.chunks.end) + " bytes " + std::to_string(fr.bytes.start) + "-" +
                      std::to_string(fr.bytes.end));
  return out;
}

void expect_same(const Reconstruction& a, const Reconstruction& b) {
  EXPECT_EQ(a.offset_into_first_range, b.offset_into_first_range);
  ASSERT_EQ(a.terms.size(), b.terms.size());
  for (std::size_t i = 0; i < a.terms.size(); ++i) {
    EXPECT_EQ(a.terms[i].xorb, b.terms[i].xorb) << i;
    EXPECT_EQ(a.terms[i].unpacked_length, b.terms[i].unpacked_length) << i;
    EXPECT_EQ(a.terms[i].range, b.terms[i].range) << i;
  }
  EXPECT_FALSE(flat(a).empty());
  EXPECT_EQ(flat(a), flat(b));
}

// ---- good answers ----

TEST(XetReconstruction, ParsesAV2Answer) {
  auto r = parse(v2_sample(), 2);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->offset_into_first_range, 0u);
  ASSERT_EQ(r->terms.size(), 4u);
  EXPECT_EQ(r->terms[0].xorb.hex(), k_x1);
  EXPECT_EQ(r->terms[0].unpacked_length, 263873u);
  EXPECT_EQ(r->terms[0].range, (ChunkRange{0, 4}));
  EXPECT_EQ(r->terms[1].xorb.hex(), k_x2);
  EXPECT_EQ(r->terms[1].range, (ChunkRange{10, 12}));
  EXPECT_EQ(r->terms[3].range, (ChunkRange{700, 701}));
  ASSERT_EQ(r->xorbs.size(), 3u);
  const auto& x2 = r->xorbs.at(hash_of(k_x2));
  ASSERT_EQ(x2.size(), 1u);
  EXPECT_EQ(x2[0].url, signed_url(k_x2, "0-4095,200000-260000"));
  ASSERT_EQ(x2[0].ranges.size(), 2u);
  EXPECT_EQ(x2[0].ranges[1].chunks, (ChunkRange{10, 12}));
  EXPECT_EQ(x2[0].ranges[1].bytes, (ByteRange{200000, 260000}));
  EXPECT_EQ(r->xorbs.at(hash_of(k_x3)).size(), 2u);

  // Each term finds the range that holds its chunks, and that range's URL.
  const std::vector<std::pair<ByteRange, std::string>> expected = {{{0, 99999}, signed_url(k_x1, "0-99999")},
                                                                   {{200000, 260000}, signed_url(k_x2, "0-4095,200000-260000")},
                                                                   {{0, 99999}, signed_url(k_x1, "0-99999")},
                                                                   {{5000000, 5131079}, signed_url(k_x3, "5000000-5131079")}};
  for (std::size_t i = 0; i < r->terms.size(); ++i) {
    const XorbFetch* url = nullptr;
    const FetchRange* fr = find_fetch_range(*r, r->terms[i], &url);
    ASSERT_NE(fr, nullptr) << i;
    ASSERT_NE(url, nullptr) << i;
    EXPECT_EQ(fr->bytes, expected[i].first) << i;
    EXPECT_EQ(url->url, expected[i].second) << i;
  }
  // A term of a xorb the answer does not list, or of chunks no range holds, finds nothing.
  EXPECT_EQ(find_fetch_range(*r, Term{MerkleHash{}, 1, {0, 1}}), nullptr);
  EXPECT_EQ(find_fetch_range(*r, Term{hash_of(k_x2), 1, {1, 10}}), nullptr);
  EXPECT_EQ(find_fetch_range(*r, Term{hash_of(k_x2), 1, {0, 12}}), nullptr) << "spans two ranges";
}

TEST(XetReconstruction, ParsesAV1Answer) {
  auto r = parse(v1_sample(), 1);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->terms.size(), 3u);
  ASSERT_EQ(r->xorbs.size(), 2u);
  const auto& x2 = r->xorbs.at(hash_of(k_x2));
  ASSERT_EQ(x2.size(), 2u) << "one v1 entry per range";
  EXPECT_EQ(x2[1].ranges.size(), 1u);
  EXPECT_EQ(x2[1].ranges[0].chunks, (ChunkRange{9, 13}));
  EXPECT_EQ(x2[1].ranges[0].bytes, (ByteRange{150000, 260000}));
  // v1's rule: an entry whose chunk range contains the term's.
  const XorbFetch* url = nullptr;
  const FetchRange* fr = find_fetch_range(*r, r->terms[1], &url);
  ASSERT_NE(fr, nullptr);
  EXPECT_EQ(fr->chunks, (ChunkRange{9, 13}));
  EXPECT_EQ(url->url, signed_url(k_x2, "150000-260000"));
}

TEST(XetReconstruction, RangeQueryOffsetAndEmptyFile) {
  json j = v2_sample();
  j["offset_into_first_range"] = 263872;  // the first term's last byte
  auto r = parse(j, 2);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->offset_into_first_range, 263872u);
  // An empty file: no terms, and nothing to fetch (the fetch map may be absent or empty).
  for (const char* text :
       {R"({"offset_into_first_range": 0, "terms": [], "xorbs": {}})", R"({"offset_into_first_range": 0, "terms": []})"}) {
    auto e = parse_reconstruction(text, 2);
    ASSERT_TRUE(e) << text << ": " << e.error().message;
    EXPECT_TRUE(e->terms.empty());
    EXPECT_TRUE(e->xorbs.empty());
  }
  auto e1 = parse_reconstruction(R"({"offset_into_first_range": 0, "terms": [], "fetch_info": {}})", 1);
  ASSERT_TRUE(e1) << e1.error().message;
  EXPECT_TRUE(e1->terms.empty());
}

TEST(XetReconstruction, HashCaseDoesNotMatter) {
  json j = v2_sample();
  std::string upper = k_x1;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  j["terms"][0]["hash"] = upper;
  auto r = parse(j, 2);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->terms[0].xorb.hex(), k_x1);
  EXPECT_NE(find_fetch_range(*r, r->terms[0]), nullptr);
}

TEST(XetReconstruction, RoundTripsThroughItsJsonForBothVersions) {
  for (int version : {2, 1}) {
    auto original = version == 2 ? parse(v2_sample(), 2) : parse(v1_sample(), 1);
    ASSERT_TRUE(original) << original.error().message;
    for (int written : {2, 1}) {
      const std::string text = reconstruction_json(*original, written);
      const json doc = json::parse(text);
      EXPECT_TRUE(doc.contains(written == 2 ? "xorbs" : "fetch_info")) << text;
      EXPECT_FALSE(doc.contains(written == 2 ? "fetch_info" : "xorbs")) << text;
      auto again = parse_reconstruction(text, written);
      ASSERT_TRUE(again) << version << "->" << written << ": " << again.error().message;
      expect_same(*original, *again);
      // A v1 writing has one entry per range; v2 keeps a URL's ranges together.
      if (written == 2) {
        for (const auto& [xorb, entries] : again->xorbs) EXPECT_EQ(entries.size(), original->xorbs.at(xorb).size());
      } else {
        for (const auto& [xorb, entries] : again->xorbs)
          for (const auto& e : entries) EXPECT_EQ(e.ranges.size(), 1u);
      }
    }
  }
  // A hand-made reconstruction round trips too, with an offset.
  Reconstruction r;
  r.offset_into_first_range = 17;
  r.terms.push_back({hash_of(k_x3), 1000, {5, 6}});
  r.xorbs[hash_of(k_x3)].push_back({"http://127.0.0.1:8080/xorb/x3", {{{0, 2}, {0, 99}}, {{5, 9}, {500, 4999}}}});
  for (int written : {2, 1}) {
    auto back = parse_reconstruction(reconstruction_json(r, written), written);
    ASSERT_TRUE(back) << back.error().message;
    expect_same(r, *back);
  }
}

// ---- hostile answers ----

struct Hostile {
  std::string why;
  json doc;
};

void expect_refused(const std::vector<Hostile>& cases, int version, const ReconstructionLimits& limits = {}) {
  for (const auto& c : cases) {
    auto r = parse(c.doc, version, limits);
    ASSERT_FALSE(r) << c.why << ": " << c.doc.dump();
    EXPECT_EQ(r.error().code, ErrorCode::Integrity) << c.why;
    EXPECT_NE(r.error().message.find("reconstruction"), std::string::npos) << r.error().message;
  }
}

template <class F>
json edited(json j, F f) {
  f(j);
  return j;
}

TEST(XetReconstruction, RefusesMalformedDocuments) {
  for (const char* text : {"", "not json", "[]", "null", "42", "\"terms\"", "{\"terms\": []", "{}"}) {
    auto r = parse_reconstruction(text, 2);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, ErrorCode::Integrity);
  }
}

TEST(XetReconstruction, RefusesMissingOrMistypedFields) {
  const json s = v2_sample();
  expect_refused(
      {
          {"no offset", edited(s, [](json& j) { j.erase("offset_into_first_range"); })},
          {"negative offset", edited(s, [](json& j) { j["offset_into_first_range"] = -1; })},
          {"offset as text", edited(s, [](json& j) { j["offset_into_first_range"] = "0"; })},
          {"offset as a fraction", edited(s, [](json& j) { j["offset_into_first_range"] = 0.5; })},
          {"no terms", edited(s, [](json& j) { j.erase("terms"); })},
          {"terms not a list", edited(s, [](json& j) { j["terms"] = json::object(); })},
          {"a term not an object", edited(s, [](json& j) { j["terms"][1] = 5; })},
          {"a term without hash", edited(s, [](json& j) { j["terms"][1].erase("hash"); })},
          {"a hash not a string", edited(s, [](json& j) { j["terms"][1]["hash"] = 12345; })},
          {"a term without unpacked_length", edited(s, [](json& j) { j["terms"][0].erase("unpacked_length"); })},
          {"unpacked_length as text", edited(s, [](json& j) { j["terms"][0]["unpacked_length"] = "263873"; })},
          {"negative unpacked_length", edited(s, [](json& j) { j["terms"][0]["unpacked_length"] = -263873; })},
          {"a term without range", edited(s, [](json& j) { j["terms"][0].erase("range"); })},
          {"a range not an object", edited(s,
                                           [](json& j) {
                                             j["terms"][0]["range"] = json::array({0, 4});
                                           })},
          {"a range without end", edited(s, [](json& j) { j["terms"][0]["range"].erase("end"); })},
          {"no xorbs", edited(s, [](json& j) { j.erase("xorbs"); })},
          {"xorbs a list", edited(s, [](json& j) { j["xorbs"] = json::array(); })},
          {"a xorb's entries not a list", edited(s, [](json& j) { j["xorbs"][k_x1] = json::object(); })},
          {"an entry not an object", edited(s, [](json& j) { j["xorbs"][k_x1][0] = "url"; })},
          {"an entry without url", edited(s, [](json& j) { j["xorbs"][k_x1][0].erase("url"); })},
          {"a url not a string", edited(s, [](json& j) { j["xorbs"][k_x1][0]["url"] = 7; })},
          {"an empty url", edited(s, [](json& j) { j["xorbs"][k_x1][0]["url"] = ""; })},
          {"an entry without ranges", edited(s, [](json& j) { j["xorbs"][k_x1][0].erase("ranges"); })},
          {"an entry with no ranges", edited(s, [](json& j) { j["xorbs"][k_x1][0]["ranges"] = json::array(); })},
          {"a range without bytes", edited(s, [](json& j) { j["xorbs"][k_x1][0]["ranges"][0].erase("bytes"); })},
          {"a range without chunks", edited(s, [](json& j) { j["xorbs"][k_x1][0]["ranges"][0].erase("chunks"); })},
          {"bytes without start", edited(s, [](json& j) { j["xorbs"][k_x1][0]["ranges"][0]["bytes"].erase("start"); })},
      },
      2);
  // v1's entries need range and url_range; a v2 answer read as v1 has no fetch_info.
  const json v1 = v1_sample();
  expect_refused(
      {
          {"no fetch_info", edited(v1, [](json& j) { j.erase("fetch_info"); })},
          {"an entry without url_range", edited(v1, [](json& j) { j["fetch_info"][k_x1][0].erase("url_range"); })},
          {"an entry without range", edited(v1, [](json& j) { j["fetch_info"][k_x1][0].erase("range"); })},
          {"an entry without url", edited(v1, [](json& j) { j["fetch_info"][k_x1][0].erase("url"); })},
          {"a v2 answer", v2_sample()},
      },
      1);
  expect_refused({{"a v1 answer read as v2", v1}}, 2);
}

TEST(XetReconstruction, RefusesBadHashes) {
  const json s = v2_sample();
  auto rekeyed = [&](const std::string& key) {
    return edited(s, [&](json& j) {
      j["xorbs"][key] = j["xorbs"][k_x1];
      j["xorbs"].erase(k_x1);
    });
  };
  expect_refused(
      {
          {"a term hash of 63 digits", edited(s, [](json& j) { j["terms"][0]["hash"] = k_x1.substr(1); })},
          {"a term hash of 65 digits", edited(s, [](json& j) { j["terms"][0]["hash"] = k_x1 + "0"; })},
          {"a term hash with a non-hex digit", edited(s, [](json& j) { j["terms"][0]["hash"] = "g" + k_x1.substr(1); })},
          {"an empty term hash", edited(s, [](json& j) { j["terms"][0]["hash"] = ""; })},
          {"a xorb key that is no hash", rekeyed("default")},
          {"a xorb key with a prefix", rekeyed("default/" + k_x1)},
      },
      2);
}

TEST(XetReconstruction, RefusesBadRanges) {
  const json s = v2_sample();
  expect_refused(
      {
          {"a reversed term range", edited(s,
                                           [](json& j) {
                                             j["terms"][0]["range"] = {{"start", 4}, {"end", 0}};
                                           })},
          {"an empty term range", edited(s,
                                         [](json& j) {
                                           j["terms"][0]["range"] = {{"start", 2}, {"end", 2}};
                                         })},
          {"a term range past u32", edited(s,
                                           [](json& j) {
                                             j["terms"][0]["range"] = {{"start", 0}, {"end", 4294967296ULL}};
                                           })},
          {"a reversed chunk range", edited(s,
                                            [](json& j) {
                                              j["xorbs"][k_x1][0]["ranges"][0]["chunks"] = {{"start", 4}, {"end", 0}};
                                            })},
          {"an empty chunk range", edited(s,
                                          [](json& j) {
                                            j["xorbs"][k_x2][0]["ranges"][0]["chunks"] = {{"start", 1}, {"end", 1}};
                                          })},
          {"a reversed byte range", edited(s,
                                           [](json& j) {
                                             j["xorbs"][k_x1][0]["ranges"][0]["bytes"] = {{"start", 100000}, {"end", 99999}};
                                           })},
          {"a negative byte offset", edited(s,
                                            [](json& j) {
                                              j["xorbs"][k_x1][0]["ranges"][0]["bytes"] = {{"start", -1}, {"end", 99999}};
                                            })},
      },
      2);
  // A one-byte range (start == end, inclusive) is fine.
  auto one = parse(edited(s, [](json& j) { j["xorbs"][k_x2][0]["ranges"][0]["bytes"] = {{"start", 7}, {"end", 7}}; }), 2);
  ASSERT_TRUE(one) << one.error().message;
}

TEST(XetReconstruction, RefusesUnpackedLengthsOutOfBounds) {
  const json s = v2_sample();
  const std::uint64_t max = 8192ULL * 128 * 1024;  // a xorb's chunk count times the chunk size
  expect_refused(
      {
          {"unpacked_length 0", edited(s, [](json& j) { j["terms"][1]["unpacked_length"] = 0; })},
          {"unpacked_length past a xorb", edited(s, [&](json& j) { j["terms"][1]["unpacked_length"] = max + 1; })},
          {"unpacked_length of 2^32 + 5", edited(s, [](json& j) { j["terms"][1]["unpacked_length"] = 4294967301ULL; })},
          {"unpacked_length of 2^64 - 1", edited(s, [](json& j) { j["terms"][1]["unpacked_length"] = 18446744073709551615ULL; })},
      },
      2);
  auto at_max = parse(edited(s, [&](json& j) { j["terms"][1]["unpacked_length"] = max; }), 2);
  ASSERT_TRUE(at_max) << at_max.error().message;
  EXPECT_EQ(at_max->terms[1].unpacked_length, max);
}

TEST(XetReconstruction, RefusesTermsNoFetchEntryHolds) {
  const json s = v2_sample();
  expect_refused(
      {
          {"a term's xorb is not listed", edited(s, [](json& j) { j["xorbs"].erase(k_x2); })},
          {"a term's chunks run past its range", edited(s,
                                                        [](json& j) {
                                                          j["terms"][1]["range"] = {{"start", 10}, {"end", 13}};
                                                        })},
          {"a term's chunks start before its range", edited(s,
                                                            [](json& j) {
                                                              j["terms"][1]["range"] = {{"start", 9}, {"end", 12}};
                                                            })},
          {"a term spans two ranges", edited(s,
                                             [](json& j) {
                                               j["terms"][1]["range"] = {{"start", 0}, {"end", 12}};
                                             })},
          {"a term's xorb has other chunks only",
           edited(s,
                  [](json& j) {
                    j["xorbs"][k_x3][1]["ranges"][0]["chunks"] = {{"start", 600}, {"end", 700}};
                  })},
      },
      2);
  const json v1 = v1_sample();
  expect_refused({{"a v1 term no entry contains", edited(v1,
                                                         [](json& j) {
                                                           j["fetch_info"][k_x2][1]["range"] = {{"start", 11}, {"end", 13}};
                                                         })}},
                 1);
}

TEST(XetReconstruction, RefusesAnOffsetBeyondTheFirstTerm) {
  const json s = v2_sample();
  expect_refused(
      {
          {"offset == the first term's length", edited(s, [](json& j) { j["offset_into_first_range"] = 263873; })},
          {"offset past the first term", edited(s, [](json& j) { j["offset_into_first_range"] = 263874 + 100000; })},
          {"offset of 2^64 - 1", edited(s, [](json& j) { j["offset_into_first_range"] = 18446744073709551615ULL; })},
      },
      2);
}

TEST(XetReconstruction, EnforcesItsLimits) {
  const json s = v2_sample();  // 4 terms, 5 ranges, URLs of ~190 bytes
  const std::size_t url_len = signed_url(k_x2, "0-4095,200000-260000").size();
  ReconstructionLimits terms3;
  terms3.max_terms = 3;
  expect_refused({{"4 terms, at most 3", s}}, 2, terms3);
  ReconstructionLimits terms4;
  terms4.max_terms = 4;
  EXPECT_TRUE(parse(s, 2, terms4));

  ReconstructionLimits ranges4;
  ranges4.max_ranges = 4;
  expect_refused({{"5 ranges, at most 4", s}}, 2, ranges4);
  ReconstructionLimits ranges5;
  ranges5.max_ranges = 5;
  EXPECT_TRUE(parse(s, 2, ranges5));
  expect_refused({{"v1: 3 ranges, at most 2", v1_sample()}}, 1, ReconstructionLimits{1u << 20, 64 * 1024, 2});

  ReconstructionLimits short_urls;
  short_urls.max_url_bytes = url_len - 1;
  expect_refused({{"a url one byte over the limit", s}}, 2, short_urls);
  short_urls.max_url_bytes = url_len;
  EXPECT_TRUE(parse(s, 2, short_urls));
  // The default limit: 64 KiB.
  expect_refused({{"a 64 KiB + 1 url",
                   edited(s, [](json& j) { j["xorbs"][k_x1][0]["url"] = "https://x/" + std::string(64 * 1024 + 1 - 10, 'a'); })}},
                 2);
  EXPECT_TRUE(parse(edited(s, [](json& j) { j["xorbs"][k_x1][0]["url"] = "https://x/" + std::string(64 * 1024 - 10, 'a'); }), 2));
}

// ---- the read token ----

TEST(XetToken, ParsesAndRoundTrips) {
  const std::string text =
      R"({"accessToken": "xet_eyJhbGciOiJFZERTQSJ9.e30.sig", "exp": 1764633600, "casUrl": "https://cas-server.xethub.hf.co"})";
  auto t = parse_xet_token(text);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->access_token, "xet_eyJhbGciOiJFZERTQSJ9.e30.sig");
  EXPECT_EQ(t->exp, 1764633600);
  EXPECT_EQ(t->cas_url, "https://cas-server.xethub.hf.co");
  auto back = parse_xet_token(xet_token_json(*t));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->access_token, t->access_token);
  EXPECT_EQ(back->exp, t->exp);
  EXPECT_EQ(back->cas_url, t->cas_url);
  // Unknown keys are ignored; a token of exactly 64000 bytes is accepted.
  auto extra = parse_xet_token(R"({"accessToken": ")" + std::string(64000, 't') +
                               R"(", "exp": 0, "casUrl": "http://127.0.0.1:1", "other": [1]})");
  ASSERT_TRUE(extra) << extra.error().message;
  EXPECT_EQ(extra->access_token.size(), 64000u);
  // exp is a signed 64-bit count of seconds: its extremes parse as themselves.
  for (std::int64_t exp : {std::numeric_limits<std::int64_t>::max(), std::int64_t{-1}, std::int64_t{0}}) {
    auto e = parse_xet_token(json{{"accessToken", "t"}, {"exp", exp}, {"casUrl", "u"}}.dump());
    ASSERT_TRUE(e) << exp << ": " << e.error().message;
    EXPECT_EQ(e->exp, exp);
  }
}

TEST(XetToken, RefusesBadAnswers) {
  const json good = {{"accessToken", "tok"}, {"exp", 1764633600}, {"casUrl", "https://cas"}};
  ASSERT_TRUE(parse_xet_token(good.dump()));
  std::vector<std::pair<std::string, std::string>> bad = {
      {"empty", ""},
      {"not json", "accessToken=tok"},
      {"a list", "[]"},
      {"null", "null"},
  };
  auto with = [&](const std::string& why, auto f) {
    json j = good;
    f(j);
    bad.emplace_back(why, j.dump());
  };
  with("no accessToken", [](json& j) { j.erase("accessToken"); });
  with("no casUrl", [](json& j) { j.erase("casUrl"); });
  with("no exp", [](json& j) { j.erase("exp"); });
  with("an empty token", [](json& j) { j["accessToken"] = ""; });
  with("an empty casUrl", [](json& j) { j["casUrl"] = ""; });
  with("a token not a string", [](json& j) { j["accessToken"] = 5; });
  with("a casUrl not a string", [](json& j) { j["casUrl"] = json::array({"https://cas"}); });
  with("exp as text", [](json& j) { j["exp"] = "1764633600"; });
  with("exp as a fraction", [](json& j) { j["exp"] = 1764633600.5; });
  with("exp null", [](json& j) { j["exp"] = nullptr; });
  // Past a signed 64-bit value (it must not wrap to a time in the past).
  with("exp of 2^63", [](json& j) { j["exp"] = 9223372036854775808ULL; });
  with("exp of 2^64 - 1", [](json& j) { j["exp"] = 18446744073709551615ULL; });
  with("a token over 64000 bytes", [](json& j) { j["accessToken"] = std::string(64001, 't'); });
  with("a casUrl over 64000 bytes", [](json& j) { j["casUrl"] = std::string(64001, 'u'); });
  for (const auto& [why, text] : bad) {
    auto t = parse_xet_token(text);
    ASSERT_FALSE(t) << why;
    EXPECT_EQ(t.error().code, ErrorCode::Integrity) << why;
  }
}

}  // namespace
}  // namespace hubcache::xet

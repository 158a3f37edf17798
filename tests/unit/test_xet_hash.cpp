// Xet hashes and chunking against every published vector we could find, values copied in full from
// their sources (../shared/research/xet.md "What can be tested offline"):
//   IETF     draft-denis-xet §"Test Vectors" (jedisct1/draft-denis-xet dfb18d11)
//   CORE     huggingface/xet-core af1a3ff9: merklehash aggregated_hashes.rs test_correctness,
//            data_hash.rs test_hash_hex_string_endianness, deduplication/chunking.rs tests
//   JS       huggingface/huggingface.js packages/xetchunk-wasm/tests/index.test.ts (fe42e680; the
//            minimum-chunk regression vector from the later commit 1c3cd659)
// Only salt 0 (the plain file hash) of CORE's salted file hashes is checked: the API has no salt.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "hubcache/xet/chunker.hpp"
#include "hubcache/xet/hash.hpp"

namespace hubcache::xet {
namespace {

std::span<const std::uint8_t> bytes_of(const char* s) { return {reinterpret_cast<const std::uint8_t*>(s), std::strlen(s)}; }

// A hash from its Xet text form (four little-endian u64).
MerkleHash xet(std::string_view text) {
  auto h = MerkleHash::from_hex(text);
  EXPECT_TRUE(h) << text;
  return h ? *h : MerkleHash{};
}

// A hash from plain hex, byte 0 first (the IETF draft's "raw hex").
MerkleHash raw(std::string_view text) {
  EXPECT_EQ(text.size(), 64u);
  MerkleHash h;
  for (std::size_t i = 0; i < 32 && 2 * i + 1 < text.size(); ++i)
    h.bytes[i] = static_cast<std::uint8_t>(std::stoi(std::string(text.substr(2 * i, 2)), nullptr, 16));
  return h;
}

std::string plain_hex(std::span<const std::uint8_t> b) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  for (auto v : b) {
    out += k_digits[v >> 4];
    out += k_digits[v & 15];
  }
  return out;
}

std::string sha256_hex(std::span<const std::uint8_t> data) {
  std::array<std::uint8_t, 32> md{};
  unsigned len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr), 1);
  return plain_hex(md);
}

// CORE chunking.rs / JS createRandomArray: n bytes of SplitMix64 from `seed`, each u64 little-endian.
std::vector<std::uint8_t> splitmix(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint8_t> d(n);
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < d.size(); i += 8) {
    state += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    for (std::size_t k = 0; k < 8 && i + k < d.size(); ++k) d[i + k] = static_cast<std::uint8_t>(z >> (8 * k));
  }
  return d;
}

// JS "Hash functions": byte i = (i * a + b) & 0xff.
std::vector<std::uint8_t> byte_pattern(std::size_t n, std::size_t a, std::size_t b) {
  std::vector<std::uint8_t> d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::uint8_t>((i * a + b) & 0xff);
  return d;
}

std::vector<std::uint64_t> ends_of(const std::vector<MerkleLeaf>& leaves) {
  std::vector<std::uint64_t> ends;
  std::uint64_t at = 0;
  for (const auto& l : leaves) ends.push_back(at += l.size);
  return ends;
}

std::vector<MerkleLeaf> chunk_in_pieces(std::span<const std::uint8_t> data, std::size_t step) {
  Chunker c;
  std::vector<MerkleLeaf> out;
  for (std::size_t at = 0; at < data.size(); at += step) c.feed(data.subspan(at, std::min(step, data.size() - at)), out);
  c.finish(out);
  return out;
}

void expect_same_leaves(const std::vector<MerkleLeaf>& a, const std::vector<MerkleLeaf>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].hash, b[i].hash) << what << " chunk " << i;
    EXPECT_EQ(a[i].size, b[i].size) << what << " chunk " << i;
  }
}

// ---- IETF §"Test Vectors" ----

TEST(XetHash, IetfChunkHashOfHelloWorld) {
  const auto h = chunk_hash(bytes_of("Hello World!"));
  EXPECT_EQ(plain_hex(h.bytes), "a29cfb08e608d4d8726dd8659a90b9134b3240d5d8e42d5fcb28e2a6e763a3e8");
  EXPECT_EQ(h.hex(), "d8d408e608fb9ca213b9909a65d86d725f2de4d8d540324be8a363e7a6e228cb");
  // The incremental hasher gives the same value, however the bytes are fed.
  ChunkHasher hasher;
  hasher.update(bytes_of("Hello "));
  hasher.update({});
  hasher.update(bytes_of("World!"));
  EXPECT_EQ(hasher.finish(), h);
  hasher.update(bytes_of("Hello World!"));
  EXPECT_EQ(hasher.finish(), h) << "finish() starts over";
}

TEST(XetHash, IetfTextFormReversesEachEightByteWord) {
  MerkleHash h;
  for (std::size_t i = 0; i < 32; ++i) h.bytes[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(h.hex(), "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918");
  auto back = MerkleHash::from_hex(h.hex());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
  EXPECT_EQ(h.tail_u64(), 0x1f1e1d1c1b1a1918ULL);
}

TEST(XetHash, IetfInternalNodeOfTwoChildren) {
  // Two leaves form one group, so the root is the node over
  // "c28f…4a69 : 100\n6e4e…0f22 : 200\n".
  const std::vector<MerkleLeaf> leaves = {{xet("c28f58387a60d4aa200c311cda7c7f77f686614864f5869eadebf765d0a14a69"), 100},
                                          {xet("6e4e3263e073ce2c0e78cc770c361e2778db3b054b98ab65e277fc084fa70f22"), 200}};
  EXPECT_EQ(merkle_root(leaves).hex(), "be64c7003ccd3cf4357364750e04c9592b3c36705dee76a71590c011766b6c14");
}

TEST(XetHash, IetfVerificationRangeHash) {
  // The same two chunks, given as raw bytes: they are the text forms above, word-reversed.
  const std::vector<MerkleHash> chunks = {raw("aad4607a38588fc2777f7cda1c310c209e86f564486186f6694aa1d065f7ebad"),
                                          raw("2cce73e063324e6e271e360c77cc780e65ab984b053bdb78220fa74f08fc77e2")};
  EXPECT_EQ(chunks[0], xet("c28f58387a60d4aa200c311cda7c7f77f686614864f5869eadebf765d0a14a69"));
  EXPECT_EQ(chunks[1], xet("6e4e3263e073ce2c0e78cc770c361e2778db3b054b98ab65e277fc084fa70f22"));
  EXPECT_EQ(verification_hash(chunks).hex(), "eb06a8ad81d588ac05d1d9a079232d9c1e7d0b07232fa58091caa7bf333a2768");
}

// ---- CORE data_hash.rs ----

TEST(XetHash, CoreHexStringEndianness) {
  const std::array<std::uint8_t, 32> bytes = {22,  175, 58, 132, 4,   75,  131, 214, 190, 153, 138, 66,  226, 3,   153, 242,
                                              204, 86,  80, 234, 249, 153, 80,  99,  159, 80,  65,  138, 236, 231, 149, 78};
  MerkleHash h;
  h.bytes = bytes;
  EXPECT_EQ(h.hex(), "d6834b04843aaf16f29903e2428a99be635099f9ea5056cc4e95e7ec8a41509f");
  auto back = MerkleHash::from_hex("d6834b04843aaf16f29903e2428a99be635099f9ea5056cc4e95e7ec8a41509f");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
  // Upper-case digits parse to the same hash.
  auto upper = MerkleHash::from_hex("D6834B04843AAF16F29903E2428A99BE635099F9EA5056CC4E95E7EC8A41509F");
  ASSERT_TRUE(upper);
  EXPECT_EQ(*upper, h);
}

TEST(XetHash, FromHexRefusesWrongLengthAndNonHex) {
  const std::string good = "d6834b04843aaf16f29903e2428a99be635099f9ea5056cc4e95e7ec8a41509f";
  for (const std::string& bad : {std::string(), good.substr(1), good + "0", std::string("abcdef"), std::string(64, 'g'),
                                 "x" + good.substr(1), good.substr(0, 63) + " ", good.substr(0, 31) + "-" + good.substr(32)}) {
    auto h = MerkleHash::from_hex(bad);
    ASSERT_FALSE(h) << bad;
    EXPECT_EQ(h.error().code, ErrorCode::InvalidArgument) << bad;
  }
}

// ---- JS "Hash functions (verified against Rust thin-wasm)" ----

TEST(XetHash, JsHmacIsKeyedBlake3OfTheRawHash) {
  // hmac(hash, key) = BLAKE3 keyed with the key's bytes over the hash's bytes, both given as text.
  const MerkleHash hash = xet("118bbac5c38b2bca9c2b7ae8307786de066696b91b2b5ccb7dbbd4608c966882");
  const MerkleHash key = xet("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(keyed_blake3(key.bytes, hash.bytes).hex(), "1e1f5ae2bae99fe030647a14a8c5fe6cdce57826387a7552236dfbebed533e04");
}

TEST(XetHash, JsVerificationHash) {
  const std::vector<MerkleHash> chunks = {xet("118bbac5c38b2bca9c2b7ae8307786de066696b91b2b5ccb7dbbd4608c966882"),
                                          xet("7884d4de4bcc904767362a91e97eb6c2b6bc5f3a61b640d0cad8bb1129ff0827")};
  EXPECT_EQ(verification_hash(chunks).hex(), "82d580dd3896919ef870af78b2c7bd21e67e79777922bbc8cef1fc21630c308c");
}

TEST(XetHash, JsBytePattern200000IsTwoChunks) {
  const auto data = byte_pattern(200000, 7, 13);
  const auto leaves = chunk_buffer(data);
  EXPECT_EQ(leaves.size(), 2u);
  EXPECT_EQ(xorb_hash(leaves).hex(), "f0755d96ee199d4f01e83da9fe2c38353de7fd38fb79a320a7d50be510026f74");
  EXPECT_EQ(file_hash(leaves).hex(), "d88d9e0b760f32c90b7c6592b4cb85251c01bb797371e3c637087b96ac578723");
}

TEST(XetHash, JsBytePatternMegabyteIsEightChunks) {
  const auto data = byte_pattern(1000000, 13, 37);
  const auto leaves = chunk_buffer(data);
  EXPECT_EQ(leaves.size(), 8u);
  EXPECT_EQ(xorb_hash(leaves).hex(), "7be289d851485c40dcde52dbcf37a7823a5ef0bfcdf1ca1c5a32ad9594c71571");
  EXPECT_EQ(file_hash(leaves).hex(), "041a50f3639f4a080a89237025d643e2a3e22935ca5d7dbc1a38f5c1e859f859");
}

TEST(XetHash, EmptyFileHashIsAllZerosNotTheKeyedHashOfZeros) {
  EXPECT_TRUE(file_hash({}).is_zero());
  EXPECT_TRUE(xorb_hash({}).is_zero());
  EXPECT_TRUE(chunk_buffer({}).empty());
  // What the empty file must not hash to (JS hash-utils: the CAS refuses it).
  EXPECT_EQ(keyed_blake3({}, MerkleHash{}.bytes).hex(), "638a6bc391964a85939d48f008e8bdbae6a7975e7ca2d87a3ce2492f4e4d8a4c");
}

// ---- CORE aggregated_hashes.rs test_correctness ----
// Its 18 leaf lists are drawn from per-seed hashes (seed 0: all zeros; others xet-core's
// MerkleHash::random_from_seed), a leaf of seed s covering 100·s bytes. Each case gives the xorb
// hash (cas_node_hash) and the file hash with salt 0.

const std::map<std::uint64_t, std::string_view> k_seed_hashes = {
    {0ULL, "0000000000000000000000000000000000000000000000000000000000000000"},
    {1ULL, "cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6"},
    {2ULL, "c3e67584b5c4fc2a89837ec39e40f2c8a6bb0b2987ac94cd4b31e5fbdd210a72"},
    {3ULL, "0d2beb91b9196929a5ddec9f6e306924ddf4a24268e3e59fd8464738d525af37"},
    {4ULL, "adf8773496a9b7319b2e50dc98093f344053b17d8ad37100b9c07d9805988784"},
    {5ULL, "4ac202caf347fc1e9c874b1ef6a1c5e619141eb775a6f43f0f0124ccd0060d9e"},
    {6ULL, "b3b28636f65c149ea52eb1f94669466f70f033b54cea792824c696ba6ef3c389"},
    {7ULL, "0e2c1a002aae913d2c0fc8ddfa4e9e14b7b311b3b0d458726d5d9f6a6318013c"},
    {8589934592ULL, "4bb8167baa56fe2e2c9bd231c17da8103d0e5880952f5f95ece4ba36f12f780e"},
    {8589934593ULL, "264fa414472e8c6a7db4cf4d09e98b06b3dbadbc0b0a22998c37e5a3266cbaeb"},
    {8589934594ULL, "0143189512fc8ff13863dd29cddfd27843fb33a1eb2d74bb1e88376ad314514d"},
    {8589934595ULL, "5bd05c0a044e37de8dee2a661c006c4d38cbe2f52b7dfb7886c0e4fe643f1320"},
    {8589934596ULL, "98b8f089d87826e97d9372589354df5b13d5c44128e42a107d81c2f5ca5b9935"},
    {8589934597ULL, "41a664ad7bcde31caeb2326def866d21c3e6af93eea93c2e97341954a99645d5"},
    {8589934598ULL, "1a07f38ecc220857e2ae8992c9dbf687b420b8e6b78ed18553db6107096e6674"},
    {8589934599ULL, "3e284cd4c5d3742c9c2a30d38592da97db560db3f7b300ed99e2cf0f57493fc8"},
    {8589934600ULL, "2876ca5532dfd7ee48cd45b397640454156d73a9d9eb8c495d1c946cec641b8d"},
    {8589934601ULL, "f861844b7cc10d2cb9c8496ec38ab761610ac71494c96e914b477a86a13beee1"},
    {8589934602ULL, "b90535aa19f785f289cd8a414b27f1eb2862c287ee5352412cfab21a5991d4d0"},
    {8589934603ULL, "cba9e36df25bac3059e8c40e733365b51d28cff9fe8f2cfd0b8166a21880706e"},
    {8589934604ULL, "0542bc8841498c90fc6c502cca431f455267fd55b70b57adab64562836c7cff9"},
    {8589934605ULL, "a43c0a53ff26d2174d9124a6fdeac1ec56775993cf890a0e8a5f23ef0047936e"},
    {8589934606ULL, "9acb79956803fabf3ad62f3509d472e2b854a0a603c2b1f4fad265bb2086efa6"},
    {8589934607ULL, "32689cb7dca6b1168f98d627ce793a3fc0f2774ada4014be1ee4a64fb56287af"},
    {8589934608ULL, "94fdf9880e23103cd1b271e49fa73e6863982772025080a2a33e566dd0ce92c8"},
    {8589934609ULL, "c689977f4153226f41217ed8a4b2d4a8e77b0767fa3ce2c9aaaba88c852007a9"},
    {8589934610ULL, "2cdc473fae65555c10cb8e0c8612c1ae7a98f315c63ef022dbc70e447767dd44"},
    {8589934611ULL, "027717d5c1ead1d2b3794d5c0ff6271712be541c10d402232c2f14d64a03ffd3"},
    {8589934612ULL, "a54d9bdf618c585ce4b841093a84efc90919ce42e465f30919957e34c144c3bb"},
    {8589934613ULL, "bda4c65c7d357bcfb15e8de64adfee01bdac58941712b1f3dbd79d56dba2e9ab"},
    {8589934614ULL, "ac6ced48dcb39ba66edcf2eef64b3e1056efc651babbc1942a8bc2c291a8d912"},
    {8589934615ULL, "11e3670cb291e19455346923effb9af28e637b0d6bf5829c173b6a702df142d8"},
    {8589934616ULL, "262cee84de1583b570f7c8ca62657d7bf6805dbd937e3b15899beede88e6d033"},
    {8589934617ULL, "d7bf4b9589f88e27910726714bedbd3fdf8bc22d6dd5584cbe9e917d81d16d98"},
    {8589934618ULL, "7746419c6931e1b71995d3b03a9757c0431886bf1e84b6353a8d6a8d4a6acf83"},
    {8589934619ULL, "b64f118e4db3652e5d729b621c7e1810bcc3ccdd6fdaf11397a24cfe50a5cc0c"},
    {8589934620ULL, "55a21c2a6c4b547e44abd598ab763af93553f84c7ecee06bb381a1e228a67c40"},
    {8589934621ULL, "cc956735a3d3e6cbdb5c1f352b3047ba1d43cb0170fe56edef5b1883307d8544"},
    {8589934622ULL, "ccbf9573bd67c4dcb2bb18faec1a5dcd9930ad7ac44c5fef343502213013d6eb"},
    {8589934623ULL, "7addab5065154e0af972acdb3381e6dd1d74553ddd34c1aa7e1221e4b5b296b2"},
    {8589934624ULL, "aa3bc51b8edc616972cda20e2e7c014530dcb32ec8692dc3cdad5f35a462bb96"},
    {8589934625ULL, "9bdea725dacdbfdfb4e2044c5acceadf5d0c49485fcab89b6ef896d52a4a09d1"},
    {8589934626ULL, "edde7b9880ec5303ccc8401cc9ec5e6a6a18c62353746da14da3b2bbdd524cad"},
    {8589934627ULL, "9d15f7098eda6921ca6c26da00ede3d8fc6320aec400ff8b067a7be125602d6b"},
    {8589934628ULL, "262f8c4fb624bea0a8beb3b95e911fe5050be9702a29319069f4afdbe0044105"},
    {8589934629ULL, "22efff126110192a0ad352e44df8d2bb1b5e1b2aab20c4c046d8c290081814dc"},
    {8589934630ULL, "39d72f71defd8cf7ec971c8367cbb89dc4042a5520978c139375fc60fc96c594"},
    {8589934631ULL, "b99b719c74883275baa7ef5971d64e6ce897ad66ded1801a5a0cf3decae9feb7"},
    {8589934632ULL, "19f4d995747b316f17e575c365884672345843b689b466a2419a7fe731d1ff33"},
    {8589934633ULL, "e02df52e816323bbd259f2c98d99e07ddfba0170005915b09cca07ec46493dea"},
    {8589934634ULL, "47cc8acc3eab9d7e57e3b4b36c452b29817d837ba0744233f66d5abb397066a7"},
    {8589934635ULL, "eb586c3af09fbaa913969d5d221e79e94262729d7dc7424d4afa54c4ea41c798"},
    {8589934636ULL, "58819a31ac66ea0e59def9fcdca5910811f9a8076402da15b879b2de6b58dca7"},
    {8589934637ULL, "124a6d441350fdbf089656a5bc634aa3108013db2460283087c0b2f9698d064a"},
    {8589934638ULL, "f54815a68307bd7999ca071138041449ac4a06403d1f882b159ca91b0fdb15eb"},
    {8589934639ULL, "f9fd25cf5ed50d96051b2e093d3e7bffd95e4d8e5bab2bf0a4c0abd44b432e5d"},
    {8589934640ULL, "f3a84473e24579a7d66abd673bf1c2799f6a7578d243d177a7a5ddec1def524e"},
    {8589934641ULL, "8a9ef2d746f6a3ee37b03960d8aa04d345f13887d91b16944089f318c3a5db79"},
    {8589934642ULL, "47d738e05820835e441ccefa363e3674766a8ed9d503d1ca1d088a4eadf81368"},
    {8589934643ULL, "e72960cf3cb781e96a93cffaa17347a9de98b8ae8c44caf9a277155d26accc4b"},
    {8589934644ULL, "d2a7a4ab1ca5aa155a4236b9cb70224fa71283787747f0e4c9b92bd353addaf5"},
    {8589934645ULL, "da077b2eec352d6a06d3113421f29718f49067f4c7fefda0d1c92f02568a0c8d"},
    {8589934646ULL, "348e59244d0c798ed5e948e53d0adb33b1a333ba742aa2629bc57634ec1c4145"},
    {8589934647ULL, "c6d5b78963db3be2eb72d5f50e0863905f031a8153a0192014fc70deeffda18d"},
    {8589934648ULL, "1e0270a4723d0b5137d32963bf698d8d75c6ddbc45b43012ead3d74df421b43a"},
    {8589934649ULL, "3d9f4da6df392205a748f2dc805d9d528dded20fbeb8d8ee8b08ad98ad012772"},
    {8589934650ULL, "03b41bc24a857342b05957bccf58c0a5f6ff6892ad0ff286d215dd7b78cb1916"},
    {8589934651ULL, "79ff727cb6227413efdf3ef49e8b8da518aee0eb4981d0bb8e5121394ee97e8a"},
    {8589934652ULL, "32453e5156a6e091e7e86a05c4771a84d7d44a1674015a6053f80e339a6f409f"},
    {8589934653ULL, "9352139ebc1ee29a887c2c421b3b8f4f6a9c411e73856751a058153b90e11a2f"},
    {8589934654ULL, "f252ef14829f0300aca6f722d2eb77e71bf103aacf5c5b66e1811336e7192697"},
    {8589934655ULL, "1faa98fd5be526bf554f43bbe725faaa5efc290d6b2399526876a60377df1f0d"},
    {8589934656ULL, "2f11884b48aec3bcccc12bdb150c2eb410643242d8575168c6a5ba75530053a3"},
    {8589934657ULL, "e19626b6e8c662266d0b88b4e2d2c04b7985fd27a8c2080eddf1679482aede70"},
    {8589934658ULL, "ef68559f9f949ebc30fbde3fdc5df52cee3babd722abb40e0fd1b19b26a6c5fd"},
    {8589934659ULL, "4c0f078b5206b52b2c740810d74c31cf669f87145ecd6a866b53c0fdc92ed545"},
    {8589934660ULL, "2ba6fbdc8531a945ce767db224542f4bdf68ea23a1d39d6660b93f0b4ac3c886"},
    {8589934661ULL, "0ca69a8a1045003e23f30de516fd833ea1147e53c71125f6de680ae580bb0b2a"},
    {8589934662ULL, "0d9ce05040f092adf4c48a8753558d1b003f2a64eef2fc24cdc6a065b42200eb"},
    {8589934663ULL, "e41d9f14a678ceed00680679664ff7a95ef8e5e2a691b74c7493d36dcd5cce6e"},
    {8589934664ULL, "fd5e47e45413eaa4ea4455c7e8a508beea9da2ff63e334f809964e5da1d35eb1"},
    {8589934665ULL, "255fe31523e7f14e854a56a46492dff3fe0a92b13ecb8c5e3c41911cb9802df4"},
    {8589934666ULL, "1baa420f0e1c2b5b79c05661fc7b15365321599b3cf28629410ba484f3a526be"},
    {8589934667ULL, "4b904af6bb31a324998f5ed7f8c3961b3c6cfa2fb797a16e9427f32c57c45937"},
    {8589934668ULL, "07b802a04568538068a9db24a0ce06794fa0ebd59f8b3c284f362b2d62abb6cf"},
    {8589934669ULL, "915f764361e496714a26c1c314bfd4b3a1e1d5cf2cdb1fea3ce2a46c49d84bfc"},
    {8589934670ULL, "515971f1ff66b929c173fd423aa17fa3a7f9f26239d5029dcad68a4b8140fdb4"},
    {8589934671ULL, "e5a9e2625e21de37d2e6886640ef3a6a3d7b4b0f0f360653cc54d69d66f80b3b"},
    {8589934672ULL, "41601754f8ef7dee3c248e981c3cd0590b6f413ee082b6fdbf678c15142f5e4d"},
    {8589934673ULL, "693ba2c7b0930ac2d64464c4e33952a2e79866c38b70540b9671fdcc9be78f50"},
    {8589934674ULL, "09eaefa1e2e8ed20344dfaeae186170cc0d76dc32b80997026609fb981a75ab2"},
    {8589934675ULL, "6288ca28b610996253ffabd14b47870ef8c1c4c32fa96dabbee50b127dee2387"},
    {8589934676ULL, "44aa1b86bfd96d5aaed4cf12b8562d4d126a33f33c48ae4513fb538bd397c8be"},
    {8589934677ULL, "f1a6350bebd252c9413754d80df17a10f91ce7ec662e98f4cee1c82ba4fbede6"},
    {8589934678ULL, "a1f557153593f38d94d7f6e24c01fc941d9567d17af67e8539f1b81bc51ee264"},
    {8589934679ULL, "a18a395a1e5e7025f7f37f46f8aef8e0b32fa892b0f4e869b05c7f45c72cb064"},
    {8589934680ULL, "51b39cb7f3e8b88067fcb4ed7fffd681516dfb55b383a8b413f4237fa773c4ce"},
    {8589934681ULL, "05d80656464074580c40cfbac2e2e60d761c0600675862ee63701d7a5d3433a2"},
    {8589934682ULL, "fa80e2c99389bcb0c43228a14b0035a2d885b05f04c3895c92dbb8ef8e00e29a"},
    {8589934683ULL, "8968e28ce21a2507f55ab8ae865c669ca1d2104cdd911604f6f73927fb7b3d35"},
    {8589934684ULL, "4a1fc357463fd231064bc5ee6eb32bcc749750072d85e81e2cfbebde4f7e0018"},
    {8589934685ULL, "4f8fbbf4d8654203636f5f639ddf0c78f2f9575a825f00acbfba1552c6b91dca"},
    {8589934686ULL, "b38a53037470a9f90fb0a3df72caf9cf58642ee8750bb7244d60efdeb598f79c"},
    {8589934687ULL, "96dc535b16ea51143ed885e92d7e5e0e010b86e3f93c992ddf52af537e3c4f4c"},
    {8589934688ULL, "4e6faa2b9c3c8f7075cb12d069ac2cb07f13cfc506239f715e9e8c071ecaf878"},
    {8589934689ULL, "87ba523ddb6112bf72d5dcff817919312f2650cb4742f47b289ba2345da5daf6"},
    {8589934690ULL, "34a7e7b01ef534717ac938a586f871a2549cf38adc776557e6d91cf0bf4046ad"},
    {8589934691ULL, "32d60c12ce51cd05bbdd8d1a192963686523e638015ccbc68c2065eb54232934"},
};

constexpr std::uint64_t k_big_seed = 1ULL << 33;

std::vector<std::uint64_t> range_of_seeds(std::uint64_t first, std::size_t n) {
  std::vector<std::uint64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = first + i;
  return out;
}

struct MerkleCase {
  std::vector<std::uint64_t> seeds;
  std::string_view xorb;
  std::string_view file;  // salt 0
};

TEST(XetHash, CoreAggregatedHashCorrectness) {
  const std::vector<MerkleCase> cases = {
      {{},
       "0000000000000000000000000000000000000000000000000000000000000000",
       "0000000000000000000000000000000000000000000000000000000000000000"},
      {{0},
       "0000000000000000000000000000000000000000000000000000000000000000",
       "638a6bc391964a85939d48f008e8bdbae6a7975e7ca2d87a3ce2492f4e4d8a4c"},
      {{1},
       "cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6",
       "8e16257caa3fe079d484d872a8975264b2ff683b0d6db9028cc7c0f968a45661"},
      {{1, 2, 3},
       "71ec1275fca074724e2dd666921b3277c7cee603e4d025bcab2d4050015be2bc",
       "54e55dccc6653c612bdb5576c5d3cb34bb31bc4e100248abccf4c908b3ef7715"},
      {{1, 1, 1, 1},
       "89f2ada89ff8c96763c6b25010e6dd76a4c05b1466207633ea559acf2093211b",
       "2cdba690d0e09563596e0cda626d43eb4c96ef1e994fe72d9b2f5a83cfcd36dd"},
      {{1, 2, 1, 2},
       "90f8313ef12df385d237a067aded02562c35ded12116e32eba401dbc86c38031",
       "284ea045e5a579e99c21ec597c20de1fc0c09e7168162aac00db8f61b3d82dbb"},
      {{1, 2, 1, 2, 3, 4},
       "52c826f99507aa05d0b45e9837fa1709e0485425cfbcb1e80db3905cf98b3ee9",
       "91d21684db364c8883ab8209fa5eb2e781cf07f37e1fa43e731c30839afe422f"},
      {{0, 1, 0, 1},
       "e1755c85be07fd6b7a8d7becc85e6d8c5f507f2a3d38b316bcb6f97855e72188",
       "207caf24fce045ac6d873b4c6186a5a435d600d103e1ae345e55ddf1f4b7f7ef"},
      {{0, 1, 0, 1, 0},
       "f36c6a6374a567efd36ed087aeb680b57e3af4e0b5b8e7be2593df4cb647a2de",
       "ab2f46d31855e1133b3b5b70e78f841394a648710a208923b221c1a8a0572a1f"},
      {{1, 0},
       "e8660f81494ca836a58e395c1395ef97870ed71e2b113eec1fab6b3361f46dd6",
       "274d92f7e2acebaa2b8d63c0b5e7a4fc15814a606e3e3825d55609e671bcc5d9"},
      {{3, 4, 5, 3},
       "73b9dc802ab03a0855c66823a18d95c2a785af594535756abf405038b6270cb8",
       "c7d5be75ef5ec12888027ad305141e4109e599494477661177475c84e12de48b"},
      {{3, 4, 5, 5, 5},
       "2c1fd1eca47e284512fcb40fcf45a1874939f9b91c774d46aeba5d004d9d263d",
       "0799ba7ee2c3fed173a8e8d832cd13970ddc16070ffbc8aa6dcd77476f66dc73"},
      {{0, 1, 2, 3, 4, 5, 6, 7},
       "f62abe77e3fb9c954fe52b0028027ddc90c064c45951a4fd2211d87e5c0011db",
       "d1b068be5bbdb38992269e8efe61f601881e39f7a7585fd76883cc6ea5c23b44"},
      {{0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7,
        0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7},
       "6554007c9b5d0a5e7918f79596a1b68815c1407535585435f5735db761f21b88",
       "a8640ab81d48854e00078e12b1ea8be5d90be0ffb5f73a15b7009981d093ddd8"},
      {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
       "0a0123c1617921883b7e13902095fcb86676e77c49120c33b233003b0af0e0a6",
       "53af4711fd1d5e5bdc7f931b6be932314d8d673cb16ad2482f6f5222eaf9e63d"},
      {{0, 1, 2, 3, 4, 5, 6, 7, 1, 1, 1, 1},
       "e7fc30b73ec9930593f80fe777b334e9d3bb73e45e6a79fa5784b2603446158b",
       "69e1af2fd6023ce133e0d1b90e32d1d42ef79f5a710f2b0accfc3a735e98de9d"},
      {{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7},
       "636c65db520ec16e8166f9ec7a0cf9f74b26369077ac60160ec0221c86bc9f77",
       "6a90ad0d6f5246ac61f1de898c6944c03e14004a1368e6fb23387108c4d039e0"},
      {range_of_seeds(k_big_seed, 100), "c51247b5782028a5b8fd8191c855e46c02ba5923ceeed828b167614d47fb6686",
       "4bacfd61a7f5401a3a55770234bf6ab0ce9a44446d81e9ce9977220fb9022406"},
  };
  ASSERT_EQ(cases.size(), 18u);
  for (std::size_t c = 0; c < cases.size(); ++c) {
    std::vector<MerkleLeaf> leaves;
    for (auto seed : cases[c].seeds) {
      ASSERT_TRUE(k_seed_hashes.contains(seed)) << seed;
      leaves.push_back({xet(k_seed_hashes.at(seed)), seed * 100});
    }
    EXPECT_EQ(xorb_hash(leaves).hex(), cases[c].xorb) << "case " << c << " (" << leaves.size() << " leaves)";
    EXPECT_EQ(file_hash(leaves).hex(), cases[c].file) << "case " << c << " (" << leaves.size() << " leaves)";
  }
}

// ---- CORE chunking.rs and JS "Basic functionality with 1MB random data" ----

TEST(XetChunker, SplitMixMegabyteBoundariesAndChunkHashes) {
  const auto data = splitmix(1000000, 0);
  // The generator itself (CORE and JS check these bytes and the sha256).
  EXPECT_EQ(data[0], 175);
  EXPECT_EQ(data[127], 132);
  EXPECT_EQ(data[111111], 118);
  EXPECT_EQ(sha256_hex(data), "b3d0a1f7938cd4d8413a4dcffd4313e2e8ac0cb61cb1090eb140ea8e9154befb");

  const std::vector<std::uint64_t> expected_ends = {84493,  134421, 144853, 243318, 271793, 336457, 467529,
                                                    494581, 582000, 596735, 616815, 653164, 678202, 724510,
                                                    815591, 827760, 958832, 991092, 1000000};
  const std::vector<std::string> expected_hashes = {
      "6eca1e7dadaf08cca5d82d318c800f07c2ddcec115a7e8627e5edd9605b94b8d",
      "624ea34d72a06e5d43a1b8dd10763f0d22f165992c397ed97563899b27fdd88a",
      "4411d2ec847c6e3f451a7451ff3933adb4f1c31587421b9f730b698a78313b47",
      "6342bde97433e29e0779ad33eb8040d986679040361b3cc3a06230fe60dd6c9b",
      "405253fcf15bba751adc4f507d3453273daff81ed4d8acd71c521aa1cbddc0b5",
      "4482374af7f8bebfdb5c5df0299f80128d6c58886ad7b218c562b1d74064e4cb",
      "80acc8d39c853b4b8a8c6ad7b63bf2ea68f62c2226b92f06349f92cc84d213cc",
      "a7076d7d343f711fb20fe6cd023248d8d051e8fe7d44172596cd5c7ea7edaf65",
      "44755217bbb4dadc81ea7695765230a34a2e6cb3b55f373f1de35aeba79ae92c",
      "001adc1d302d5f039278325dcbd5ec3b194f4794f1629d6f962f9f4bb78a7bff",
      "f8460a337c186f07c2e225bb287a1d3d3d686dc69d0828e99640f7d8852c5b90",
      "c9bc3da29025dc1ba562d303d815151d9a937367abb766ae842a165e8493d9fe",
      "5044339dfd65e8163bdfe642614a6be604b04d6aeacf222cf219ad287bfc5cf1",
      "163622db0fe0da93f2ef964eed4c485f3c7a9c312f8e8e8a312ab4bb8141f13e",
      "e1730534a858aa0258ad8904ef12b829b8a123a1c611250275c9ca9471e4c650",
      "1fbc6854f9185caba1e1f55393f41f83b895b18f9c99245c029025ca48f1e14b",
      "8a27b66ccf05b864b6bef6fb5c970fe894f73d2330e8e98fe7841dcdbd9e9576",
      "bc70a33e7a9ec820cac24b87023469a57bdae1bf91cc3961b95806c64a525221",
      "03e5b5f5a088269ec4b329f1e04debfac4cb54b9c0facf038f7e8e0f054be7e2",
  };
  const auto leaves = chunk_buffer(data);
  EXPECT_EQ(ends_of(leaves), expected_ends);
  ASSERT_EQ(leaves.size(), expected_hashes.size());
  for (std::size_t i = 0; i < leaves.size(); ++i) EXPECT_EQ(leaves[i].hash.hex(), expected_hashes[i]) << "chunk " << i;
  // Not published: derived in the research note and cross-checked there with xetchunk-wasm.
  EXPECT_EQ(file_hash(leaves).hex(), "3d17b2d7d64a0e011b6717a52d9a16bd2c3f05b743fa8adf52a7d75dafab6d89");
}

TEST(XetChunker, FeedSizesDoNotMoveBoundaries) {
  // CORE test_chunk_boundaries and JS "Chunk boundary consistency": SplitMix64 seed 1, 256000
  // bytes, fed 1, 37 and 255 bytes at a time (and more sizes here).
  const auto data = splitmix(256000, 1);
  const auto whole = chunk_buffer(data);
  ASSERT_GT(whole.size(), 1u);
  for (std::size_t step : {1u, 37u, 63u, 64u, 65u, 255u, 4096u, 8127u, 8192u, 100000u})
    expect_same_leaves(chunk_in_pieces(data, step), whole, "step " + std::to_string(step));
}

TEST(XetChunker, ConstantBytesCutAtTheMaximum) {
  // CORE test_correctness_1mb_const_data / JS "Constant data test".
  const std::vector<std::uint8_t> data(1000000, 59);
  const std::vector<std::uint64_t> expected = {131072, 262144, 393216, 524288, 655360, 786432, 917504, 1000000};
  const auto leaves = chunk_buffer(data);
  EXPECT_EQ(ends_of(leaves), expected);
  // Every full chunk is the same 128 KiB of 59s.
  for (std::size_t i = 1; i + 1 < leaves.size(); ++i) EXPECT_EQ(leaves[i].hash, leaves[0].hash);
}

TEST(XetChunker, ShortInputsAreOneChunk) {
  // IETF reference test_chunking: a file under the minimum is one chunk of its bytes.
  for (std::size_t n : {1u, 2u, 63u, 64u, 65u, 8191u, 8192u}) {
    const auto data = splitmix(n, 7);
    const auto leaves = chunk_buffer(data);
    ASSERT_EQ(leaves.size(), 1u) << n;
    EXPECT_EQ(leaves[0].size, n);
    EXPECT_EQ(leaves[0].hash, chunk_hash(data)) << n;
  }
}

TEST(XetChunker, FinishWithNothingPendingAddsNoChunk) {
  Chunker c;
  std::vector<MerkleLeaf> out;
  c.finish(out);
  EXPECT_TRUE(out.empty());
  c.feed({}, out);
  c.finish(out);
  EXPECT_TRUE(out.empty());
  // A chunker is reusable after finish().
  const auto data = splitmix(300000, 3);
  c.feed(data, out);
  c.finish(out);
  expect_same_leaves(out, chunk_buffer(data), "reused chunker");
}

// ---- CORE test_correctness_100kb_hitting_data (also JS "Triggering data test") ----
// A 128-byte pattern that trips the gear hash, then `padding` zero bytes, repeated to 65536 bytes:
// it lands gear matches just before and after the 8 KiB minimum for each padding 0..127.

constexpr std::array<std::uint8_t, 128> k_trigger_pattern = {
    154, 52,  42,  34,  159, 75,  126, 224, 70,  236, 12,  196, 79,  236, 178, 124, 127, 50,  99,  178, 44,  176,
    174, 126, 250, 235, 205, 174, 252, 122, 35,  10,  20,  101, 214, 69,  193, 8,   115, 105, 158, 228, 120, 111,
    136, 162, 198, 251, 211, 183, 253, 252, 164, 147, 63,  16,  186, 162, 117, 23,  170, 36,  205, 187, 174, 76,
    210, 174, 211, 175, 12,  173, 145, 59,  2,   70,  222, 181, 159, 227, 182, 156, 189, 51,  226, 106, 24,  50,
    183, 157, 140, 10,  8,   23,  212, 70,  10,  234, 23,  33,  219, 254, 39,  236, 70,  49,  191, 116, 9,   115,
    15,  101, 26,  159, 165, 220, 15,  170, 56,  125, 92,  163, 94,  235, 38,  40,  49,  81};

std::vector<std::uint8_t> triggering_data(std::size_t n, std::size_t padding) {
  std::vector<std::uint8_t> unit(k_trigger_pattern.begin(), k_trigger_pattern.end());
  unit.resize(unit.size() + padding, 0);
  std::vector<std::uint8_t> d;
  while (d.size() < n) d.insert(d.end(), unit.begin(), unit.begin() + std::min(unit.size(), n - d.size()));
  return d;
}

struct HittingCase {
  std::uint8_t sample_at_11111;
  std::array<std::uint64_t, 7> ends;  // then 65536
};

TEST(XetChunker, CoreHittingDataAroundTheMinimum) {
  const std::vector<HittingCase> cases = {
      {236, {8256, 16448, 24640, 32832, 41024, 49216, 57408}}, {50, {8320, 16576, 24832, 33088, 41344, 49600, 57856}},
      {36, {8254, 16574, 24894, 33214, 41534, 49854, 58174}},  {116, {8317, 16570, 24823, 33076, 41329, 49582, 57835}},
      {126, {8248, 16564, 24880, 33196, 41512, 49828, 58144}}, {145, {8310, 16556, 24802, 33048, 41294, 49540, 57786}},
      {235, {8238, 16546, 24854, 33162, 41470, 49778, 58086}}, {228, {8299, 16534, 24769, 33004, 41239, 49474, 57709}},
      {70, {8224, 16520, 24816, 33112, 41408, 49704, 58000}},  {178, {8284, 16504, 24724, 32944, 41164, 49384, 57604}},
      {173, {8206, 16486, 24766, 33046, 41326, 49606, 57886}}, {0, {8265, 16466, 24667, 32868, 41069, 49270, 57471}},
      {252, {8324, 16584, 24844, 33104, 41364, 49624, 57884}}, {159, {8242, 16561, 24880, 33199, 41518, 49837, 58156}},
      {69, {8300, 16536, 24772, 33008, 41244, 49480, 57716}},  {219, {8215, 16509, 24803, 33097, 41391, 49685, 57979}},
      {126, {8272, 16480, 24688, 32896, 41104, 49312, 57520}}, {10, {8329, 16594, 24859, 33124, 41389, 49654, 57919}},
      {124, {8240, 16562, 24884, 33206, 41528, 49850, 58172}}, {24, {8296, 16528, 24760, 32992, 41224, 49456, 57688}},
      {196, {8204, 16492, 24780, 33068, 41356, 49644, 57932}}, {106, {8259, 16454, 24649, 32844, 41039, 49234, 57429}},
      {196, {8314, 16564, 24814, 33064, 41314, 49564, 57814}}, {183, {8218, 16523, 24828, 33133, 41438, 49743, 58048}},
      {124, {8272, 16480, 24688, 32896, 41104, 49312, 57520}}, {70, {8326, 16588, 24850, 33112, 41374, 49636, 57898}},
      {126, {8226, 16542, 24858, 33174, 41490, 49806, 58122}}, {191, {8279, 16494, 24709, 32924, 41139, 49354, 57569}},
      {69, {8332, 16600, 24868, 33136, 41404, 49672, 57940}},  {163, {8228, 16549, 24870, 33191, 41512, 49833, 58154}},
      {252, {8280, 16496, 24712, 32928, 41144, 49360, 57576}}, {0, {8332, 16600, 24868, 33136, 41404, 49672, 57940}},
      {173, {8224, 16544, 24864, 33184, 41504, 49824, 58144}}, {42, {8275, 16486, 24697, 32908, 41119, 49330, 57541}},
      {70, {8326, 16588, 24850, 33112, 41374, 49636, 57898}},  {174, {8214, 16527, 24840, 33153, 41466, 49779, 58092}},
      {235, {8264, 16464, 24664, 32864, 41064, 49264, 57464}}, {186, {8314, 16564, 24814, 33064, 41314, 49564, 57814}},
      {0, {8198, 16498, 24798, 33098, 41398, 49698, 57998}},   {157, {8247, 16597, 24947, 33297, 41647, 49997, 58347}},
      {126, {8296, 16528, 24760, 32992, 41224, 49456, 57688}}, {49, {8345, 16626, 24907, 33188, 41469, 49750, 58031}},
      {36, {8224, 16554, 24884, 33214, 41544, 49874, 58204}},  {0, {8272, 16480, 24688, 32896, 41104, 49312, 57520}},
      {236, {8320, 16576, 24832, 33088, 41344, 49600, 57856}}, {105, {8195, 16499, 24803, 33107, 41411, 49715, 58019}},
      {0, {8242, 16594, 24946, 33298, 41650, 50002, 58354}},   {24, {8289, 16514, 24739, 32964, 41189, 49414, 57639}},
      {126, {8336, 16608, 24880, 33152, 41424, 49696, 57968}}, {0, {8206, 16525, 24844, 33163, 41482, 49801, 58120}},
      {70, {8252, 16618, 24984, 33350, 41716, 50082, 58448}},  {236, {8298, 16532, 24766, 33000, 41234, 49468, 57702}},
      {0, {8344, 16624, 24904, 33184, 41464, 49744, 58024}},   {12, {8209, 16535, 24861, 33187, 41513, 49839, 58165}},
      {236, {8254, 16626, 24998, 33370, 41742, 50114, 58486}}, {0, {8299, 16534, 24769, 33004, 41239, 49474, 57709}},
      {173, {8344, 16624, 24904, 33184, 41464, 49744, 58024}}, {196, {8204, 16529, 24854, 33179, 41504, 49829, 58154}},
      {0, {8248, 16618, 24988, 33358, 41728, 50098, 58468}},   {159, {8292, 16520, 24748, 32976, 41204, 49432, 57660}},
      {178, {8336, 16608, 24880, 33152, 41424, 49696, 57968}}, {0, {8380, 16696, 25012, 33328, 41644, 49960, 58276}},
      {10, {8234, 16594, 24954, 33314, 41674, 50034, 58394}},  {101, {8277, 16490, 24703, 32916, 41129, 49342, 57555}},
      {0, {8320, 16576, 24832, 33088, 41344, 49600, 57856}},   {15, {8363, 16662, 24961, 33260, 41559, 49858, 58157}},
      {147, {8212, 16554, 24896, 33238, 41580, 49922, 58264}}, {0, {8254, 16639, 25024, 33409, 41794, 50179, 58564}},
      {0, {8296, 16528, 24760, 32992, 41224, 49456, 57688}},   {227, {8338, 16612, 24886, 33160, 41434, 49708, 57982}},
      {126, {8380, 16696, 25012, 33328, 41644, 49960, 58276}}, {0, {8223, 16581, 24939, 33297, 41655, 50013, 58371}},
      {101, {8264, 16464, 24664, 32864, 41064, 49264, 57464}}, {186, {8305, 16546, 24787, 33028, 41269, 49510, 57751}},
      {52, {8346, 16628, 24910, 33192, 41474, 49756, 58038}},  {0, {8387, 16710, 25033, 33356, 41679, 50002, 58325}},
      {70, {8224, 16588, 24952, 33316, 41680, 50044, 58408}},  {228, {8264, 16464, 24664, 32864, 41064, 49264, 57464}},
      {0, {8304, 16544, 24784, 33024, 41264, 49504, 57744}},   {0, {8344, 16624, 24904, 33184, 41464, 49744, 58024}},
      {50, {8384, 16704, 25024, 33344, 41664, 49984, 58304}},  {214, {8215, 16575, 24935, 33295, 41655, 50015, 58375}},
      {0, {8254, 16654, 25054, 33454, 41854, 50254, 58654}},   {0, {8293, 16522, 24751, 32980, 41209, 49438, 57667}},
      {50, {8332, 16600, 24868, 33136, 41404, 49672, 57940}},  {69, {8371, 16678, 24985, 33292, 41599, 49906, 58213}},
      {0, {8196, 16542, 24888, 33234, 41580, 49926, 58272}},   {0, {8234, 16619, 25004, 33389, 41774, 50159, 58544}},
      {70, {8272, 16480, 24688, 32896, 41104, 49312, 57520}},  {136, {8310, 16556, 24802, 33048, 41294, 49540, 57786}},
      {0, {8348, 16632, 24916, 33200, 41484, 49768, 58052}},   {0, {8386, 16708, 25030, 33352, 41674, 49996, 58318}},
      {101, {8204, 16564, 24924, 33284, 41644, 50004, 58364}}, {36, {8241, 16639, 25037, 33435, 41833, 50231, 58629}},
      {196, {8278, 16492, 24706, 32920, 41134, 49348, 57562}}, {0, {8315, 16566, 24817, 33068, 41319, 49570, 57821}},
      {0, {8352, 16640, 24928, 33216, 41504, 49792, 58080}},   {24, {8389, 16714, 25039, 33364, 41689, 50014, 58339}},
      {8, {8200, 16562, 24924, 33286, 41648, 50010, 58372}},   {0, {8236, 16635, 25034, 33433, 41832, 50231, 58630}},
      {0, {8272, 16480, 24688, 32896, 41104, 49312, 57520}},   {125, {8308, 16552, 24796, 33040, 41284, 49528, 57772}},
      {173, {8344, 16624, 24904, 33184, 41464, 49744, 58024}}, {126, {8380, 16696, 25012, 33328, 41644, 49960, 58276}},
      {0, {8416, 16768, 25120, 33472, 41824, 50176, 58528}},   {0, {8219, 16607, 24995, 33383, 41771, 50159, 58547}},
      {159, {8254, 16678, 25102, 33526, 41950, 50374, 58798}}, {210, {8289, 16514, 24739, 32964, 41189, 49414, 57639}},
      {178, {8324, 16584, 24844, 33104, 41364, 49624, 57884}}, {0, {8359, 16654, 24949, 33244, 41539, 49834, 58129}},
      {0, {8394, 16724, 25054, 33384, 41714, 50044, 58374}},   {170, {8429, 16794, 25159, 33524, 41889, 50254, 58619}},
      {173, {8224, 16624, 25024, 33424, 41824, 50224, 58624}}, {235, {8258, 16452, 24646, 32840, 41034, 49228, 57422}},
      {0, {8292, 16520, 24748, 32976, 41204, 49432, 57660}},   {0, {8326, 16588, 24850, 33112, 41374, 49636, 57898}},
      {0, {8360, 16656, 24952, 33248, 41544, 49840, 58136}},   {24, {8394, 16724, 25054, 33384, 41714, 50044, 58374}},
      {228, {8428, 16792, 25156, 33520, 41884, 50248, 58612}}, {0, {8215, 16613, 25011, 33409, 41807, 50205, 58603}},
      {0, {8248, 16680, 25112, 33544, 41976, 50408, 58840}},   {0, {8281, 16498, 24715, 32932, 41149, 49366, 57583}},
      {101, {8314, 16564, 24814, 33064, 41314, 49564, 57814}}, {174, {8347, 16630, 24913, 33196, 41479, 49762, 58045}},
      {126, {8380, 16696, 25012, 33328, 41644, 49960, 58276}}, {0, {8413, 16762, 25111, 33460, 41809, 50158, 58507}},
      {0, {8192, 16574, 24956, 33338, 41720, 50102, 58484}},   {0, {8224, 16639, 25054, 33469, 41884, 50299, 58714}},
  };
  ASSERT_EQ(cases.size(), 128u);
  for (std::size_t padding = 0; padding < cases.size(); ++padding) {
    const auto data = triggering_data(65536, padding);
    ASSERT_EQ(data[11111], cases[padding].sample_at_11111) << "padding " << padding << ": the input itself differs";
    std::vector<std::uint64_t> expected(cases[padding].ends.begin(), cases[padding].ends.end());
    expected.push_back(65536);
    const auto leaves = chunk_buffer(data);
    EXPECT_EQ(ends_of(leaves), expected) << "padding " << padding;
    expect_same_leaves(chunk_in_pieces(data, 1000), leaves, "padding " + std::to_string(padding) + " fed by 1000");
  }
}

// ---- JS "Minimum chunk size regression" (huggingface.js 1c3cd659; values from xet-core) ----
// 3 MiB of xorshift32 from 0x9e3779b9: a gear match falls before the minimum, which must not cut.

TEST(XetChunker, JsMinimumChunkRegression) {
  std::vector<std::uint8_t> data(3 * 1024 * 1024);
  std::uint32_t state = 0x9e3779b9U;
  for (auto& b : data) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    b = static_cast<std::uint8_t>(state & 0xff);
  }
  const auto leaves = chunk_buffer(data);
  ASSERT_EQ(leaves.size(), 52u);
  for (std::size_t i = 0; i + 1 < leaves.size(); ++i) EXPECT_GE(leaves[i].size, k_min_chunk_size) << "chunk " << i;
  EXPECT_EQ(leaves[44].size, 131072u);
  EXPECT_EQ(leaves[44].hash.hex(), "8ee1833ff616a01e187888865c8e22f403c860b7a6c347ba28c4511995875086");
  for (std::size_t step : {4096u, 1024u * 1024u})
    expect_same_leaves(chunk_in_pieces(data, step), leaves, "step " + std::to_string(step));
}

}  // namespace
}  // namespace hubcache::xet

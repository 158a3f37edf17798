// stores/ollama_format.hpp: Ollama's model names and manifests, written and read back.
#include <gtest/gtest.h>

#include "hubcache/stores/ollama_format.hpp"

using namespace hubcache;
using namespace hubcache::stores;

namespace {

const std::string k_a(64, 'a'), k_b(64, 'b');

TEST(OllamaName, MissingPartsTakeOllamasDefaults) {
  auto n = parse_ollama_name("tiny");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->host, "registry.ollama.ai");
  EXPECT_EQ(n->ns, "library");
  EXPECT_EQ(n->model, "tiny");
  EXPECT_EQ(n->tag, "latest");
  auto hf = parse_ollama_name("hf.co/org/m-GGUF:Q4_K_M");
  ASSERT_TRUE(hf);
  EXPECT_EQ(hf->host, "hf.co");
  EXPECT_EQ(hf->ns, "org");
  EXPECT_EQ(hf->tag, "Q4_K_M");
  auto port = parse_ollama_name("localhost:5000/me/m");
  ASSERT_TRUE(port);
  EXPECT_EQ(port->host, "localhost:5000");
  EXPECT_EQ(port->tag, "latest");
  EXPECT_EQ(ollama_manifest_path("/m", *hf), "/m/manifests/hf.co/org/m-GGUF/Q4_K_M");
  for (const char* bad : {"a/b/c/d", "", "-x", "ns.dot/m", "m:", "m:t/x"}) EXPECT_FALSE(parse_ollama_name(bad)) << bad;
}

TEST(OllamaManifest, WhatIsWrittenReadsBack) {
  const std::string text = ollama_manifest_json({"application/vnd.docker.container.image.v1+json", k_a, 10},
                                                {{std::string(k_ollama_model_media_type), k_b, 1234}});
  auto m = parse_ollama_manifest(text);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->config.sha256_hex, k_a);
  EXPECT_EQ(m->config.size, 10u);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].media_type, k_ollama_model_media_type);
  EXPECT_EQ(m->layers[0].sha256_hex, k_b);
  EXPECT_EQ(m->layers[0].size, 1234u);
}

TEST(OllamaManifest, FormatsThisDoesNotKnowAreRefusedSayingWhy) {
  const std::string layer = R"({"mediaType":"m","digest":"sha256:)" + k_a + R"(","size":1})";
  const std::pair<std::string, std::string> cases[] = {
      {"not json", "not a JSON object"},
      {R"({"schemaVersion":1,"config":)" + layer + R"(,"layers":[]})", "schemaVersion"},
      {R"({"schemaVersion":2,"mediaType":"application/x","config":)" + layer + R"(,"layers":[]})", "mediaType"},
      {R"({"schemaVersion":2,"layers":[]})", "no config"},
      {R"({"schemaVersion":2,"config":)" + layer + "}", "no layers"},
      {R"({"schemaVersion":2,"config":)" + layer + R"(,"layers":[{"mediaType":"m","digest":"sha256:ABC","size":1}]})",
       "layer 0 digest"},
      {R"({"schemaVersion":2,"config":)" + layer + R"(,"layers":[{"mediaType":"m","digest":"sha256:)" + k_a + R"(","size":-1}]})",
       "layer 0 has no size"},
  };
  for (const auto& [text, why] : cases) {
    auto m = parse_ollama_manifest(text);
    ASSERT_FALSE(m) << text;
    EXPECT_EQ(m.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(m.error().message.find(why), std::string::npos) << m.error().message;
  }
}

}  // namespace

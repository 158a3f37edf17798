// Tensor views' speed (issue 15): `weights_bench gen DIR [GiB]` writes a safetensors model of that
// size (default 1 GiB: 4 shards with an index, 291 tensors of a 7B-like layer table scaled down);
// `weights_bench open DIR [N]` opens it and lists every tensor N times (default 200) and prints
// the median and max time of one open+list; `weights_bench read DIR` opens it and reads every
// tensor byte once (a 64-bit sum, printed so it cannot be skipped): run it against
// `cat DIR/*.safetensors > /dev/null` with farm-bench, both from the page cache (bench/README.md);
// `weights_bench copy DIR` reads every tensor byte into a buffer through TensorView::read (pread)
// instead, as cat does.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hubcache/weights/weights.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

int generate(const std::string& dir, double gib) {
  std::filesystem::create_directories(dir);
  const std::uint64_t target = static_cast<std::uint64_t>(gib * (1ull << 30));
  const int shards = 4, layers = 32;
  // Per layer: 9 tensors (q, k, v, o, gate, up, down, 2 norms) like a llama block.
  const std::uint64_t layer_bytes = target / layers;
  const std::uint64_t hidden = 1024;
  nlohmann::json weight_map = nlohmann::json::object();
  int layer = 0;
  for (int s = 0; s < shards; ++s) {
    const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards);
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    std::uint64_t at = 0;
    auto add = [&](const std::string& t, std::uint64_t rows, std::uint64_t cols) {
      const std::uint64_t n = rows * cols * 2;
      header[t] = {{"dtype", "BF16"}, {"shape", {rows, cols}}, {"data_offsets", {at, at + n}}};
      weight_map[t] = name;
      at += n;
    };
    if (s == 0) add("model.embed_tokens.weight", 2048, hidden);
    for (int l = 0; l < layers / shards; ++l, ++layer) {
      const std::uint64_t per = layer_bytes / 2 / 7 / hidden;  // rows so that 7 matrices fill the layer
      for (const char* m : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                            "mlp.up_proj", "mlp.down_proj"})
        add(fmt::format("model.layers.{}.{}.weight", layer, m), per, hidden);
      add(fmt::format("model.layers.{}.input_layernorm.weight", layer), 1, hidden);
      add(fmt::format("model.layers.{}.post_attention_layernorm.weight", layer), 1, hidden);
    }
    if (s == shards - 1) add("lm_head.weight", 2048, hidden);
    std::string json = header.dump();
    while (json.size() % 8) json.push_back(' ');
    std::ofstream f(dir + "/" + name, std::ios::binary | std::ios::trunc);
    f << le64(json.size()) << json;
    std::vector<char> chunk(1 << 20);
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 131 + s);
    for (std::uint64_t left = at; left > 0;) {
      const auto n = static_cast<std::streamsize>(std::min<std::uint64_t>(left, chunk.size()));
      f.write(chunk.data(), n);
      left -= static_cast<std::uint64_t>(n);
    }
  }
  std::ofstream(dir + "/model.safetensors.index.json")
      << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}.dump();
  return 0;
}

int open_list(const std::string& dir, int rounds) {
  std::vector<double> ms;
  std::size_t tensors = 0;
  std::uint64_t bytes = 0;
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = Clock::now();
    auto w = hubcache::weights::Weights::open_folder(dir);
    if (!w) {
      std::fprintf(stderr, "error: %s\n", w.error().message.c_str());
      return 1;
    }
    tensors = 0;
    for (const auto& t : w->tensors()) {  // "listing": what a loader reads of each tensor
      tensors += !t.name().empty();
      bytes = t.info->length + t.shape().size();
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("open+list of %zu tensors: median %.3f ms, min %.3f ms, max %.3f ms over %d rounds (%llu)\n", tensors,
              ms[ms.size() / 2], ms.front(), ms.back(), rounds, static_cast<unsigned long long>(bytes));
  return 0;
}

int read_all(const std::string& dir) {
  auto w = hubcache::weights::Weights::open_folder(dir);
  if (!w) {
    std::fprintf(stderr, "error: %s\n", w.error().message.c_str());
    return 1;
  }
  std::uint64_t sum = 0;
  for (const auto& t : w->tensors()) {
    const auto b = t.bytes();
    // Four independent 64-bit lanes per 32 bytes, so the loop is bound by memory, not by one
    // chain of additions.
    std::uint64_t lane[4] = {0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 32 <= b.size(); i += 32) {
      std::uint64_t v[4];
      std::memcpy(v, b.data() + i, 32);
      for (int k = 0; k < 4; ++k) lane[k] += v[k];
    }
    for (; i < b.size(); ++i) sum += static_cast<std::uint8_t>(b[i]);
    sum += lane[0] + lane[1] + lane[2] + lane[3];
  }
  std::printf("read %llu bytes, sum %llx\n", static_cast<unsigned long long>(w->tensor_bytes()),
              static_cast<unsigned long long>(sum));
  return 0;
}

}  // namespace

// Every tensor byte once through TensorView::read: pread into a reused 256 KiB buffer (L2-sized,
// as cat's 128 KiB), the bytes left there as cat leaves them; one word per chunk goes into a sum
// printed at the end.
int copy_all(const std::string& dir) {
  auto w = hubcache::weights::Weights::open_folder(dir);
  if (!w) {
    std::fprintf(stderr, "error: %s\n", w.error().message.c_str());
    return 1;
  }
  std::vector<std::byte> buffer(256u << 10);
  std::uint64_t sum = 0;
  for (const auto& t : w->tensors()) {
    for (std::uint64_t at = 0; at < t.info->length;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), t.info->length - at));
      if (auto r = t.read(at, std::span(buffer.data(), n)); !r) {
        std::fprintf(stderr, "error: %s\n", r.error().message.c_str());
        return 1;
      }
      sum += static_cast<std::uint8_t>(buffer[n - 1]);
      at += n;
    }
  }
  std::printf("copied %llu bytes, sum %llx\n", static_cast<unsigned long long>(w->tensor_bytes()),
              static_cast<unsigned long long>(sum));
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s gen DIR [GiB] | open DIR [N] | read DIR | copy DIR\n", argv[0]);
    return 2;
  }
  const std::string cmd = argv[1], dir = argv[2];
  if (cmd == "gen") return generate(dir, argc > 3 ? std::stod(argv[3]) : 1.0);
  if (cmd == "open") return open_list(dir, argc > 3 ? std::stoi(argv[3]) : 200);
  if (cmd == "read") return read_all(dir);
  if (cmd == "copy") return copy_all(dir);
  std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
  return 2;
}

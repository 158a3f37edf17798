// Generates a tree for the dedupe benchmark: 100 model folders of *.safetensors files, 10,000 files
// in all: 2,500 contents stored twice (5,000 duplicate candidates) and 5,000 unique files whose sizes
// collide with theirs (sizes from 64 values of 4-64 KiB), so size alone finds nothing.
// usage: hubcache_gen_dupes OUT   (OUT must not exist)
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

namespace {

void put(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    std::perror(path.c_str());
    std::exit(1);
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::filesystem::exists(argv[1])) {
    std::fprintf(stderr, "usage: %s OUT (OUT must not exist)\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  std::mt19937_64 rng(42);
  auto content = [&](std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; i += 8) {
      const std::uint64_t v = rng();
      for (std::size_t k = 0; k < 8 && i + k < size; ++k) s[i + k] = static_cast<char>(v >> (8 * k));
    }
    return s;
  };
  auto size_of = [&] { return static_cast<std::size_t>(4096 + 1024 * (rng() % 64)); };
  int n = 0;
  auto path = [&] {
    const std::string dir = out + "/m" + std::to_string(n % 100);
    std::filesystem::create_directories(dir);
    return dir + "/w" + std::to_string(n++) + ".safetensors";
  };
  for (int i = 0; i < 2500; ++i) {
    const std::string c = content(size_of());
    put(path(), c);
    put(path(), c);
  }
  for (int i = 0; i < 5000; ++i) put(path(), content(size_of()));
  std::printf("%d files\n", n);
  return 0;
}

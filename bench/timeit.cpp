// Times a whole command (fork + exec + wait) RUNS times after WARMUP untimed runs and prints
// min / median / mean in milliseconds. Output of the command goes to /dev/null.
//
//   hubcache_timeit RUNS WARMUP -- command args...
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

namespace {

double run_once(char** argv) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execvp(argv[0], argv);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const auto end = std::chrono::steady_clock::now();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "command failed (status %d): %s\n", status, argv[0]);
    std::exit(1);
  }
  return std::chrono::duration<double, std::milli>(end - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || std::strcmp(argv[3], "--") != 0) {
    std::fprintf(stderr, "usage: %s RUNS WARMUP -- command args...\n", argv[0]);
    return 2;
  }
  const int runs = std::atoi(argv[1]);
  const int warmup = std::atoi(argv[2]);
  char** cmd = argv + 4;
  for (int i = 0; i < warmup; ++i) run_once(cmd);
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) t.push_back(run_once(cmd));
  std::sort(t.begin(), t.end());
  const double median = t.size() % 2 ? t[t.size() / 2] : (t[t.size() / 2 - 1] + t[t.size() / 2]) / 2;
  const double mean = std::accumulate(t.begin(), t.end(), 0.0) / static_cast<double>(t.size());
  std::printf("runs=%d min=%.2f ms median=%.2f ms mean=%.2f ms max=%.2f ms\n", runs, t.front(), median, mean, t.back());
  return 0;
}

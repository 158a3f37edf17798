#pragma once
// A background `hubcache serve` child process for tests: started with --port 0, its printed URL
// read from stdout, killed (RAII) or stopped with a signal. stderr goes to a file for inspection.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"

namespace hubcache::test {

class ServeChild {
 public:
  /// Runs `hubcache serve ARGS... --port 0 --host 127.0.0.1` and waits (10 s) for the URL line.
  explicit ServeChild(std::vector<std::string> args) {
    int out[2];
    if (::pipe(out) != 0) return;
    args.insert(args.begin(), {hubcache_bin(), "serve"});
    for (const char* a : {"--port", "0", "--host", "127.0.0.1"}) args.emplace_back(a);
    m_pid = ::fork();
    if (m_pid == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    char c;
    pollfd p{out[0], POLLIN, 0};
    while (::poll(&p, 1, 10000) > 0 && ::read(out[0], &c, 1) == 1 && c != '\n') m_url.push_back(c);
    ::close(out[0]);
  }
  ~ServeChild() { stop(); }
  ServeChild(const ServeChild&) = delete;
  ServeChild& operator=(const ServeChild&) = delete;

  /// "http://127.0.0.1:PORT", or "" if the server did not start.
  const std::string& url() const { return m_url; }

  /// SIGTERM, then SIGKILL after 5 s; returns the exit status (0 = clean stop), -1 if not running.
  int stop() {
    if (m_pid <= 0) return -1;
    ::kill(m_pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
    return 128 + SIGKILL;
  }

 private:
  pid_t m_pid = -1;
  std::string m_url;
};

}  // namespace hubcache::test

#include "serve_process.hpp"

#include <algorithm>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "temp_dir.hpp"

namespace hubcache::test {
namespace {

int unlinked_temp_file() {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir && *dir ? dir : "/tmp") + "/hubcache-serve-err-XXXXXX";
  const int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("mkostemp failed for " + path);
  ::unlink(path.c_str());
  return fd;
}

}  // namespace

ServeProcess::ServeProcess(std::vector<std::string> args) {
  args.insert(args.begin(), {hubcache_bin(), "serve"});
  const bool has_host = std::find(args.begin(), args.end(), "--host") != args.end();
  for (const char* a : {"--port", "0"}) args.emplace_back(a);
  if (!has_host)
    for (const char* a : {"--host", "127.0.0.1"}) args.emplace_back(a);
  spawn(std::move(args));
}

ServeProcess::ServeProcess(Command command) { spawn(std::move(command.argv)); }

void ServeProcess::spawn(std::vector<std::string> args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  m_err = unlinked_temp_file();
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  m_pid = ::fork();
  if (m_pid == 0) {
    ::dup2(out[1], 1);  // dup2 clears O_CLOEXEC on the copies
    ::dup2(m_err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  m_out = out[0];
  if (m_pid < 0) return;
  char c;
  pollfd p{m_out, POLLIN, 0};
  while (::poll(&p, 1, 10000) > 0 && ::read(m_out, &c, 1) == 1 && c != '\n') m_url.push_back(c);
}

ServeProcess::~ServeProcess() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
  }
  ::close(m_out);
  ::close(m_err);
}

int ServeProcess::stop(int sig) {
  if (m_pid <= 0) return -1;
  ::kill(m_pid, sig);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
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

std::string ServeProcess::err_output() const {
  std::string s;
  char buf[4096];
  off_t at = 0;
  ssize_t n;
  while ((n = ::pread(m_err, buf, sizeof buf, at)) > 0) {
    s.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
  return s;
}

}  // namespace hubcache::test

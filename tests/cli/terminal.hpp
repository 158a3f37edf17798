#pragma once
// Running the hubcache binary on a pseudo-terminal, for the prompts that only a terminal gets.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace hubcache::test {

/// Starts argv (argv[0] a path) with a new pseudo-terminal as its stdin/stdout/stderr; `master`
/// gets the terminal's other end. Returns the child's pid.
inline pid_t spawn_in_terminal(const std::vector<std::string>& argv, int& master) {
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

/// Runs argv with a pseudo-terminal as stdin/stdout/stderr, typing `input` (all of it at once:
/// the terminal hands the program one line per read). Returns the exit code and everything the
/// terminal showed (the echoed input included) in `out`.
inline ProcessResult run_in_terminal(const std::vector<std::string>& argv, const std::string& input) {
  int master = -1;
  const pid_t pid = spawn_in_terminal(argv, master);
  ProcessResult r;
  if (!input.empty()) (void)!::write(master, input.data(), input.size());
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child has exited
    r.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

/// Like run_in_terminal, but types `input` only once the terminal shows `prompt` (as a user
/// would), and kills the program if it is still running after `timeout_ms` (exit code 128 then).
inline ProcessResult run_in_terminal_after(const std::vector<std::string>& argv, const std::string& prompt,
                                           const std::string& input, int timeout_ms = 20000) {
  int master = -1;
  const pid_t pid = spawn_in_terminal(argv, master);
  ProcessResult r;
  bool typed = false;
  char buf[4096];
  for (int waited = 0; waited < timeout_ms;) {
    pollfd p{master, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    if (ready == 0) {
      waited += 100;
      continue;
    }
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child has exited
    r.out.append(buf, static_cast<std::size_t>(n));
    if (!typed && r.out.find(prompt) != std::string::npos) {
      (void)!::write(master, input.data(), input.size());
      typed = true;
    }
  }
  ::close(master);
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

}  // namespace hubcache::test

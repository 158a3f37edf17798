#pragma once
// A background `hubcache serve` child process for tests (next to run_process, which waits for
// its child): started on an ephemeral port of 127.0.0.1, its URL read from the first stdout line,
// its stderr kept in an unlinked temp file (never a full pipe that would block it), stopped with
// a signal or killed on destruction.
#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace hubcache::test {

class ServeProcess {
 public:
  /// Runs `hubcache serve ARGS... --port 0 [--host 127.0.0.1 unless ARGS name a host]` and
  /// waits (10 s) for the URL line.
  explicit ServeProcess(std::vector<std::string> args);
  /// Runs `argv` as given (argv[0] a path; nothing added) and waits (10 s) for its first stdout
  /// line, kept as url(): a peer server the test starts (node, ...).
  struct Command {
    std::vector<std::string> argv;
  };
  explicit ServeProcess(Command command);
  ~ServeProcess();  // SIGKILL if still running
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  /// The URL line ("http://127.0.0.1:PORT"), or "" if the server did not start.
  const std::string& url() const { return m_url; }
  /// Sends `sig` and waits up to 10 s for the exit, then SIGKILLs. Returns the exit status
  /// (0 = clean stop, 128 + N when killed by signal N), -1 if it was not running.
  int stop(int sig = SIGTERM);
  /// Everything the server wrote to stderr so far.
  std::string err_output() const;

 private:
  void spawn(std::vector<std::string> argv);
  pid_t m_pid = -1;
  int m_out = -1;  // read end of its stdout, kept open so a later write never gets SIGPIPE
  int m_err = -1;  // its stderr file
  std::string m_url;
};

}  // namespace hubcache::test

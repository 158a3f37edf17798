#include "temp_dir.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "hubcache/util/hash.hpp"

extern char** environ;

namespace hubcache::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/hubcache-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  m_path = std::filesystem::canonical(buf.data()).string();
}

TempDir::~TempDir() {
  std::error_code ec;
  // Restore permissions that tests may have removed, so cleanup succeeds.
  for (auto it =
           std::filesystem::recursive_directory_iterator(m_path, std::filesystem::directory_options::skip_permission_denied, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0755);
  }
  ::chmod(m_path.c_str(), 0755);
  std::filesystem::remove_all(m_path, ec);
}

void write_file(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string read_link(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

std::string tree_fingerprint(const std::string& root) {
  std::vector<std::string> rows;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec); it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string p = it->path().string();
    struct stat st {};
    ::lstat(p.c_str(), &st);
    std::string row = p.substr(root.size()) + " mode=" + std::to_string(st.st_mode) + " size=" + std::to_string(st.st_size);
    if (S_ISLNK(st.st_mode))
      row += " -> " + read_link(p);
    else if (S_ISREG(st.st_mode))
      row += " sha=" + sha256_hex(read_file(p));
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end());
  std::string out;
  for (auto& r : rows) out += r + "\n";
  return out;
}

std::map<std::string, std::string> describe_tree(const std::string& root) {
  namespace stdfs = std::filesystem;
  std::map<std::string, std::string> out;
  if (!stdfs::exists(root)) return out;
  for (auto it = stdfs::recursive_directory_iterator(root); it != stdfs::recursive_directory_iterator(); ++it) {
    const std::string p = it->path().string();
    const std::string rel = p.substr(root.size() + 1);
    if (it->is_symlink())
      out[rel] = "link " + read_link(p);
    else if (it->is_directory())
      out[rel] = "dir";
    else
      out[rel] = "file " + sha256_hex(read_file(p));
  }
  return out;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& stdin_data, int as_uid) {
  int out_pipe[2], err_pipe[2], in_pipe[2];
  if (::pipe(out_pipe) || ::pipe(err_pipe) || ::pipe(in_pipe)) throw std::runtime_error("pipe failed");
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  for (const auto& kv : env) {
    const bool unset = !kv.empty() && kv[0] == '-';  // "-NAME" removes NAME
    const auto key = unset ? kv.substr(1) + "=" : kv.substr(0, kv.find('=') + 1);
    envs.erase(std::remove_if(envs.begin(), envs.end(), [&](const std::string& s) { return s.rfind(key, 0) == 0; }), envs.end());
    if (!unset) envs.push_back(kv);
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], in_pipe[0], in_pipe[1]}) ::close(fd);
    if (as_uid >= 0 && ::geteuid() == 0) {
      if (::setgid(static_cast<gid_t>(as_uid)) != 0 || ::setuid(static_cast<uid_t>(as_uid)) != 0) ::_exit(126);
    }
    std::vector<char*> args, envp;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(in_pipe[0]);
  if (!stdin_data.empty()) (void)!::write(in_pipe[1], stdin_data.data(), stdin_data.size());
  ::close(in_pipe[1]);
  ProcessResult r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    ::poll(fds, 2, -1);
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string hubcache_bin() {
  const char* p = std::getenv("HUBCACHE_BIN");
  if (!p) throw std::runtime_error("HUBCACHE_BIN is not set (run the tests through ctest)");
  return p;
}

std::string source_dir() {
  // gtest_discover_tests (CMake 3.25) splits its ENVIRONMENT list, so only the first variable
  // reaches the tests: the build's source dir is compiled in as the fallback.
  const char* p = std::getenv("HUBCACHE_SOURCE_DIR");
  if (p) return p;
#ifdef HUBCACHE_TEST_SOURCE_DIR
  return HUBCACHE_TEST_SOURCE_DIR;
#else
  throw std::runtime_error("HUBCACHE_SOURCE_DIR is not set (run the tests through ctest)");
#endif
}

}  // namespace hubcache::test

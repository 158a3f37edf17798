#include "tls_certs.hpp"

#include <unistd.h>

#include <vector>

#include "temp_dir.hpp"

namespace hubcache::test {

bool have_openssl() { return ::access("/usr/bin/openssl", X_OK) == 0; }

std::optional<TestCerts> make_test_certs(const std::string& dir, std::string& error) {
  TestCerts c{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  auto openssl = [&](std::vector<std::string> args, bool new_key) {
    args.insert(args.begin(), "/usr/bin/openssl");
    if (new_key) args.insert(args.end(), ec.begin(), ec.end());
    auto r = run_process(args);
    if (r.exit_code != 0) error = "openssl " + args[1] + " failed: " + r.out + r.err;
    return r.exit_code == 0;
  };
  if (!openssl({"req", "-x509", "-days", "2", "-subj", "/CN=hubcache test CA", "-keyout", dir + "/ca.key", "-out", c.ca}, true))
    return std::nullopt;
  if (!openssl({"req", "-subj", "/CN=127.0.0.1", "-keyout", c.key, "-out", dir + "/server.csr"}, true)) return std::nullopt;
  write_file(dir + "/ext.cnf", "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  if (!openssl({"x509", "-req", "-days", "2", "-in", dir + "/server.csr", "-CA", c.ca, "-CAkey", dir + "/ca.key", "-set_serial",
                "2", "-extfile", dir + "/ext.cnf", "-out", c.cert},
               false))
    return std::nullopt;
  return c;
}

}  // namespace hubcache::test

#pragma once
// A throwaway CA and a server certificate for IP 127.0.0.1 signed by it, made with the openssl
// command (EC P-256 keys: fast to make), for tests that serve HTTPS on loopback.
#include <optional>
#include <string>

namespace hubcache::test {

struct TestCerts {
  std::string ca;    // the CA certificate (PEM): what a client trusts
  std::string cert;  // the server certificate (PEM), subjectAltName IP:127.0.0.1
  std::string key;   // the server key (PEM, unencrypted)
};

/// True if /usr/bin/openssl exists (tests skip themselves otherwise).
bool have_openssl();
/// Writes ca.pem, server.pem, server.key (and the CA's key and the request) into `dir`. On
/// failure: nullopt, with openssl's output in `error`.
std::optional<TestCerts> make_test_certs(const std::string& dir, std::string& error);

}  // namespace hubcache::test

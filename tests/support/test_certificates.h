#pragma once
// Certificates for TLS tests, made with Debian's `openssl` command in a temp dir: a CA, a
// server certificate for 127.0.0.1 and a client certificate, both signed by the CA, and a
// second CA that signed neither (to see a certificate refused).

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace gust::test {

class TestCertificates {
 public:
  TestCertificates() {
    const std::string d = dir_.path().string();
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "set -e; cd '" + d + "'\n" +
        "openssl req -x509 " + key + " -keyout ca.key -out ca.pem -days 2 -subj /CN=gust-test-ca\n" +
        "openssl req -x509 " + key + " -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=gust-other-ca\n" +
        "openssl req " + key + " -keyout server.key -out server.csr -subj /CN=127.0.0.1\n" +
        "printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext\n" +
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2"
        " -extfile server.ext\n" +
        "openssl req " + key + " -keyout client.key -out client.csr -subj /CN=gust-host\n" +
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2\n";
    std::ofstream(dir_.path() / "make.sh") << script;
    const std::string command = "sh '" + d + "/make.sh' >'" + d + "/openssl.log' 2>&1";
    ok_ = std::system(command.c_str()) == 0;
  }

  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }
  std::string ca() const { return path("ca.pem"); }
  std::string otherCa() const { return path("other-ca.pem"); }
  std::string serverCert() const { return path("server.pem"); }
  std::string serverKey() const { return path("server.key"); }
  std::string clientCert() const { return path("client.pem"); }
  std::string clientKey() const { return path("client.key"); }

 private:
  TempDir dir_;
  bool ok_ = false;
};

}  // namespace gust::test

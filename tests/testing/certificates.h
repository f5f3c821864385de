#pragma once
// Throwaway TLS material for tests that start a server with TLS.
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace arginator::testing {

// Writes into `dir` a CA (ca.pem, ca.key), a server certificate for localhost and 127.0.0.1
// (server.pem, server.key) and a client certificate (client.pem, client.key), all signed by the CA
// and valid for a day. Fails the calling test if openssl does.
inline void MakeCertificates(const std::string& dir) {
  const std::string script = "cd " + dir + R"( &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca &&
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost &&
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
      -days 1 -extfile san.ext &&
    openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client &&
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 1)";
  auto r = RunCommand(script);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace arginator::testing

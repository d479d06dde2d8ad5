#pragma once
// Where the shared backend of a cluster is (`gust serve --backend`, GUST_BACKEND): a Redis
// URL, redis[s]://[[user]:password@]host[:port][/db] (docs/scale-out.md); rediss:// is Redis
// over TLS. Parsing only; the connection is runtime/store/redis_client.h.

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/base/result.h"

namespace gust {

// For rediss://: PEM files given with --backend-tls-ca, --backend-tls-cert and
// --backend-tls-key. Empty: the system's CAs, and no client certificate.
struct RedisTlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

struct RedisEndpoint {
  std::string host;  // a name or an address; an IPv6 one without its brackets
  int port = 6379;
  std::string username;  // empty: the default user (AUTH with the password alone)
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECTed after connecting
  bool tls = false;      // rediss://: TLS, with the server's certificate checked against `host`
  RedisTlsFiles tls_files;

  // host:port, for messages; never the password.
  std::string where() const;
};

// Parses a backend URL. The error says what is wrong and what to write instead; it never
// repeats the password.
Result<RedisEndpoint> parseBackendUrl(std::string_view url);

}  // namespace gust

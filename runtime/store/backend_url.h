#pragma once
// Where the shared backend of a cluster is (`gust serve --backend`, GUST_BACKEND): a Redis
// URL, redis://[[user]:password@]host[:port][/db] (docs/scale-out.md). Parsing only; the
// connection is runtime/store/redis_client.h.

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/base/result.h"

namespace gust {

struct RedisEndpoint {
  std::string host;  // a name or an address; an IPv6 one without its brackets
  int port = 6379;
  std::string username;  // empty: the default user (AUTH with the password alone)
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECTed after connecting

  // host:port, for messages; never the password.
  std::string where() const;
};

// Parses a backend URL. The error says what is wrong and what to write instead; it never
// repeats the password.
Result<RedisEndpoint> parseBackendUrl(std::string_view url);

}  // namespace gust

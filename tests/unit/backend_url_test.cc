#include "runtime/store/backend_url.h"

#include <doctest/doctest.h>

namespace gust {
namespace {

TEST_CASE("a backend URL gives host, port, credentials and database") {
  auto plain = parseBackendUrl("redis://10.0.0.5");
  REQUIRE(plain.ok());
  CHECK(plain->host == "10.0.0.5");
  CHECK(plain->port == 6379);
  CHECK(plain->password.empty());
  CHECK(plain->db == 0);

  auto full = parseBackendUrl("redis://gust:s%40cret%3A1@redis.internal:7000/3");
  REQUIRE(full.ok());
  CHECK(full->host == "redis.internal");
  CHECK(full->port == 7000);
  CHECK(full->username == "gust");
  CHECK(full->password == "s@cret:1");
  CHECK(full->db == 3);
  CHECK(full->where() == "redis.internal:7000");

  auto default_user = parseBackendUrl("redis://:pw@127.0.0.1:6380/");
  REQUIRE(default_user.ok());
  CHECK(default_user->username.empty());
  CHECK(default_user->password == "pw");
  CHECK(default_user->db == 0);

  auto v6 = parseBackendUrl("redis://[::1]:6390/1");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->where() == "[::1]:6390");
}

TEST_CASE("a bad backend URL says what is wrong and how to write it, never echoing the password") {
  struct Case {
    const char* url;
    const char* says;
  };
  const Case cases[] = {
      {"http://redis:6379", "must start with redis:// (or rediss:// for TLS)"},
      {"redis://", "names no host"},
      {"redis://:@host", "empty password"},
      {"redis://user@host", "a user without a password"},
      {"redis://host:0", "port that is not a number from 1 to 65535"},
      {"redis://host:65536", "port"},
      {"redis://host:", "empty port"},
      {"redis://host:6379/x", "database that is not a number"},
      {"redis://[::1", "closing ]"},
      {"redis://h st", "character"},
      {"redis://:pa%zzword@host", "two hex digits"},
      {"redis://:password%4@host", "cut-off"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.url);
    auto r = parseBackendUrl(c.url);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::kBadInput);
    CHECK(r.error().message.find(c.says) != std::string::npos);
    CHECK(r.error().message.find("password%") == std::string::npos);
  }
  auto wrong_scheme = parseBackendUrl("redis+tls://:secret@host");
  REQUIRE_FALSE(wrong_scheme.ok());
  CHECK(wrong_scheme.error().message.find("rediss:// for TLS") != std::string::npos);
  CHECK(wrong_scheme.error().message.find("secret") == std::string::npos);
}

TEST_CASE("rediss:// is the same URL over TLS") {
  auto tls = parseBackendUrl("rediss://ops:s%40cret@cache.internal:6380/2");
  REQUIRE(tls.ok());
  CHECK(tls->tls);
  CHECK(tls->host == "cache.internal");
  CHECK(tls->port == 6380);
  CHECK(tls->username == "ops");
  CHECK(tls->password == "s@cret");
  CHECK(tls->db == 2);
  auto plain = parseBackendUrl("redis://cache.internal");
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->tls);
}

}  // namespace
}  // namespace gust

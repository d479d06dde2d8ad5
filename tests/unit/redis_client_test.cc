// The Redis client against a real redis-server (tests/support/redis_server.h): commands and
// replies, AUTH and SELECT, and what the client does when Redis dies, stops answering or
// comes back.
#include "runtime/store/redis_client.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <memory>
#include <optional>

#include "tests/support/redis_server.h"
#include "tests/support/run_loop.h"

namespace gust {
namespace {

RedisEndpoint endpointOf(const std::string& url) {
  auto endpoint = parseBackendUrl(url);
  REQUIRE(endpoint.ok());
  return *endpoint;
}

struct Fixture {
  explicit Fixture(const std::string& url, RedisClientOptions options = fastOptions())
      : Fixture(endpointOf(url), options) {}
  explicit Fixture(RedisEndpoint endpoint, RedisClientOptions options = fastOptions()) {
    uv_loop_init(&loop);
    client = std::make_unique<RedisClient>(&loop, std::move(endpoint), options);
    client->start([this](bool up, const std::string& why) {
      (up ? ups : downs) += 1;
      last_why = why;
    });
  }
  ~Fixture() {
    bool closed = false;
    client->close([&closed] { closed = true; });
    test::runLoopToEnd(&loop, "the client to close");
    CHECK(closed);
    client.reset();
    CHECK(uv_loop_close(&loop) == 0);
  }

  static RedisClientOptions fastOptions() {
    RedisClientOptions o;
    o.connect_timeout = std::chrono::milliseconds(500);
    // Far beyond a stall of a sanitized test beside three others: a command's deadline
    // fails it even when the answer is already waiting. The case that tests the deadline
    // sets a short one.
    o.command_timeout = std::chrono::seconds(10);
    o.reconnect_min = std::chrono::milliseconds(20);
    o.reconnect_max = std::chrono::milliseconds(100);
    return o;
  }

  void waitUp() { REQUIRE(test::runLoopUntil(&loop, "the client to be up", [this] { return client->up(); })); }

  // Runs one command to its answer.
  Result<RedisReply> run(std::vector<std::string> argv) {
    std::optional<Result<RedisReply>> answer;
    auto sent = client->command(std::move(argv), [&answer](Result<RedisReply> r) { answer = std::move(r); });
    if (!sent) return sent.error();
    REQUIRE(test::runLoopUntil(&loop, "the command's answer", [&answer] { return answer.has_value(); }));
    return std::move(*answer);
  }

  uv_loop_t loop{};
  std::unique_ptr<RedisClient> client;
  int ups = 0;
  int downs = 0;
  std::string last_why;
};

TEST_CASE("commands get their replies: strings, integers, nil, arrays, errors, binary bytes") {
  test::RedisServer redis;
  Fixture f(redis.url());
  f.waitUp();
  CHECK(f.ups == 1);
  const std::string binary("a\0b\r\nc", 6);
  auto set = f.run({"SET", "k", binary});
  REQUIRE(set.ok());
  CHECK(set->type == RedisReply::Type::kStatus);
  CHECK(set->str == "OK");
  auto get = f.run({"GET", "k"});
  REQUIRE(get.ok());
  CHECK(get->str == binary);
  CHECK(f.run({"GET", "missing"})->isNil());
  CHECK(f.run({"INCRBY", "n", "41"})->integer == 41);
  REQUIRE(f.run({"RPUSH", "l", "x", "y"}).ok());
  auto list = f.run({"LRANGE", "l", "0", "-1"});
  REQUIRE(list->type == RedisReply::Type::kArray);
  REQUIRE(list->elements.size() == 2);
  CHECK(list->elements[1].str == "y");
  auto wrong = f.run({"INCR", "k"});
  REQUIRE(wrong.ok());  // an error reply is a reply
  CHECK(wrong->isError());
  CHECK(wrong->str.find("not an integer") != std::string::npos);
}

TEST_CASE("a thousand commands sent at once are answered in the order they were sent") {
  test::RedisServer redis;
  Fixture f(redis.url());
  f.waitUp();
  std::vector<int64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(f.client->command({"INCR", "counter"}, [&seen](Result<RedisReply> r) { seen.push_back(r->integer); }).ok());
  }
  REQUIRE(test::runLoopUntil(&f.loop, "a thousand answers", [&seen] { return seen.size() == 1000; }));
  for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == static_cast<int64_t>(i + 1));
}

TEST_CASE("AUTH and SELECT come from the URL; a refused password keeps the client down and says why") {
  test::RedisServer redis({"--requirepass", "s3cret"});
  {
    Fixture wrong("redis://:nope@127.0.0.1:" + std::to_string(redis.port()));
    REQUIRE(test::runLoopUntil(&wrong.loop, "the refusal", [&wrong] {
      return wrong.client->lastError().find("AUTH was refused") != std::string::npos;
    }));
    CHECK_FALSE(wrong.client->up());
    auto refused = wrong.client->command({"PING"}, [](Result<RedisReply>) { FAIL("called back"); });
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::kUnavailable);
    CHECK(refused.error().message.find("127.0.0.1:" + std::to_string(redis.port())) != std::string::npos);
    CHECK(refused.error().message.find("nope") == std::string::npos);
  }
  Fixture db3("redis://:s3cret@127.0.0.1:" + std::to_string(redis.port()) + "/3");
  db3.waitUp();
  REQUIRE(db3.run({"SET", "where", "three"}).ok());
  Fixture db0("redis://:s3cret@127.0.0.1:" + std::to_string(redis.port()));
  db0.waitUp();
  CHECK(db0.run({"GET", "where"})->isNil());
  CHECK(db0.run({"SELECT", "3"})->str == "OK");
  CHECK(db0.run({"GET", "where"})->str == "three");
}

TEST_CASE("Redis killed: commands in flight fail, new ones are refused at once, and the client reconnects") {
  test::RedisServer redis;
  Fixture f(redis.url());
  f.waitUp();
  // A command that is still waiting when Redis dies.
  std::optional<Result<RedisReply>> blocked;
  REQUIRE(f.client->command({"BLPOP", "nothing", "10"}, [&blocked](Result<RedisReply> r) { blocked = std::move(r); })
              .ok());
  uv_run(&f.loop, UV_RUN_NOWAIT);  // sent
  redis.kill();
  REQUIRE(test::runLoopUntil(&f.loop, "the blocked command to fail", [&blocked] { return blocked.has_value(); }));
  REQUIRE_FALSE(blocked->ok());
  CHECK(blocked->error().kind == ErrorKind::kUnavailable);
  CHECK(blocked->error().message.find("may or may not have run") != std::string::npos);
  CHECK(f.downs == 1);
  CHECK_FALSE(f.client->up());
  CHECK(f.client->command({"PING"}, [](Result<RedisReply>) {}).error().kind == ErrorKind::kUnavailable);

  redis.start();
  f.waitUp();
  CHECK(f.ups == 2);
  CHECK(f.run({"PING"})->str == "PONG");
}

TEST_CASE("a Redis that stops answering fails commands at their deadline, and the client comes back with it") {
  test::RedisServer redis;
  RedisClientOptions impatient = Fixture::fastOptions();
  impatient.command_timeout = std::chrono::milliseconds(300);
  Fixture f(redis.url(), impatient);
  f.waitUp();
  redis.pause();
  auto answer = f.run({"PING"});
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.error().kind == ErrorKind::kUnavailable);
  CHECK(f.last_why.find("no answer within 300 ms") != std::string::npos);
  redis.resume();
  f.waitUp();
  CHECK(f.run({"PING"})->str == "PONG");
}

TEST_CASE("no Redis at the address: the client stays down, refuses commands, and connects once one starts") {
  test::RedisServer redis;
  redis.kill();
  Fixture f(redis.url());
  uv_run(&f.loop, UV_RUN_NOWAIT);
  CHECK_FALSE(f.client->up());
  auto refused = f.client->command({"PING"}, [](Result<RedisReply>) {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("unreachable") != std::string::npos);
  redis.start();
  f.waitUp();
}

TEST_CASE("close() with commands in flight fails them and leaves no handle") {
  test::RedisServer redis;
  auto f = std::make_unique<Fixture>(redis.url());
  f->waitUp();
  std::optional<Result<RedisReply>> blocked;
  REQUIRE(f->client->command({"BLPOP", "nothing", "10"}, [&blocked](Result<RedisReply> r) { blocked = std::move(r); })
              .ok());
  uv_run(&f->loop, UV_RUN_NOWAIT);
  f.reset();  // closes the client and runs the loop to its end
  REQUIRE(blocked.has_value());
  CHECK(blocked->error().kind == ErrorKind::kUnavailable);
}

// rediss://: the client's bytes go through RedisTlsTunnel to a redis-server that speaks TLS
// only and asks for a client certificate.
RedisEndpoint tlsEndpoint(const test::RedisServer& redis, const test::TestCertificates& certs,
                          const std::string& ca) {
  RedisEndpoint endpoint = endpointOf(redis.url());
  REQUIRE(endpoint.tls);
  endpoint.tls_files = {ca, certs.clientCert(), certs.clientKey()};
  return endpoint;
}

TEST_CASE("rediss:// carries commands over TLS: replies big and small, in order, and back after a restart") {
  test::TestCertificates certs;
  REQUIRE(certs.ok());
  test::RedisServer redis(certs);
  Fixture f(tlsEndpoint(redis, certs, certs.ca()));
  f.waitUp();
  CHECK(f.run({"PING"})->str == "PONG");
  // Larger than a TLS record (16 KiB) and than one read: many records each way.
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  auto set = f.run({"SET", "big", big});
  if (!set.ok()) FAIL("SET: " << set.error().message);
  CHECK(set->str == "OK");
  auto got = f.run({"GET", "big"});
  if (!got.ok()) FAIL("GET: " << got.error().message);
  CHECK(got->str == big);
  std::vector<int64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(f.client->command({"INCR", "n"}, [&seen](Result<RedisReply> r) { seen.push_back(r->integer); }).ok());
  }
  REQUIRE(test::runLoopUntil(&f.loop, "a thousand answers", [&seen] { return seen.size() == 1000; }));
  CHECK(seen.back() == 1000);
  redis.kill();
  REQUIRE(test::runLoopUntil(&f.loop, "the client to go down", [&f] { return !f.client->up(); }));
  redis.start();
  f.waitUp();
  CHECK(f.run({"PING"})->str == "PONG");
}

TEST_CASE("rediss:// refuses a server whose certificate no trusted CA signed, and says so") {
  test::TestCertificates certs;
  REQUIRE(certs.ok());
  test::RedisServer redis(certs);
  Fixture f(tlsEndpoint(redis, certs, certs.otherCa()));
  REQUIRE(test::runLoopUntil(&f.loop, "the refusal", [&f] {
    return f.client->lastError().find("was refused") != std::string::npos;
  }));
  CHECK_FALSE(f.client->up());
  CHECK(f.client->lastError().find("certificate of 127.0.0.1:" + std::to_string(redis.port())) != std::string::npos);
  CHECK(f.client->lastError().find("--backend-tls-ca") != std::string::npos);
}

TEST_CASE("rediss:// to a plain Redis port, or without the client certificate it asks for, stays down and says why") {
  test::TestCertificates certs;
  REQUIRE(certs.ok());
  {
    test::RedisServer plain;
    RedisEndpoint endpoint = endpointOf("rediss://127.0.0.1:" + std::to_string(plain.port()));
    endpoint.tls_files.ca_file = certs.ca();
    Fixture f(endpoint);
    REQUIRE(test::runLoopUntil(&f.loop, "the TLS failure", [&f] {
      return f.client->lastError().find("TLS") != std::string::npos;
    }));
    CHECK_FALSE(f.client->up());
  }
  test::RedisServer redis(certs);
  RedisEndpoint no_cert = endpointOf(redis.url());
  no_cert.tls_files.ca_file = certs.ca();
  Fixture f(no_cert);
  REQUIRE(test::runLoopUntil(&f.loop, "the refusal", [&f] {
    return f.client->lastError().find("TLS") != std::string::npos;
  }));
  CHECK_FALSE(f.client->up());
}

TEST_CASE("TLS files that cannot be used are refused before any connection, naming the option") {
  test::TestCertificates certs;
  REQUIRE(certs.ok());
  RedisEndpoint endpoint = endpointOf("rediss://127.0.0.1:1");
  endpoint.tls_files.ca_file = certs.path("missing.pem");
  auto missing = RedisClient::checkTls(endpoint);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("--backend-tls-ca " + certs.path("missing.pem")) != std::string::npos);
  endpoint.tls_files = {certs.ca(), certs.clientCert(), ""};
  auto half = RedisClient::checkTls(endpoint);
  REQUIRE_FALSE(half.ok());
  CHECK(half.error().message.find("go together") != std::string::npos);
  endpoint.tls_files = {certs.ca(), certs.clientCert(), certs.serverKey()};
  auto mismatched = RedisClient::checkTls(endpoint);
  REQUIRE_FALSE(mismatched.ok());
  CHECK(mismatched.error().message.find("--backend-tls-key") != std::string::npos);
  endpoint.tls_files = {certs.ca(), certs.clientCert(), certs.clientKey()};
  CHECK(RedisClient::checkTls(endpoint).ok());
}

}  // namespace
}  // namespace gust

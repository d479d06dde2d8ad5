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
  explicit Fixture(const std::string& url, RedisClientOptions options = fastOptions()) {
    uv_loop_init(&loop);
    client = std::make_unique<RedisClient>(&loop, endpointOf(url), options);
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
    o.command_timeout = std::chrono::milliseconds(300);
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
  f.run({"RPUSH", "l", "x", "y"});
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
  db3.run({"SET", "where", "three"});
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
  Fixture f(redis.url());
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

}  // namespace
}  // namespace gust

#include "runtime/host/store_probe.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <memory>
#include <optional>

#include "runtime/store/sqlite_schema.h"
#include "tests/support/redis_server.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using testing::WriterFixture;

// What a store opening leaves: schema_versions with the component's row.
void openComponent(WriterFixture& fx) {
  GUST_REQUIRE_OK(fx.writer().runSync<void>(
      [](SqliteConnection& db) { return migrateSchema(db, "probe_test", std::span<const Migration>{}); }));
}

// A client of `redis` on the fixture's loop, up; closed (and the loop left clean) with it.
class RedisOnLoop {
 public:
  RedisOnLoop(WriterFixture& fx, const test::RedisServer& redis) : loop_(fx.loop()) {
    auto endpoint = parseBackendUrl(redis.url());
    REQUIRE(endpoint.ok());
    client_ = std::make_unique<RedisClient>(loop_, *endpoint, RedisClientOptions{});
    client_->start();
    REQUIRE(test::runLoopUntil(loop_, "the Redis client to be up", [this] { return client_->up(); }));
  }
  ~RedisOnLoop() {
    bool closed = false;
    client_->close([&closed] { closed = true; });
    test::runLoopUntil(loop_, "the Redis client to close", [&closed] { return closed; });
  }
  RedisClient& client() { return *client_; }

 private:
  uv_loop_t* loop_;
  std::unique_ptr<RedisClient> client_;
};

template <typename Probe>
std::optional<bool> answerOf(WriterFixture& fx, Probe probe) {
  std::optional<bool> answer;
  probe([&answer](bool writable) { answer = writable; });
  REQUIRE(test::runLoopUntil(fx.loop(), "the store probe's answer", [&answer] { return answer.has_value(); }));
  return answer;
}

std::optional<bool> sqliteProbe(WriterFixture& fx) {
  return answerOf(fx, [&fx](auto done) { probeSqliteStore(fx.writer(), std::move(done)); });
}

TEST_CASE("the gust.db probe commits a write through the writer, and leaves what was there") {
  WriterFixture fx;
  openComponent(fx);
  uint64_t before = fx.writer().jobsCommitted();
  CHECK(sqliteProbe(fx) == true);
  CHECK(fx.writer().jobsCommitted() == before + 1);
  CHECK(testing::countCommitted(fx.dbPath(), "SELECT version FROM schema_versions WHERE component = 'probe_test'") ==
        0);
}

TEST_CASE("the gust.db probe answers false while another connection holds the write lock, true once it lets go") {
  SqliteWriterOptions options;
  options.busy_timeout = std::chrono::milliseconds(20);
  WriterFixture fx(options);
  openComponent(fx);
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(fx.dbPath().c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(sqliteProbe(fx) == false);
  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  CHECK(sqliteProbe(fx) == true);
}

TEST_CASE("the gust.db probe answers false on a database no store has opened") {
  WriterFixture fx;
  CHECK(sqliteProbe(fx) == false);
}

TEST_CASE("the Redis probe answers true for a write taken, false for one refused, and false with Redis gone") {
  WriterFixture fx;
  test::RedisServer redis;
  RedisOnLoop client(fx, redis);
  auto probe = [&] { return answerOf(fx, [&](auto done) { probeRedisStore(client.client(), std::move(done)); }); };
  CHECK(probe() == true);
  // Writes refused while Redis answers: it wants a replica it does not have (NOREPLICAS).
  std::optional<Result<RedisReply>> set;
  REQUIRE(client.client()
              .command({"CONFIG", "SET", "min-replicas-to-write", "1"},
                       [&set](Result<RedisReply> r) { set = std::move(r); })
              .ok());
  REQUIRE(test::runLoopUntil(fx.loop(), "CONFIG SET's answer", [&set] { return set.has_value(); }));
  REQUIRE(set->ok());
  REQUIRE_FALSE((*set)->isError());
  CHECK(probe() == false);
  redis.kill();
  CHECK(probe() == false);
}

TEST_CASE("a host's stores are writable only when gust.db and its Redis both take the write") {
  WriterFixture fx;
  openComponent(fx);
  test::RedisServer redis;
  RedisOnLoop client(fx, redis);
  auto probe = [&] {
    return answerOf(fx, [&](auto done) { probeHostStores(fx.writer(), &client.client(), std::move(done)); });
  };
  CHECK(probe() == true);
  CHECK(answerOf(fx, [&](auto done) { probeHostStores(fx.writer(), nullptr, std::move(done)); }) == true);
  redis.kill();
  CHECK(probe() == false);
}

}  // namespace
}  // namespace gust

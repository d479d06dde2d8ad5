// What the Redis backend does beyond the contracts it shares with the embedded one
// (queue_store_test.cc runs that against both): two hosts on one Redis see one set of
// queues and topics, a Redis that restarted (and forgot its scripts) is used again, and a
// Redis that cannot be reached refuses calls instead of losing them.
#include "runtime/store/redis_queue.h"
#include "runtime/store/redis_timer_claims.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <set>

#include "runtime/base/names.h"
#include "tests/support/redis_server.h"
#include "tests/support/run_loop.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RedisClientOptions fastOptions() {
  RedisClientOptions o;
  o.connect_timeout = milliseconds(500);
  o.command_timeout = seconds(10);  // no case waits on a deadline: a killed Redis closes the socket
  o.reconnect_min = milliseconds(20);
  o.reconnect_max = milliseconds(100);
  return o;
}

// A host's view of the cluster: its own connection and its own RedisQueue, on a shared loop.
struct Host {
  Host(uv_loop_t* loop, const std::string& url, const Clock& clock) : loop(loop) {
    auto endpoint = parseBackendUrl(url);
    REQUIRE(endpoint.ok());
    client = std::make_unique<RedisClient>(loop, *endpoint, fastOptions());
    client->start();
    waitUp();
    queue = std::make_unique<RedisQueue>(*client, clock);
  }
  ~Host() {
    bool closed = false;
    client->close([&closed] { closed = true; });
    test::runLoopUntil(loop, "the client to close", [&closed] { return closed; });
  }
  void waitUp() { REQUIRE(test::runLoopUntil(loop, "the client to connect", [this] { return client->up(); })); }

  template <typename T, typename Call>
  Result<T> wait(Call&& call) {
    std::optional<Result<T>> got;
    Result<void> posted = call([&got](Result<T> r) { got.emplace(std::move(r)); });
    if (!posted.ok()) return posted.error();
    REQUIRE(test::runLoopUntil(loop, "the queue's answer", [&got] { return got.has_value(); }));
    return std::move(*got);
  }
  std::vector<SendResult> send(const std::string& queue_name, std::string id, std::string body) {
    OutgoingMessage m;
    m.id = std::move(id);
    m.body = std::move(body);
    auto r = wait<std::vector<SendResult>>(
        [&](auto done) { return queue->send(queue_name, {m}, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return *r;
  }
  // A command straight to Redis, to read what the backend stored.
  RedisReply redis(std::vector<std::string> argv) {
    auto r = wait<RedisReply>([&](auto done) { return client->command(std::move(argv), std::move(done)); });
    GUST_REQUIRE_OK(r);
    REQUIRE_FALSE(r->isError());
    return *r;
  }
  std::vector<LeasedMessage> lease(const std::string& queue_name) {
    LeaseOptions o;
    o.max_count = 10;
    auto r = wait<LeaseResult>([&](auto done) { return queue->lease(queue_name, o, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return r->messages;
  }

  uv_loop_t* loop;
  std::unique_ptr<RedisClient> client;
  std::unique_ptr<RedisQueue> queue;
};

struct Cluster {
  Cluster() { uv_loop_init(&loop); }
  ~Cluster() {
    a.reset();
    b.reset();
    test::runLoopToEnd(&loop, "the loop to end");
    CHECK(uv_loop_close(&loop) == 0);
  }
  uv_loop_t loop{};
  test::RedisServer redis;
  testing::FakeClock clock;
  std::unique_ptr<Host> a, b;
};

TEST_CASE("two hosts on one Redis: a message sent through one is leased through the other, once") {
  Cluster c;
  c.a = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  c.b = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  c.a->send("orders", "o-1", "first");
  CHECK(c.b->send("orders", "o-1", "again")[0].duplicate);  // one dedupe window for the cluster
  auto on_b = c.b->lease("orders");
  REQUIRE(on_b.size() == 1);
  CHECK(on_b[0].body == "first");
  CHECK(c.a->lease("orders").empty());  // leased by the other host
  // The settle through the host that did not lease it is fenced by the same token.
  auto settled = c.a->wait<SettleResult>([&](auto done) {
    return c.a->queue->settle({{"orders", "o-1", on_b[0].lease_token, SettleAction::kAck, {}, ""}}, {}, {},
                              std::move(done));
  });
  GUST_REQUIRE_OK(settled);
  CHECK(settled->committed);
  CHECK(c.b->lease("orders").empty());
}

// Each queue is a Redis stream with one consumer group: read straight from Redis, a lease is
// an entry on the group's pending list under the leasing host's name, its deliveries are the
// attempts, and an expired lease moves to the host that leases next through XAUTOCLAIM.
TEST_CASE("a queue is a stream: leases sit on its consumer group's pending list, and XAUTOCLAIM moves expired ones") {
  Cluster c;
  c.a = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  c.b = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  c.a->queue->setConsumer("host-a");
  c.b->queue->setConsumer("host-b");
  auto redis = [&](std::vector<std::string> argv) { return c.a->redis(std::move(argv)); };
  // (consumer, deliveries) of each pending entry, in stream order.
  auto pending = [&] {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const RedisReply& e : redis({"XPENDING", "gust:q:orders:stream", "gust", "-", "+", "10"}).elements) {
      out.emplace_back(e.elements.at(1).str, e.elements.at(3).integer);
    }
    return out;
  };
  c.a->send("orders", "o-1", "first");
  c.a->send("orders", "o-2", "second");
  CHECK(redis({"XLEN", "gust:q:orders:stream"}).integer == 2);
  CHECK(pending().empty());

  auto on_a = c.a->lease("orders");
  REQUIRE(on_a.size() == 2);
  using Held = std::vector<std::pair<std::string, int64_t>>;
  CHECK(pending() == Held{{"host-a", 1}, {"host-a", 1}});
  CHECK(c.b->lease("orders").empty());

  // A's leases (30 s by default) expire: B's lease claims both, counting a second delivery.
  c.clock.advance(seconds(31));
  auto on_b = c.b->lease("orders");
  REQUIRE(on_b.size() == 2);
  CHECK(on_b[0].attempts == 2);
  CHECK(pending() == Held{{"host-b", 2}, {"host-b", 2}});

  // B acks one: it leaves the pending list and the stream.
  auto settled = c.b->wait<SettleResult>([&](auto done) {
    return c.b->queue->settle({{"orders", on_b[0].id, on_b[0].lease_token, SettleAction::kAck, {}, ""}}, {}, {},
                              std::move(done));
  });
  GUST_REQUIRE_OK(settled);
  REQUIRE(settled->committed);
  CHECK(redis({"XLEN", "gust:q:orders:stream"}).integer == 1);
  CHECK(pending().size() == 1);
}

// A host that left (gone from hosts-seen, which the hosts' beats keep) leaves its consumer in
// every group it read. The sweep drops it once it holds nothing, and keeps a consumer that
// still holds a lease, or whose host is live.
TEST_CASE("the sweep drops the consumers of hosts that left once they hold nothing") {
  Cluster c;
  c.a = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  c.b = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  auto redis = [&](std::vector<std::string> argv) { return c.a->redis(std::move(argv)); };
  auto consumers = [&] {
    std::set<std::string> names;
    for (const RedisReply& info : redis({"XINFO", "CONSUMERS", "gust:q:orders:stream", "gust"}).elements) {
      for (size_t i = 0; i + 1 < info.elements.size(); i += 2) {
        if (info.elements[i].str == "name") names.insert(info.elements[i + 1].str);
      }
    }
    return names;
  };
  auto leaseAs = [&](Host& host, const std::string& consumer, milliseconds lease) {
    host.queue->setConsumer(consumer);
    LeaseOptions o;
    o.visibility_timeout = lease;
    auto r = host.wait<LeaseResult>([&](auto done) { return host.queue->lease("orders", o, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return r->messages;
  };
  auto sweep = [&] { GUST_REQUIRE_OK(c.a->wait<int64_t>([&](auto done) { return c.a->queue->sweep(std::move(done)); })); };
  redis({"ZADD", "gust:hosts-seen", "1", "host-b"});  // only B is live

  c.a->send("orders", "o-1", "first");
  c.a->send("orders", "o-2", "second");
  REQUIRE(leaseAs(*c.a, "host-a", seconds(10)).size() == 1);
  REQUIRE(leaseAs(*c.a, "host-c", seconds(60)).size() == 1);
  sweep();
  CHECK(consumers() == std::set<std::string>{"host-a", "host-c"});  // both hold a lease

  // A's lease expires and B takes it over: A holds nothing and goes; C still holds its lease.
  c.clock.advance(seconds(31));
  auto on_b = leaseAs(*c.b, "host-b", seconds(30));
  REQUIRE(on_b.size() == 1);
  CHECK(on_b[0].id == "o-1");
  sweep();
  CHECK(consumers() == std::set<std::string>{"host-b", "host-c"});

  // B, live, stays when it holds nothing.
  auto settled = c.b->wait<SettleResult>([&](auto done) {
    return c.b->queue->settle({{"orders", "o-1", on_b[0].lease_token, SettleAction::kAck, {}, ""}}, {}, {},
                              std::move(done));
  });
  GUST_REQUIRE_OK(settled);
  REQUIRE(settled->committed);
  sweep();
  CHECK(consumers() == std::set<std::string>{"host-b", "host-c"});
}

TEST_CASE("a subscription set through one host receives what another host publishes next, at once") {
  Cluster c;
  c.a = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  c.b = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  // B publishes first, so it holds a table in which "news" is no topic at all.
  c.b->send("news", "before", "to the plain queue");
  TopicBindings bindings;
  bindings.subscriptions.push_back(Subscription{"news", functionSubscriber("reader", "onNews"), {}});
  auto bound = c.a->wait<bool>([&](auto done) {
    return c.a->queue->bindTopics("reader", bindings, [done = std::move(done)](Result<void> r) mutable {
      if (r.ok()) {
        done(true);
      } else {
        done(r.error());
      }
    });
  });
  GUST_REQUIRE_OK(bound);
  // B's table is stale now; the script refuses B's plan, B reads the table again and fans out.
  c.b->send("news", "after", "an event");
  auto got = c.a->lease(subscriptionQueue("news", functionSubscriber("reader", "onNews")));
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == "after");
  bool has_ce_id = false;
  for (const auto& [k, v] : got[0].headers) has_ce_id = has_ce_id || (k == "ce-id" && v == "after");
  CHECK(has_ce_id);
}

TEST_CASE("a Redis that restarted without its scripts is used again once the client reconnects") {
  Cluster c;
  c.a = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  c.a->send("jobs", "j-1", "before the restart");
  c.redis.kill();
  REQUIRE(test::runLoopUntil(&c.loop, "the client to notice", [&] { return !c.a->client->up(); }));
  c.redis.start();  // no persistence in this test: an empty Redis with no scripts cached
  c.a->waitUp();
  c.a->send("jobs", "j-2", "after the restart");  // EVALSHA answers NOSCRIPT; the source follows
  auto leased = c.a->lease("jobs");
  REQUIRE(leased.size() == 1);
  CHECK(leased[0].id == "j-2");
}

TEST_CASE("while Redis cannot be reached, calls are refused at once as unavailable") {
  Cluster c;
  c.a = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  c.redis.kill();
  REQUIRE(test::runLoopUntil(&c.loop, "the client to notice", [&] { return !c.a->client->up(); }));
  OutgoingMessage m;
  m.body = "x";
  auto refused = c.a->queue->send("jobs", {m}, [](Result<std::vector<SendResult>>) { FAIL("called back"); });
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::kUnavailable);
  LeaseOptions o;
  auto lease = c.a->queue->lease("jobs", o, [](Result<LeaseResult>) { FAIL("called back"); });
  REQUIRE_FALSE(lease.ok());
  CHECK(lease.error().kind == ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace gust

namespace gust {
namespace {

TEST_CASE("a timer point is claimed once across hosts, and never a point older than the last one fired") {
  Cluster c;
  c.a = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  c.b = std::make_unique<Host>(&c.loop, c.redis.url(), c.clock);
  RedisTimerClaims on_a(*c.a->client), on_b(*c.b->client);
  auto claim = [&](RedisTimerClaims& claims, const std::string& timer, int64_t second) {
    std::optional<Result<bool>> won;
    claims.claim(timer, std::chrono::system_clock::time_point(seconds(second)),
                 [&won](Result<bool> r) { won = std::move(r); });
    REQUIRE(test::runLoopUntil(&c.loop, "the claim's answer", [&won] { return won.has_value(); }));
    GUST_REQUIRE_OK(*won);
    return **won;
  };
  CHECK(claim(on_a, "app/tick", 100));
  CHECK_FALSE(claim(on_b, "app/tick", 100));  // the same point, through another host
  CHECK_FALSE(claim(on_b, "app/tick", 99));   // past due, and a later one already fired
  CHECK(claim(on_b, "app/tick", 101));
  CHECK(claim(on_a, "app/other", 100));        // each timer on its own
}

}  // namespace
}  // namespace gust

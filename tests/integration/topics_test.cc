// Topics end to end: a real host, an app whose functions subscribe to one topic, events
// published by a function over HTTP and by `gust topic publish`, and the CLI's view of the
// subscriptions. Each subscription is its own queue: one subscriber's dead letters never
// hold up or repeat another's work.
#include <doctest/doctest.h>
#include <httplib.h>

#include <map>
#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// `relay` publishes its request body to the topic "relayed"; `batch` acks "ok" and
// dead-letters "poison" (publishing a line to "out" for each); `eventinfo` takes only events
// of type order.placed and writes what it saw to "seen".
constexpr const char* kShop = R"({
  "name": "shop",
  "topics": ["relayed"],
  "publishes": ["out", "seen"],
  "functions": {
    "relay": {"routes": [{"path": "/relay", "methods": ["POST"]}]},
    "batch": {"topic": {"name": "relayed", "max_attempts": 2, "backoff": {"base": "100ms", "cap": "100ms"}}},
    "eventinfo": {"topic": {"name": "relayed", "filter": {"type": "order.placed"}}}
  }
})";

struct Fixture {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "shop", kShop, env("GUST_FIXTURE_MISBEHAVE"));
  Host host{{app}, tmp.path()};

  CommandResult gust(std::vector<std::string> args) {
    args.insert(args.end(), {"--admin", host.adminUrl(), "--data-dir", host.dataDir().string()});
    return runGust(args, tmp.path());
  }
  json admin(const std::string& path, int expect = 200) {
    auto r = host.adminClient().Get(path, {{"Authorization", "Bearer " + host.adminToken()}});
    REQUIRE(r);
    INFO(path << " -> " << r->body);
    REQUIRE(r->status == expect);
    return json::parse(r->body);
  }
  // Messages waiting in `queue`, by id.
  std::map<std::string, json> peek(const std::string& queue) {
    std::map<std::string, json> out;
    json peeked = admin("/v1/queues/" + queue + "/messages?limit=100");
    for (auto& m : peeked["messages"]) out[m["id"]] = m;
    return out;
  }
  json subscription(const std::string& subscriber) {
    json all = admin("/v1/topics/relayed/subscriptions");
    for (auto& s : all["subscriptions"]) {
      if (s["subscriber"] == subscriber) return s;
    }
    FAIL("no subscription " << subscriber);
    return {};
  }
};

}  // namespace

TEST_CASE("an event reaches every subscription whose filter it passes, each with its own retries and dead letters") {
  Fixture f;
  auto topics = f.admin("/v1/topics")["topics"];
  REQUIRE(topics.size() == 1);
  CHECK(topics[0]["name"] == "relayed");
  CHECK(topics[0]["declared_by"] == json::array({"shop"}));
  CHECK(topics[0]["subscriptions"] == 2);

  // A function publishes over HTTP: the event has the topic as its type, so only `batch` takes it.
  auto relayed = localClient(f.host.port()).Post("/relay", "ok", "text/plain");
  REQUIRE(relayed);
  REQUIRE(relayed->status == 200);
  waitFor("batch to publish its line for the relayed event", [&] { return f.peek("out").size() == 1; }, 20s, f.host);
  CHECK(f.peek("out").begin()->second["body"].get<std::string>().find("queue relayed:shop:batch") != std::string::npos);

  // The CLI publishes an order.placed event that `batch` dead-letters and `eventinfo` takes.
  CommandResult published = f.gust({"topic", "publish", "relayed", "--data", "poison", "--type", "order.placed",
                                    "--subject", "order-7", "--id", "ev-7"});
  REQUIRE_MESSAGE(published.status == 0, published.err);
  CHECK(published.out.find("published event ev-7") != std::string::npos);
  waitFor("eventinfo to see ev-7 and batch to dead-letter it", [&] {
    return f.peek("seen").size() == 1 && f.subscription("shop:batch")["dead"] == 1;
  }, 20s, f.host);
  auto seen = f.peek("seen");
  REQUIRE(seen.count("seen-ev-7-1") == 1);  // once, on its first attempt: batch's failure cost it nothing
  CHECK(seen["seen-ev-7-1"]["body"] ==
        "relayed:shop:eventinfo ev-7 attempt=1 type=order.placed subject=order-7 source=/admin time=yes");
  CHECK(f.subscription("shop:eventinfo")["dead"] == 0);
  CHECK(f.subscription("shop:eventinfo")["filter"]["types"] == json::array({"order.placed"}));

  // The same event id again is a duplicate: nobody gets it twice.
  CommandResult again = f.gust({"topic", "publish", "relayed", "--data", "poison", "--type", "order.placed", "--id", "ev-7"});
  REQUIRE_MESSAGE(again.status == 0, again.err);
  CHECK(again.out.find("was published before") != std::string::npos);

  CommandResult subs = f.gust({"topic", "subs", "relayed"});
  REQUIRE_MESSAGE(subs.status == 0, subs.err);
  CHECK(subs.out.find("shop:batch") != std::string::npos);
  CHECK(subs.out.find("type=order.placed") != std::string::npos);
  CommandResult ls = f.gust({"topic", "ls"});
  REQUIRE_MESSAGE(ls.status == 0, ls.err);
  CHECK(ls.out.find("relayed") != std::string::npos);
  CHECK(f.admin("/v1/topics")["topics"][0]["published"] == 3);

  // Its dead letter is redriven like any queue's (the function dead-letters it again).
  CHECK(f.peek("relayed:shop:batch.dead")["ev-7"]["last_error"] == "poison message ev-7");
  CommandResult redrive = f.gust({"queue", "redrive", "relayed:shop:batch.dead"});
  REQUIRE_MESSAGE(redrive.status == 0, redrive.err);
  CHECK(redrive.out.find("moved 1 messages") != std::string::npos);
  CHECK(redrive.out.find("back to relayed:shop:batch") != std::string::npos);
  waitFor("the redriven event to die again", [&] { return f.subscription("shop:batch")["dead"] == 1; }, 20s, f.host);
  CHECK(f.peek("relayed:shop:batch.dead")["ev-7"]["attempts"] == 1);
}

TEST_CASE("publishing to a name that is not a topic is refused, and a removed app's subscriptions go with it") {
  Fixture f;
  CommandResult typo = f.gust({"topic", "publish", "relayd", "--data", "x"});
  CHECK(typo.status != 0);
  CHECK(typo.err.find("no topic named 'relayd'") != std::string::npos);
  CommandResult bad = f.gust({"topic", "publish", "a:b", "--data", "x"});
  CHECK(bad.status != 0);
  CHECK(bad.err.find("not a valid topic name") != std::string::npos);

  CommandResult rm = f.gust({"rm", "shop"});
  REQUIRE_MESSAGE(rm.status == 0, rm.err);
  CHECK(f.admin("/v1/topics")["topics"].empty());
  f.admin("/v1/topics/relayed/subscriptions", 404);
}

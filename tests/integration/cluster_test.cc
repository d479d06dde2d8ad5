// Hosts that share one Redis (--backend, docs/scale-out.md): real `gust serve` processes on a
// real redis-server. What one host is sent, another consumes; every host's admin API shows
// the same queues and topics; a host whose Redis is gone refuses sends with 503 instead of
// accepting what it cannot store, and keeps serving plain HTTP functions.
#include <doctest/doctest.h>
#include <httplib.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"
#include "tests/integration/ws_client.h"
#include "tests/support/redis_server.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

class Admin {
 public:
  explicit Admin(const Host& host) : client_(host.adminClient(30s)), token_(host.adminToken()) {}

  httplib::Result send(const std::string& queue, const std::string& body, const std::string& id) {
    return client_.Post("/v1/queues/" + queue + "/messages",
                        {{"Authorization", "Bearer " + token_}, {"Gust-Message-Id", id}}, body,
                        "application/octet-stream");
  }
  json get(const std::string& path) {
    auto r = client_.Get(path, {{"Authorization", "Bearer " + token_}});
    REQUIRE(r);
    INFO(path << " -> " << r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }
  json stats(const std::string& queue) {
    const json all = get("/v1/queues");  // a range-for over a temporary's member would dangle
    for (const auto& q : all["queues"]) {
      if (q["name"] == queue) return q;
    }
    return {{"name", queue}, {"depth", 0}, {"in_flight", 0}, {"delayed", 0}, {"dead", 0}};
  }
  std::set<std::string> ids(const std::string& queue) {
    std::set<std::string> out;
    const json peeked = get("/v1/queues/" + queue + "/messages?limit=1000");
    for (const auto& m : peeked["messages"]) out.insert(m["id"]);
    return out;
  }

 private:
  httplib::Client client_;
  std::string token_;
};

// The fixture's `batch` consuming "in" (it publishes "out-<id>" to "out" for each message it
// takes), `relay` publishing its request, and a plain HTTP route that needs no backend.
fs::path consumerApp(const fs::path& dir) {
  return makeApp(dir, "consumers",
                 R"({"name": "consumers", "publishes": ["out", "relayed"], "functions": {
                      "relay": {"routes": [{"path": "/relay", "methods": ["POST"]}]},
                      "batch": {"queue": {"name": "in", "batch_size": 4, "max_attempts": 3,
                                          "backoff": {"base": "100ms", "cap": "200ms"}}},
                      "echo": {"routes": [{"path": "/hello", "methods": ["GET"]}]}}})",
                 env("GUST_FIXTURE_MISBEHAVE"));
}

}  // namespace

TEST_CASE("two hosts on one Redis: a message sent through one is consumed by the other, and both show it") {
  RedisServer redis;
  TempDir tmp;
  fs::create_directories(tmp.path() / "a");
  fs::create_directories(tmp.path() / "b");
  // A runs no app: whatever it is sent, only B can consume.
  Host a({}, tmp.path() / "a", {"--backend", redis.url()});
  Host b({consumerApp(tmp.path() / "b")}, tmp.path() / "b", {"--backend", redis.url()});
  Admin admin_a(a), admin_b(b);

  std::set<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    const std::string id = "m-" + std::to_string(i);
    auto r = admin_a.send("in", "ok", id);
    REQUIRE(r);
    CHECK(r->status == 201);
    sent.insert("out-" + id);
  }
  // One dedupe window for the cluster: B already knows the id A was sent.
  auto again = admin_b.send("in", "ok", "m-0");
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(json::parse(again->body)["duplicate"] == true);

  waitFor("B to consume what A was sent", [&] { return admin_a.ids("out") == sent; }, 30s,
          [&] { return admin_a.get("/v1/queues").dump() + "\nB's " + b.process().lastOutput(); });
  CHECK(admin_b.ids("out") == sent);  // the same queue through either host
  json in_a = admin_a.stats("in");
  CHECK(in_a["depth"] == 0);
  CHECK(in_a["in_flight"] == 0);
  // The consumer ran on B (the only host with the app): its records say so.
  waitFor("B's records of the batches", [&] {
    const json listed = admin_b.get("/v1/invocations?app=consumers&limit=100");
    return listed["invocations"].size() >= 5;
  }, 10s, b);

  a.process().signal(SIGTERM);
  b.process().signal(SIGTERM);
  CHECK(a.process().wait().status == 0);
  CHECK(b.process().wait().status == 0);
}

TEST_CASE("with Redis gone a host refuses sends with 503 and Retry-After, serves plain HTTP, and recovers") {
  RedisServer redis;
  TempDir tmp;
  Host host({consumerApp(tmp.path())}, tmp.path(), {"--backend", redis.url()});
  Admin admin(host);
  REQUIRE(admin.send("in", "ok", "before")->status == 201);
  redis.kill();
  waitFor("the host to notice", [&] { return host.process().lastOutput().find("unreachable") != std::string::npos; },
          10s, host);
  auto refused = admin.send("in", "ok", "during");
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->has_header("Retry-After"));
  httplib::Client pub("127.0.0.1", host.port());
  // A function's publish cannot be stored: its caller gets 503, and the host goes on.
  auto relayed = pub.Post("/relay", "x", "text/plain");
  REQUIRE(relayed);
  CHECK(relayed->status == 503);
  auto hello = pub.Get("/hello");
  REQUIRE(hello);
  CHECK(hello->status == 200);
  redis.start();  // empty: no persistence in this test
  waitFor("sends to be taken again", [&] {
    auto r = admin.send("in", "ok", "after");
    return r && r->status == 201;
  }, 15s, host);
  waitFor("the consumer to process it", [&] { return admin.ids("out").count("out-after") == 1; }, 30s,
          [&] { return admin.get("/v1/queues").dump() + "\nthe host's " + host.process().lastOutput(); });
  host.process().signal(SIGTERM);
  CHECK(host.process().wait().status == 0);
}

TEST_CASE("app state is the cluster's: a count kept through two hosts behind no balancer converges") {
  RedisServer redis;
  TempDir tmp;
  const std::string manifest = R"({"name": "counters", "max_instances": 2, "functions": {
      "incr": {"routes": [{"path": "/incr/{key}", "methods": ["POST"]}]},
      "get":  {"routes": [{"path": "/get/{key}", "methods": ["GET"]}]}}})";
  fs::path app_a = makeApp(tmp.path() / "a", "counters", manifest, env("GUST_FIXTURE_STATE"));
  fs::path app_b = makeApp(tmp.path() / "b", "counters", manifest, env("GUST_FIXTURE_STATE"));
  Host a({app_a}, tmp.path() / "a", {"--backend", redis.url()});
  Host b({app_b}, tmp.path() / "b", {"--backend", redis.url()});
  httplib::Client to_a("127.0.0.1", a.port()), to_b("127.0.0.1", b.port());
  // Alternate hosts: each increment reads the version the other host wrote.
  for (int i = 0; i < 10; ++i) {
    auto r = (i % 2 == 0 ? to_a : to_b).Post("/incr/visits", "", "text/plain");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == std::to_string(i + 1));
  }
  auto through_a = to_a.Get("/get/visits");
  auto through_b = to_b.Get("/get/visits");
  REQUIRE((through_a && through_b));
  CHECK(through_a->body == "10@10");
  CHECK(through_b->body == "10@10");
  a.process().signal(SIGTERM);
  b.process().signal(SIGTERM);
  CHECK(a.process().wait().status == 0);
  CHECK(b.process().wait().status == 0);
}

TEST_CASE("three hosts run one timer: each point fires once, and the points go on when a host is killed") {
  RedisServer redis;
  TempDir tmp;
  const std::string manifest =
      R"({"name": "ticks", "publishes": ["relayed"], "functions": {"relay": {"timer": {"schedule": "* * * * * *"}}}})";
  std::vector<std::unique_ptr<Host>> hosts;
  for (const char* name : {"a", "b", "c"}) {
    fs::path app = makeApp(tmp.path() / name, "ticks", manifest, env("GUST_FIXTURE_MISBEHAVE"));
    hosts.push_back(std::make_unique<Host>(std::vector<fs::path>{app}, tmp.path() / name,
                                           std::vector<std::string>{"--backend", redis.url()}));
  }
  Admin admin(*hosts[1]);
  // Each run publishes its event (with the point it was scheduled for) under an id of its
  // own, so a point fired twice shows as two messages.
  auto points = [&] {
    std::map<std::string, int> fired;
    const json peeked = admin.get("/v1/queues/relayed/messages?limit=1000");
    for (const auto& m : peeked["messages"]) ++fired[json::parse(m["body"].get<std::string>())["scheduled"]];
    return fired;
  };
  waitFor("three points", [&] { return points().size() >= 3; }, 10s, *hosts[1]);
  hosts[0]->process().signal(SIGKILL);  // whichever points it held, the others fire the next
  hosts[0]->process().wait();
  const size_t before = points().size();
  waitFor("three more points", [&] { return points().size() >= before + 3; }, 10s, *hosts[1]);
  for (const auto& [point, times] : points()) {
    INFO(point);
    CHECK(times == 1);
  }
  // B and C each saw every point since the kill, and only one fired it: the other counts it
  // as fired elsewhere. (Which one wins is a race; one host may win them all.)
  int elsewhere = 0;
  for (size_t i = 1; i < hosts.size(); ++i) {
    const json app = Admin(*hosts[i]).get("/v1/apps/ticks");
    INFO(app.dump());
    REQUIRE(app["timers"].size() == 1);
    elsewhere += app["timers"][0]["elsewhere"].get<int>();
  }
  CHECK(elsewhere >= 3);
  for (size_t i = 1; i < hosts.size(); ++i) {
    hosts[i]->process().signal(SIGTERM);
    CHECK(hosts[i]->process().wait().status == 0);
  }
}

namespace {

httplib::Result deployTo(const Host& host, const std::string& manifest) {
  httplib::Client c = host.adminClient(30s);
  c.set_bearer_token_auth(host.adminToken());
  httplib::MultipartFormDataItems items = {
      {"manifest", manifest, "gust.json", "application/json"},
      {"module", readFile(env("GUST_FIXTURE_MISBEHAVE")), "shop.so", "application/octet-stream"},
  };
  return c.Post("/v1/apps/shop/versions", items);
}

int statusOf(const Host& host, const std::string& path) {
  httplib::Client c("127.0.0.1", host.port());
  auto r = c.Get(path);
  return r ? r->status : 0;
}

}  // namespace

TEST_CASE("a deploy, rollback or removal through any host reaches every host, and a host started later catches up") {
  RedisServer redis;
  TempDir tmp;
  fs::create_directories(tmp.path() / "a");
  fs::create_directories(tmp.path() / "b");
  fs::create_directories(tmp.path() / "c");
  Host a({}, tmp.path() / "a", {"--backend", redis.url()});
  Host b({}, tmp.path() / "b", {"--backend", redis.url()});
  const std::string v1 = R"({"name": "shop", "functions": {"echo": {"routes": ["/echo"]}}})";
  const std::string v2 =
      R"({"name": "shop", "functions": {"echo": {"routes": ["/echo"]}, "say": {"routes": ["/say/{word}"]}}})";

  auto first = deployTo(a, v1);
  REQUIRE(first);
  REQUIRE(first->status == 201);
  waitFor("B to serve the version deployed through A", [&] { return statusOf(b, "/echo") == 200; }, 10s, b);

  auto second = deployTo(b, v2);
  REQUIRE(second);
  REQUIRE(second->status == 201);
  waitFor("A to serve the version deployed through B", [&] { return statusOf(a, "/say/hi") == 200; }, 10s, a);

  httplib::Client admin_a = a.adminClient(30s);
  admin_a.set_bearer_token_auth(a.adminToken());
  auto rolled = admin_a.Post("/v1/apps/shop/rollback", "", "application/json");
  REQUIRE(rolled);
  REQUIRE(rolled->status == 200);
  waitFor("B to roll back too", [&] { return statusOf(b, "/say/hi") == 404; }, 10s, b);
  CHECK(statusOf(b, "/echo") == 200);

  Host c({}, tmp.path() / "c", {"--backend", redis.url()});
  waitFor("C, started later, to serve the cluster's version", [&] { return statusOf(c, "/echo") == 200; }, 10s, c);
  CHECK(statusOf(c, "/say/hi") == 404);

  // Any host's admin API and CLI show every host with its pools.
  Admin admin_of_a(a);
  waitFor("A to hear of all three hosts serving shop", [&] {
    const json heard = admin_of_a.get("/v1/cluster")["hosts"];
    size_t serving = 0;
    for (const auto& h : heard) serving += h["apps"].size() == 1 ? 1 : 0;
    return heard.size() == 3 && serving == 3;
  }, 10s, a);
  const json hosts = admin_of_a.get("/v1/cluster")["hosts"];
  std::set<std::string> names;
  for (const auto& h : hosts) {
    names.insert(h["name"].get<std::string>());
    REQUIRE(h["apps"].size() == 1);
    CHECK(h["apps"][0]["name"] == "shop");
    CHECK(h["apps"][0]["pool"].contains("idle"));
  }
  CHECK(names.size() == 3);
  for (Host* h : {&a, &b, &c}) CHECK(names.count(":" + std::to_string(h->port())) == 0);  // the machine's name leads
  bool each_port_named = true;
  for (Host* h : {&a, &b, &c}) {
    bool found = false;
    for (const auto& n : names) found = found || n.ends_with(":" + std::to_string(h->port()));
    each_port_named = each_port_named && found;
  }
  CHECK(each_port_named);
  CommandResult ps = runGust({"ps", "--admin", c.adminUrl(), "--data-dir", c.dataDir().string()}, tmp.path());
  INFO(ps.out << ps.err);
  CHECK(ps.status == 0);
  for (const auto& n : names) CHECK(ps.out.find(n) != std::string::npos);
  CommandResult ls = runGust({"ls", "--admin", b.adminUrl(), "--data-dir", b.dataDir().string()}, tmp.path());
  CHECK(ls.out.find("on 3 hosts") != std::string::npos);

  httplib::Client admin_b = b.adminClient(30s);
  admin_b.set_bearer_token_auth(b.adminToken());
  auto removed = admin_b.Delete("/v1/apps/shop");
  REQUIRE(removed);
  CHECK(removed->status == 200);
  waitFor("A and C to remove it too", [&] { return statusOf(a, "/echo") == 404 && statusOf(c, "/echo") == 404; }, 10s,
          a);
  // A host that stops leaves the list at once.
  c.process().signal(SIGTERM);
  CHECK(c.process().wait().status == 0);
  waitFor("C to leave the list", [&] { return admin_of_a.get("/v1/cluster")["hosts"].size() == 2; }, 10s, a);
  for (Host* h : {&a, &b}) {
    h->process().signal(SIGTERM);
    CHECK(h->process().wait().status == 0);
  }
}

namespace {

// The value of `key` the fixture's `environment` route shows on `host`, or "" when unset.
std::string variableOn(const Host& host, const std::string& key) {
  httplib::Client c("127.0.0.1", host.port());
  auto r = c.Get("/env");
  if (!r || r->status != 200) return "?";
  const std::string prefix = key + "=";
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  }
  return "";
}

}  // namespace

TEST_CASE("gust env through any host reaches every host's workers, and a host started later catches up") {
  RedisServer redis;
  TempDir tmp;
  for (const char* name : {"a", "b", "c"}) fs::create_directories(tmp.path() / name);
  Host a({}, tmp.path() / "a", {"--backend", redis.url()});
  Host b({}, tmp.path() / "b", {"--backend", redis.url()});
  auto gustOn = [&](const Host& host, std::vector<std::string> args) {
    args.insert(args.end(), {"--admin", host.adminUrl(), "--data-dir", host.dataDir().string()});
    CommandResult r = runGust(args, tmp.path());
    INFO(r.out << r.err);
    CHECK(r.status == 0);
  };
  auto deployed = deployTo(a, R"({"name": "shop", "functions": {"environment": {"routes": ["/env"]}}})");
  REQUIRE(deployed);
  REQUIRE(deployed->status == 201);
  waitFor("B to serve shop", [&] { return statusOf(b, "/env") == 200; }, 10s, b);

  gustOn(a, {"env", "set", "shop", "GREETING=hello from a"});
  CHECK(variableOn(a, "GREETING") == "hello from a");
  waitFor("B's workers to have the variable set through A",
          [&] { return variableOn(b, "GREETING") == "hello from a"; }, 10s, b);

  gustOn(b, {"env", "set", "shop", "REGION=eu"});
  gustOn(b, {"env", "rm", "shop", "GREETING"});
  waitFor("A's workers to have B's change", [&] { return variableOn(a, "REGION") == "eu" && variableOn(a, "GREETING").empty(); },
          10s, a);

  Host c({}, tmp.path() / "c", {"--backend", redis.url()});
  waitFor("C, started later, to serve shop with the cluster's variables",
          [&] { return variableOn(c, "REGION") == "eu" && variableOn(c, "GREETING").empty(); }, 10s, c);
  for (Host* h : {&a, &b, &c}) {
    h->process().signal(SIGTERM);
    CHECK(h->process().wait().status == 0);
  }
}

TEST_CASE("a function on one host sends to, and closes, a WebSocket connection another host holds") {
  RedisServer redis;
  TempDir tmp;
  auto chatApp = [&](const std::string& name) {
    return makeApp(tmp.path(), name, R"({"name": ")" + name + R"(", "functions": {
      "chat": {"routes": ["/)" + name + R"(/chat/{room}"], "websocket": true},
      "push": {"routes": [{"path": "/)" + name + R"(/push/{id}", "methods": ["POST"]}]},
      "lookup": {"routes": ["/)" + name + R"(/lookup/{key}"]}}})", env("GUST_FIXTURE_WEBSOCKET"));
  };
  const fs::path chat = chatApp("chat");
  const fs::path other = chatApp("other");
  fs::create_directories(tmp.path() / "a");
  fs::create_directories(tmp.path() / "b");
  Host a({chat, other}, tmp.path() / "a", {"--backend", redis.url()});
  Host b({chat, other}, tmp.path() / "b", {"--backend", redis.url()});
  auto push = [&](const std::string& path, const std::string& body) {
    auto r = localClient(b.port()).Post(path, body, "text/plain");
    REQUIRE(r);
    return std::make_pair(r->status, r->body);
  };

  WsClient ws(tmp.path(), "ws://127.0.0.1:" + std::to_string(a.port()) + "/chat/chat/lobby");
  const std::string id = ws.next("open")["id"];
  // A holds the connection; B's function reaches it through Redis, in order.
  for (int i = 0; i < 3; ++i) {
    CHECK(push("/chat/push/" + id, "from B " + std::to_string(i)) == std::make_pair(200, std::string("sent")));
  }
  for (int i = 0; i < 3; ++i) CHECK(ws.next("message")["data"] == "from B " + std::to_string(i));
  // The connection still talks to A's function as before.
  CHECK(ws.reply("room") == "lobby");
  // Another app's function on B is told no such connection, as for an id nobody holds.
  CHECK(push("/other/push/" + id, "not yours").first == 404);
  CHECK(push("/chat/push/" + std::string(32, 'f'), "nobody").first == 404);
  // A close from B ends it with B's code, and after it B's sends find nothing.
  CHECK(push("/chat/push/" + id + "?close=4001", "").first == 200);
  json closed = ws.next("close");
  CHECK(closed["code"] == 4001);
  waitFor("B to find the connection gone", [&] { return push("/chat/push/" + id, "late").first == 404; }, 10s, b);

  // A connection of a host that was killed is found gone by the first call that reaches
  // nobody, and a host that comes back removes what its last run left.
  WsClient second(tmp.path(), "ws://127.0.0.1:" + std::to_string(a.port()) + "/chat/chat/lobby");
  const std::string second_id = second.next("open")["id"];
  CHECK(push("/chat/push/" + second_id, "hello").first == 200);
  CHECK(second.next("message")["data"] == "hello");
  a.process().signal(SIGKILL);
  a.process().wait();
  CHECK(push("/chat/push/" + second_id, "to a dead host").first == 404);
  CHECK(push("/chat/push/" + second_id, "again").first == 404);

  b.process().signal(SIGTERM);
  CHECK(b.process().wait().status == 0);
}

TEST_CASE("an async invocation accepted by one host is polled through another, and is run again when its host dies") {
  RedisServer redis;
  TempDir tmp;
  const fs::path app = makeApp(tmp.path(), "fixtures", R"({"name": "fixtures", "timeout": "20s", "functions": {
      "echo":   {"routes": [{"path": "/echo/{id}", "methods": ["GET", "POST"]}]},
      "sleepy": {"routes": [{"path": "/sleep/{ms}", "methods": ["POST"]}]}}})",
                               env("GUST_FIXTURE_MISBEHAVE"));
  fs::create_directories(tmp.path() / "a");
  fs::create_directories(tmp.path() / "b");
  Host a({app}, tmp.path() / "a", {"--backend", redis.url()});
  Host b({app}, tmp.path() / "b", {"--backend", redis.url()});
  auto post = [](const Host& host, const std::string& path, const std::string& key = "") {
    httplib::Headers headers = {{"Prefer", "respond-async"}};
    if (!key.empty()) headers.emplace("Idempotency-Key", key);
    auto r = localClient(host.port()).Post(path, headers, "", "text/plain");
    REQUIRE(r);
    return r;
  };
  auto startAsync = [&post](const Host& host, const std::string& path, const std::string& key = "") {
    auto r = post(host, path, key);
    INFO(r->body);
    REQUIRE(r->status == 202);
    return r->get_header_value("Location");
  };
  auto poll = [](const Host& host, const std::string& location) {
    auto r = localClient(host.port()).Get(location);
    REQUIRE(r);
    INFO(location << " -> " << r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  };

  // Accepted by A, polled through B until done.
  const std::string location = startAsync(a, "/sleep/200", "order-1");
  json state;
  waitFor("the invocation to finish, as B sees it", [&] {
    state = poll(b, location);
    return state["status"] == "succeeded";
  }, 20s, a);
  CHECK(state["attempts"] == 1);
  // One idempotency key for the cluster: B answers A's finished invocation, running nothing.
  auto again = post(b, "/sleep/200", "order-1");
  CHECK(again->status == 200);
  CHECK(json::parse(again->body)["location"] == location);

  // Each host's records, through the other's admin API, each with the host that ran it.
  auto r = localClient(b.port()).Get("/echo/on-b");
  REQUIRE(r);
  Admin admin_a(a);
  std::set<std::string> hosts;
  waitFor("both hosts' records through A", [&] {
    hosts.clear();
    const json listed = admin_a.get("/v1/invocations?app=fixtures&limit=100");
    for (const auto& rec : listed["invocations"]) hosts.insert(rec.value("host", ""));
    return hosts.size() == 2;
  }, 10s, a);
  bool has_a = false, has_b = false;
  for (const auto& h : hosts) {
    CHECK(h.find(':') > 0);  // "<machine>:<port>"
    has_a = has_a || h.ends_with(":" + std::to_string(a.port()));
    has_b = has_b || h.ends_with(":" + std::to_string(b.port()));
  }
  CHECK(has_a);
  CHECK(has_b);
  const std::string id = location.substr(location.rfind('/') + 1);
  const json record = Admin(b).get("/v1/invocations/" + id);
  CHECK(record["host"].get<std::string>().ends_with(":" + std::to_string(a.port())));

  // A dies while it runs one: once A has been silent for long enough, B takes it over and
  // runs it again (at least once), and it is polled through B as before.
  const std::string orphan = startAsync(a, "/sleep/5000");  // still running at the kill
  waitFor("A to start the run", [&] { return poll(b, orphan)["status"] == "running"; }, 10s, a);
  a.process().signal(SIGKILL);
  a.process().wait();
  waitFor("B to take the invocation over and finish it", [&] {
    state = poll(b, orphan);
    return state["status"] == "succeeded";
  }, 40s, b);
  CHECK(state["attempts"] == 2);
  CHECK(b.process().stderrText().find("taking over 1 unfinished async invocation") != std::string::npos);

  b.process().signal(SIGTERM);
  CHECK(b.process().wait().status == 0);
}

TEST_CASE("an SSE client of one host gets the events published through every host, each once and in order") {
  RedisServer redis;
  TempDir tmp;
  const fs::path shop = makeApp(tmp.path(), "shop", R"({"name": "shop", "topics": ["relayed"],
      "functions": {"relay": {"routes": [{"path": "/relay", "methods": ["POST"]}]}},
      "streams": [{"path": "/relayed/events", "topic": "relayed"}]})",
                                env("GUST_FIXTURE_MISBEHAVE"));
  fs::create_directories(tmp.path() / "a");
  fs::create_directories(tmp.path() / "b");
  Host a({shop}, tmp.path() / "a", {"--backend", redis.url()});
  Host b({shop}, tmp.path() / "b", {"--backend", redis.url()});
  Process client({"/usr/bin/env", "node", env("GUST_SOURCE_ROOT") + "/tests/js/sse_stream.mjs",
                  "http://127.0.0.1:" + std::to_string(b.port()) + "/relayed/events", "4", "relayed"},
                 tmp.path() / "sse.stderr");
  client.waitForLine("\"open\"");
  auto relay = [](const Host& through, const std::string& body) {
    auto r = localClient(through.port()).Post("/relay", body, "text/plain");
    REQUIRE(r);
    REQUIRE(r->status == 200);
  };
  relay(a, "one from A");
  relay(a, "two from A");
  relay(b, "three from B");
  relay(a, "four from A");
  std::vector<json> got;
  for (int i = 0; i < 4; ++i) got.push_back(json::parse(client.waitForLine("\"id\"")));
  CHECK(got[0] == json{{"id", "1"}, {"type", "relayed"}, {"data", "one from A"}});
  CHECK(got[1] == json{{"id", "2"}, {"type", "relayed"}, {"data", "two from A"}});
  CHECK(got[2] == json{{"id", "3"}, {"type", "relayed"}, {"data", "three from B"}});
  CHECK(got[3] == json{{"id", "4"}, {"type", "relayed"}, {"data", "four from A"}});
  CHECK(client.wait().status == 0);

  a.process().signal(SIGTERM);
  b.process().signal(SIGTERM);
  CHECK(a.process().wait().status == 0);
  CHECK(b.process().wait().status == 0);
}

TEST_CASE("hosts on a rediss:// backend share their queues over TLS; wrong TLS settings stop a host with why") {
  TestCertificates certs;
  REQUIRE(certs.ok());
  RedisServer redis(certs);  // TLS only, and it asks for a client certificate
  TempDir tmp;
  fs::create_directories(tmp.path() / "a");
  fs::create_directories(tmp.path() / "b");
  const std::vector<std::string> tls = {"--backend", redis.url(), "--backend-tls-ca", certs.ca(),
                                        "--backend-tls-cert", certs.clientCert(), "--backend-tls-key",
                                        certs.clientKey()};
  Host a({}, tmp.path() / "a", tls);
  Host b({consumerApp(tmp.path() / "b")}, tmp.path() / "b", tls);
  Admin admin_a(a);
  for (int i = 0; i < 5; ++i) {
    auto r = admin_a.send("in", "ok", "tls-" + std::to_string(i));
    REQUIRE(r);
    CHECK(r->status == 201);
  }
  waitFor("B to consume over TLS what A was sent", [&] { return admin_a.ids("out").size() == 5; }, 30s, b);
  a.process().signal(SIGTERM);
  b.process().signal(SIGTERM);
  CHECK(a.process().wait().status == 0);
  CHECK(b.process().wait().status == 0);

  // A CA that did not sign Redis's certificate: the host does not start, and says why.
  fs::create_directories(tmp.path() / "c");
  CommandResult wrong_ca = runGust({"serve", "--port", "0", "--data-dir", (tmp.path() / "c").string(), "--backend",
                                    redis.url(), "--backend-tls-ca", certs.otherCa(), "--backend-tls-cert",
                                    certs.clientCert(), "--backend-tls-key", certs.clientKey()},
                                   tmp.path());
  CHECK(wrong_ca.status != 0);
  CHECK(wrong_ca.err.find("certificate of 127.0.0.1:" + std::to_string(redis.port()) + " was refused") !=
        std::string::npos);
  // TLS files without rediss://, and a file that is not there: refused before anything starts.
  CommandResult plain = runGust({"serve", "--port", "0", "--data-dir", (tmp.path() / "c").string(), "--backend",
                                 "redis://127.0.0.1:1", "--backend-tls-ca", certs.ca()},
                                tmp.path());
  CHECK(plain.status != 0);
  CHECK(plain.err.find("are for a rediss:// backend") != std::string::npos);
  CommandResult missing = runGust({"serve", "--port", "0", "--data-dir", (tmp.path() / "c").string(), "--backend",
                                   redis.url(), "--backend-tls-ca", (tmp.path() / "nope.pem").string()},
                                  tmp.path());
  CHECK(missing.status != 0);
  CHECK(missing.err.find("cannot use --backend-tls-ca") != std::string::npos);
}

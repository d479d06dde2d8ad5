// The GraphQL endpoint end to end (README "GraphQL"): a real host, an app whose manifest
// serves tests/fixtures/graphql_shop.graphql, and npm's graphql-ws client (tests/js), a
// client nobody here wrote, subscribing over graphql-transport-ws. Events published to the
// bound topic arrive shaped by the selection set and filtered by the field's arguments;
// validation errors come as graphql-js words them; protocol breaches close the connection
// with the protocol's codes (raw messages through npm's ws, tests/js/ws_client.mjs).
#include <doctest/doctest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"

using namespace gust::test;
using json = nlohmann::json;

namespace {

constexpr const char* kShop = R"({
  "name": "shop",
  "topics": ["order.updated"],
  "functions": {"segv": {"routes": ["/segv"]}},
  "graphql": {"path": "/graphql", "schema": "schema.graphql"}
})";

constexpr const char* kOrderQuery = "subscription ($id: ID) { orderUpdated(id: $id) { id status } }";

struct Fixture {
  TempDir tmp;
  fs::path app = withSchema(makeApp(tmp.path(), "shop", kShop, env("GUST_FIXTURE_MISBEHAVE")));
  Host host{{app}, tmp.path()};

  static fs::path withSchema(fs::path dir) {
    fs::copy_file(env("GUST_SOURCE_ROOT") + "/tests/fixtures/graphql_shop.graphql", dir / "schema.graphql");
    return dir;
  }

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(host.port()) + "/graphql"; }

  // Publishes one order event through the admin API (as `gust topic publish` does).
  void publish(const json& order, const std::string& topic = "order.updated") {
    httplib::Headers headers = {{"Authorization", "Bearer " + host.adminToken()},
                                {"ce-type", "order.updated"},
                                {"ce-subject", order["id"].get<std::string>()}};
    auto r = host.adminClient().Post("/v1/topics/" + topic + "/events", headers, order.dump(), "application/json");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
  }

  // graphql-ws subscribing with each of `subscriptions` ({"query", "variables", "count"}),
  // reconnecting up to `retries` times.
  std::unique_ptr<Process> subscribe(const json& subscriptions, int retries = 0) {
    std::vector<std::string> argv = {"/usr/bin/env", "node",
                                     env("GUST_SOURCE_ROOT") + "/tests/js/graphql_ws_subscribe.mjs", url(),
                                     subscriptions.dump(), std::to_string(retries)};
    return std::make_unique<Process>(argv, tmp.path() / ("graphql-ws" + std::to_string(++clients_) + ".stderr"));
  }

  // npm's ws speaking graphql-transport-ws by hand: `messages` are sent once it is open, in
  // order; returns how the host closed the connection ({"event":"close","code",...}).
  json rawSession(const std::vector<json>& messages) {
    const fs::path commands = tmp.path() / ("raw" + std::to_string(++clients_) + ".cmds");
    Process client({"/usr/bin/env", "node", env("GUST_SOURCE_ROOT") + "/tests/js/ws_client.mjs", url(),
                    commands.string(), "--protocol", "graphql-transport-ws"},
                   tmp.path() / ("raw" + std::to_string(clients_) + ".stderr"));
    CHECK(json::parse(client.waitForLine("\"event\":\"open\""))["protocol"] == "graphql-transport-ws");
    std::ofstream out(commands, std::ios::app);
    for (const auto& m : messages) out << json{{"send", m.dump()}}.dump() << "\n";
    out.close();
    return json::parse(client.waitForLine("\"event\":\"close\""));
  }

  // Deploys the shop again through the admin API with `sdl` as its schema (embedded in the
  // manifest, as `gust deploy` does).
  void deploy(const std::string& sdl) {
    json manifest = json::parse(kShop);
    manifest["topics"] = {"order.updated", "order.changed"};
    manifest["graphql"] = {{"path", "/graphql"}, {"sdl", sdl}};
    httplib::MultipartFormDataItems items = {
        {"manifest", manifest.dump(), "gust.json", "application/json"},
        {"module", readFile(env("GUST_FIXTURE_MISBEHAVE")), "shop.so", "application/octet-stream"},
    };
    auto deployed = host.adminClient(std::chrono::seconds(60))
                        .Post("/v1/apps/shop/versions",
                              httplib::Headers{{"Authorization", "Bearer " + host.adminToken()}}, items);
    REQUIRE(deployed);
    INFO(deployed->body);
    REQUIRE(deployed->status < 300);
  }

  int clients_ = 0;
};

json nextLine(Process& client, const std::string& needle) { return json::parse(client.waitForLine(needle)); }

}  // namespace

TEST_CASE("graphql-ws receives each event shaped by its selection set, filtered by its argument, and completes") {
  Fixture f;
  auto client = f.subscribe(json::array({
      {{"query", kOrderQuery}, {"variables", {{"id", "o-2"}}}, {"count", 2}},
      {{"query", "subscription { orderUpdated { id total } }"}, {"count", 3}},
  }));
  nextLine(*client, "\"ready\"");
  f.publish({{"id", "o-1"}, {"status", "PLACED"}, {"total", 10.5}, {"secret", "not asked for"}});
  f.publish({{"id", "o-2"}, {"status", "PAID"}, {"total", 20}});
  f.publish({{"id", "o-2"}, {"status", "SHIPPED"}, {"total", 20}});
  // Subscription 0 sees only order o-2's events; 1 sees every event, shaped otherwise.
  std::vector<json> firsts, seconds;
  for (int i = 0; i < 5; ++i) {
    json line = nextLine(*client, "\"next\"");
    (line["sub"] == 0 ? firsts : seconds).push_back(line["next"]);
  }
  CHECK(firsts == std::vector<json>{json::parse(R"({"data":{"orderUpdated":{"id":"o-2","status":"PAID"}}})"),
                                    json::parse(R"({"data":{"orderUpdated":{"id":"o-2","status":"SHIPPED"}}})")});
  CHECK(seconds == std::vector<json>{json::parse(R"({"data":{"orderUpdated":{"id":"o-1","total":10.5}}})"),
                                     json::parse(R"({"data":{"orderUpdated":{"id":"o-2","total":20}}})"),
                                     json::parse(R"({"data":{"orderUpdated":{"id":"o-2","total":20}}})")});
  // Each reached its count and completed it from the client's side; then the client left.
  CHECK(client->wait().status == 0);
}

TEST_CASE("a redeploy keeps graphql-ws connected under the same schema; a new one closes 1012 and it subscribes again") {
  Fixture f;
  const std::string schema = readFile(env("GUST_SOURCE_ROOT") + "/tests/fixtures/graphql_shop.graphql");
  auto client = f.subscribe(json::array({{{"query", "subscription { orderUpdated { id } }"}, {"count", 3}}}), 3);
  nextLine(*client, "\"ready\"");
  f.publish({{"id", "o-1"}});
  CHECK(nextLine(*client, "\"next\"")["next"]["data"]["orderUpdated"]["id"] == "o-1");

  // The same schema: the connection stays, and so does its subscription.
  f.deploy(schema);
  f.publish({{"id", "o-2"}});
  CHECK(nextLine(*client, "\"next\"")["next"]["data"]["orderUpdated"]["id"] == "o-2");
  for (const std::string& line : client->lines()) CHECK(line.find("closed") == std::string::npos);

  // orderUpdated now comes from another topic: the old binding must not go quiet unnoticed.
  std::string moved = schema;
  const std::string from = R"(@topic(name: "order.updated")";
  moved.replace(moved.find(from), from.size(), R"(@topic(name: "order.changed")");
  f.deploy(moved);
  CHECK(nextLine(*client, "\"closed\"")["code"] == 1012);
  nextLine(*client, "\"ready\"");
  f.publish({{"id", "o-3"}}, "order.changed");
  CHECK(nextLine(*client, "\"next\"")["next"]["data"]["orderUpdated"]["id"] == "o-3");
  CHECK(client->wait().status == 0);
}

TEST_CASE("a subscription that does not validate is answered with an error message in graphql-js's words") {
  Fixture f;
  auto client = f.subscribe(json::array({{{"query", "subscription { orderUpdated { id colour } }"}}}));
  json error = nextLine(*client, "\"error\"");
  REQUIRE(error["error"].is_array());
  CHECK(error["error"][0]["message"] == "Cannot query field \"colour\" on type \"Order\".");
  CHECK(error["error"][0]["locations"] == json::parse(R"([{"line":1,"column":34}])"));
  CHECK(client->wait().status == 0);
}

TEST_CASE("a message outside the protocol closes 4400; a subscribe before connection_init closes 4401") {
  Fixture f;
  json bad = f.rawSession({{{"type", "connection_init"}}, {{"type", "shout"}}});
  CHECK(bad["code"] == 4400);
  json subscribe = {{"type", "subscribe"}, {"id", "1"}, {"payload", {{"query", "subscription { orderUpdated { id } }"}}}};
  json early = f.rawSession({subscribe});
  CHECK(early["code"] == 4401);
}

TEST_CASE("the endpoint refuses a request that is not a graphql-transport-ws upgrade") {
  Fixture f;
  auto plain = localClient(f.host.port()).Get("/graphql");
  REQUIRE(plain);
  CHECK(plain->status == 426);
  CHECK(plain->body.find("graphql-transport-ws") != std::string::npos);

  const fs::path commands = f.tmp.path() / "noprotocol.cmds";
  Process client({"/usr/bin/env", "node", env("GUST_SOURCE_ROOT") + "/tests/js/ws_client.mjs", f.url(),
                  commands.string()},
                 f.tmp.path() / "noprotocol.stderr");
  json refused = json::parse(client.waitForLine("\"event\":\"refused\""));
  CHECK(refused["status"] == 400);
  CHECK(refused["body"].get<std::string>().find("Sec-WebSocket-Protocol: graphql-transport-ws") != std::string::npos);
}

// graphql-transport-ws as a state machine: each message of PROTOCOL.md in, the messages and
// close codes it must produce out, with a recording handler in place of the host's topics.
// (The integration test drives the same machine with npm's graphql-ws client.)
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "runtime/graphql/transport_ws.h"

namespace gust::graphql {
namespace {

constexpr const char* kSdl = R"(
type Query { a: Int }
type Order { id: ID! status: String total: Float }
type Subscription { orderStatus(id: ID!): Order counter: Int }
)";

struct RecordingHandler final : TransportWsHandler {
  bool accept = true;
  std::vector<GraphQLError> refuse;
  std::vector<std::string> started, stopped;
  Json last_payload, last_arguments;

  bool acceptConnection(const Json& payload) override {
    last_payload = payload;
    return accept;
  }
  std::vector<GraphQLError> startSubscription(const std::string& id, const PreparedSubscription& s) override {
    started.push_back(id + ":" + s.root_field->name);
    last_arguments = s.arguments;
    return refuse;
  }
  void stopSubscription(const std::string& id) override { stopped.push_back(id); }
};

struct Fixture {
  Schema schema = *Schema::fromSdl(kSdl);
  RecordingHandler handler;
  TransportWsSession session{schema, handler, ParseLimits{}, 2};

  void init() {
    auto out = session.onText(R"({"type":"connection_init","payload":{"token":"t"}})");
    REQUIRE(out.messages == std::vector<std::string>{R"({"type":"connection_ack"})"});
  }
};

uint16_t closeCode(const TransportWsOutput& out) { return out.close ? out.close->code : 0; }

TEST_CASE("graphql-transport-ws: connection_init is acknowledged once and its payload reaches the handler") {
  Fixture f;
  f.init();
  CHECK(f.handler.last_payload == Json{{"token", "t"}});
  CHECK(f.session.acknowledged());
  auto again = f.session.onText(R"({"type":"connection_init"})");
  CHECK(closeCode(again) == 4429);
  CHECK(again.close->reason == "Too many initialisation requests");
}

TEST_CASE("graphql-transport-ws: a refused connection_init closes with 4403") {
  Fixture f;
  f.handler.accept = false;
  auto out = f.session.onText(R"({"type":"connection_init"})");
  CHECK(out.messages.empty());
  CHECK(closeCode(out) == 4403);
}

TEST_CASE("graphql-transport-ws: no connection_init in time closes with 4408, but not after one") {
  Fixture late;
  CHECK(closeCode(late.session.onInitTimeout()) == 4408);
  Fixture f;
  f.init();
  CHECK_FALSE(f.session.onInitTimeout().close);
}

TEST_CASE("graphql-transport-ws: ping is answered with pong carrying its payload; pong needs no answer") {
  Fixture f;
  CHECK(f.session.onText(R"({"type":"ping"})").messages == std::vector<std::string>{R"({"type":"pong"})"});
  CHECK(f.session.onText(R"({"type":"ping","payload":{"n":1}})").messages ==
        std::vector<std::string>{R"({"type":"pong","payload":{"n":1}})"});
  auto pong = f.session.onText(R"({"type":"pong"})");
  CHECK(pong.messages.empty());
  CHECK_FALSE(pong.close);
}

TEST_CASE("graphql-transport-ws: what is not a protocol message closes with 4400") {
  Fixture f;
  CHECK(closeCode(f.session.onText("not json")) == 4400);
  CHECK(closeCode(f.session.onText("[1]")) == 4400);
  CHECK(closeCode(f.session.onText(R"({"type":5})")) == 4400);
  CHECK(closeCode(f.session.onText(R"({"type":"bogus"})")) == 4400);
  CHECK(closeCode(f.session.onText(R"({"type":"next","id":"1","payload":{}})")) == 4400);
  CHECK(closeCode(f.session.onText(R"({"type":"connection_init","payload":"x"})")) == 4400);
  CHECK(closeCode(f.session.onText(R"({"type":"subscribe","id":"","payload":{"query":"{a}"}})")) == 4400);
  CHECK(closeCode(f.session.onText(R"({"type":"subscribe","id":"1","payload":{"query":1}})")) == 4400);
  CHECK(closeCode(f.session.onBinary()) == 4400);
}

TEST_CASE("graphql-transport-ws: subscribe before connection_ack closes with 4401") {
  Fixture f;
  auto out = f.session.onText(R"({"type":"subscribe","id":"1","payload":{"query":"subscription { counter }"}})");
  CHECK(closeCode(out) == 4401);
  CHECK(f.handler.started.empty());
}

TEST_CASE("graphql-transport-ws: a subscription starts with coerced arguments, shapes events, and ends on complete") {
  Fixture f;
  f.init();
  auto out = f.session.onText(
      R"({"type":"subscribe","id":"s1","payload":{"query":"subscription ($id: ID!) { orderStatus(id: $id) { id total } }","variables":{"id":7}}})");
  CHECK(out.messages.empty());
  CHECK_FALSE(out.close);
  CHECK(f.handler.started == std::vector<std::string>{"s1:orderStatus"});
  CHECK(f.handler.last_arguments == Json{{"id", "7"}});
  auto next = f.session.next("s1", Json{{"id", "7"}, {"status", "PAID"}, {"total", 3}});
  REQUIRE(next);
  CHECK(*next == R"({"id":"s1","type":"next","payload":{"data":{"orderStatus":{"id":"7","total":3}}}})");

  auto again = f.session.onText(R"({"type":"subscribe","id":"s1","payload":{"query":"subscription { counter }"}})");
  CHECK(closeCode(again) == 4409);
  CHECK(again.close->reason == "Subscriber for s1 already exists");

  CHECK_FALSE(f.session.onText(R"({"type":"complete","id":"s1"})").close);
  CHECK(f.handler.stopped == std::vector<std::string>{"s1"});
  CHECK_FALSE(f.session.next("s1", Json::object()));
}

TEST_CASE("graphql-transport-ws: a request that cannot be served gets an error message, and the connection stays") {
  Fixture f;
  f.init();
  auto invalid = f.session.onText(R"({"type":"subscribe","id":"1","payload":{"query":"subscription { orderStatus { idd } }"}})");
  CHECK_FALSE(invalid.close);
  REQUIRE(invalid.messages.size() == 1);
  auto error = Json::parse(invalid.messages[0]);
  CHECK(error["type"] == "error");
  CHECK(error["id"] == "1");
  CHECK(error["payload"].size() == 2);  // the unknown field and the missing argument
  auto query = f.session.onText(R"({"type":"subscribe","id":"2","payload":{"query":"{ a }"}})");
  REQUIRE(query.messages.size() == 1);
  CHECK(Json::parse(query.messages[0])["payload"][0]["message"] ==
        "Only subscriptions are served here; send queries and mutations to an HTTP function.");
  CHECK(f.handler.started.empty());
  f.handler.refuse = {GraphQLError{"no such topic", {}, nullptr}};
  auto refused = f.session.onText(R"({"type":"subscribe","id":"3","payload":{"query":"subscription { counter }"}})");
  REQUIRE(refused.messages.size() == 1);
  CHECK(refused.messages[0] == R"({"id":"3","type":"error","payload":[{"message":"no such topic"}]})");
  CHECK(f.session.activeSubscriptions() == 0);
}

TEST_CASE("graphql-transport-ws: subscriptions past the connection's bound are refused; a close stops them all") {
  Fixture f;
  f.init();
  for (const char* id : {"a", "b"}) {
    std::string message = std::string(R"({"type":"subscribe","id":")") + id + R"(","payload":{"query":"subscription { counter }"}})";
    CHECK(f.session.onText(message).messages.empty());
  }
  auto third = f.session.onText(R"({"type":"subscribe","id":"c","payload":{"query":"subscription { counter }"}})");
  REQUIRE(third.messages.size() == 1);
  CHECK(Json::parse(third.messages[0])["type"] == "error");
  auto complete = f.session.complete("a");
  REQUIRE(complete);
  CHECK(*complete == R"({"id":"a","type":"complete"})");
  f.session.onClosed();
  CHECK(f.handler.stopped == std::vector<std::string>{"a", "b"});
  CHECK(f.session.onText(R"({"type":"ping"})").messages.empty());
}

}  // namespace
}  // namespace gust::graphql

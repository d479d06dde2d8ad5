// Subscription fields bound to topics by @topic, and events filtered by their arguments.
#include <doctest/doctest.h>

#include <string>

#include "runtime/graphql/topic_binding.h"

namespace gust::graphql {
namespace {

Schema schemaOf(const std::string& subscription) {
  auto s = Schema::fromSdl("type Query { a: Int } type Order { id: ID status: String }\n" + subscription);
  REQUIRE_MESSAGE(s.ok(), s.error().message);
  return *s;
}

TEST_CASE("topic bindings: each Subscription field names its topic and its filters") {
  auto schema = schemaOf(R"(type Subscription {
    orderStatus(id: ID!, kind: [String!]): Order @topic(name: "order.progress", filter: {subject: "id", type: "kind"})
    any: Order @topic(name: "orders")
  })");
  auto bindings = topicBindings(schema);
  REQUIRE_MESSAGE(bindings.ok(), bindings.error().message);
  const auto& b = bindings->at("orderStatus");
  CHECK(b.topic == "order.progress");
  CHECK(b.filters == std::vector<std::pair<std::string, std::string>>{{"subject", "id"}, {"type", "kind"}});
  CHECK(bindings->at("any").filters.empty());
}

TEST_CASE("topic bindings: a field without @topic, a bad topic, or a filter on nothing is refused by name") {
  auto missing = topicBindings(schemaOf("type Subscription { a: Order }"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("Subscription.a: no @topic") != std::string::npos);
  auto argument = topicBindings(schemaOf(R"(type Subscription { a(id: ID): Order @topic(name: "t", filter: {subject: "nope"}) })"));
  REQUIRE_FALSE(argument.ok());
  CHECK(argument.error().message.find("must name one of the field's arguments") != std::string::npos);
  auto attribute = topicBindings(schemaOf(R"(type Subscription { a(id: ID): Order @topic(name: "t", filter: {colour: "id"}) })"));
  REQUIRE_FALSE(attribute.ok());
  CHECK(attribute.error().message.find("filter on id, type, subject, source or data.<member>") != std::string::npos);
  CHECK_FALSE(topicBindings(schemaOf(R"(type Subscription { a: Order @topic(name: "") })")).ok());
  CHECK_FALSE(topicBindings(*Schema::fromSdl("type Query { a: Int }")).ok());
}

TEST_CASE("topic bindings: an event passes when each given argument equals its attribute") {
  TopicBinding binding{"orderStatus", "order.progress", {{"subject", "id"}, {"data.status", "status"}}};
  TopicEventView event{"e1", "order.paid", "42", "shop", "", Json{{"status", "PAID"}, {"n", 3}}};
  CHECK(eventMatches(binding, Json::object(), event));                                  // nothing given: all pass
  CHECK(eventMatches(binding, Json{{"id", "42"}}, event));
  CHECK_FALSE(eventMatches(binding, Json{{"id", "43"}}, event));
  CHECK(eventMatches(binding, Json{{"id", "42"}, {"status", "PAID"}}, event));
  CHECK_FALSE(eventMatches(binding, Json{{"id", "42"}, {"status", "SHIPPED"}}, event));
  CHECK(eventMatches(binding, Json{{"id", nullptr}}, event));                           // null filters nothing
  CHECK(eventMatches(binding, Json{{"status", Json::array({"SHIPPED", "PAID"})}}, event));  // a list: any of
  TopicEventView no_data{"e2", "t", "42", "s", "", Json("not json")};
  CHECK_FALSE(eventMatches(binding, Json{{"status", "PAID"}}, no_data));
}

}  // namespace
}  // namespace gust::graphql

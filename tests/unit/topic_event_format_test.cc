#include "triggers/http/topic_event_format.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace gust {
namespace {

TopicEvent eventOf(uint64_t seq, std::string type, std::string data, std::string subject = "") {
  TopicEvent e;
  e.topic = "orders";
  e.seq = seq;
  e.id = "e" + std::to_string(seq);
  e.type = std::move(type);
  e.subject = std::move(subject);
  e.source = "/apps/shop/functions/place";
  e.time = "2026-12-04T20:00:00.000Z";
  e.data = std::move(data);
  return e;
}

TEST_CASE("an SSE event carries its seq as id, its type as event, and one data line per line of the body") {
  CHECK(sseEvent(eventOf(7, "order.placed", R"({"id":1})")) ==
        "id: 7\nevent: order.placed\ndata: {\"id\":1}\n\n");
  // CR LF, LF and CR each end a line, as the client splits them; an empty line stays.
  CHECK(sseEvent(eventOf(8, "t", "a\r\nb\nc\rd\n\ne")) ==
        "id: 8\nevent: t\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \ndata: e\n\n");
  // An empty body is still one (empty) data line, so that the client dispatches the event.
  CHECK(sseEvent(eventOf(9, "t", "")) == "id: 9\nevent: t\ndata: \n\n");
  // A line break in the type cannot start a field of its own.
  CHECK(sseEvent(eventOf(10, "x\ndata: forged", "y")) == "id: 10\nevent: x data: forged\ndata: y\n\n");
  CHECK(sseRetry(3000) == "retry: 3000\n\n");
  CHECK(sseHeartbeat() == ":\n\n");
}

TEST_CASE("a WebSocket event is JSON with the body as JSON when it is JSON, else as a string") {
  auto json = nlohmann::json::parse(webSocketEventJson(eventOf(3, "order.placed", R"({"total":12})", "o-1")));
  CHECK(json["seq"] == 3);
  CHECK(json["id"] == "e3");
  CHECK(json["type"] == "order.placed");
  CHECK(json["subject"] == "o-1");
  CHECK(json["time"] == "2026-12-04T20:00:00.000Z");
  CHECK(json["data"]["total"] == 12);
  auto text = nlohmann::json::parse(webSocketEventJson(eventOf(4, "t", "plain text")));
  CHECK(text["data"] == "plain text");
  auto bad = nlohmann::json::parse(webSocketEventJson(eventOf(5, "t", std::string("\xff\xfe", 2))));
  CHECK(bad["data"].is_string());
}

TEST_CASE("a resume point is a decimal seq; anything else starts from now") {
  CHECK(parseEventSeq("42") == 42u);
  CHECK(parseEventSeq("0") == 0u);
  CHECK_FALSE(parseEventSeq("").has_value());
  CHECK_FALSE(parseEventSeq("4x").has_value());
  CHECK_FALSE(parseEventSeq("-1").has_value());
  CHECK_FALSE(parseEventSeq("99999999999999999999999").has_value());
}

TEST_CASE("a stream filter holds when every attribute it names is equal") {
  StreamFilter f{{{"subject", "o-1"}, {"type", "order.placed"}}};
  CHECK(f.matches(eventOf(1, "order.placed", "", "o-1")));
  CHECK_FALSE(f.matches(eventOf(1, "order.placed", "", "o-2")));
  CHECK_FALSE(f.matches(eventOf(1, "order.shipped", "", "o-1")));
  CHECK(StreamFilter{}.matches(eventOf(1, "t", "")));
}

}  // namespace
}  // namespace gust

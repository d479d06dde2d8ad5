#include "runtime/graphql/transport_ws.h"

#include <utility>

namespace gust::graphql {
namespace {

TransportWsOutput closeWith(uint16_t code, std::string reason) {
  TransportWsOutput out;
  out.close = TransportWsOutput::Close{code, std::move(reason)};
  return out;
}

TransportWsOutput badRequest(std::string reason) { return closeWith(kCloseBadRequest, std::move(reason)); }

bool optionalObject(const Json& message, const char* key) {
  auto it = message.find(key);
  return it == message.end() || it->is_null() || it->is_object();
}

std::optional<std::string> idOf(const Json& message) {
  auto it = message.find("id");
  if (it == message.end() || !it->is_string() || it->get<std::string>().empty()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

TransportWsOutput TransportWsSession::onBinary() {
  return badRequest("graphql-transport-ws messages are JSON text; a binary message is not one.");
}

TransportWsOutput TransportWsSession::onText(std::string_view text) {
  if (closed_) return {};
  auto message = Json::parse(text, nullptr, false);
  if (message.is_discarded() || !message.is_object()) return badRequest("Invalid message received: not a JSON object.");
  auto type_it = message.find("type");
  if (type_it == message.end() || !type_it->is_string()) return badRequest("Invalid message received: \"type\" must be a string.");
  const auto type = type_it->get<std::string>();
  if (type == "connection_init") {
    if (!optionalObject(message, "payload")) return badRequest("Invalid message received: connection_init's \"payload\" must be an object.");
    if (init_received_) return closeWith(kCloseTooManyInits, "Too many initialisation requests");
    init_received_ = true;
    auto payload = message.value("payload", Json::object());
    if (!handler_.acceptConnection(payload.is_null() ? Json::object() : payload)) return closeWith(kCloseForbidden, "Forbidden");
    acknowledged_ = true;
    TransportWsOutput out;
    out.messages.push_back(R"({"type":"connection_ack"})");
    return out;
  }
  if (type == "ping") {
    if (!optionalObject(message, "payload")) return badRequest("Invalid message received: ping's \"payload\" must be an object.");
    Json pong = {{"type", "pong"}};
    if (message.contains("payload") && !message["payload"].is_null()) pong["payload"] = message["payload"];
    TransportWsOutput out;
    out.messages.push_back(pong.dump());
    return out;
  }
  if (type == "pong") {
    if (!optionalObject(message, "payload")) return badRequest("Invalid message received: pong's \"payload\" must be an object.");
    return {};
  }
  if (type == "subscribe") return subscribe(message);
  if (type == "complete") {
    auto id = idOf(message);
    if (!id) return badRequest("Invalid message received: complete needs a non-empty string \"id\".");
    if (subscriptions_.erase(*id)) handler_.stopSubscription(*id);
    return {};
  }
  if (type == "connection_ack" || type == "next" || type == "error") {
    return badRequest("Unexpected message of type " + type + " received; a server sends it, a client does not.");
  }
  return badRequest("Invalid message received: unknown type \"" + type + "\".");
}

TransportWsOutput TransportWsSession::subscribe(const Json& message) {
  auto id = idOf(message);
  if (!id) return badRequest("Invalid message received: subscribe needs a non-empty string \"id\".");
  auto payload_it = message.find("payload");
  if (payload_it == message.end() || !payload_it->is_object()) {
    return badRequest("Invalid message received: subscribe needs an object \"payload\".");
  }
  const Json& payload = *payload_it;
  auto query = payload.find("query");
  if (query == payload.end() || !query->is_string()) {
    return badRequest("Invalid message received: subscribe's payload needs a string \"query\".");
  }
  auto name = payload.find("operationName");
  if (name != payload.end() && !name->is_null() && !name->is_string()) {
    return badRequest("Invalid message received: \"operationName\" must be a string or null.");
  }
  if (!optionalObject(payload, "variables") || !optionalObject(payload, "extensions")) {
    return badRequest("Invalid message received: \"variables\" and \"extensions\" must be objects or null.");
  }
  if (!acknowledged_) return closeWith(kCloseUnauthorized, "Unauthorized");
  if (subscriptions_.count(*id)) return closeWith(kCloseSubscriberExists, "Subscriber for " + *id + " already exists");

  auto error = [&](const std::vector<GraphQLError>& errors) {
    TransportWsOutput out;
    out.messages.push_back(Json{{"id", *id}, {"type", "error"}, {"payload", toJson(errors)}}.dump());
    return out;
  };
  if (subscriptions_.size() >= max_subscriptions_) {
    return error({GraphQLError{"This connection already has " + std::to_string(max_subscriptions_) +
                                   " subscriptions, the most it may; complete one before starting another.",
                               {}, nullptr}});
  }
  std::string operation_name = name != payload.end() && name->is_string() ? name->get<std::string>() : "";
  Json variables = payload.value("variables", Json::object());
  auto prepared = prepareSubscription(schema_, query->get<std::string>(), operation_name,
                                      variables.is_null() ? Json::object() : variables, limits_);
  if (auto* errors = std::get_if<std::vector<GraphQLError>>(&prepared)) return error(*errors);
  auto& subscription = std::get<PreparedSubscription>(prepared);
  auto [it, _] = subscriptions_.emplace(*id, std::move(subscription));
  auto refused = handler_.startSubscription(*id, it->second);
  if (!refused.empty()) {
    subscriptions_.erase(it);
    return error(refused);
  }
  return {};
}

TransportWsOutput TransportWsSession::onInitTimeout() {
  if (closed_ || init_received_) return {};
  return closeWith(kCloseInitTimeout, "Connection initialisation timeout");
}

void TransportWsSession::onClosed() {
  if (closed_) return;
  closed_ = true;
  auto ids = std::move(subscriptions_);
  subscriptions_.clear();
  for (const auto& [id, _] : ids) handler_.stopSubscription(id);
}

std::optional<std::string> TransportWsSession::next(const std::string& id, const Json& event) const {
  auto it = subscriptions_.find(id);
  if (closed_ || it == subscriptions_.end()) return std::nullopt;
  return Json{{"id", id}, {"type", "next"}, {"payload", shapeEvent(schema_, it->second, event)}}.dump();
}

std::optional<std::string> TransportWsSession::complete(const std::string& id) {
  if (closed_ || !subscriptions_.erase(id)) return std::nullopt;
  handler_.stopSubscription(id);
  return Json{{"id", id}, {"type", "complete"}}.dump();
}

}  // namespace gust::graphql

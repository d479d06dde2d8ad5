#include "triggers/http/graphql_endpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/base/text.h"
#include "runtime/graphql/topic_binding.h"
#include "runtime/graphql/transport_ws.h"
#include "triggers/http/http_text.h"
#include "triggers/http/key_auth.h"
#include "triggers/http/websocket_handshake.h"

namespace gust {
namespace {

std::string ownerOf(const std::string& app) { return "graphql:" + app; }

// Sweeps for connections past their connection_init deadline this often.
constexpr uint64_t kSweepMs = 1'000;

// What the filters and the selection set see of a topic event: its data as JSON, else as a
// string (data that is not UTF-8 cannot be a JSON string: null then).
graphql::TopicEventView viewOf(const TopicEvent& event) {
  graphql::TopicEventView view{event.id, event.type, event.subject, event.source, event.time, nullptr};
  view.data = graphql::Json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (view.data.is_discarded()) view.data = isValidUtf8(event.data) ? graphql::Json(event.data) : graphql::Json();
  return view;
}

}  // namespace

// One graphql-transport-ws connection: the protocol's session, and for each of its
// subscriptions the hub listener that feeds it. Owned by its WebSocket; reaches the
// endpoints (and through them the hub) weakly.
class GraphqlEndpoints::Connection final : public WebSocketHandler, public graphql::TransportWsHandler {
 public:
  Connection(std::weak_ptr<GraphqlEndpoints*> owner, uint64_t id, std::string app,
             std::shared_ptr<const GraphqlSpec> spec, std::chrono::steady_clock::time_point init_deadline,
             size_t max_subscriptions)
      : owner_(std::move(owner)),
        id_(id),
        app_(std::move(app)),
        spec_(std::move(spec)),
        session_(*spec_->schema, *this, {}, max_subscriptions),
        init_deadline_(init_deadline) {}

  void attach(WebSocket socket) { socket_ = std::move(socket); }
  const std::string& app() const { return app_; }
  const GraphqlSpec& spec() const { return *spec_; }
  WebSocket& socket() { return socket_; }

  void onMessage(std::string&& data, bool binary) override {
    apply(binary ? session_.onBinary() : session_.onText(data));
  }
  void onClose(uint16_t, std::string_view) override {
    session_.onClosed();  // stops every subscription
    if (auto owner = owner_.lock()) (*owner)->connections_.erase(id_);
  }

  // A keyed endpoint checked the key at the upgrade; connection_init has nothing to add.
  bool acceptConnection(const graphql::Json&) override { return true; }

  std::vector<graphql::GraphQLError> startSubscription(const std::string& id,
                                                       const graphql::PreparedSubscription& subscription) override {
    auto owner = owner_.lock();
    if (!owner) return {graphql::GraphQLError{"The server is shutting down; subscribe again later.", {}, nullptr}};
    auto binding = spec_->bindings.find(subscription.root_field->name);
    if (binding == spec_->bindings.end()) {
      return {graphql::GraphQLError{"Subscription." + subscription.root_field->name + " is bound to no topic.", {},
                                    nullptr}};
    }
    Subscription s{&binding->second, subscription.arguments, 0};
    s.token = (*owner)->hub_.subscribe(binding->second.topic, [this, id](const TopicEvent& event) { deliver(id, event); });
    subscriptions_[id] = std::move(s);
    return {};
  }

  void stopSubscription(const std::string& id) override {
    auto it = subscriptions_.find(id);
    if (it == subscriptions_.end()) return;
    if (auto owner = owner_.lock()) (*owner)->hub_.unsubscribe(it->second.token);
    subscriptions_.erase(it);
  }

  // The endpoints are going away: no hub listener may outlive them.
  void detach() {
    if (auto owner = owner_.lock()) {
      for (const auto& [id, s] : subscriptions_) (*owner)->hub_.unsubscribe(s.token);
    }
    subscriptions_.clear();
  }

  void checkInitDeadline(std::chrono::steady_clock::time_point now) {
    if (init_checked_ || now < init_deadline_) return;
    init_checked_ = true;
    apply(session_.onInitTimeout());  // nothing when connection_init came in time
  }

 private:
  struct Subscription {
    const graphql::TopicBinding* binding;  // inside *spec_
    graphql::Json arguments;
    TopicEventHub::Token token;
  };

  void deliver(const std::string& id, const TopicEvent& event) {
    auto it = subscriptions_.find(id);
    if (it == subscriptions_.end()) return;
    const graphql::TopicEventView view = viewOf(event);
    if (!graphql::eventMatches(*it->second.binding, it->second.arguments, view)) return;
    // A send refused closes the connection (a client that does not read); onClose follows.
    if (auto message = session_.next(id, graphql::rootValueOf(view))) socket_.send(*message);
  }

  void apply(graphql::TransportWsOutput&& out) {
    for (const auto& message : out.messages) socket_.send(message);
    if (out.close) socket_.close(out.close->code, out.close->reason);
  }

  std::weak_ptr<GraphqlEndpoints*> owner_;
  uint64_t id_;
  std::string app_;
  std::shared_ptr<const GraphqlSpec> spec_;  // the schema the session reads stays alive
  graphql::TransportWsSession session_;
  std::chrono::steady_clock::time_point init_deadline_;
  bool init_checked_ = false;
  WebSocket socket_;
  std::map<std::string, Subscription> subscriptions_;
};

GraphqlEndpoints::GraphqlEndpoints(uv_loop_t* loop, const Clock& clock, TopicEventHub& hub, QueueBackend& backend,
                                   GraphqlEndpointLimits limits)
    : clock_(clock), hub_(hub), backend_(backend), limits_(limits) {
  uv_timer_init(loop, &sweep_);
  sweep_.data = this;
  uv_timer_start(&sweep_, [](uv_timer_t* t) { static_cast<GraphqlEndpoints*>(t->data)->sweepInitTimeouts(); },
                 kSweepMs, kSweepMs);
  // The connections keep the loop alive, not the sweep (STYLE 3).
  uv_unref(reinterpret_cast<uv_handle_t*>(&sweep_));
}

GraphqlEndpoints::~GraphqlEndpoints() {
  for (auto& [id, connection] : connections_) connection->detach();
}

void GraphqlEndpoints::setApp(const std::string& app, const std::optional<GraphqlSpec>& spec, Auth app_auth) {
  auto old = endpoints_.find(app);
  const bool had = old != endpoints_.end();
  const Auth auth = spec ? spec->auth.value_or(app_auth) : Auth::kPublic;
  // Connections stay while the endpoint stays where it was under the same schema and access.
  // Otherwise they close: gone or moved with 1001; with a new schema or access with 1012
  // (service restart), on which graphql-ws reconnects and subscribes again, so that no
  // subscription keeps a binding the new schema dropped, or a caller the new access refuses.
  std::optional<std::pair<uint16_t, const char*>> ending;
  if (had && (!spec || spec->path != old->second.spec->path)) {
    ending.emplace(ws_close::kGoingAway, spec ? "the GraphQL endpoint moved" : "the app was removed");
  } else if (had && (spec->sdl != old->second.spec->sdl || auth != old->second.auth)) {
    ending.emplace(ws_close::kServiceRestart, "the app was redeployed with a new schema or access; subscribe again");
  }
  if (ending) {
    std::vector<uint64_t> ended;
    for (const auto& [id, connection] : connections_) {
      if (connection->app() == app) ended.push_back(id);
    }
    for (uint64_t id : ended) {
      auto it = connections_.find(id);  // a close may end a connection at once
      if (it == connections_.end()) continue;
      it->second->detach();
      it->second->socket().close(ending->first, ending->second);
    }
  }
  if (!spec && !had) return;  // nothing retained before or now
  TopicBindings retained;
  if (spec) {
    for (const auto& [field, binding] : spec->bindings) {
      const bool listed = std::any_of(retained.retained.begin(), retained.retained.end(),
                                      [&](const TopicRetention& r) { return r.topic == binding.topic; });
      if (!listed) retained.retained.push_back(TopicRetention{binding.topic, spec->retain});
    }
    endpoints_[app] = Endpoint{std::make_shared<const GraphqlSpec>(*spec), auth};
  } else {
    endpoints_.erase(app);
  }
  auto bound = backend_.bindTopics(ownerOf(app), std::move(retained), [app](Result<void> r) {
    if (!r) spdlog::error("[{}] graphql: the store did not retain its topics: {}", app, r.error().message);
  });
  if (!bound) spdlog::error("[{}] graphql: {}", app, bound.error().message);
}

void GraphqlEndpoints::serve(const std::string& app, HttpRequest&& request, HttpResponder&& responder,
                             const KeyStore* keys) {
  auto endpoint = endpoints_.find(app);
  if (endpoint == endpoints_.end()) {
    responder.send(problemResponse(404, "Not Found", "no GraphQL endpoint at " + request.path));
    return;
  }
  if (endpoint->second.auth == Auth::kKey) {
    const FunctionKey* key = keys ? keys->find(presentedKey(request)) : nullptr;
    if (key == nullptr || key->app != app || !key->function.empty()) {
      responder.send(keyRequired(!presentedKey(request).empty()));
      return;
    }
  }
  if (!request.upgrade) {
    responder.send(upgradeRequired(request.path +
                                   " serves GraphQL subscriptions over a WebSocket with the graphql-transport-ws "
                                   "subprotocol (a client such as graphql-ws)"));
    return;
  }
  auto handshake = checkWebSocketHandshake(request);
  if (auto* refusal = std::get_if<HttpResponse>(&handshake)) {
    responder.send(std::move(*refusal));
    return;
  }
  auto& asked = std::get<WebSocketHandshake>(handshake).protocols;
  if (std::find(asked.begin(), asked.end(), graphql::kTransportWsProtocol) == asked.end()) {
    responder.send(problemResponse(400, "Subprotocol required",
                                   "the GraphQL endpoint speaks graphql-transport-ws; ask for it with "
                                   "Sec-WebSocket-Protocol: graphql-transport-ws"));
    return;
  }
  const uint64_t id = next_connection_++;
  auto connection = std::make_unique<Connection>(
      self_, id, app, endpoint->second.spec,
      clock_.now() + std::chrono::milliseconds(limits_.init_timeout_ms), limits_.max_subscriptions);
  Connection* raw = connection.get();
  WebSocketAccept accept;
  accept.protocol = std::string(graphql::kTransportWsProtocol);
  accept.limits.max_buffered_bytes = limits_.max_buffered_bytes;
  WebSocket socket = responder.acceptWebSocket(std::get<WebSocketHandshake>(handshake), std::move(accept),
                                               std::move(connection));
  if (!socket.open()) return;  // answered already (503 at the bound); the handler is gone
  raw->attach(std::move(socket));
  connections_.emplace(id, raw);
}

void GraphqlEndpoints::sweepInitTimeouts() {
  const auto now = clock_.now();
  std::vector<uint64_t> ids;
  for (const auto& [id, connection] : connections_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = connections_.find(id);  // a close may end a connection at once
    if (it != connections_.end()) it->second->checkInitDeadline(now);
  }
}

void GraphqlEndpoints::close(std::function<void()> done) {
  std::vector<uint64_t> ids;
  for (const auto& [id, connection] : connections_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = connections_.find(id);  // a close may end a connection at once
    if (it == connections_.end()) continue;
    it->second->detach();
    it->second->socket().close(ws_close::kGoingAway, "the host is shutting down");
  }
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&sweep_)}, std::move(done));
}

}  // namespace gust

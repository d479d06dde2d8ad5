#include "triggers/http/connection_registry.h"

#include <spdlog/spdlog.h>

#include <variant>

#include "gust/abi.h"
#include "runtime/base/text.h"
#include "triggers/http/http_text.h"
#include "triggers/http/http_trigger.h"
#include "triggers/http/websocket_handshake.h"

namespace gust {
namespace {

using http::equalsIgnoreCase;

// Fields of the 101 that are the handshake's own; a function's CONNECT answer cannot set them.
bool isHandshakeOwned(std::string_view name) {
  for (std::string_view h : {"content-length", "transfer-encoding", "connection", "date", "keep-alive", "upgrade",
                             "trailer", "te", "sec-websocket-accept", "sec-websocket-protocol",
                             "sec-websocket-extensions", "sec-websocket-version", "content-type"}) {
    if (equalsIgnoreCase(name, h)) return true;
  }
  return false;
}

bool isBinaryReply(const Outcome& outcome) {
  for (const auto& [name, value] : outcome.headers) {
    if (equalsIgnoreCase(name, "content-type") && value.rfind("application/octet-stream", 0) == 0) return true;
  }
  return !isValidUtf8(outcome.body);
}

}  // namespace

struct ConnectionRegistry::Connection {
  std::string id;
  std::string app;
  std::string function;
  Payload upgrade;  // the upgrade request's path, query, headers and params: every event's
  WebSocket socket;
  std::chrono::system_clock::time_point opened_at;
  std::string peer;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  // Messages waiting for the invocation of the one before them.
  std::deque<std::pair<std::string, bool>> backlog;
  size_t backlog_bytes = 0;
  bool busy = false;           // an invocation of this connection runs
  bool ended = false;          // the WebSocket closed; DISCONNECT is due
  uint16_t close_code = 0;
  bool disconnecting = false;  // DISCONNECT is running

  bool reachable() const { return !ended && socket.open(); }
};

// Hands the connection's events to the registry by id: the registry may have forgotten the
// connection by then, and then the event is dropped.
class ConnectionRegistry::Handler final : public WebSocketHandler {
 public:
  Handler(ConnectionRegistry& registry, std::string id) : registry_(registry), id_(std::move(id)) {}
  void onMessage(std::string&& data, bool binary) override { registry_.onMessage(id_, std::move(data), binary); }
  void onClose(uint16_t code, std::string_view) override { registry_.onClose(id_, code); }

 private:
  ConnectionRegistry& registry_;
  std::string id_;
};

ConnectionRegistry::ConnectionRegistry(const Clock& clock, Dispatcher& dispatcher, bool expose_errors)
    : clock_(clock), dispatcher_(dispatcher), expose_errors_(expose_errors) {}

ConnectionRegistry::~ConnectionRegistry() = default;

void ConnectionRegistry::connect(HttpRequest&& request, std::string app, std::string function, Pairs params,
                                 HttpResponder&& responder) {
  auto checked = checkWebSocketHandshake(request);
  if (auto* refusal = std::get_if<HttpResponse>(&checked)) {
    responder.send(std::move(*refusal));
    return;
  }
  auto c = std::make_unique<Connection>();
  c->id = ids_.next();
  c->app = std::move(app);
  c->function = std::move(function);
  c->upgrade.trigger = GUST_TRIGGER_WEBSOCKET;
  c->upgrade.path = std::move(request.path);
  c->upgrade.query = std::move(request.query);
  c->upgrade.headers = std::move(request.headers);
  c->upgrade.params = std::move(params);
  c->upgrade.connection_id = c->id;

  Invocation inv;
  inv.id = ids_.next();
  inv.app = c->app;
  inv.function = c->function;
  inv.payload = c->upgrade;
  inv.payload.method = kConnect;
  std::string invocation_id = inv.id;
  dispatcher_.invoke(std::move(inv), [this, c = std::move(c), handshake = std::move(std::get<WebSocketHandshake>(checked)),
                                      responder = std::move(responder),
                                      invocation_id = std::move(invocation_id)](Outcome&& outcome) mutable {
    if (outcome.kind != OutcomeKind::kOk || outcome.status < 200 || outcome.status > 299) {
      // Refused, or the function could not decide: the client gets the answer as HTTP.
      responder.send(responseFor(std::move(outcome), invocation_id, expose_errors_));
      return;
    }
    WebSocketAccept accept;
    accept.limits = limits_;
    for (auto& [name, value] : outcome.headers) {
      if (equalsIgnoreCase(name, "sec-websocket-protocol")) {
        // The function picks one of the client's subprotocols; another is none.
        for (const auto& offered : handshake.protocols) {
          if (offered == value) accept.protocol = value;
        }
        continue;
      }
      if (isHandshakeOwned(name) || !http::isToken(name) || !http::isSafeFieldValue(value)) continue;
      accept.headers.emplace_back(std::move(name), std::move(value));
    }
    accept.headers.emplace_back("X-Gust-Connection-Id", c->id);
    const std::string id = c->id;
    WebSocket socket = responder.acceptWebSocket(handshake, std::move(accept), std::make_unique<Handler>(*this, id));
    if (!socket.open()) return;  // the client left meanwhile, or the host is at its bound
    c->socket = socket;
    c->peer = socket.peerAddress();
    c->opened_at = clock_.wallNow();
    spdlog::debug("[{}] {}: WebSocket connection {} opened on {}", c->app, c->function, id, printable(c->upgrade.path));
    if (directory_ != nullptr) directory_->opened(id, c->app);
    connections_.emplace(id, std::move(c));
  });
}

ConnectionRegistry::Connection* ConnectionRegistry::openConnection(std::string_view id) {
  auto it = connections_.find(id);
  if (it == connections_.end() || !it->second->reachable()) return nullptr;
  return it->second.get();
}

void ConnectionRegistry::onMessage(const std::string& id, std::string&& data, bool binary) {
  Connection* c = openConnection(id);
  if (c == nullptr) return;
  ++c->messages_in;
  if (!c->busy) {
    invoke(*c, kMessage, std::move(data), binary);
    return;
  }
  if (c->backlog.size() >= kMaxBacklog || data.size() > kMaxBacklogBytes - c->backlog_bytes) {
    spdlog::warn("[{}] {}: connection {} closed: more than {} messages or {} bytes wait for the function", c->app,
                 c->function, id, kMaxBacklog, kMaxBacklogBytes);
    c->socket.close(1013, "too many messages wait for the function; send slower");
    return;
  }
  c->backlog_bytes += data.size();
  c->backlog.emplace_back(std::move(data), binary);
}

void ConnectionRegistry::onClose(const std::string& id, uint16_t code) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if (directory_ != nullptr && !c.ended) directory_->ended(id);
  c.ended = true;
  c.close_code = code;
  // Nobody can be answered any more: what waits is dropped, and DISCONNECT follows the
  // invocation that runs, if any.
  c.backlog.clear();
  c.backlog_bytes = 0;
  runNext(c);
}

void ConnectionRegistry::runNext(Connection& c) {
  if (c.busy || c.disconnecting) return;
  if (c.ended) {
    c.disconnecting = true;
    invoke(c, kDisconnect, {}, false);
    return;
  }
  if (c.backlog.empty()) return;
  auto [data, binary] = std::move(c.backlog.front());
  c.backlog.pop_front();
  c.backlog_bytes -= data.size();
  invoke(c, kMessage, std::move(data), binary);
}

void ConnectionRegistry::invoke(Connection& c, const char* event, std::string&& body, bool binary) {
  Invocation inv;
  inv.id = ids_.next();
  inv.app = c.app;
  inv.function = c.function;
  inv.payload = c.upgrade;
  inv.payload.method = event;
  inv.payload.body = std::move(body);
  inv.payload.binary = binary;
  inv.payload.close_code = event == kDisconnect ? c.close_code : 0;
  c.busy = true;
  dispatcher_.invoke(std::move(inv), [this, id = c.id, event](Outcome&& outcome) {
    onOutcome(id, event, std::move(outcome));
  });
}

void ConnectionRegistry::onOutcome(const std::string& id, const char* event, Outcome&& outcome) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  c.busy = false;
  if (event == kDisconnect) {
    // Its outcome is nobody's to hear: the connection is gone.
    connections_.erase(it);
    return;
  }
  if (outcome.kind != OutcomeKind::kOk) {
    // The connection stays: a crash or timeout costs this message, not the client's session.
    spdlog::warn("[{}] {}: {} on connection {} failed: {}", c.app, c.function, event, id, outcome.message);
  } else if (c.reachable()) {
    reply(c, std::move(outcome));
  }
  runNext(c);
}

void ConnectionRegistry::reply(Connection& c, Outcome&& outcome) {
  if (outcome.body.empty()) return;
  if (c.socket.send(outcome.body, isBinaryReply(outcome))) ++c.messages_out;
}

void ConnectionRegistry::call(std::string_view app, const ConnectionCall& call, Done done) {
  // A connection this host knows, open or ending, is this host's to answer for.
  if (directory_ != nullptr && connections_.find(call.id) == connections_.end()) {
    // This host's bound; the holding host checks its own again.
    if (neverFits(call)) return done(GUST_E_LIMIT);
    directory_->callElsewhere(app, call, std::move(done));
    return;
  }
  done(callHere(app, call));
}

bool ConnectionRegistry::neverFits(const ConnectionCall& call) const {
  return call.op != ConnectionOp::kClose && call.data.size() > limits_.max_buffered_bytes;
}

int32_t ConnectionRegistry::callHere(std::string_view app, const ConnectionCall& call) {
  Connection* c = openConnection(call.id);
  // Another app's connection is answered exactly as a missing one.
  if (c == nullptr || c->app != app) return GUST_E_NOT_FOUND;
  if (call.op == ConnectionOp::kClose) {
    c->socket.close(static_cast<uint16_t>(call.code), call.data);
    return GUST_OK;
  }
  if (neverFits(call)) return GUST_E_LIMIT;
  if (!c->socket.send(call.data, call.op == ConnectionOp::kSendBinary)) return GUST_E_NOT_FOUND;
  ++c->messages_out;
  return GUST_OK;
}

std::vector<ConnectionInfo> ConnectionRegistry::list(std::string_view app) const {
  std::vector<ConnectionInfo> out;
  for (const auto& [id, c] : connections_) {
    if (!c->reachable() || (!app.empty() && c->app != app)) continue;
    out.push_back({id, c->app, c->function, c->upgrade.path, c->peer, c->opened_at, c->messages_in, c->messages_out});
  }
  return out;
}

std::optional<std::string> ConnectionRegistry::appOf(std::string_view id) const {
  auto it = connections_.find(id);
  if (it == connections_.end() || !it->second->reachable()) return std::nullopt;
  return it->second->app;
}

void ConnectionRegistry::closeApp(std::string_view app) {
  // Ids first: a close may end a connection, and its DISCONNECT change the map, at once.
  std::vector<WebSocket> sockets;
  for (auto& [id, c] : connections_) {
    if (c->app == app && c->reachable()) sockets.push_back(c->socket);
  }
  for (WebSocket& socket : sockets) socket.close(1001, "the app was removed");
}

size_t ConnectionRegistry::openCount() const {
  size_t n = 0;
  for (const auto& [id, c] : connections_) n += c->reachable() ? 1 : 0;
  return n;
}

}  // namespace gust

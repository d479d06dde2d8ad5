#include "triggers/http/topic_streams.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <variant>

#include "triggers/http/http_text.h"
#include "triggers/http/key_auth.h"
#include "triggers/http/websocket_handshake.h"

namespace gust {
namespace {

std::string ownerOf(const std::string& app) { return "stream:" + app; }

// Whether the request takes an event stream: it names text/event-stream, text/* or */* in
// Accept (RFC 9110 §12.5.1; a range with q=0 refuses), or sends no Accept at all, as
// `curl -N URL` does not. A stream has no other HTTP form, so only a client that asks for
// something else (Accept: application/json) gets 406.
bool acceptsEventStream(const HttpRequest& request) {
  bool any_accept = false;
  for (const auto& [name, value] : request.headers) {
    if (!http::equalsIgnoreCase(name, "accept")) continue;
    any_accept = true;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view range = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      size_t semi = range.find(';');
      std::string_view type = range.substr(0, semi);
      while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
      while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
      std::string_view params = semi == std::string_view::npos ? std::string_view() : range.substr(semi);
      const bool refused = params.find("q=0") != std::string_view::npos && params.find("q=0.") == std::string_view::npos;
      if (refused) continue;
      if (http::equalsIgnoreCase(type, "text/event-stream") || type == "text/*" || type == "*/*") return true;
    }
  }
  return !any_accept;
}

std::optional<std::string> headerOf(const HttpRequest& request, std::string_view name) {
  for (const auto& [k, v] : request.headers) {
    if (http::equalsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

}  // namespace

// A stream's WebSocket: it sends, never receives; its end drops the client.
class TopicStreams::SocketHandler final : public WebSocketHandler {
 public:
  SocketHandler(std::weak_ptr<TopicStreams*> streams, uint64_t id) : streams_(std::move(streams)), id_(id) {}
  void onMessage(std::string&&, bool) override {}  // nothing to say to a stream
  void onClose(uint16_t, std::string_view) override {
    if (auto s = streams_.lock()) (*s)->drop(id_);
  }

 private:
  std::weak_ptr<TopicStreams*> streams_;
  uint64_t id_;
};

TopicStreams::TopicStreams(uv_loop_t* loop, TopicEventHub& hub, QueueBackend& backend, TopicStreamLimits limits)
    : hub_(hub), backend_(backend), limits_(limits) {
  uv_timer_init(loop, &heartbeat_);
  heartbeat_.data = this;
  uv_timer_start(&heartbeat_, [](uv_timer_t* t) { static_cast<TopicStreams*>(t->data)->heartbeat(); },
                 limits_.heartbeat_ms, limits_.heartbeat_ms);
  // The clients' connections keep the loop alive, not the heartbeat (STYLE 3).
  uv_unref(reinterpret_cast<uv_handle_t*>(&heartbeat_));
}

TopicStreams::~TopicStreams() {
  for (auto& [id, client] : clients_) hub_.unsubscribe(client.token);
}

void TopicStreams::setApp(const std::string& app, const std::vector<StreamSpec>& streams, Auth app_auth) {
  std::map<std::string, Stream> by_path;
  TopicBindings retained;
  for (const auto& spec : streams) {
    by_path[spec.path] = Stream{spec, spec.auth.value_or(app_auth)};
    retained.retained.push_back(TopicRetention{spec.topic, spec.retain});
  }
  // Clients of a stream the new version no longer has (or has for another topic) end.
  std::vector<uint64_t> ended;
  for (const auto& [id, client] : clients_) {
    if (client.app != app) continue;
    auto kept = by_path.find(client.path);
    auto old = find(app, client.path);
    if (kept == by_path.end() || !old || old->spec.topic != kept->second.spec.topic) ended.push_back(id);
  }
  for (uint64_t id : ended) drop(id);
  if (by_path.empty() && !streams_.count(app)) return;  // nothing retained before or now
  if (by_path.empty()) {
    streams_.erase(app);
  } else {
    streams_[app] = std::move(by_path);
  }
  auto bound = backend_.bindTopics(ownerOf(app), std::move(retained), [app](Result<void> r) {
    if (!r) spdlog::error("[{}] streams: the store did not retain their topics: {}", app, r.error().message);
  });
  if (!bound) spdlog::error("[{}] streams: {}", app, bound.error().message);
}

void TopicStreams::removeApp(const std::string& app) { setApp(app, {}, Auth::kPublic); }

const TopicStreams::Stream* TopicStreams::find(const std::string& app, const std::string& path) const {
  auto a = streams_.find(app);
  if (a == streams_.end()) return nullptr;
  auto s = a->second.find(path);
  return s == a->second.end() ? nullptr : &s->second;
}

void TopicStreams::serve(const std::string& app, HttpRequest&& request, HttpResponder&& responder,
                         const KeyStore* keys) {
  // The router matched the path with at most one trailing '/'.
  std::string path = request.path;
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  const Stream* stream = find(app, path);
  if (stream == nullptr) {
    responder.send(problemResponse(404, "Not Found", "no stream at " + request.path));
    return;
  }
  // The router serves HEAD by a GET route; a stream has no head without its body.
  if (request.method != "GET") {
    HttpResponse r = problemResponse(405, "Method Not Allowed", "a stream is read with GET, not " + request.method);
    r.headers.emplace_back("Allow", "GET");
    responder.send(std::move(r));
    return;
  }
  if (stream->auth == Auth::kKey) {
    const FunctionKey* key = keys ? keys->find(presentedKey(request)) : nullptr;
    if (key == nullptr || key->app != app || !key->function.empty()) {
      responder.send(keyRequired(!presentedKey(request).empty()));
      return;
    }
  }
  StreamFilter filter;
  for (const auto& name : stream->spec.filter) {
    if (auto value = http::queryParam(request.query, name)) filter.equals.emplace_back(name, std::move(*value));
  }
  for (std::string_view other : {"subject", "type", "source"}) {
    if (http::queryParam(request.query, other) &&
        std::find(stream->spec.filter.begin(), stream->spec.filter.end(), other) == stream->spec.filter.end()) {
      responder.send(problemResponse(400, "Filter not allowed",
                                     "this stream does not filter on \"" + std::string(other) +
                                         "\"; its manifest's \"filter\" lists the attributes it does"));
      return;
    }
  }

  const uint64_t id = next_client_++;
  Client client;
  client.app = app;
  client.path = path;
  client.filter = std::move(filter);
  std::optional<uint64_t> after;
  if (request.upgrade) {
    auto handshake = checkWebSocketHandshake(request);
    if (auto* refusal = std::get_if<HttpResponse>(&handshake)) {
      responder.send(std::move(*refusal));
      return;
    }
    if (auto a = http::queryParam(request.query, "after")) after = parseEventSeq(*a);
    WebSocketAccept accept;
    accept.limits.max_buffered_bytes = limits_.max_buffered_bytes;
    client.socket = responder.acceptWebSocket(std::get<WebSocketHandshake>(handshake), std::move(accept),
                                              std::make_unique<SocketHandler>(self_, id));
    if (!client.socket.open()) return;  // answered already (503 at the bound)
  } else if (acceptsEventStream(request)) {
    if (auto last = headerOf(request, "last-event-id")) {
      after = parseEventSeq(*last);
    } else if (auto q = http::queryParam(request.query, "last_event_id")) {
      after = parseEventSeq(*q);
    }
    HttpResponse head;
    head.headers = {{"Content-Type", "text/event-stream"},
                    {"Cache-Control", "no-store"},
                    {"X-Accel-Buffering", "no"}};  // a proxy in front must not hold events back
    client.sse = responder.startStream(std::move(head), limits_.max_buffered_bytes);
    if (!client.sse.open()) return;
    client.sse.write(sseRetry(limits_.retry_ms));
    client.sse.onClose([weak = std::weak_ptr<TopicStreams*>(self_), id] {
      if (auto s = weak.lock()) (*s)->drop(id);
    });
    if (!client.sse.open()) return;  // gone while the head was written; the callback ran
  } else {
    responder.send(problemResponse(406, "Not Acceptable",
                                   "a stream is read as Server-Sent Events (send Accept: text/event-stream) or over a "
                                   "WebSocket (an Upgrade: websocket request)"));
    return;
  }
  const std::string topic = stream->spec.topic;
  clients_.emplace(id, std::move(client));
  // A resuming client's backlog (up to the whole retained log) goes out as fast as the client
  // takes it: the replay pauses while bytes wait for it and goes on once they are taken.
  auto ready = [this, id] {
    auto it = clients_.find(id);
    return it != clients_.end() && it->second.bufferedBytes() == 0;
  };
  const TopicEventHub::Token token = hub_.follow(
      topic, after, [this, id](const TopicEvent& event) { deliver(id, event); },
      [this, id, app](const Error& error) {
        spdlog::warn("[{}] stream client {}: the retained events could not be read: {}", app, id, error.message);
        drop(id);
      },
      ready);
  auto it = clients_.find(id);
  if (it == clients_.end()) {
    hub_.unsubscribe(token);  // failed already
    return;
  }
  it->second.token = token;
  auto drained = [weak = std::weak_ptr<TopicStreams*>(self_), token] {
    if (auto s = weak.lock()) (*s)->hub_.resume(token);
  };
  if (it->second.socket.open()) {
    it->second.socket.onDrained(drained);
  } else {
    it->second.sse.onDrained(drained);
  }
}

void TopicStreams::deliver(uint64_t id, const TopicEvent& event) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& client = it->second;
  if (!client.filter.matches(event)) return;
  const bool sent = client.socket.open() ? client.socket.send(formatted(event, last_websocket_, webSocketEventJson))
                                         : client.sse.write(formatted(event, last_sse_, sseEvent));
  // A write refused closed the connection (a client that does not read); it resumes later.
  if (!sent) return drop(id);
  ++events_sent_;
}

const std::string& TopicStreams::formatted(const TopicEvent& event, Formatted& last,
                                           std::string (*format)(const TopicEvent&)) {
  if (last.seq != event.seq || last.topic != event.topic) {
    last.topic = event.topic;
    last.seq = event.seq;
    last.text = format(event);
  }
  return last.text;
}

void TopicStreams::drop(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client client = std::move(it->second);
  clients_.erase(it);
  hub_.unsubscribe(client.token);
  if (client.socket.open()) client.socket.close(ws_close::kGoingAway);
  if (client.sse.open()) client.sse.end();
}

void TopicStreams::heartbeat() {
  std::vector<uint64_t> sse;
  for (const auto& [id, client] : clients_) {
    if (!client.socket.open()) sse.push_back(id);
  }
  for (uint64_t id : sse) {
    auto it = clients_.find(id);
    if (it != clients_.end() && !it->second.sse.write(sseHeartbeat())) drop(id);
  }
}

void TopicStreams::close(std::function<void()> done) {
  std::vector<uint64_t> ids;
  for (const auto& [id, client] : clients_) ids.push_back(id);
  for (uint64_t id : ids) drop(id);
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&heartbeat_)}, std::move(done));
}

}  // namespace gust

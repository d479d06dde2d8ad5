// Gust SDK: the C++ layer over the C ABI in <gust/abi.h>. Header-only.
//
// A function is a plain C++ function plus one export macro:
//
//   #include <gust/gust.hpp>
//
//   gust::Response hello(const gust::Request& req, gust::Context& ctx) {
//     ctx.log("greeting {}", req.param("name"));
//     return gust::Response::text("hello " + std::string(req.param("name")) + "\n");
//   }
//   GUST_FUNCTION(hello)
//
// The exported name must match a function of the app's gust.json. Anything the function
// throws becomes a 500 response carrying the exception's message; nothing crosses the ABI.
//
// The JSON helpers, req.json(), msg.json() and Response::json(), take and return
// nlohmann::json and need `#include <gust/json.hpp>` in place of this header: compiling
// nlohmann/json is most of a small app's build, so a source that does not use it goes
// without.
//
// A queue consumer gets a batch of messages. Each is acked when the function returns,
// unless it was settled otherwise; anything thrown retries the whole batch. What a function
// publishes is committed with its outcome, so a failed invocation publishes nothing:
//
//   void orders(const gust::Batch& batch, gust::Context& ctx) {
//     for (gust::Message msg : batch) {
//       if (msg.body().empty()) { msg.deadLetter("empty order"); continue; }
//       if (!inventoryReady()) { msg.retry(std::chrono::seconds(30)); continue; }
//       ctx.publish("invoices", msg.body(), {.id = "invoice-" + std::string(msg.id())});
//     }
//   }
//   GUST_QUEUE_FUNCTION(orders)
//
// ctx.publish() works from any function, and ctx.batch() gives the batch inside a
// GUST_FUNCTION too. ctx.traceparent() / ctx.tracestate() are the invocation's W3C trace
// context; the host passes it on to every message the function publishes. On a host older
// than this SDK these calls do nothing: the batch is empty, publish() returns
// GUST_E_UNSUPPORTED and the trace context is empty.
//
// ctx.state() is the app's key-value state, for what handlers converge on. Reads are
// immediate; writes are committed with the invocation's outcome (all or nothing, with its
// publishes), and a write may require the version it read, so that an idempotent consumer
// counts each order once however often it is retried:
//
//   auto seen = ctx.state().get("charged/" + order);
//   if (seen) return;                                       // charged before
//   ctx.state().put("charged/" + order, "1", {.if_version = 0, .ttl = std::chrono::hours(24 * 30)});
//
// If another invocation changed the key first, nothing of this one is committed: an HTTP
// caller gets 409 and a queue batch is retried. get() throws gust::StateError when the
// host cannot read (which fails the invocation); on a host older than this SDK, get()
// throws too and put()/remove() return GUST_E_UNSUPPORTED.
//
// gust::webhooks::verify checks a webhook's signature (Standard Webhooks, GitHub, Stripe)
// the way the host checks a route's "verify".
//
// A function with `"websocket": true` in gust.json serves WebSocket connections on its
// routes. It is invoked once per event of a connection, one event at a time, in order;
// req.websocket() tells which. Its response to CONNECT decides: 2xx accepts (its headers
// join the 101; a Sec-WebSocket-Protocol header picks one of the client's subprotocols),
// anything else refuses with that response. The body of its response to a MESSAGE, if any,
// goes back to the client as one message: binary when its Content-Type is
// application/octet-stream or it is not UTF-8, text otherwise. Any function of the app, of
// any trigger, may send to a connection it knows the id of (kept in ctx.state(), say):
//
//   gust::Response chat(const gust::Request& req, gust::Context& ctx) {
//     gust::WebSocketEvent ws = req.websocket();
//     switch (ws.event) {
//       case gust::WebSocketEvent::kConnect: return gust::Response::empty(204);  // accept
//       case gust::WebSocketEvent::kMessage: return gust::Response::text("echo: " + std::string(req.body()));
//       default: return gust::Response::empty(204);  // DISCONNECT: ws.close_code says how it ended
//     }
//   }
//   ctx.send(id, "hello");  ctx.sendBinary(id, bytes);  ctx.close(id, 4000, "bye");
//
// send() and close() return GUST_E_NOT_FOUND for a connection that is closed, never was, or
// is another app's. A send is queued at once, whatever the invocation's outcome.
#pragma once

#include <gust/abi.h>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <new>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

// Only the declaration of nlohmann::json: its definitions are most of a small app's build
// time, so they come with <gust/json.hpp>, which a source that uses the JSON helpers
// (req.json(), msg.json(), Response::json()) includes instead of this header.
#if __has_include(<nlohmann/json_fwd.hpp>)
#include <nlohmann/json_fwd.hpp>
#define GUST_JSON_DECLARED 1
#endif

namespace gust {

namespace detail {
// True for a type whose definition is in: a JSON helper used without <gust/json.hpp> then
// fails with a message that names the include.
template <typename T, typename = void>
inline constexpr bool kComplete = false;
template <typename T>
inline constexpr bool kComplete<T, std::void_t<decltype(sizeof(T))>> = true;

inline std::string_view view(gust_str s) { return {s.data, s.size}; }
inline gust_str str(std::string_view s) { return gust_str{s.data(), s.size()}; }
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}
inline int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
// Decodes application/x-www-form-urlencoded text ('+' is a space; bad escapes kept as is).
inline std::string formDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 &&
               hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace detail

enum class Trigger {
  kHttp = GUST_TRIGGER_HTTP,
  kTimer = GUST_TRIGGER_TIMER,
  kQueue = GUST_TRIGGER_QUEUE,
  kWebSocket = GUST_TRIGGER_WEBSOCKET
};

// The event of a WebSocket function's invocation (trigger kWebSocket).
struct WebSocketEvent {
  enum Kind { kNone, kConnect, kMessage, kDisconnect };
  Kind event = kNone;              // kNone: not a WebSocket invocation
  std::string_view connection_id;  // for ctx.send / ctx.close, from any invocation of the app
  bool binary = false;             // kMessage: the client sent a binary message
  uint32_t close_code = 0;         // kDisconnect: the close code (1006: the connection just dropped)
};

// The event a function runs for. Borrowed views: valid only during the call; copy what
// you keep.
class Request {
 public:
  explicit Request(const gust_request& raw, const gust_context* context = nullptr) : raw_(raw), context_(context) {}

  // What a WebSocket invocation is about; event kNone for every other trigger.
  WebSocketEvent websocket() const {
    WebSocketEvent ws;
    if (raw_.trigger != GUST_TRIGGER_WEBSOCKET) return ws;
    std::string_view m = method();
    ws.event = m == "CONNECT" ? WebSocketEvent::kConnect
               : m == "MESSAGE" ? WebSocketEvent::kMessage
               : m == "DISCONNECT" ? WebSocketEvent::kDisconnect
                                   : WebSocketEvent::kNone;
    if (context_ == nullptr || !GUST_HOST_HAS(context_->api, websocket_info)) return ws;
    ws.connection_id = detail::view(context_->api->connection_id(context_->host));
    uint32_t binary = 0;
    context_->api->websocket_info(context_->host, &binary, &ws.close_code);
    ws.binary = binary != 0;
    return ws;
  }

  Trigger trigger() const { return static_cast<Trigger>(raw_.trigger); }
  std::string_view method() const { return detail::view(raw_.method); }
  std::string_view path() const { return detail::view(raw_.path); }
  // The raw query string, without '?'.
  std::string_view queryString() const { return detail::view(raw_.query); }
  std::string_view body() const { return detail::view(raw_.body); }

  // A path parameter of the route ("/hello/{name}"), or "" when absent.
  std::string_view param(std::string_view name) const {
    for (size_t i = 0; i < raw_.param_count; ++i) {
      if (detail::view(raw_.params[i].name) == name) return detail::view(raw_.params[i].value);
    }
    return {};
  }

  // The first header with this name (case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const {
    for (size_t i = 0; i < raw_.header_count; ++i) {
      if (detail::equalsIgnoreCase(detail::view(raw_.headers[i].name), name)) {
        return detail::view(raw_.headers[i].value);
      }
    }
    return {};
  }

  std::vector<std::pair<std::string_view, std::string_view>> headers() const {
    std::vector<std::pair<std::string_view, std::string_view>> out;
    out.reserve(raw_.header_count);
    for (size_t i = 0; i < raw_.header_count; ++i) {
      out.emplace_back(detail::view(raw_.headers[i].name), detail::view(raw_.headers[i].value));
    }
    return out;
  }

  // The first query parameter with this name, decoded; `fallback` when absent.
  std::string query(std::string_view name, std::string_view fallback = {}) const {
    std::string_view q = queryString();
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view pair = q.substr(0, amp);
      q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
      size_t eq = pair.find('=');
      std::string key = detail::formDecode(pair.substr(0, eq));
      if (key == name) {
        return eq == std::string_view::npos ? std::string{} : detail::formDecode(pair.substr(eq + 1));
      }
    }
    return std::string(fallback);
  }

#ifdef GUST_JSON_DECLARED
  // The body parsed as JSON; a discarded value (is_discarded()) when it is not valid JSON.
  // Needs <gust/json.hpp> (a template only so that it is compiled where it is used).
  template <typename Json = nlohmann::json>
  Json json() const {
    static_assert(detail::kComplete<Json>, "req.json(): the JSON helpers need #include <gust/json.hpp>");
    return Json::parse(body(), nullptr, false);
  }
#endif

  const gust_request& raw() const { return raw_; }

 private:
  const gust_request& raw_;
  const gust_context* context_;  // null when built without one: websocket() then knows only the event
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  static Response text(std::string body, int status = 200) {
    Response r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    r.body = std::move(body);
    return r;
  }

#ifdef GUST_JSON_DECLARED
  // Needs <gust/json.hpp>. `Json` is never deduced: the value converts to a nlohmann::json,
  // so that a braced list works as before.
  template <typename Json = nlohmann::json>
  static Response json(const std::type_identity_t<Json>& value, int status = 200) {
    static_assert(detail::kComplete<Json>, "Response::json(): the JSON helpers need #include <gust/json.hpp>");
    Response r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = value.dump();
    return r;
  }
#endif

  static Response empty(int status = 204) {
    Response r;
    r.status = status;
    return r;
  }
};

// The answer of a host call that can refuse (publish, ack, retry, deadLetter). The host also
// logs why it refused, with the invocation's id.
class Status {
 public:
  Status() = default;
  explicit Status(int32_t code) : code_(code) {}

  bool ok() const { return code_ == GUST_OK; }
  explicit operator bool() const { return ok(); }
  int32_t code() const { return code_; }  // a gust_status
  const char* message() const {
    switch (code_) {
      case GUST_OK: return "ok";
      case GUST_E_INVALID: return "invalid argument";
      case GUST_E_LIMIT: return "per-invocation limit reached";
      case GUST_E_RANGE: return "no such message in the batch";
      case GUST_E_SETTLED: return "message already settled";
      case GUST_E_UNSUPPORTED: return "the host does not support this call";
      case GUST_E_NOT_FOUND: return "not found (no such state key, or no open connection of that id)";
      case GUST_E_UNAVAILABLE: return "the host could not read the app's state";
      case GUST_E_UNVERIFIED: return "webhook signature not verified";
      default: return "unknown error";
    }
  }

 private:
  int32_t code_ = GUST_OK;
};

// One message of a queue invocation's batch. Borrowed views: valid only during the call.
// Settle it at most once; a message left unsettled is acked when the function returns.
class Message {
 public:
  Message(const gust_context& raw, size_t index, const gust_message& message)
      : raw_(&raw), index_(index), message_(message) {}

  size_t index() const { return index_; }
  std::string_view id() const { return detail::view(message_.id); }
  std::string_view queue() const { return detail::view(message_.queue); }
  std::string_view body() const { return detail::view(message_.body); }
  // 1 on the first delivery; more after retries, crashes or timeouts.
  uint32_t attempt() const { return message_.attempt; }
  std::chrono::system_clock::time_point enqueuedAt() const {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(message_.enqueued_at_ms));
  }

  // An event of a topic (a message of a "topic" subscription) carries its CloudEvents
  // attributes as headers: its type ("order.placed"), subject, source and time; its id is id().
  std::string_view type() const { return header("ce-type"); }
  std::string_view subject() const { return header("ce-subject"); }
  // The first header with this name (case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const {
    for (size_t i = 0; i < message_.header_count; ++i) {
      if (detail::equalsIgnoreCase(detail::view(message_.headers[i].name), name)) {
        return detail::view(message_.headers[i].value);
      }
    }
    return {};
  }
  std::vector<std::pair<std::string_view, std::string_view>> headers() const {
    std::vector<std::pair<std::string_view, std::string_view>> out;
    out.reserve(message_.header_count);
    for (size_t i = 0; i < message_.header_count; ++i) {
      out.emplace_back(detail::view(message_.headers[i].name), detail::view(message_.headers[i].value));
    }
    return out;
  }

#ifdef GUST_JSON_DECLARED
  // The body parsed as JSON; a discarded value (is_discarded()) when it is not valid JSON.
  // Needs <gust/json.hpp> (a template only so that it is compiled where it is used).
  template <typename Json = nlohmann::json>
  Json json() const {
    static_assert(detail::kComplete<Json>, "msg.json(): the JSON helpers need #include <gust/json.hpp>");
    return Json::parse(body(), nullptr, false);
  }
#endif

  // Done with it: the queue forgets it.
  Status ack() const { return settle(GUST_SETTLE_ACK, 0, {}); }
  // Deliver it again, no sooner than `delay` from now (at most 7 days).
  Status retry(std::chrono::milliseconds delay = {}) const {
    if (delay.count() < 0 || delay.count() > 0xffffffffLL) return Status(GUST_E_INVALID);
    return settle(GUST_SETTLE_RETRY, static_cast<uint32_t>(delay.count()), {});
  }
  // Give up on it: it moves to the queue's dead-letter queue ("<queue>.dead") with `reason`.
  Status deadLetter(std::string_view reason) const { return settle(GUST_SETTLE_DEAD_LETTER, 0, reason); }

  const gust_message& raw() const { return message_; }

 private:
  Status settle(int32_t action, uint32_t delay_ms, std::string_view reason) const {
    if (!GUST_HOST_HAS(raw_->api, settle)) return Status(GUST_E_UNSUPPORTED);
    return Status(raw_->api->settle(raw_->host, index_, action, delay_ms, detail::str(reason)));
  }
  const gust_context* raw_;
  size_t index_;
  gust_message message_;
};

// The messages of a queue invocation, in delivery order; empty for other triggers. A range:
// `for (gust::Message msg : batch)`.
class Batch {
 public:
  explicit Batch(const gust_context& raw)
      : raw_(raw), size_(GUST_HOST_HAS(raw.api, message_count) ? raw.api->message_count(raw.host) : 0) {}

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Message `index` (< size()).
  Message operator[](size_t index) const {
    gust_message m{};
    m.size = sizeof(gust_message);
    if (index >= size_ || raw_.api->message(raw_.host, index, &m) != GUST_OK) {
      m = gust_message{};
      m.size = sizeof(gust_message);
    }
    return Message(raw_, index, m);
  }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Message;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Message;
    iterator() = default;
    iterator(const Batch* batch, size_t index) : batch_(batch), index_(index) {}
    Message operator*() const { return (*batch_)[index_]; }
    iterator& operator++() {
      ++index_;
      return *this;
    }
    iterator operator++(int) {
      iterator before = *this;
      ++index_;
      return before;
    }
    bool operator==(const iterator& other) const { return index_ == other.index_; }

   private:
    const Batch* batch_ = nullptr;
    size_t index_ = 0;
  };
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, size_); }

 private:
  const gust_context& raw_;
  size_t size_;
};

// How ctx.publish() sends a message: `ctx.publish("q", body, {.id = "order-42", .delay =
// std::chrono::seconds(10), .headers = {{"Content-Type", "application/json"}}})`.
// (Every member has an initializer, so that GCC's -Wextra does not warn about the members
// a designated initializer leaves out.)
// To a topic, `type` and `subject` are the event's CloudEvents type (default: the topic's
// name) and subject, which subscriptions may filter on; `id` is the event's id.
struct PublishOptions {
  std::string id{};  // deduplication id (at most 256 bytes); empty: the host assigns one
  std::chrono::milliseconds delay{0};  // deliver no sooner than this (at most 7 days)
  std::vector<std::pair<std::string, std::string>> headers{};  // at most 64, with type and subject
  std::string type{};     // sent as the header ce-type when set
  std::string subject{};  // sent as the header ce-subject when set
};

// A key of the app's state as ctx.state().get() read it.
struct StateEntry {
  std::string value;
  // 1 when the key was created, +1 per put; 0 for a key this invocation put without a
  // condition (its version is assigned when the invocation commits).
  uint64_t version = 0;
};

// How ctx.state().put() and remove() write: `{.if_version = 3, .ttl = std::chrono::hours(1)}`.
struct StateOptions {
  // Only if the key is at this version when the invocation commits; 0: only if it does not
  // exist; nullopt: whatever it holds (last writer wins).
  std::optional<uint64_t> if_version{};
  std::chrono::milliseconds ttl{0};  // put: the key expires this long after the commit; 0: never
};

// Why ctx.state().get() could not answer; thrown, so the invocation fails (and is retried
// when it is a queue batch).
class StateError : public std::runtime_error {
 public:
  explicit StateError(const char* what) : std::runtime_error(what) {}
};

// The app's state, seen by one invocation (see the top of this file).
class State {
 public:
  explicit State(const gust_context& raw) : raw_(raw) {}

  // The key's value and version, or nullopt when it does not exist or expired. Sees this
  // invocation's own puts and removes. Throws StateError when the host cannot read.
  std::optional<StateEntry> get(std::string_view key) const {
    if (!GUST_HOST_HAS(raw_.api, state_get)) throw StateError("the host does not support app state");
    gust_str value{nullptr, 0};
    uint64_t version = 0;
    int32_t status = raw_.api->state_get(raw_.host, detail::str(key), &value, &version);
    if (status == GUST_E_NOT_FOUND) return std::nullopt;
    if (status != GUST_OK) throw StateError(Status(status).message());
    return StateEntry{std::string(detail::view(value)), version};
  }
  Status put(std::string_view key, std::string_view value, const StateOptions& options = {}) const {
    if (!GUST_HOST_HAS(raw_.api, state_put)) return Status(GUST_E_UNSUPPORTED);
    if (options.ttl.count() < 0) return Status(GUST_E_INVALID);
    return Status(raw_.api->state_put(raw_.host, detail::str(key), detail::str(value),
                                      options.if_version.value_or(GUST_STATE_ANY_VERSION),
                                      static_cast<uint64_t>(options.ttl.count())));
  }
  Status remove(std::string_view key, const StateOptions& options = {}) const {
    if (!GUST_HOST_HAS(raw_.api, state_remove)) return Status(GUST_E_UNSUPPORTED);
    return Status(raw_.api->state_remove(raw_.host, detail::str(key), options.if_version.value_or(GUST_STATE_ANY_VERSION)));
  }

 private:
  const gust_context& raw_;
};

// What the host tells a running function, and the way back to it.
class Context {
 public:
  explicit Context(const gust_context& raw) : raw_(raw) {}

  std::string_view invocationId() const { return detail::view(raw_.invocation_id); }
  std::string_view app() const { return detail::view(raw_.app); }
  std::string_view function() const { return detail::view(raw_.function); }
  // Time left before the host gives up on this invocation (504) and kills its worker.
  std::chrono::milliseconds remaining() const {
    return std::chrono::milliseconds(raw_.api->remaining_ms(raw_.host));
  }

  void log(std::string_view message) const { write(GUST_LOG_INFO, message); }
  void warn(std::string_view message) const { write(GUST_LOG_WARN, message); }
  void error(std::string_view message) const { write(GUST_LOG_ERROR, message); }
  void debug(std::string_view message) const { write(GUST_LOG_DEBUG, message); }

  // The invocation's W3C trace context, or "" when the host has none.
  std::string_view traceparent() const {
    return GUST_HOST_HAS(raw_.api, traceparent) ? detail::view(raw_.api->traceparent(raw_.host)) : std::string_view{};
  }
  std::string_view tracestate() const {
    return GUST_HOST_HAS(raw_.api, tracestate) ? detail::view(raw_.api->tracestate(raw_.host)) : std::string_view{};
  }

  // The batch of a queue invocation; empty for other triggers.
  Batch batch() const { return Batch(raw_); }

  // The app's key-value state.
  State state() const { return State(raw_); }

  // Publishes `body` to a queue or a topic ([A-Za-z0-9._-], 1..100 chars); a topic fans
  // it out to every subscription. It is sent only if this invocation succeeds, together
  // with its outcome. At most 1000 messages and 8 MiB per invocation; past that, or for a
  // bad argument, the call refuses and the host logs why.
  Status publish(std::string_view queue, std::string_view body, const PublishOptions& options = {}) const {
    if (!GUST_HOST_HAS(raw_.api, publish)) return Status(GUST_E_UNSUPPORTED);
    if (options.delay.count() < 0 || options.delay.count() > 0xffffffffLL) return Status(GUST_E_INVALID);
    gust_pair small[8];
    std::vector<gust_pair> large;
    gust_pair* headers = small;
    const size_t count = options.headers.size() + !options.type.empty() + !options.subject.empty();
    if (count > 8) {
      large.resize(count);
      headers = large.data();
    }
    size_t n = 0;
    for (const auto& [name, value] : options.headers) headers[n++] = {detail::str(name), detail::str(value)};
    if (!options.type.empty()) headers[n++] = {detail::str("ce-type"), detail::str(options.type)};
    if (!options.subject.empty()) headers[n++] = {detail::str("ce-subject"), detail::str(options.subject)};
    return Status(raw_.api->publish(raw_.host, detail::str(queue), detail::str(body), headers, n,
                                    detail::str(options.id), static_cast<uint32_t>(options.delay.count())));
  }

  // Sends one text message (UTF-8) to the app's WebSocket connection `connection_id`.
  // GUST_E_NOT_FOUND when the connection is closed or not this app's; at most 10,000 calls
  // and 16 MiB per invocation (GUST_E_LIMIT).
  Status send(std::string_view connection_id, std::string_view text) const { return sendAs(connection_id, text, 0); }
  Status sendBinary(std::string_view connection_id, std::string_view bytes) const {
    return sendAs(connection_id, bytes, 1);
  }
  // Closes the connection with `code` (1000, or 3000..4999) and a reason of at most 123
  // bytes; the connection's function then gets its DISCONNECT.
  Status close(std::string_view connection_id, uint16_t code = 1000, std::string_view reason = {}) const {
    if (!GUST_HOST_HAS(raw_.api, connection_close)) return Status(GUST_E_UNSUPPORTED);
    return Status(raw_.api->connection_close(raw_.host, detail::str(connection_id), code, detail::str(reason)));
  }

  const gust_context& raw() const { return raw_; }

 private:
  Status sendAs(std::string_view connection_id, std::string_view data, int32_t binary) const {
    if (!GUST_HOST_HAS(raw_.api, connection_send)) return Status(GUST_E_UNSUPPORTED);
    return Status(raw_.api->connection_send(raw_.host, detail::str(connection_id), detail::str(data), binary));
  }
  void write(int32_t level, std::string_view message) const {
    raw_.api->log(raw_.host, level, detail::str(message));
  }
  const gust_context& raw_;
};

// Webhook signatures, checked by the host the way it checks a route's "verify" in gust.json,
// for a function that chooses the scheme or the secret itself, or checks a queued message:
//
//   const char* secret = std::getenv("STRIPE_SECRET");  // set with `gust env set`
//   auto checked = gust::webhooks::verify(req, ctx, gust::webhooks::Scheme::kStripe, secret ? secret : "");
//   if (!checked) return gust::Response::text(checked.error + "\n", 401);
//
// A module need not link OpenSSL: the HMAC is computed by the host's side of the ABI. On a
// host older than this SDK every check fails with GUST_E_UNSUPPORTED.
namespace webhooks {

enum class Scheme {
  kStandardWebhooks = GUST_WEBHOOK_STANDARD,  // webhook-id, webhook-timestamp, webhook-signature; whsec_ secret
  kGithub = GUST_WEBHOOK_GITHUB,              // X-Hub-Signature-256; no timestamp
  kStripe = GUST_WEBHOOK_STRIPE,              // Stripe-Signature: t=...,v1=...
};

// How far a signature's timestamp may be from now by default, either way.
inline constexpr std::chrono::seconds kDefaultTolerance{300};

// The answer of verify(): true when a signature matched; else `status` says how it failed
// (GUST_E_UNVERIFIED: missing, malformed, stale or not matching; GUST_E_INVALID: a bad
// secret or tolerance) and `error` what was wrong, never the secret or the expected value.
struct Verification {
  Status status;
  std::string error;

  bool ok() const { return status.ok(); }
  explicit operator bool() const { return ok(); }
};

// Checks the signature of a request given by its headers and body.
inline Verification verify(const Context& ctx, Scheme scheme, std::string_view secret,
                           const std::vector<std::pair<std::string_view, std::string_view>>& headers,
                           std::string_view body, std::chrono::seconds tolerance = kDefaultTolerance) {
  const gust_context& raw = ctx.raw();
  if (!GUST_HOST_HAS(raw.api, webhook_verify)) {
    return {Status(GUST_E_UNSUPPORTED), "the host is older than this SDK and cannot check webhook signatures"};
  }
  std::vector<gust_pair> pairs;
  pairs.reserve(headers.size());
  for (const auto& [name, value] : headers) pairs.push_back({detail::str(name), detail::str(value)});
  gust_str error{nullptr, 0};
  int32_t code = raw.api->webhook_verify(raw.host, static_cast<int32_t>(scheme), detail::str(secret),
                                         static_cast<int64_t>(tolerance.count()), pairs.data(), pairs.size(),
                                         detail::str(body), &error);
  return {Status(code), std::string(detail::view(error))};
}

// Checks the invocation's own request.
inline Verification verify(const Request& req, const Context& ctx, Scheme scheme, std::string_view secret,
                           std::chrono::seconds tolerance = kDefaultTolerance) {
  return verify(ctx, scheme, secret, req.headers(), req.body(), tolerance);
}

// Checks a queued message, say a webhook an HTTP function accepted and published as it came.
inline Verification verify(const Message& msg, const Context& ctx, Scheme scheme, std::string_view secret,
                           std::chrono::seconds tolerance = kDefaultTolerance) {
  return verify(ctx, scheme, secret, msg.headers(), msg.body(), tolerance);
}

}  // namespace webhooks

namespace detail {

// Runs `body`; whatever it throws becomes fail(), so that nothing crosses the ABI.
template <typename Body>
void guarded(const gust_context* raw_context, Body&& body) noexcept {
  const gust_host_api* api = raw_context->api;
  try {
    body();
  } catch (const std::bad_alloc&) {
    api->fail(raw_context->host, str("out of memory: the function allocated past its memory limit (memory_mb)"));
  } catch (const std::exception& e) {
    api->fail(raw_context->host, str(e.what()));
  } catch (...) {
    api->fail(raw_context->host, str("function threw a non-standard exception"));
  }
}

template <typename Fn>
void trampoline(Fn&& fn, const gust_request* raw_request, const gust_context* raw_context) noexcept {
  guarded(raw_context, [&] {
    Request request(*raw_request, raw_context);
    Context context(*raw_context);
    Response response = fn(request, context);
    std::vector<gust_pair> headers;
    headers.reserve(response.headers.size());
    for (const auto& [name, value] : response.headers) headers.push_back({str(name), str(value)});
    raw_context->api->respond(raw_context->host, response.status, headers.data(), headers.size(), str(response.body));
  });
}

template <typename Fn>
void queueTrampoline(Fn&& fn, const gust_context* raw_context) noexcept {
  guarded(raw_context, [&] {
    Context context(*raw_context);
    Batch batch(*raw_context);
    fn(static_cast<const Batch&>(batch), context);
    raw_context->api->respond(raw_context->host, 204, nullptr, 0, str({}));
  });
}

}  // namespace detail
}  // namespace gust

// Every module reports the ABI it was built against. Weak, so that every translation unit
// of a module may include this header.
extern "C" GUST_EXPORT __attribute__((weak)) uint32_t gust_abi_version(void) { return GUST_ABI_VERSION; }

// Exports FN (gust::Response FN(const gust::Request&, gust::Context&)) as a function
// named FN in the app's gust.json.
#define GUST_FUNCTION(fn)                                                                    \
  extern "C" GUST_EXPORT void gust_fn_##fn(const gust_request* request,                     \
                                           const gust_context* context) {                   \
    ::gust::detail::trampoline(fn, request, context);                                        \
  }

// Exports FN (void FN(const gust::Batch&, gust::Context&)) as a queue consumer named FN in
// the app's gust.json. Messages it does not settle are acked when it returns; a throw
// retries the whole batch.
#define GUST_QUEUE_FUNCTION(fn)                                                              \
  extern "C" GUST_EXPORT void gust_fn_##fn(const gust_request*, const gust_context* context) { \
    ::gust::detail::queueTrampoline(fn, context);                                            \
  }

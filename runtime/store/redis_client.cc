#include "runtime/store/redis_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "runtime/store/redis_tls_tunnel.h"

namespace gust {

struct RedisClient::Pending {
  RedisClient* client;
  uint64_t id;
  Done done;
};

namespace {

RedisReply converted(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(converted(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

uint64_t ms(std::chrono::milliseconds d) { return static_cast<uint64_t>(d.count()); }

// hiredis's event hooks on a uv_poll_t. Not the adapter hiredis 0.14 ships
// (hiredis/adapters/libuv.h): when the socket reports an error (a refused connect, a reset),
// libuv stops the poll and calls back with a status, and that adapter then returns without
// telling hiredis, so the connection hangs unnoticed. Here an error is handed to hiredis as
// the events it was waiting for, which makes it read the socket's error and fail the
// connection (as later hiredis versions do).
struct PollEvents {
  redisAsyncContext* context;
  uv_poll_t handle{};
  int events = 0;
};

void onPoll(uv_poll_t* handle, int status, int events) {
  auto* p = static_cast<PollEvents*>(handle->data);
  const int ready = status < 0 ? p->events : events;
  if (p->context != nullptr && (ready & UV_READABLE)) redisAsyncHandleRead(p->context);
  if (p->context != nullptr && (ready & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

void watch(void* data, int add, int remove) {
  auto* p = static_cast<PollEvents*>(data);
  p->events = (p->events | add) & ~remove;
  if (p->events != 0) {
    uv_poll_start(&p->handle, p->events, onPoll);
  } else {
    uv_poll_stop(&p->handle);
  }
}

bool attachToLoop(redisAsyncContext* context, uv_loop_t* loop) {
  auto* p = new PollEvents{context};
  if (uv_poll_init(loop, &p->handle, context->c.fd) != 0) {
    delete p;
    return false;
  }
  p->handle.data = p;
  context->ev.data = p;
  context->ev.addRead = [](void* d) { watch(d, UV_READABLE, 0); };
  context->ev.delRead = [](void* d) { watch(d, 0, UV_READABLE); };
  context->ev.addWrite = [](void* d) { watch(d, UV_WRITABLE, 0); };
  context->ev.delWrite = [](void* d) { watch(d, 0, UV_WRITABLE); };
  context->ev.cleanup = [](void* d) {
    auto* events = static_cast<PollEvents*>(d);
    if (events->context == nullptr) return;  // cleaned up already: the close is under way
    events->context = nullptr;               // the context is being freed
    uv_close(reinterpret_cast<uv_handle_t*>(&events->handle),
             [](uv_handle_t* h) { delete static_cast<PollEvents*>(h->data); });
  };
  return true;
}

}  // namespace

RedisClient::RedisClient(uv_loop_t* loop, RedisEndpoint endpoint, RedisClientOptions options)
    : loop_(loop), endpoint_(std::move(endpoint)), options_(options), backoff_(options.reconnect_min) {
  uv_timer_init(loop_, &retry_timer_);
  uv_timer_init(loop_, &sweep_timer_);
  retry_timer_.data = this;
  sweep_timer_.data = this;
}

RedisClient::~RedisClient() = default;

Result<void> RedisClient::checkTls(const RedisEndpoint& endpoint) {
  return endpoint.tls ? RedisTlsTunnel::check(endpoint.tls_files) : Result<void>();
}

void RedisClient::start(std::function<void(bool, const std::string&)> on_state) {
  on_state_ = std::move(on_state);
  // Deadlines are checked a few times within the shortest of them.
  const uint64_t period =
      std::clamp<uint64_t>(std::min(ms(options_.connect_timeout), ms(options_.command_timeout)) / 4, 10, 1000);
  uv_timer_start(&sweep_timer_, [](uv_timer_t* t) { static_cast<RedisClient*>(t->data)->sweep(); }, period, period);
  uv_unref(reinterpret_cast<uv_handle_t*>(&sweep_timer_));  // housekeeping: never keeps the loop alive
  connect();
}

void RedisClient::connect() {
  attempt_started_ms_ = uv_now(loop_);
  if (endpoint_.tls && !tunnel_) {
    auto tunnel = RedisTlsTunnel::open(loop_, endpoint_);
    if (!tunnel) {
      last_error_ = tunnel.error().message;
      retryLater();
      return;
    }
    tunnel_ = std::move(*tunnel);
  }
  redisAsyncContext* c = tunnel_ ? redisAsyncConnectUnix(tunnel_->path().c_str())
                                 : redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
  if (c == nullptr) {
    last_error_ = "out of memory";
    retryLater();
    return;
  }
  if (c->err != 0) {
    last_error_ = c->errstr;
    redisAsyncFree(c);
    retryLater();
    return;
  }
  c->data = this;
  if (!attachToLoop(c, loop_)) {
    last_error_ = "could not watch the socket";
    redisAsyncFree(c);
    retryLater();
    return;
  }
  // A subscriber sends nothing for minutes: keepalive probes find a peer that went away (the
  // tunnel's own TCP connection has them).
  if (!tunnel_) (void)redisEnableKeepAlive(&c->c);
  context_ = c;
  state_ = State::kConnecting;
  redisAsyncSetConnectCallback(c, [](const redisAsyncContext* ac, int status) {
    static_cast<RedisClient*>(ac->data)->onConnected(status);
  });
  redisAsyncSetDisconnectCallback(c, [](const redisAsyncContext* ac, int) {
    static_cast<RedisClient*>(ac->data)->onDisconnected(ac);
  });
  sendHandshake();
}

void RedisClient::onConnected(int status) {
  if (status != REDIS_OK) {
    // hiredis fails the handshake's commands and frees the context after this callback.
    last_error_ = context_ != nullptr && context_->errstr[0] != '\0' ? context_->errstr : "connect failed";
    context_ = nullptr;
    if (state_ != State::kClosed) retryLater();
    return;
  }
  if (state_ == State::kConnecting) state_ = State::kHandshake;
}

// Queued at once: hiredis 0.14 only learns that its connect completed from a write event,
// which a queued command asks for. AUTH and SELECT, then a PING whose answer makes the
// connection ready.
void RedisClient::sendHandshake() {
  auto step_failed = [this](const char* step, Result<RedisReply>& r) -> bool {
    if (!r) return true;  // the connection went: its own path retries
    if (!r->isError()) return false;
    fail(std::string(step) + " was refused: " + r->str);
    return true;
  };
  if (!endpoint_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint_.username.empty()) auth.push_back(endpoint_.username);
    auth.push_back(endpoint_.password);
    (void)send(auth, [step_failed](Result<RedisReply> r) { step_failed("AUTH", r); });
  }
  if (endpoint_.db != 0) {
    (void)send({"SELECT", std::to_string(endpoint_.db)}, [step_failed](Result<RedisReply> r) { step_failed("SELECT", r); });
  }
  (void)send({"PING"}, [this, step_failed](Result<RedisReply> r) {
    if (step_failed("PING", r) || state_ != State::kHandshake) return;
    backoff_ = options_.reconnect_min;
    last_error_.clear();
    sendSubscribes();
    setState(State::kReady, "");
  });
}

void RedisClient::subscribe(std::string channel, std::function<void(std::string_view)> on_message) {
  subscriptions_[std::move(channel)] = std::move(on_message);
}

// hiredis keeps a SUBSCRIBE's callback for its channel and calls it for the confirmation,
// for every message, and with no reply when the context is freed; `this` outlives every
// context it owned (close() frees the last one).
void RedisClient::sendSubscribes() {
  for (const auto& [channel, on_message] : subscriptions_) {
    const char* argv[] = {"SUBSCRIBE", channel.data()};
    const size_t lengths[] = {9, channel.size()};
    (void)redisAsyncCommandArgv(
        context_, [](redisAsyncContext*, void* reply, void* data) { static_cast<RedisClient*>(data)->onSubscription(reply); },
        this, 2, argv, lengths);
  }
}

void RedisClient::onSubscription(void* reply) {
  const auto* r = static_cast<const redisReply*>(reply);
  // ["message", channel, payload]; the confirmations ("subscribe", ...) carry nothing to hear.
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  const redisReply* kind = r->element[0];
  const redisReply* channel = r->element[1];
  const redisReply* payload = r->element[2];
  if (kind->type != REDIS_REPLY_STRING || std::string_view(kind->str, kind->len) != "message" ||
      channel->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING) {
    return;
  }
  auto it = subscriptions_.find(std::string_view(channel->str, channel->len));
  if (it != subscriptions_.end()) it->second(std::string_view(payload->str, payload->len));
}

void RedisClient::onDisconnected(const redisAsyncContext* context) {
  if (context != context_) return;  // one we let go of already (fail, close)
  // hiredis frees the context after this callback; its pending commands were failed before it.
  context_ = nullptr;
  if (state_ == State::kClosed) return;
  last_error_ = context->errstr != nullptr && context->err != 0 ? context->errstr : "Redis closed the connection";
  retryLater();
}

Result<void> RedisClient::command(std::vector<std::string> argv, Done done) {
  if (state_ != State::kReady) {
    return Error{ErrorKind::kUnavailable,
                 "the backend (Redis at " + endpoint_.where() + ") is unreachable" +
                     (last_error_.empty() ? std::string() : ": " + last_error_) + "; retry once it is back"};
  }
  return send(argv, std::move(done));
}

Result<void> RedisClient::send(const std::vector<std::string>& argv, Done done) {
  if (context_ == nullptr) {
    return Error{ErrorKind::kUnavailable, "the backend (Redis at " + endpoint_.where() + ") is not connected"};
  }
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* pending = new Pending{this, next_id_++, std::move(done)};
  const int rc = redisAsyncCommandArgv(
      context_,
      [](redisAsyncContext*, void* reply, void* data) {
        auto* p = static_cast<Pending*>(data);
        p->client->onReply(p, reply);
      },
      pending, static_cast<int>(args.size()), args.data(), lengths.data());
  if (rc != REDIS_OK) {
    delete pending;
    return Error{ErrorKind::kUnavailable, "the backend (Redis at " + endpoint_.where() + ") is disconnecting"};
  }
  in_flight_.emplace_back(pending->id, uv_now(loop_));
  return {};
}

void RedisClient::onReply(Pending* pending, void* reply) {
  std::unique_ptr<Pending> owned(pending);
  if (!in_flight_.empty() && in_flight_.front().first == pending->id) in_flight_.pop_front();
  if (reply == nullptr) {
    // The connection went (or we let it go) before the answer came.
    owned->done(Error{ErrorKind::kUnavailable, "lost the connection to the backend (Redis at " + endpoint_.where() +
                                                   ")" + (last_error_.empty() ? "" : ": " + last_error_) +
                                                   " before it answered; the command may or may not have run"});
    return;
  }
  owned->done(converted(static_cast<redisReply*>(reply)));
}

void RedisClient::fail(const std::string& why) {
  last_error_ = why;
  redisAsyncContext* c = std::exchange(context_, nullptr);
  // Down before the waiting commands hear of it, so that a caller trying again from its
  // callback is refused rather than sent nowhere.
  if (state_ != State::kClosed) retryLater();
  // Fails every command still waiting (their callbacks get no reply), now or, inside one of
  // hiredis's callbacks, as soon as it returns.
  if (c != nullptr) redisAsyncFree(c);
}

void RedisClient::retryLater() {
  // Why TLS failed says more than the closed socket hiredis saw.
  if (tunnel_) {
    if (std::string why = tunnel_->takeError(); !why.empty()) last_error_ = std::move(why);
  }
  in_flight_.clear();
  setState(State::kWaiting, last_error_);
  const uint64_t wait = ms(backoff_);
  backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
  uv_timer_start(&retry_timer_, [](uv_timer_t* t) {
    auto* self = static_cast<RedisClient*>(t->data);
    if (self->state_ == State::kWaiting) self->connect();
  }, wait, 0);
}

void RedisClient::sweep() {
  const uint64_t now = uv_now(loop_);
  if ((state_ == State::kConnecting || state_ == State::kHandshake) &&
      now - attempt_started_ms_ >= ms(options_.connect_timeout)) {
    fail("no connection within " + std::to_string(ms(options_.connect_timeout)) + " ms");
    return;
  }
  if (state_ == State::kReady && !in_flight_.empty() && now - in_flight_.front().second >= ms(options_.command_timeout)) {
    fail("no answer within " + std::to_string(ms(options_.command_timeout)) + " ms");
  }
}

void RedisClient::setState(State state, const std::string& why) {
  const bool was_up = state_ == State::kReady;
  state_ = state;
  const bool is_up = state_ == State::kReady;
  if (was_up != is_up && on_state_) on_state_(is_up, why);
}

void RedisClient::close(std::function<void()> on_closed) {
  state_ = State::kClosed;
  on_state_ = nullptr;
  last_error_ = "the client is closing";
  if (redisAsyncContext* c = std::exchange(context_, nullptr)) redisAsyncFree(c);
  in_flight_.clear();
  if (tunnel_) {
    auto then = std::make_shared<std::function<void()>>(std::move(on_closed));
    auto both = std::make_shared<int>(2);
    auto one_closed = [then, both] {
      if (--*both == 0 && *then) (*then)();
    };
    tunnel_->close(one_closed);
    closer_.closeAll({reinterpret_cast<uv_handle_t*>(&retry_timer_), reinterpret_cast<uv_handle_t*>(&sweep_timer_)},
                     one_closed);
    return;
  }
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&retry_timer_), reinterpret_cast<uv_handle_t*>(&sweep_timer_)},
                   std::move(on_closed));
}

}  // namespace gust
